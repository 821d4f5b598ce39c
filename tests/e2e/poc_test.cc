// `nvflare poc prepare` / `nvflare poc clean` as a user runs them, with NVFLARE_POC_WORKSPACE
// pointing into a temporary folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/files.h"
#include "e2e_util.h"

namespace nvf::e2e {
namespace {

namespace fs = std::filesystem;

class PocTest : public E2eTest {
 protected:
  // stdin is /dev/null, so any prompt reads as "no".
  RunResult poc(const std::vector<std::string>& args) {
    std::vector<std::string> full = {"poc"};
    full.insert(full.end(), args.begin(), args.end());
    return run_nvflare(full, work_.path(),
                       {{"HOME", home_.path().string()}, {"NVFLARE_POC_WORKSPACE", ws().string()}});
  }
  fs::path ws() { return work_.path() / "poc"; }
  fs::path prod() { return ws() / "example_project" / "prod_00"; }
};

TEST_F(PocTest, PrepareBuildsPocKitsAndSavesConfig) {
  RunResult r = poc({"prepare", "-n", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(fs::is_directory(ws() / "data"));
  EXPECT_TRUE(fs::exists(ws() / "project.yml"));
  for (const char* p : {"server", "site-1", "site-2", "site-3", "admin@nvidia.com"})
    EXPECT_TRUE(fs::is_directory(prod() / p / "startup")) << p;
  EXPECT_FALSE(fs::exists(prod() / "site-4"));
  // FLARE's POC workspace keeps the provisioning state, private to its owner.
  const fs::path state = prod().parent_path() / "state" / "cert.json";
  ASSERT_TRUE(fs::exists(state));
  EXPECT_EQ(fs::status(state).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);

  config::Value admin = load(prod() / "admin@nvidia.com" / "startup" / "fed_admin.json");
  EXPECT_EQ(admin["admin"]["username"], "");
  EXPECT_EQ(admin["admin"]["uid_source"], "cert");
  EXPECT_EQ(admin["admin"]["host"], "localhost");
  EXPECT_EQ(admin["admin"]["port"], 8003);

  config::Value cfg = load(home_.path() / ".nvflare" / "config.toml");
  EXPECT_EQ(cfg["startup_kit"]["path"], prod().string());
  EXPECT_EQ(cfg["poc_workspace"]["path"], ws().string());
}

TEST_F(PocTest, PrepareWithClientNames) {
  RunResult r = poc({"prepare", "-c", "alpha", "beta"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(fs::is_directory(prod() / "alpha"));
  EXPECT_TRUE(fs::is_directory(prod() / "beta"));
  EXPECT_FALSE(fs::exists(prod() / "site-1"));
}

TEST_F(PocTest, PrepareAgainAnsweredNoLeavesWorkspace) {
  ASSERT_EQ(poc({"prepare", "-n", "2"}).exit_code, 0);
  ASSERT_TRUE(base::atomic_write(ws() / "data" / "keep.txt", "keep").ok());
  RunResult r = poc({"prepare", "-n", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("This will delete poc workspace directory: '" + ws().string() +
                       "' and create a new one. Is it OK to proceed? (y/N) "),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(fs::exists(ws() / "data" / "keep.txt"));
  EXPECT_FALSE(fs::exists(prod() / "site-3"));
  EXPECT_TRUE(fs::exists(prod() / "site-2"));
}

TEST_F(PocTest, CleanRemovesWorkspace) {
  ASSERT_EQ(poc({"prepare"}).exit_code, 0);
  RunResult r = poc({"clean"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find(ws().string() + " is removed"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(ws()));
}

TEST_F(PocTest, CleanRefusedWhileRunning) {
  ASSERT_EQ(poc({"prepare"}).exit_code, 0);
  ASSERT_TRUE(base::atomic_write(prod() / "server" / "pid.fl", "12345").ok());
  RunResult r = poc({"clean"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("system is still running, please stop the system first."), std::string::npos)
      << r.out;
  EXPECT_TRUE(fs::exists(prod() / "server"));
}

TEST_F(PocTest, NonPocFolderIsNeverDeleted) {
  ASSERT_TRUE(base::make_dirs(ws()).ok());
  ASSERT_TRUE(base::atomic_write(ws() / "precious.txt", "mine").ok());
  RunResult p = poc({"prepare"});
  EXPECT_EQ(p.exit_code, 1) << p.out;
  EXPECT_NE(p.out.find("is not a POC workspace"), std::string::npos) << p.out;
  RunResult c = poc({"clean"});
  EXPECT_EQ(c.exit_code, 1) << c.out;
  EXPECT_NE(c.out.find("is not a POC workspace"), std::string::npos) << c.out;
  EXPECT_TRUE(fs::exists(ws() / "precious.txt"));
  EXPECT_FALSE(fs::exists(ws() / "project.yml"));
}

TEST_F(PocTest, CleanWithoutWorkspaceFails) {
  RunResult r = poc({"clean"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("is not ready, please use poc prepare"), std::string::npos) << r.out;
}

TEST_F(PocTest, PrepareWithProjectInputIgnoresClientFlags) {
  ASSERT_EQ(run({"provision", "-g"}).exit_code, 0);
  RunResult r = poc({"prepare", "-i", "project.yml", "-n", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(fs::is_directory(prod() / "server1"));
  EXPECT_TRUE(fs::is_directory(prod() / "site-2"));
  EXPECT_FALSE(fs::exists(prod() / "site-3"));
  EXPECT_TRUE(fs::exists(ws() / "project.yml"));
}

TEST_F(PocTest, PrepareJobsDirLinksTheAdminsUploadFolder) {
  ASSERT_EQ(poc({"prepare", "-n", "1"}).exit_code, 0);
  fs::path jobs = work_.path() / "my-jobs";
  fs::create_directories(jobs / "hello");
  const fs::path transfer = prod() / "admin@nvidia.com" / "transfer";
  RunResult r = poc({"prepare-jobs-dir", "-j", jobs.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("link job directory from " + jobs.string() + " to " + transfer.string()), std::string::npos)
      << r.out;
  ASSERT_TRUE(fs::is_symlink(transfer));
  EXPECT_EQ(fs::read_symlink(transfer), jobs);
  EXPECT_TRUE(fs::is_directory(transfer / "hello"));
  // Linking again replaces the link; a missing folder is an error naming it.
  EXPECT_EQ(poc({"prepare-jobs-dir", "-j", jobs.string()}).exit_code, 0);
  RunResult missing = poc({"prepare-jobs-dir", "-j", (work_.path() / "nope").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("nope' does not exist"), std::string::npos) << missing.out;
}

TEST_F(PocTest, PrepareJobsDirKeepsAnUploadFolderWithFilesUnlessToldYes) {
  ASSERT_EQ(poc({"prepare", "-n", "1"}).exit_code, 0);
  const fs::path transfer = prod() / "admin@nvidia.com" / "transfer";
  fs::remove(transfer);
  fs::create_directories(transfer);
  ASSERT_TRUE(base::atomic_write(transfer / "keep.txt", "keep").ok());
  fs::path jobs = work_.path() / "my-jobs";
  fs::create_directories(jobs);
  RunResult r = poc({"prepare-jobs-dir", "-j", jobs.string()});  // stdin is /dev/null: "no"
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("is not empty, replace with new one ? (y/N)"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::is_symlink(transfer));
  EXPECT_TRUE(fs::exists(transfer / "keep.txt"));
}

TEST_F(PocTest, StartAndStopBeforePrepareSayWhatToDo) {
  for (const char* verb : {"start", "stop"}) {
    RunResult r = poc({verb});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find((ws() / "project.yml").string() +
                         " is missing, make sure you have first run 'nvflare poc prepare'"),
              std::string::npos)
        << r.out;
  }
}

}  // namespace
}  // namespace nvf::e2e
