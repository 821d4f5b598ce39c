#include "job/job_create.h"

#include <gtest/gtest.h>

#include "config/value.h"
#include "job/job_folder.h"
#include "test_util.h"

namespace nvf::job {
namespace {

using config::Value;
using testing::dump;
using testing::read_text;
using testing::source_templates_root;
using testing::TempDir;
using testing::write_text;

class JobCreateTest : public ::testing::Test {
 protected:
  CreateJobOptions options(const std::string& tmpl) {
    CreateJobOptions o;
    o.job_folder = tmp_.path() / "myjob";
    o.template_name = tmpl;
    o.templates_root = source_templates_root();
    return o;
  }
  Value load(const std::string& rel) {
    return Value::parse(read_text(tmp_.path() / "myjob" / rel));
  }

  TempDir tmp_;
};

TEST_F(JobCreateTest, EachTemplateMakesAValidJob) {
  for (const char* name : {"fedavg_pt", "fedavg_np", "sag_pt"}) {
    SCOPED_TRACE(name);
    std::error_code ec;
    fs::remove_all(tmp_.path() / "myjob", ec);
    auto r = create_job(options(name));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(r->configs_written);
    EXPECT_EQ(r->apps, std::vector<std::string>{"app"});
    auto job = load_job_folder(tmp_.path() / "myjob");
    ASSERT_TRUE(job.ok());
    EXPECT_EQ(count_errors(job->findings), 0u) << dump(job->findings);
    EXPECT_TRUE(job->findings.empty()) << dump(job->findings);
    EXPECT_EQ(load("meta.json")["name"], "myjob");
    EXPECT_TRUE(fs::is_directory(tmp_.path() / "myjob/app/custom"));
    EXPECT_FALSE(fs::exists(tmp_.path() / "myjob/app/config/info.toml"));
    EXPECT_FALSE(fs::exists(tmp_.path() / "myjob/app/config/meta.json"));
  }
  EXPECT_EQ(load("app/config/config_fed_server.json")["model"], "simple_network");
}

TEST_F(JobCreateTest, OverridesCastMapConfToJsonAndDelete) {
  auto o = options("fedavg_pt");
  o.overrides = {{"config_fed_server.conf", {"num_rounds=5", "workflows[0].args.persistor_id=p2"}},
                 {"config_fed_client.conf",
                  {"executors[0].executor.args.train_with_evaluation=false", "launch_once=False",
                   "train_args=--epochs 3 --lr=0.1", "task_data_filters-"}},
                 {"meta.conf", {"min_clients=3"}}};
  auto r = create_job(o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  Value server = load("app/config/config_fed_server.json");
  EXPECT_EQ(server["num_rounds"], 5);
  EXPECT_TRUE(server["num_rounds"].is_number_integer());
  EXPECT_EQ(server["workflows"][0]["args"]["persistor_id"], "p2");
  Value client = load("app/config/config_fed_client.json");
  EXPECT_EQ(client["executors"][0]["executor"]["args"]["train_with_evaluation"], false);
  EXPECT_EQ(client["components"][0]["args"]["launch_once"], false);
  EXPECT_EQ(client["train_args"], "--epochs 3 --lr=0.1");
  EXPECT_FALSE(client.contains("task_data_filters"));
  EXPECT_EQ(load("meta.json")["min_clients"], 3);
  EXPECT_FALSE(fs::exists(tmp_.path() / "myjob/app/config/config_fed_client.conf"));
}

TEST_F(JobCreateTest, OverrideErrors) {
  auto o = options("fedavg_pt");
  o.overrides = {{"config_fed_server.conf", {"num_rounds=abc"}}};
  auto r = create_job(o);
  EXPECT_NE(r.status().message().find("value 'abc' for 'num_rounds'"), std::string::npos)
      << r.status().to_string();

  o.force = true;
  o.overrides = {{"config_fed_server.conf", {"nope=1"}}};
  EXPECT_EQ(
      create_job(o).status().message(),
      "Invalid config key: 'nope' for file 'app/config/config_fed_server.json' (see `nvflare job "
      "show_variables` for the keys you can set)");

  o.overrides = {{"app2/config_fed_client.conf", {"x=1"}}};
  EXPECT_EQ(create_job(o).status().message(),
            "unknown application name 'app2'. Expected app names are ['app'] ");

  o.overrides = {{"config_fed_server.conf", {"num_rounds"}}};
  EXPECT_EQ(create_job(o).status().message(), "Invalid config data: num_rounds");
}

TEST_F(JobCreateTest, MultiAppTemplateNeedsAppName) {
  write_text(tmp_.path() / "t/info.toml", "description = \"two apps\"\n");
  write_text(tmp_.path() / "t/meta.json",
             R"({"deploy_map": {"app_a": ["server"], "app_b": ["site-1"]}})");
  write_text(tmp_.path() / "t/app_a/config_fed_server.json",
             R"({"format_version": 2, "workflows": [{"id": "w", "path": "a.W"}]})");
  write_text(
      tmp_.path() / "t/app_b/config_fed_client.json",
      R"({"format_version": 2, "x": 1, "executors": [{"tasks": ["*"], "executor": {"path": "a.E"}}]})");
  auto o = options((tmp_.path() / "t").string());
  o.overrides = {{"config_fed_client.conf", {"x=2"}}};
  auto r = create_job(o);
  EXPECT_EQ(r.status().message(),
            "Please specify one of the app names ['app_a', 'app_b']. For example "
            "'<app_name>/xxx.conf k1=v1 k2=v2...'");
  o.force = true;
  o.overrides = {{"app_b/config/config_fed_client.conf", {"x=2"}}};
  r = create_job(o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(load("app_b/config/config_fed_client.json")["x"], 2);
  auto job = load_job_folder(tmp_.path() / "myjob");
  ASSERT_TRUE(job.ok());
  EXPECT_TRUE(job->findings.empty()) << dump(job->findings);
}

// A template in FLARE's HOCON layout: the job keeps its format, and -f rewrites the .conf (as
// JSON, which HOCON reads) with the values set.
TEST_F(JobCreateTest, AHoconTemplateMakesAHoconJobAndOverridesStayInIt) {
  const fs::path root = tmp_.path() / "templates";
  write_text(root / "np_conf" / "info.conf", "description = \"numpy in HOCON\"\ncontroller_type = server\nexecution_api_type = \"client_api\"\n");
  for (const char* f : {"config_fed_server.json", "config_fed_client.json"}) {
    auto v = config::load_file(source_templates_root() / "fedavg_np" / f);
    ASSERT_TRUE(v.ok());
    // The same config written as HOCON (JSON is HOCON), with a comment a JSON reader would refuse.
    std::string stem = std::string(f).substr(0, std::string(f).size() - 5);
    write_text(root / "np_conf" / (stem + ".conf"), "# from FLARE's template\n" + v->dump(2) + "\n");
  }
  write_text(root / "np_conf" / "meta.conf", "name = np_conf\ndeploy_map { app = [\"@ALL\"] }\nmin_clients = 2\n");
  auto o = options("np_conf");
  o.templates_root = root;
  o.overrides = {{"config_fed_server.conf", {"num_rounds=7"}}, {"meta.conf", {"min_clients=3"}}};
  auto r = create_job(o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const fs::path job = tmp_.path() / "myjob";
  EXPECT_FALSE(fs::exists(job / "app/config/config_fed_server.json"));
  EXPECT_FALSE(fs::exists(job / "meta.json"));
  auto server = config::load_file(job / "app/config/config_fed_server.conf");
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  EXPECT_EQ((*server)["num_rounds"], 7);
  auto meta = config::load_file(job / "meta.conf");
  ASSERT_TRUE(meta.ok()) << meta.status().to_string();
  EXPECT_EQ((*meta)["name"], "myjob");
  EXPECT_EQ((*meta)["min_clients"], 3);
  auto loaded = load_job_folder(job);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(count_errors(loaded->findings), 0u) << dump(loaded->findings);
}

TEST_F(JobCreateTest, UnknownTemplate) {
  EXPECT_EQ(create_job(options("nope")).status().message(),
            "Invalid template name nope, please check the available templates using nvflare job "
            "list_templates");
}

TEST_F(JobCreateTest, CopiesScriptDirWithoutPycache) {
  const fs::path scripts = tmp_.path() / "code";
  write_text(scripts / "train.py", "print(1)\n");
  write_text(scripts / "lib/util.py", "x = 1\n");
  write_text(scripts / "__pycache__/train.cpython-311.pyc", "junk");
  auto o = options("fedavg_np");
  o.script_dir = scripts;
  ASSERT_TRUE(create_job(o).ok());
  EXPECT_EQ(read_text(tmp_.path() / "myjob/app/custom/train.py"), "print(1)\n");
  EXPECT_EQ(read_text(tmp_.path() / "myjob/app/custom/lib/util.py"), "x = 1\n");
  EXPECT_FALSE(fs::exists(tmp_.path() / "myjob/app/custom/__pycache__"));
}

TEST_F(JobCreateTest, JobFolderInsideScriptDirIsRefused) {
  const fs::path scripts = tmp_.path() / "code";
  write_text(scripts / "train.py", "print(1)\n");
  for (const fs::path& j : {scripts / "job", scripts}) {
    auto o = options("fedavg_np");
    o.script_dir = scripts;
    o.job_folder = j;
    EXPECT_EQ(create_job(o).status().message(),
              "job_folder must not be the same or sub directory of script_dir");
  }
  EXPECT_FALSE(fs::exists(scripts / "job"));
}

TEST_F(JobCreateTest, ExistingConfigNeedsForce) {
  ASSERT_TRUE(create_job(options("fedavg_pt")).ok());
  write_text(tmp_.path() / "myjob/app/custom/keep.py", "keep");
  auto o = options("fedavg_pt");
  o.overrides = {{"config_fed_server.conf", {"num_rounds=9"}}};
  auto again = create_job(o);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->configs_written);
  EXPECT_NE(again->warning.find("use -force option"), std::string::npos);
  EXPECT_EQ(load("app/config/config_fed_server.json")["num_rounds"], 2);

  o.force = true;
  auto forced = create_job(o);
  ASSERT_TRUE(forced.ok());
  EXPECT_TRUE(forced->configs_written);
  EXPECT_EQ(load("app/config/config_fed_server.json")["num_rounds"], 9);
  EXPECT_FALSE(fs::exists(tmp_.path() / "myjob/app/custom/keep.py"));  // -force replaces the folder
}

TEST_F(JobCreateTest, ForceRefusesToReplaceAFolderThatIsNotAJob) {
  write_text(tmp_.path() / "myjob/precious.txt", "mine");
  auto o = options("fedavg_pt");
  o.force = true;
  EXPECT_EQ(create_job(o).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(read_text(tmp_.path() / "myjob/precious.txt"), "mine");
}

TEST_F(JobCreateTest, ShowVariablesRows) {
  auto r = create_job(options("fedavg_pt"));
  ASSERT_TRUE(r.ok());
  auto rows = show_variables(tmp_.path() / "myjob");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), r->variables.size());
  auto find = [&](const std::string& file, const std::string& var) -> const VariableRow* {
    for (const auto& row : *rows) {
      if (row.file_name == file && row.var_name == var) return &row;
    }
    return nullptr;
  };
  const VariableRow* name = find("meta.json", "name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->value, "myjob");
  ASSERT_NE(find("meta.json", "app[0]"), nullptr);
  EXPECT_EQ(find("meta.json", "app[0]")->value, "@ALL");
  const VariableRow* rounds = find("config_fed_server.json", "num_rounds");
  ASSERT_NE(rounds, nullptr);
  EXPECT_EQ(rounds->value, "2");
  EXPECT_EQ(rounds->component, "");
  const VariableRow* wf_rounds = find("config_fed_server.json", "args.num_rounds");
  ASSERT_NE(wf_rounds, nullptr);
  EXPECT_EQ(wf_rounds->value, "{num_rounds}");
  EXPECT_EQ(wf_rounds->component, "FedAvg");
  const VariableRow* launch_once = find("config_fed_client.json", "launch_once");
  ASSERT_NE(launch_once, nullptr);
  EXPECT_EQ(launch_once->value, "true");
  EXPECT_EQ(launch_once->component, "SubprocessLauncher");
  EXPECT_EQ(find("config_fed_server.json", "format_version"), nullptr);
  EXPECT_EQ(find("config_fed_server.json", "id"), nullptr);
  EXPECT_EQ(find("config_fed_client.json", "tasks[0]"), nullptr);

  const std::string table = render_variables_table(tmp_.path() / "myjob", *rows);
  EXPECT_NE(table.find("  file_name                      var_name                       value"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("launch_once"), std::string::npos);
  EXPECT_NE(table.find(std::string(135, '-')), std::string::npos);
}

TEST_F(JobCreateTest, EveryShownVariableCanBeSet) {
  ASSERT_TRUE(create_job(options("fedavg_pt")).ok());
  auto rows = show_variables(tmp_.path() / "myjob");
  ASSERT_TRUE(rows.ok());
  std::vector<ConfigOverride> overrides;
  for (const auto& row : *rows)
    overrides.push_back({row.file_name, {row.var_name + "=" + row.value}});
  Status s = apply_overrides(tmp_.path() / "myjob", {"app"}, overrides);
  EXPECT_TRUE(s.ok()) << s.to_string();
}

}  // namespace
}  // namespace nvf::job
