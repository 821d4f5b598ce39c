#include "job/job_folder.h"

#include <gtest/gtest.h>

#include "job/app_config_check.h"
#include "test_util.h"

namespace nvf::job {
namespace {

using config::Value;
using testing::dump;
using testing::has_message;
using testing::TempDir;
using testing::write_text;

const char* kServer = R"({
  "format_version": 2, "num_rounds": 2,
  "workflows": [{"id": "fedavg", "path": "nvflare.app_common.workflows.fedavg.FedAvg", "args": {}}],
  "components": [{"id": "persistor", "path": "a.B", "args": {}}]
})";
const char* kClient = R"({
  "format_version": 2,
  "executors": [{"tasks": ["*"], "executor": {"path": "a.Exec", "args": {}}}],
  "components": []
})";

class JobFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    job_ = tmp_.path() / "j";
    write_text(job_ / "meta.json",
               R"({"name": "j", "deploy_map": {"app": ["@ALL"]}, "min_clients": 1})");
    write_text(job_ / "app/config/config_fed_server.json", kServer);
    write_text(job_ / "app/config/config_fed_client.json", kClient);
  }
  std::vector<Finding> load() {
    auto job = load_job_folder(job_);
    EXPECT_TRUE(job.ok()) << job.status().to_string();
    return job.ok() ? job->findings : std::vector<Finding>{};
  }
  std::vector<Finding> check(const char* json, AppConfigKind kind) {
    std::vector<Finding> findings;
    FindingSink sink(&findings, "x.json");
    check_app_config(Value::parse(json), kind, sink);
    return findings;
  }

  TempDir tmp_;
  fs::path job_;
};

TEST_F(JobFolderTest, ValidFolderLoads) {
  auto job = load_job_folder(job_);
  ASSERT_TRUE(job.ok());
  EXPECT_TRUE(job->ok()) << dump(job->findings);
  EXPECT_EQ(job->name, "j");
  ASSERT_TRUE(job->meta.has_value());
  ASSERT_NE(job->app("app"), nullptr);
  EXPECT_TRUE(job->app("app")->server_config.has_value());
  EXPECT_EQ(job->app("app")->server["num_rounds"], 2);
  EXPECT_FALSE(job->byoc);
}

TEST_F(JobFolderTest, CustomFolderMeansByoc) {
  fs::create_directories(job_ / "app/custom");
  auto job = load_job_folder(job_);
  ASSERT_TRUE(job.ok());
  EXPECT_TRUE(job->byoc);
}

TEST_F(JobFolderTest, MissingFolderIsNotFound) {
  EXPECT_EQ(load_job_folder(tmp_.path() / "nope").status().code(), StatusCode::kNotFound);
}

TEST_F(JobFolderTest, MissingMeta) {
  fs::remove(job_ / "meta.json");
  auto f = load();
  EXPECT_TRUE(
      has_message(f,
                  "meta.[json|conf|yml] not existing for job j, possible in legacy job format.  "
                  "Please upgrade the job structure."))
      << dump(f);
}

TEST_F(JobFolderTest, MetaConfIsReadAndAMalformedOneIsAnErrorWithItsLine) {
  fs::remove(job_ / "meta.json");
  write_text(job_ / "meta.conf", "# FLARE's job create writes HOCON\nname = j\ndeploy_map { app = [\"@ALL\"] }\nmin_clients = 1\n");
  auto ok = load();
  EXPECT_TRUE(ok.empty()) << dump(ok);
  write_text(job_ / "meta.conf", "name = j\ninclude \"base.conf\"\n");
  auto f = load();
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].file, "meta.conf");
  EXPECT_TRUE(f[0].is_error());
  EXPECT_NE(dump(f).find(":2:1: 'include' is not supported"), std::string::npos) << dump(f);
}

TEST_F(JobFolderTest, MetaYamlIsRead) {
  fs::remove(job_ / "meta.json");
  write_text(job_ / "meta.yml", "name: j\ndeploy_map:\n  app: ['@ALL']\nmin_clients: 1\n");
  auto f = load();
  EXPECT_TRUE(f.empty()) << dump(f);
}

TEST_F(JobFolderTest, AppInDeployMapMissing) {
  write_text(job_ / "meta.json", R"({"deploy_map": {"app": ["server"], "app2": ["site-1"]}})");
  auto f = load();
  EXPECT_TRUE(has_message(f, "App 'app2' in deploy_map doesn't exist for job j")) << dump(f);
}

TEST_F(JobFolderTest, ServerConfigMissing) {
  fs::remove(job_ / "app/config/config_fed_server.json");
  auto f = load();
  EXPECT_TRUE(has_message(f, "App 'app' will be deployed to server but server config is missing"))
      << dump(f);
}

TEST_F(JobFolderTest, ClientConfigMissing) {
  fs::remove(job_ / "app/config/config_fed_client.json");
  auto f = load();
  EXPECT_TRUE(has_message(f, "App 'app' will be deployed to client but client config is missing"))
      << dump(f);
}

TEST_F(JobFolderTest, ConfigErrorsNameFileAndField) {
  write_text(job_ / "app/config/config_fed_server.json", R"({"format_version": 2,
    "workflows": [{"id": "w", "path": "a.W"}],
    "components": [{"id": "p", "path": "a.P"}, {"id": "p", "path": "a.Q"}]})");
  auto f = load();
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].message, "duplicate component id \"p\"");
  EXPECT_EQ(f[0].file, "app/config/config_fed_server.json");
  EXPECT_EQ(f[0].field, "components[1].id");
}

TEST_F(JobFolderTest, CollectsFindingsFromMetaAndEveryConfig) {
  write_text(job_ / "meta.json", R"({"deploy_map": {"app": ["@ALL"]}, "min_clients": 0})");
  write_text(job_ / "app/config/config_fed_server.json", R"({"workflows": []})");
  write_text(job_ / "app/config/config_fed_client.json", R"({"format_version": 3})");
  auto f = load();
  EXPECT_TRUE(has_message(f, "min_clients 0 must be positive for job j"));
  EXPECT_TRUE(has_message(f, "missing format_version"));
  EXPECT_TRUE(has_message(f, "workflows not specified"));
  EXPECT_TRUE(has_message(f, "wrong \"format_version\" 3: must be 2"));
  EXPECT_TRUE(has_message(f, "executors are not specified"));
  EXPECT_EQ(count_errors(f), 5u) << dump(f);
}

TEST_F(JobFolderTest, SyntaxErrorIsAFinding) {
  write_text(job_ / "app/config/config_fed_client.json", "{ nope");
  auto f = load();
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].file, "app/config/config_fed_client.json");
}

TEST_F(JobFolderTest, UndeployedAppFolderIsAWarning) {
  write_text(job_ / "extra/config/config_fed_client.json", kClient);
  auto f = load();
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_FALSE(f[0].is_error());
}

TEST_F(JobFolderTest, FormatVersionRules) {
  EXPECT_TRUE(has_message(check(R"({"format_version": "2"})", AppConfigKind::kClient),
                          "\"format_version\" must be int, but got <class 'str'>"));
  EXPECT_TRUE(has_message(check(R"({"format_version": 1})", AppConfigKind::kClient),
                          "wrong \"format_version\" 1: must be 2"));
}

TEST_F(JobFolderTest, WorkflowAndComponentIds) {
  auto f = check(R"({"format_version": 2,
    "components": [{"path": "a.B"}, {"id": 3, "path": "a.B"}, {"id": "x", "args": {}}, {"id": "c", "path": "a.C"}],
    "workflows": [{"id": "w", "path": "a.W"}, {"id": "w", "path": "a.W"}, {"id": "c", "path": "a.W"}]})",
                 AppConfigKind::kServer);
  EXPECT_TRUE(has_message(f, "missing component id")) << dump(f);
  EXPECT_TRUE(has_message(f, "\"id\" must be str but got <class 'int'>"));
  EXPECT_TRUE(has_message(f, "component has no \"name\" or \"path"));
  EXPECT_TRUE(has_message(f, "duplicate workflow id \"w\""));
  EXPECT_TRUE(has_message(f, "duplicate component id \"c\""));
}

TEST_F(JobFolderTest, ServerNumbers) {
  auto f = check(R"({"format_version": 2, "workflows": [{"id": "w", "path": "a.W"}],
    "server": {"heart_beat_timeout": -1, "task_request_interval": 0}})",
                 AppConfigKind::kServer);
  EXPECT_TRUE(has_message(f, "\"heart_beat_timeout\" must be positive number, but got -1"))
      << dump(f);
  EXPECT_TRUE(has_message(f, "\"task_request_interval\" must >= 1, but got 0")) << dump(f);
}

TEST_F(JobFolderTest, ExecutorShapes) {
  auto f = check(R"({"format_version": 2, "executors": [
      {"tasks": [], "executor": {"path": "a.E"}},
      {"tasks": ["train"]},
      {"tasks": ["train", 5], "executor": {"path": "a.E"}},
      {"tasks": "train", "executor": {"path": "a.E"}}]})",
                 AppConfigKind::kClient);
  EXPECT_TRUE(has_message(f, "\"tasks\" must not be empty")) << dump(f);
  EXPECT_TRUE(has_message(f, "\"executor\" must be an Executor object but got <class 'NoneType'>"));
  EXPECT_TRUE(has_message(f, "task names must be string but got <class 'int'>"));
  EXPECT_TRUE(has_message(f, "Multiple executors defined for task \"train\""));
  EXPECT_TRUE(
      has_message(f, "\"tasks\" must be specified as list of task names but got <class 'str'>"));
}

TEST_F(JobFolderTest, FilterChainShapes) {
  auto f =
      check(R"({"format_version": 2, "executors": [{"tasks": ["*"], "executor": {"path": "a.E"}}],
    "task_result_filters": [{"tasks": ["train"], "filters": []},
                            {"tasks": ["train"], "filters": [{"path": "a.F"}]},
                            {"filters": [{"args": {}}]},
                            {"tasks": ["x"], "filters": {}}]})",
            AppConfigKind::kClient);
  EXPECT_TRUE(has_message(f, "\"filters\" must not be empty")) << dump(f);
  EXPECT_TRUE(has_message(f, "multiple data filter chains defined for task train"));
  EXPECT_TRUE(has_message(f, "\"tasks\" must not be empty"));
  EXPECT_TRUE(has_message(f, "component has no \"name\" or \"path"));
  EXPECT_TRUE(
      has_message(f, "\"filters\" must be specified as list of filters but got <class 'dict'>"));
}

}  // namespace
}  // namespace nvf::job
