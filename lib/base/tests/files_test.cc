#include "base/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

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

TEST_F(FilesTest, ReadFileNamesMissingFile) {
  auto r = read_file(root_ / "nope.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("nope.json"), std::string::npos);
}

TEST(IsWithinTest, ComparesWholeComponents) {
  EXPECT_TRUE(is_within("/a/b", "/a/b/c"));
  EXPECT_TRUE(is_within("/a/b", "/a/b"));
  EXPECT_FALSE(is_within("/a/b", "/a/bc"));
  EXPECT_FALSE(is_within("/a/b", "/a"));
}

}  // namespace
}  // namespace nvf::base
