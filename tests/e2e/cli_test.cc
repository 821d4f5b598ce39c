// The nvflare binary as a user runs it: exit codes, messages and the files it writes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/files.h"
#include "config/value.h"
#include "e2e_util.h"

namespace nvf::e2e {
namespace {
namespace fs = std::filesystem;

class CliTest : public E2eTest {};

TEST_F(CliTest, VersionPrintsFlareCompatibleVersion) {
  auto r = run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("NVFlare version is "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FLARE 2.7.2 compatible"), std::string::npos) << r.out;
}

TEST_F(CliTest, NoCommandPrintsHelpAndListsEveryCommandGroup) {
  auto r = run({});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"simulator", "poc", "provision", "job", "config", "timeouts", "admin", "train",
                          "preflight_check", "authz_preview", "server", "client", "relay"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd << " missing from help:\n" << r.out;
  }
}

TEST_F(CliTest, UnknownFlagIsUsageErrorWithExitTwo) {
  auto r = run({"job", "create", "--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("error: nvflare job create"), std::string::npos) << r.out;
}

TEST_F(CliTest, ARelayWithoutAKitNamesTheMissingFile) {
  auto r = run({"relay", "-m", "no-such-kit"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("fed_relay.json is missing"), std::string::npos) << r.out;
}

TEST_F(CliTest, TheAdminConsoleWithoutAKitSaysHowToGiveOne) {
  auto console = run({"admin"});
  EXPECT_EQ(console.exit_code, 1);
  EXPECT_NE(console.out.find("startup kit directory is not specified: pass -m ADMIN_KIT_DIR"), std::string::npos)
      << console.out;
}

TEST_F(CliTest, ListTemplatesShowsBothTemplates) {
  auto r = run({"job", "list_templates"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("fedavg_pt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fedavg_np"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Controller Type"), std::string::npos) << r.out;
}

TEST_F(CliTest, CreateWithOverridesThenValidatePasses) {
  fs::path job = work_.path() / "my-job";
  auto r = run({"job", "create", "-j", job.string(), "-w", "sag_np", "-f", "config_fed_server.conf",
                "num_rounds=7", "-force"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  config::Value server = load(job / "app" / "config" / "config_fed_server.json");
  EXPECT_EQ(server["num_rounds"], 7);
  EXPECT_TRUE(server["num_rounds"].is_number_integer());
  config::Value meta = load(job / "meta.json");
  EXPECT_EQ(meta["name"], "my-job");
  EXPECT_EQ(meta["deploy_map"]["app"][0], "@ALL");

  auto v = run({"job", "validate", "-j", job.string()});
  EXPECT_EQ(v.exit_code, 0) << v.out;
}

TEST_F(CliTest, CreateRefusesToOverwriteWithoutForce) {
  fs::path job = work_.path() / "job";
  ASSERT_EQ(run({"job", "create", "-j", job.string(), "-w", "fedavg_pt"}).exit_code, 0);
  ASSERT_TRUE(base::atomic_write(job / "app" / "config" / "config_fed_client.json", "{\"mine\": 1}").ok());
  auto r = run({"job", "create", "-j", job.string(), "-w", "fedavg_pt"});
  EXPECT_NE(r.out.find("-force"), std::string::npos) << r.out;
  EXPECT_EQ(*base::read_file(job / "app" / "config" / "config_fed_client.json"), "{\"mine\": 1}");
}

TEST_F(CliTest, ScriptDirIsCopiedWithSingleDashFlag) {
  fs::path code = work_.path() / "code";
  fs::create_directories(code / "__pycache__");
  ASSERT_TRUE(base::atomic_write(code / "train.py", "print('hi')\n").ok());
  ASSERT_TRUE(base::atomic_write(code / "__pycache__" / "x.pyc", "junk").ok());
  fs::path job = work_.path() / "job";
  auto r = run({"job", "create", "-j", job.string(), "-w", "fedavg_pt", "-sd", code.string(), "-force"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(*base::read_file(job / "app" / "custom" / "train.py"), "print('hi')\n");
  EXPECT_FALSE(fs::exists(job / "app" / "custom" / "__pycache__"));
}

TEST_F(CliTest, UnknownTemplateGivesFlareMessageAndExitOne) {
  auto r = run({"job", "create", "-j", (work_.path() / "j").string(), "-w", "no_such_template"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("Invalid template name no_such_template, please check the available templates using "
                       "nvflare job list_templates"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(work_.path() / "j"));
}

TEST_F(CliTest, ValidateReportsBadMetaAndExitsOne) {
  fs::path job = work_.path() / "bad";
  fs::create_directories(job / "app" / "config");
  ASSERT_TRUE(base::atomic_write(job / "meta.json", R"({"name": "bad", "deploy_map": {}})").ok());
  auto r = run({"job", "validate", "-j", job.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("deploy_map is empty for job"), std::string::npos) << r.out;
}

TEST_F(CliTest, ValidateNamesBothTimeoutsOfABrokenRule) {
  fs::path job = work_.path() / "job";
  ASSERT_EQ(run({"job", "create", "-j", job.string(), "-w", "fedavg_pt"}).exit_code, 0);
  // FLARE's own defaults, written into the client config: the idle download TTL is below the
  // per-request timeout.
  fs::path client = job / "app" / "config" / "config_fed_client.json";
  config::Value cfg = load(client);
  cfg["tensor_min_download_timeout"] = 300;
  cfg["tensor_streaming_per_request_timeout"] = 600;
  ASSERT_TRUE(base::atomic_write(client, config::to_pretty_json(cfg)).ok());
  auto r = run({"job", "validate", "-j", job.string()});
  EXPECT_EQ(r.exit_code, 0) << "a warning alone does not fail validation:\n" << r.out;
  EXPECT_NE(r.out.find("tensor_min_download_timeout (300"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tensor_streaming_per_request_timeout (600"), std::string::npos) << r.out;

  cfg["tensor_streaming_per_request_timeout"] = "soon";  // wrong type: an error
  ASSERT_TRUE(base::atomic_write(client, config::to_pretty_json(cfg)).ok());
  auto bad = run({"job", "validate", "-j", job.string()});
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("tensor_streaming_per_request_timeout"), std::string::npos) << bad.out;
}

TEST_F(CliTest, ShowVariablesListsOverridableKeys) {
  fs::path job = work_.path() / "job";
  ASSERT_EQ(run({"job", "create", "-j", job.string(), "-w", "fedavg_np"}).exit_code, 0);
  auto r = run({"job", "show_variables", "-j", job.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("num_rounds"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("config_fed_server.json"), std::string::npos) << r.out;
}

TEST_F(CliTest, ConfigWritesTomlUnderHome) {
  fs::path tmpl = fs::path(NVF_SOURCE_DIR) / "jobs" / "templates";
  auto r = run({"config", "-pw", "/tmp/nvflare/poc", "-jt", tmpl.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("new config at"), std::string::npos);
  config::Value cfg = load(home_.path() / ".nvflare" / "config.toml");
  EXPECT_EQ(cfg["poc_workspace"]["path"], "/tmp/nvflare/poc");
  EXPECT_EQ(cfg["job_template"]["path"], tmpl.lexically_normal().string());
  auto bad = run({"config", "-d", (work_.path() / "missing").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("does not exist"), std::string::npos) << bad.out;
  // The stored settings are untouched by the failed call.
  EXPECT_EQ(load(home_.path() / ".nvflare" / "config.toml"), cfg);
}

TEST_F(CliTest, TimeoutsListsRegistryAsTableAndJson) {
  auto r = run({"timeouts"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("tensor_min_download_timeout"), std::string::npos);
  EXPECT_NE(r.out.find("heart_beat_timeout"), std::string::npos);
  auto j = run({"timeouts", "--json"});
  ASSERT_EQ(j.exit_code, 0);
  auto parsed = config::parse(j.out, config::Format::kJson, "timeouts --json");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_GT(parsed->size(), 60u);
}

}  // namespace
}  // namespace nvf::e2e
