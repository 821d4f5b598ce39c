// What a site reports to admins: resources, scopes, environment, extra job components and the
// log config argument of configure_site_log / configure_job_log.
#include "runtime/site_info.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/files.h"

namespace nvf::runtime {
namespace {

namespace fs = std::filesystem;

class SiteInfoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = base::make_temp_dir("nvf-site-info");
    ASSERT_TRUE(dir.ok());
    root_ = *dir;
    fs::create_directories(root_ / "local");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(base::atomic_write(root_ / "local" / name, text).ok());
  }
  fs::path root_;
};

TEST_F(SiteInfoTest, ResourcesComeFromTheResourceManagerOfResourcesJsonElseTheDefault) {
  EXPECT_EQ(site_resources(root_), config::Value("unlimited"));
  write("resources.json.default",
        R"({"components": [{"id": "resource_manager", "path": "x.GPUResourceManager",
            "args": {"num_of_gpus": 2, "mem_per_gpu_in_GiB": 16}}]})");
  EXPECT_EQ(python_str(site_resources(root_)), "{'num_of_gpus': 2, 'mem_per_gpu_in_GiB': 16}");
  write("resources.json", R"({"components": [{"id": "resource_manager", "args": {"num_of_gpus": 0}}]})");
  EXPECT_EQ(python_str(site_resources(root_)), "{'num_of_gpus': 0}");
  write("resources.json", R"({"components": [{"id": "job_manager", "args": {}}]})");
  EXPECT_EQ(site_resources(root_), config::Value("unlimited"));
}

TEST_F(SiteInfoTest, ScopesComeFromPrivacyJsonAndAreEmptyWithoutIt) {
  ScopeInfo none = site_scopes(root_);
  EXPECT_TRUE(none.names.empty());
  EXPECT_EQ(none.default_scope, "");
  write("privacy.json", R"({"scopes": [{"name": "public"}, {"name": "private"}], "default_scope": "public"})");
  ScopeInfo info = site_scopes(root_);
  EXPECT_EQ(info.names, (std::vector<std::string>{"public", "private"}));
  EXPECT_EQ(info.default_scope, "public");
}

TEST_F(SiteInfoTest, EnvNamesTheWorkspaceKitVersionAndPid) {
  config::Value env = site_env("site-1", root_, root_ / "startup" / "fed_client.json");
  EXPECT_EQ(env["site_name"], "site-1");
  EXPECT_EQ(env["workspace"], fs::weakly_canonical(root_).string());
  EXPECT_EQ(env["startup_kit"], (fs::weakly_canonical(root_) / "startup").string());
  EXPECT_EQ(env["config_file"], "fed_client.json");
  EXPECT_EQ(env["flare_compat_version"], "2.7.2");
  EXPECT_EQ(env["pid"].get<int64_t>(), static_cast<int64_t>(::getpid()));
  EXPECT_FALSE(env["host"].get<std::string>().empty());
}

TEST_F(SiteInfoTest, LastLinesFromReadsWhatCameAfterTheMarkAndSkipsACutLine) {
  const fs::path f = root_ / "log_error.txt";
  EXPECT_TRUE(last_lines_from(f, 0, 20).empty());  // no file yet
  std::string text;
  for (int i = 1; i <= 30; ++i) text += "error " + std::to_string(i) + "\n\n";
  ASSERT_TRUE(base::atomic_write(f, text).ok());
  auto last = last_lines_from(f, 0, 20);
  ASSERT_EQ(last.size(), 20u);
  EXPECT_EQ(last.front(), "error 11");
  EXPECT_EQ(last.back(), "error 30");
  const uintmax_t mark = fs::file_size(f);
  EXPECT_TRUE(last_lines_from(f, mark, 20).empty());
  ASSERT_TRUE(base::atomic_write(f, text + "error 31\nerror 32").ok());
  EXPECT_EQ(last_lines_from(f, mark, 20), (std::vector<std::string>{"error 31", "error 32"}));
  EXPECT_EQ(last_lines_from(f, mark, 1), (std::vector<std::string>{"error 32"}));
  // More than 1 MiB since the mark: the last MiB, without the line it starts inside.
  std::string big(3u << 19, 'x');
  ASSERT_TRUE(base::atomic_write(f, big + "\nlast\n").ok());
  EXPECT_EQ(last_lines_from(f, 0, 20), (std::vector<std::string>{"last"}));
}

TEST(SiteInfo, ExtraJobComponentsLeaveOutFlaresSystemOnes) {
  EXPECT_TRUE(extra_job_components({"data", "meta", "scheduled", "workspace"}).empty());
  EXPECT_EQ(extra_job_components({"workspace", "ERRORLOG_site-2", "data", "ERRORLOG_site-1", ".meta.tmp"}),
            (std::vector<std::string>{"ERRORLOG_site-1", "ERRORLOG_site-2"}));
}

TEST(SiteInfo, LogConfigAcceptsFlaresLevelNamesNumbersAndModes) {
  EXPECT_EQ(*parse_log_config("DEBUG"), spdlog::level::debug);
  EXPECT_EQ(*parse_log_config("info"), spdlog::level::info);
  EXPECT_EQ(*parse_log_config("warning"), spdlog::level::warn);
  EXPECT_EQ(*parse_log_config("error"), spdlog::level::err);
  EXPECT_EQ(*parse_log_config("critical"), spdlog::level::critical);
  EXPECT_EQ(*parse_log_config("10"), spdlog::level::debug);
  EXPECT_EQ(*parse_log_config("30"), spdlog::level::warn);
  EXPECT_EQ(*parse_log_config("50"), spdlog::level::critical);
  EXPECT_EQ(*parse_log_config("concise"), spdlog::level::info);
  EXPECT_EQ(*parse_log_config("verbose"), spdlog::level::debug);
  EXPECT_EQ(*parse_log_config("reload"), spdlog::level::info);
  auto file = parse_log_config("/etc/log_config.json");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("log config files are not supported"), std::string::npos);
  auto bad = parse_log_config("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("invalid log config 'loud'"), std::string::npos);
}

TEST(SiteInfo, PythonStrPrintsDictsAsFlaresTablesDo) {
  EXPECT_EQ(python_str(config::Value::parse(R"({"a": "x", "b": [1, true, null], "c": 1.5})")),
            "{'a': 'x', 'b': [1, True, None], 'c': 1.5}");
  EXPECT_EQ(python_str(config::Value("unlimited")), "unlimited");
  EXPECT_EQ(python_str(config::Value::parse(R"({"q": "it's"})")), R"({'q': "it's"})");
}

TEST(SiteInfo, VirtualMemoryListsPsutilsFieldsInOrderFromProcMeminfo) {
  auto vm = virtual_memory();
  std::vector<std::string> names;
  for (const auto& [k, v] : vm) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"total", "available", "percent", "used", "free", "active", "inactive",
                                             "buffers", "cached", "shared", "slab", "available_percent"}));
  const long long total = std::stoll(vm[0].second), available = std::stoll(vm[1].second);
  EXPECT_GT(total, 0);
  EXPECT_GT(available, 0);
  EXPECT_LE(available, total);
  const double percent = std::stod(vm[2].second), available_percent = std::stod(vm[11].second);
  EXPECT_NEAR(percent + available_percent, 100.0, 0.2);
}

}  // namespace
}  // namespace nvf::runtime
