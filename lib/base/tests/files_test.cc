#include "base/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

namespace nvf::base {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "nvf_files_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(FilesTest, SafeJoinAcceptsPathsInside) {
  auto p = safe_join(root_, "a/b/../c.txt");
  ASSERT_FALSE(p.ok()) << "'..' is refused even when it stays inside";
  auto q = safe_join(root_, "a/./c.txt");
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  EXPECT_EQ(*q, root_ / "a/c.txt");
}

TEST_F(FilesTest, SafeJoinRefusesAbsoluteAndParent) {
  auto abs = safe_join(root_, "/etc/passwd");
  ASSERT_FALSE(abs.ok());
  EXPECT_NE(abs.status().message().find("absolute"), std::string::npos);
  auto up = safe_join(root_, "../x");
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.status().message().find(".."), std::string::npos);
}

TEST_F(FilesTest, SafeJoinRefusesLinkLeavingRoot) {
  fs::create_directory_symlink("/tmp", root_ / "out");
  auto p = safe_join(root_, "out/file");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("link"), std::string::npos);
  EXPECT_TRUE(safe_join(root_, "out/file", /*follow_links=*/false).ok());
}

TEST_F(FilesTest, AtomicWriteReplacesContentAndSetsMode) {
  fs::path f = root_ / "key.pem";
  ASSERT_TRUE(atomic_write(f, "old").ok());
  ASSERT_TRUE(atomic_write(f, "new content", 0600).ok());
  EXPECT_EQ(*read_file(f), "new content");
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary files are left beside the target.
  int entries = 0;
  for (auto& e : fs::directory_iterator(root_)) { (void)e; ++entries; }
  EXPECT_EQ(entries, 1);
}

TEST_F(FilesTest, AbandonedWriterLeavesTargetUntouched) {
  fs::path f = root_ / "model.bin";
  ASSERT_TRUE(atomic_write(f, "keep me").ok());
  {
    AtomicFileWriter w;
    ASSERT_TRUE(w.open(f).ok());
    ASSERT_TRUE(w.write("partial").ok());
    uint32_t patch = 0x41414141;
    ASSERT_TRUE(w.pwrite(&patch, 4, 0).ok());
  }  // destroyed without commit
  EXPECT_EQ(*read_file(f), "keep me");
  int entries = 0;
  for (auto& e : fs::directory_iterator(root_)) { (void)e; ++entries; }
  EXPECT_EQ(entries, 1);
}

TEST_F(FilesTest, PwritePatchesStreamedFile) {
  fs::path f = root_ / "patched.bin";
  AtomicFileWriter w;
  ASSERT_TRUE(w.open(f).ok());
  ASSERT_TRUE(w.write("xxxxBODY").ok());
  ASSERT_TRUE(w.pwrite("HEAD", 4, 0).ok());
  EXPECT_EQ(w.bytes_written(), 8u);
  ASSERT_TRUE(w.commit().ok());
  EXPECT_EQ(*read_file(f), "HEADBODY");
}

// Proves: with keep_previous, each commit swaps the new content in atomically and the version
// before it stays as the scratch, which the next write goes over in place (same inode: the
// kernel's pages of it are used again); a shorter version is cut to its size; an abandoned write
// leaves the target whole; remove_previous() deletes the scratch.
TEST_F(FilesTest, KeepPreviousRewritesInTheOldVersionsPages) {
  fs::path f = root_ / "FL_global_model.pt";
  auto write = [&](const std::string& text) {
    AtomicFileWriter w;
    Status s = w.open(f, 0644, /*keep_previous=*/true);
    if (s.ok()) s = w.write(text);
    if (s.ok()) s = w.commit();
    return s;
  };
  auto inode = [](const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_ino : ino_t{0};
  };
  const fs::path scratch = previous_version_path(f);
  EXPECT_EQ(scratch, root_ / ".FL_global_model.pt.prev");
  ASSERT_TRUE(write("round one, the longest").ok());
  EXPECT_EQ(*read_file(f), "round one, the longest");
  EXPECT_FALSE(fs::exists(scratch));  // the first write had nothing to swap with
  ASSERT_TRUE(write("round two").ok());
  EXPECT_EQ(*read_file(f), "round two");
  EXPECT_EQ(*read_file(scratch), "round one, the longest");
  const ino_t old = inode(scratch);
  ASSERT_TRUE(write("round 3").ok());
  EXPECT_EQ(*read_file(f), "round 3");
  EXPECT_EQ(inode(f), old);  // written over the version before last, then swapped in
  EXPECT_EQ(*read_file(scratch), "round two");
  {
    AtomicFileWriter w;
    ASSERT_TRUE(w.open(f, 0644, true).ok());
    ASSERT_TRUE(w.write("torn").ok());
  }  // abandoned
  EXPECT_EQ(*read_file(f), "round 3");
  EXPECT_FALSE(fs::exists(scratch));
  ASSERT_TRUE(write("round 4").ok());
  EXPECT_EQ(*read_file(f), "round 4");
  remove_previous(f);
  EXPECT_FALSE(fs::exists(scratch));
  EXPECT_EQ(*read_file(f), "round 4");
}

// Proves: a scratch path that is not a regular file (a link planted beside the target) is refused
// with its name, and the target is left alone.
TEST_F(FilesTest, KeepPreviousRefusesALinkAsItsScratch) {
  fs::path f = root_ / "model.safetensors";
  ASSERT_TRUE(atomic_write(f, "keep").ok());
  fs::create_symlink(root_ / "elsewhere", previous_version_path(f));
  AtomicFileWriter w;
  Status s = w.open(f, 0644, true);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(".model.safetensors.prev"), std::string::npos) << s.message();
  EXPECT_EQ(*read_file(f), "keep");
  EXPECT_FALSE(fs::exists(root_ / "elsewhere"));
}

TEST_F(FilesTest, ReadFileNamesMissingFile) {
  auto r = read_file(root_ / "nope.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("nope.json"), std::string::npos);
}

// Sets TMPDIR for the life of the object and restores what was there.
class ScopedTmpdir {
 public:
  explicit ScopedTmpdir(const char* value) {
    if (const char* old = std::getenv("TMPDIR")) old_ = old;
    if (value) {
      ::setenv("TMPDIR", value, 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }
  ~ScopedTmpdir() {
    if (old_) {
      ::setenv("TMPDIR", old_->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST_F(FilesTest, TempDirsGoToTmpdirWhenItIsShortAndExists) {
  // A per-job TMPDIR as batch systems make: used, private (0700).
  auto job_tmp = make_temp_dir("nvf-job");  // under whatever TMPDIR the test runs with
  ASSERT_TRUE(job_tmp.ok());
  ScopedRemove remove_job_tmp(*job_tmp);
  ASSERT_LE(job_tmp->string().size(), kMaxTempRootLength);
  {
    ScopedTmpdir env((job_tmp->string() + "/").c_str());  // a trailing slash is dropped
    EXPECT_EQ(temp_root(), *job_tmp);
    auto dir = make_temp_dir("nvflare-cj");
    ASSERT_TRUE(dir.ok()) << dir.status().to_string();
    EXPECT_EQ(dir->parent_path(), *job_tmp);
    EXPECT_EQ(dir->filename().string().rfind("nvflare-cj-", 0), 0u) << *dir;
    struct stat st {};
    ASSERT_EQ(::stat(dir->c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
  }
  // Not usable: /tmp instead.
  std::string long_dir = job_tmp->string() + "/" + std::string(kMaxTempRootLength, 'x');
  ASSERT_TRUE(fs::create_directories(long_dir));
  for (const char* bad : {"relative/dir", "/no/such/folder/anywhere", "", long_dir.c_str()}) {
    ScopedTmpdir env(bad);
    EXPECT_EQ(temp_root(), fs::path("/tmp")) << "TMPDIR=" << bad;
  }
  ScopedTmpdir unset(nullptr);
  EXPECT_EQ(temp_root(), fs::path("/tmp"));
}

// Regression: the socket folders of daemons killed with SIGKILL stayed in the temp folder for
// good. A daemon's folder names its process; the next start removes those whose process is gone.
TEST_F(FilesTest, StaleTempDirsOfDeadProcessesAreRemovedAndLiveOnesKept) {
  auto root = make_temp_dir("nvf-stale");
  ASSERT_TRUE(root.ok());
  ScopedRemove remove_root(*root);
  ScopedTmpdir env(root->c_str());
  auto live = make_owned_temp_dir("nvflare-sp");  // this process: alive
  ASSERT_TRUE(live.ok()) << live.status().to_string();
  // A process that has exited.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  auto owned_by = [&](const std::string& name, const std::string& owner) {
    fs::path d = *root / name;
    fs::create_directories(d);
    if (!owner.empty()) {
      EXPECT_TRUE(atomic_write(d / ".owner", owner).ok());
    }
    EXPECT_TRUE(atomic_write(d / "cp.sock", "").ok());
    return d;
  };
  fs::path dead = owned_by("nvflare-cp-dead01", std::to_string(child) + " 12345\n");
  // This pid, but started at another time: the pid was reused by an unrelated process.
  fs::path reused = owned_by("nvflare-cj-reuse1", std::to_string(::getpid()) + " 1\n");
  fs::path unowned = owned_by("nvflare-cp-nofile", "");          // not made by us: left alone
  fs::path other = owned_by("other-prefix-dead", std::to_string(child) + " 12345\n");
  fs::path garbage = owned_by("nvflare-cp-garbag", "../../etc 1\n");

  auto removed = remove_stale_temp_dirs();
  std::sort(removed.begin(), removed.end());
  std::vector<fs::path> expected{dead, reused};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(removed, expected);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(reused));
  for (const auto& kept : {*live, unowned, other, garbage}) EXPECT_TRUE(fs::exists(kept)) << kept;
}

TEST(IsWithinTest, ComparesWholeComponents) {
  EXPECT_TRUE(is_within("/a/b", "/a/b/c"));
  EXPECT_TRUE(is_within("/a/b", "/a/b"));
  EXPECT_FALSE(is_within("/a/b", "/a/bc"));
  EXPECT_FALSE(is_within("/a/b", "/a"));
}

}  // namespace
}  // namespace nvf::base
