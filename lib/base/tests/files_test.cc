#include "base/files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

// Writes `content` through a direct-mode writer in pieces of uneven sizes, then applies `patches`
// (offset, bytes) before commit; returns the writer's status.
Status write_direct(const fs::path& f, const std::string& content,
                    const std::vector<std::pair<uint64_t, std::string>>& patches,
                    bool keep_previous = false, bool* was_direct = nullptr) {
  AtomicFileWriter w;
  AtomicFileWriter::Options o;
  o.direct = true;
  o.keep_previous = keep_previous;
  NVF_RETURN_IF_ERROR(w.open(f, o));
  if (was_direct != nullptr) *was_direct = w.direct();
  size_t at = 0;
  for (size_t piece = 1; at < content.size(); piece = piece * 7 + 4093) {
    const size_t n = std::min(piece % (3u << 20), content.size() - at);
    NVF_RETURN_IF_ERROR(w.write(content.data() + at, n));
    at += n;
  }
  for (const auto& [offset, bytes] : patches) NVF_RETURN_IF_ERROR(w.pwrite(bytes.data(), bytes.size(), offset));
  EXPECT_EQ(w.bytes_written(), content.size());
  return w.commit();
}

// Whether the filesystem under `dir` takes O_DIRECT (most disk filesystems do; tmpfs before
// Linux 6.6 does not).
bool direct_io_supported(const fs::path& dir) {
  const fs::path probe = dir / "probe";
  const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0) return false;
  const int flags = ::fcntl(fd, F_GETFL);
  const bool ok = flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
  ::close(fd);
  ::unlink(probe.c_str());
  return ok;
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// Proves: a direct (page-cache bypassing) write yields exactly the bytes written, at lengths that
// are and are not whole blocks or whole staging buffers, with patches on blocks already on disk,
// across a block edge, across the staged/on-disk edge and inside the staged bytes; the file's
// length is its content's, not the padded last block's. On this filesystem O_DIRECT is taken.
TEST_F(FilesTest, DirectWritesGiveTheExactBytesAndPatchesBlocksOnDisk) {
  constexpr size_t kStage = AtomicFileWriter::kDirectStageBytes;
  constexpr size_t kBlock = AtomicFileWriter::kDirectAlign;
  for (size_t size : {size_t{0}, size_t{1}, kBlock, kBlock + 1, kStage, kStage + 13, 2 * kStage + 3 * kBlock - 7}) {
    SCOPED_TRACE(size);
    std::string want = pattern(size, static_cast<unsigned>(size));
    std::vector<std::pair<uint64_t, std::string>> patches;
    auto patch = [&](uint64_t offset, std::string bytes) {
      if (offset + bytes.size() > want.size()) return;
      want.replace(offset, bytes.size(), bytes);
      patches.emplace_back(offset, std::move(bytes));
    };
    patch(14, "CRC!");                         // first block, long flushed for large sizes
    patch(kBlock - 2, "EDGE");                 // across a block edge
    patch(kStage - 3, "STAGED");               // across the flushed/staged edge
    patch(want.size() >= 5 ? want.size() - 5 : 0, "tail");  // inside the staged bytes
    const fs::path f = root_ / ("direct-" + std::to_string(size));
    bool direct = false;
    ASSERT_TRUE(write_direct(f, want.substr(0, want.size()), {}, false, &direct).ok());
    // The patches go over a fresh write of the unpatched content.
    std::string base = pattern(size, static_cast<unsigned>(size));
    ASSERT_TRUE(write_direct(f, base, patches, false, &direct).ok());
    EXPECT_EQ(direct, direct_io_supported(root_));
    EXPECT_EQ(fs::file_size(f), size);
    EXPECT_TRUE(*read_file(f) == want) << "content differs";
    EXPECT_FALSE(fs::exists(previous_version_path(f)));
  }
}

// Proves: direct writes with keep_previous go over a longer previous version and are cut to their
// own length; a patch beyond the bytes written is refused with the file's name and the target is
// left as it was.
TEST_F(FilesTest, DirectWritesOverALongerScratchAndRefusePatchesPastTheEnd) {
  const fs::path f = root_ / "FL_global_model.pt";
  const std::string big = pattern(3 * AtomicFileWriter::kDirectStageBytes / 2, 1);
  const std::string small = pattern(10000, 2);
  ASSERT_TRUE(write_direct(f, big, {}, true).ok());
  ASSERT_TRUE(write_direct(f, big, {}, true).ok());  // the scratch now holds the big version
  ASSERT_TRUE(write_direct(f, small, {{9000, "patch"}}, true).ok());
  std::string want = small;
  want.replace(9000, 5, "patch");
  EXPECT_TRUE(*read_file(f) == want);
  EXPECT_EQ(fs::file_size(previous_version_path(f)), big.size());

  AtomicFileWriter w;
  AtomicFileWriter::Options o;
  o.direct = true;
  ASSERT_TRUE(w.open(f, o).ok());
  ASSERT_TRUE(w.write("abc").ok());
  Status s = w.pwrite("xy", 2, 2);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("FL_global_model.pt"), std::string::npos) << s.message();
  w.abandon();
  EXPECT_TRUE(*read_file(f) == want);
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

// Proves: a directory where the target should be is not swapped away by keep_previous's
// exchange (which would move it to the scratch name): the commit fails naming the target, and the
// directory and what it holds stay where they were.
TEST_F(FilesTest, KeepPreviousDoesNotSwapADirectoryOutOfTheWay) {
  const fs::path f = root_ / "FL_global_model.pt";
  ASSERT_TRUE(fs::create_directories(f / "in-the-way"));
  AtomicFileWriter w;
  ASSERT_TRUE(w.open(f, 0644, /*keep_previous=*/true).ok());
  ASSERT_TRUE(w.write("model").ok());
  Status s = w.commit();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("FL_global_model.pt"), std::string::npos) << s.message();
  EXPECT_TRUE(fs::is_directory(f / "in-the-way"));
  EXPECT_FALSE(fs::exists(previous_version_path(f) / "in-the-way"));
}

// Proves: sync_to_disk() takes a file and a directory, and names a missing path in its error.
TEST_F(FilesTest, SyncToDiskTakesFilesAndDirectoriesAndNamesAMissingOne) {
  const fs::path f = root_ / "synced";
  ASSERT_TRUE(atomic_write(f, "bytes").ok());
  EXPECT_TRUE(sync_to_disk(f).ok());
  EXPECT_TRUE(sync_to_disk(root_).ok());
  Status s = sync_to_disk(root_ / "missing");
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.to_string();
  EXPECT_NE(s.message().find("missing"), std::string::npos) << s.message();
  EXPECT_EQ(*read_file(f), "bytes");
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
