#include "tools/user_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/files.h"

namespace nvf::tools {
namespace {
namespace fs = std::filesystem;

class UserConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "nvf_ucfg_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(UserConfigTest, MissingFileIsEmpty) {
  auto cfg = load_user_config(dir_ / "config.toml");
  ASSERT_TRUE(cfg.ok());
  EXPECT_FALSE(cfg->startup_kit);
  EXPECT_FALSE(cfg->poc_workspace);
}

TEST_F(UserConfigTest, RoundTripsPathsWithQuotes) {
  UserConfig in;
  in.startup_kit = "/tmp/nvflare/poc/example_project/prod_00";
  in.poc_workspace = "/tmp/a \"quoted\" dir";
  fs::path file = dir_ / "sub" / "config.toml";
  ASSERT_TRUE(save_user_config(file, in).ok());
  auto out = load_user_config(file);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out->startup_kit, *in.startup_kit);
  EXPECT_EQ(*out->poc_workspace, *in.poc_workspace);
  EXPECT_FALSE(out->job_templates);
  EXPECT_NE(base::read_file(file)->find("[startup_kit]\npath = \"/tmp/nvflare/poc/example_project/prod_00\""),
            std::string::npos);
}

TEST_F(UserConfigTest, WrongTypeNamesFileAndKey) {
  fs::path file = dir_ / "config.toml";
  ASSERT_TRUE(base::atomic_write(file, "[poc_workspace]\npath = 3\n").ok());
  auto out = load_user_config(file);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("poc_workspace.path must be a string"), std::string::npos);
  EXPECT_NE(out.status().message().find(file.string()), std::string::npos);
}

TEST_F(UserConfigTest, ExplicitTemplatesDirMustExist) {
  auto r = find_templates_dir(dir_ / "nope", UserConfig{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  auto ok = find_templates_dir(dir_, UserConfig{});
  ASSERT_TRUE(ok.ok());
}

}  // namespace
}  // namespace nvf::tools
