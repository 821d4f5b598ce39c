#include "job/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>

#include "test_util.h"

namespace nvf::job {
namespace {

using testing::read_text;
using testing::TempDir;
using testing::write_text;

struct RawEntry {
  RawEntry(std::string n, unsigned t, std::string d, std::string l = "")
      : name(std::move(n)), type(t), data(std::move(d)), link(std::move(l)) {}
  std::string name;
  unsigned type;
  std::string data;
  std::string link;  // symlink target or hardlink source
};

// Writes entries with exactly the given names (no sanitizing), as a hostile zip would hold.
std::string raw_zip(const std::vector<RawEntry>& entries, bool deflate = false) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  if (deflate)
    archive_write_zip_set_compression_deflate(a);
  else
    archive_write_zip_set_compression_store(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* d, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(d)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& e : entries) {
    struct archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.name.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, 0644);
    if (e.type == AE_IFLNK) archive_entry_set_symlink(ae, e.link.c_str());
    if (e.type == AE_IFREG && !e.link.empty()) archive_entry_set_hardlink(ae, e.link.c_str());
    archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
    EXPECT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
    if (!e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// Replaces every 4-byte little-endian `from` with `to` at the size fields of zip headers.
void patch_declared_sizes(std::string* zip, uint32_t from, uint32_t to) {
  auto le = [](uint32_t v) {
    return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
  };
  const std::string f = le(from), t = le(to);
  for (size_t pos = zip->find(f); pos != std::string::npos; pos = zip->find(f, pos + 4))
    zip->replace(pos, 4, t);
}

std::map<std::string, std::string> tree(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string rel = fs::relative(e.path(), root).generic_string();
    out[rel] = e.is_directory() ? "<dir>" : read_text(e.path());
  }
  return out;
}

bool has_temp_sibling(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".extract-") != std::string::npos) return true;
  }
  return false;
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    job_ = tmp_.path() / "src" / "myjob";
    write_text(job_ / "meta.json", R"({"name": "myjob"})");
    write_text(job_ / "app/config/config_fed_server.json", "{}");
    write_text(job_ / "app/custom/run.sh", "#!/bin/sh\necho hi\n");
    ::chmod((job_ / "app/custom/run.sh").c_str(), 0755);
    std::string binary;
    for (int i = 0; i < 70000; ++i) binary.push_back(static_cast<char>(i * 7 % 256));
    write_text(job_ / "app/custom/data.bin", binary);
    fs::create_directories(job_ / "app/empty");
    dest_ = tmp_.path() / "out";
  }

  // Asserts that extracting `zip` fails with `needle` in the message and leaves no trace, from
  // memory and streamed in pieces alike.
  void expect_refused(const std::string& zip, const std::string& needle,
                      const ExtractLimits& limits = {}) {
    for (bool streamed : {false, true}) {
      Status s = streamed ? unpack_zip_stream(pieces(zip, 1000), dest_, limits)
                          : unpack_zip_from_memory(zip, dest_, limits);
      EXPECT_FALSE(s.ok()) << (streamed ? "streamed" : "from memory");
      EXPECT_NE(s.message().find(needle), std::string::npos) << s.to_string();
      EXPECT_FALSE(fs::exists(dest_));
      EXPECT_FALSE(has_temp_sibling(tmp_.path()));
    }
  }

  // A reader handing out `bytes` in pieces of at most `piece` bytes, then the end; it counts what
  // it handed out in `*handed` when given.
  static ZipStreamReader pieces(std::string bytes, size_t piece, size_t* handed = nullptr) {
    auto data = std::make_shared<std::string>(std::move(bytes));
    auto at = std::make_shared<size_t>(0);
    return [data, at, piece, handed]() -> Result<std::string_view> {
      const size_t n = std::min(piece, data->size() - *at);
      std::string_view out(data->data() + *at, n);
      *at += n;
      if (handed) *handed = *at;
      return out;
    };
  }

  TempDir tmp_;
  fs::path job_;
  fs::path dest_;
};

TEST_F(ArchiveTest, RoundTripKeepsEveryByteAndDirectoryEntries) {
  const fs::path zip = tmp_.path() / "job.zip";
  ASSERT_TRUE(pack_zip(job_, zip).ok());
  auto bytes = read_text(zip);
  auto entries = list_zip_from_memory(bytes);
  ASSERT_TRUE(entries.ok()) << entries.status().to_string();
  std::vector<std::string> names;
  for (const auto& e : *entries) names.push_back(e.name);
  const std::vector<std::string> expected = {"myjob/",
                                             "myjob/app/",
                                             "myjob/app/config/",
                                             "myjob/app/config/config_fed_server.json",
                                             "myjob/app/custom/",
                                             "myjob/app/custom/data.bin",
                                             "myjob/app/custom/run.sh",
                                             "myjob/app/empty/",
                                             "myjob/meta.json"};
  EXPECT_EQ(names, expected);
  EXPECT_TRUE((*entries)[2].is_dir);

  ASSERT_TRUE(unpack_zip(zip, dest_).ok());
  EXPECT_EQ(tree(dest_ / "myjob"), tree(job_));
  struct stat st {};
  ASSERT_EQ(::stat((dest_ / "myjob/app/custom/run.sh").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & 0100);
  EXPECT_FALSE(has_temp_sibling(tmp_.path()));
}

TEST_F(ArchiveTest, UnzipCommandSeesDirectoryEntries) {
  if (::access("/usr/bin/unzip", X_OK) != 0) GTEST_SKIP() << "unzip is not installed";
  const fs::path zip = tmp_.path() / "job.zip";
  ASSERT_TRUE(pack_zip(job_, zip).ok());
  std::string cmd = "/usr/bin/unzip -l '" + zip.string() + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << out;
  EXPECT_NE(out.find(" myjob/app/config/\n"), std::string::npos) << out;
  EXPECT_NE(out.find("70000"), std::string::npos) << out;
}

// Proves: a large file that would not shrink (random bytes, like a checkpoint) is stored, a large
// compressible one is deflated, and both come back byte for byte (also through `unzip -t` when
// it is installed, which checks every entry's CRC).
TEST_F(ArchiveTest, LargeFilesThatDoNotShrinkAreStoredAndTheRestDeflated) {
  std::mt19937_64 rng(3);
  std::string noise(3u << 20, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  write_text(job_ / "app/custom/checkpoint.bin", noise);
  write_text(job_ / "app/custom/zeros.txt", std::string(3u << 20, '0'));
  const fs::path zip = tmp_.path() / "job.zip";
  ASSERT_TRUE(pack_zip(job_, zip).ok());
  const auto size = fs::file_size(zip);
  EXPECT_GT(size, noise.size());                   // the noise is in it, stored
  EXPECT_LT(size, noise.size() + (256u << 10));    // and the 3 MiB of zeros deflated to almost nothing
  ASSERT_TRUE(unpack_zip(zip, dest_).ok());
  EXPECT_EQ(tree(dest_ / "myjob"), tree(job_));
  if (::access("/usr/bin/unzip", X_OK) == 0) {
    const std::string cmd = "/usr/bin/unzip -tqq '" + zip.string() + "'";
    EXPECT_EQ(::system(cmd.c_str()), 0);
  }
}

TEST_F(ArchiveTest, InMemoryPackMatchesFileAndUsesRootName) {
  auto a = pack_zip_to_string(job_);
  auto b = pack_zip_to_string(job_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);  // deterministic
  auto renamed = pack_zip_to_string(job_, {.root_name = "other", .files_in_memory = {}});
  ASSERT_TRUE(renamed.ok());
  auto entries = list_zip_from_memory(*renamed);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->front().name, "other/");
  ASSERT_TRUE(unpack_zip_from_memory(*a, dest_).ok());
  EXPECT_EQ(read_text(dest_ / "myjob/meta.json"), R"({"name": "myjob"})");
}

TEST_F(ArchiveTest, InMemoryFilesReplaceOrJoinTheFolderFilesInTheirSortedPlace) {
  write_text(job_ / "app/.sig", "stale");
  const auto before = pack_zip_to_string(job_);
  ASSERT_TRUE(before.ok());
  PackOptions o;
  o.files_in_memory = {{".sig", "top"}, {"app/.sig", "fresh"}, {"app/zz.txt", "last"}};
  auto zip = pack_zip_to_string(job_, o);
  ASSERT_TRUE(zip.ok()) << zip.status().to_string();
  auto entries = list_zip_from_memory(*zip);
  ASSERT_TRUE(entries.ok());
  std::vector<std::string> names;
  for (const auto& e : *entries) names.push_back(e.name);
  auto at = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  ASSERT_LT(at("myjob/.sig"), static_cast<long>(names.size()));
  EXPECT_EQ(at("myjob/.sig"), 1);                      // first in the top folder (sorted by name)
  EXPECT_EQ(std::count(names.begin(), names.end(), "myjob/app/.sig"), 1);  // replaced, not doubled
  EXPECT_LT(at("myjob/app/.sig"), at("myjob/app/zz.txt"));
  EXPECT_EQ(names.size(), list_zip_from_memory(*before)->size() + 2);
  ASSERT_TRUE(unpack_zip_from_memory(*zip, dest_).ok());
  EXPECT_EQ(read_text(dest_ / "myjob/.sig"), "top");
  EXPECT_EQ(read_text(dest_ / "myjob/app/.sig"), "fresh");
  EXPECT_EQ(read_text(dest_ / "myjob/app/zz.txt"), "last");
  EXPECT_EQ(read_text(dest_ / "myjob/meta.json"), R"({"name": "myjob"})");
  EXPECT_EQ(read_text(job_ / "app/.sig"), "stale");  // the folder is not written
  EXPECT_FALSE(fs::exists(job_ / ".sig"));
}

TEST_F(ArchiveTest, InMemoryFilesOutsideTheFolderOrItsFoldersAreRefused) {
  for (const std::string rel : {"nope/x", "../x", "/etc/x", "app/", "", "app/../x", "app"}) {
    PackOptions o;
    o.files_in_memory = {{rel, "x"}};
    const fs::path out = tmp_.path() / "bad.zip";
    Status s = pack_zip(job_, out, o);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << rel << ": " << s.to_string();
    EXPECT_NE(s.message().find("is not a file name inside one of its folders"), std::string::npos) << s.to_string();
    EXPECT_FALSE(fs::exists(out)) << rel;
  }
}

TEST_F(ArchiveTest, PackStoresInsideFileLinkAsContentAndRefusesOutsideLinks) {
  fs::create_symlink("../meta.json", job_ / "app/meta_link.json");
  auto zip = pack_zip_to_string(job_);
  ASSERT_TRUE(zip.ok()) << zip.status().to_string();
  ASSERT_TRUE(unpack_zip_from_memory(*zip, dest_).ok());
  EXPECT_FALSE(fs::is_symlink(dest_ / "myjob/app/meta_link.json"));
  EXPECT_EQ(read_text(dest_ / "myjob/app/meta_link.json"), R"({"name": "myjob"})");

  write_text(tmp_.path() / "secret.txt", "secret");
  fs::create_symlink(tmp_.path() / "secret.txt", job_ / "leak.txt");
  const fs::path out = tmp_.path() / "bad.zip";
  Status s = pack_zip(job_, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("outside the job folder"), std::string::npos) << s.to_string();
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(ArchiveTest, PackRefusesLinkToDirectory) {
  fs::create_directory_symlink("app", job_ / "app_link");
  Status s = pack_zip_to_string(job_).status();
  EXPECT_NE(s.message().find("symbolic link to a directory"), std::string::npos) << s.to_string();
}

TEST_F(ArchiveTest, RejectsZipEntryWithAbsolutePath) {
  expect_refused(raw_zip({{"ok.txt", AE_IFREG, "x"}, {"/tmp/evil", AE_IFREG, "x"}}),
                 "'/tmp/evil' is an absolute path");
}

TEST_F(ArchiveTest, RejectsZipEntryOutsideTarget) {
  expect_refused(raw_zip({{"../evil", AE_IFREG, "x"}}),
                 "zip entry '../evil' leaves the target folder; refusing the archive");
  expect_refused(raw_zip({{"a/../../x", AE_IFREG, "x"}}), "'a/../../x' leaves the target folder");
  expect_refused(raw_zip({{"a/../x", AE_IFREG, "x"}}), "'a/../x' has a '..' component");
  EXPECT_FALSE(fs::exists(tmp_.path().parent_path() / "evil"));
}

TEST_F(ArchiveTest, RejectsSymlinkEntry) {
  const std::string zip = raw_zip({{"job/link", AE_IFLNK, "", "/etc/passwd"}});
  Status s = unpack_zip_from_memory(zip, dest_);
  EXPECT_NE(s.message().find("'job/link' is a symbolic link"), std::string::npos) << s.to_string();
  EXPECT_FALSE(fs::exists(dest_));
  // Streamed, an entry's type is not known (ZIP keeps it in the central directory, at the end):
  // the entry comes out as an ordinary file holding the link's text, never as a link.
  ASSERT_TRUE(unpack_zip_stream(pieces(zip, 1000), dest_).ok());
  struct stat st {};
  ASSERT_EQ(::lstat((dest_ / "job/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(read_text(dest_ / "job/link"), "/etc/passwd");
}

TEST_F(ArchiveTest, RejectsHardlinkEntry) {
  const std::string zip = raw_zip({{"job/a", AE_IFREG, "data"}, {"job/b", AE_IFREG, "", "job/a"}});
  Status s = unpack_zip_from_memory(zip, dest_);
  if (!s.ok()) {
    EXPECT_NE(s.message().find("is a hard link"), std::string::npos) << s.to_string();
    EXPECT_FALSE(fs::exists(dest_));
    return;
  }
  // ZIP cannot carry hard links (libarchive's zip writer drops them): then "job/b" must come out
  // as an independent ordinary file, never a second name of "job/a".
  struct stat a {
  }, b{};
  ASSERT_EQ(::lstat((dest_ / "job/a").c_str(), &a), 0);
  ASSERT_EQ(::lstat((dest_ / "job/b").c_str(), &b), 0);
  EXPECT_TRUE(S_ISREG(b.st_mode));
  EXPECT_EQ(a.st_nlink, 1u);
  EXPECT_NE(a.st_ino, b.st_ino);
  EXPECT_EQ(read_text(dest_ / "job/a"), "data");
}

// Sets the Unix file type in the central directory's external attributes of every entry.
void patch_unix_type(std::string* zip, uint32_t type_bits) {
  const std::string sig("PK\x01\x02", 4);
  for (size_t pos = zip->find(sig); pos != std::string::npos; pos = zip->find(sig, pos + 4)) {
    auto* attr = reinterpret_cast<unsigned char*>(zip->data() + pos + 38);
    uint32_t mode = (type_bits | 0644u);
    attr[2] = static_cast<unsigned char>(mode & 0xff);
    attr[3] = static_cast<unsigned char>(mode >> 8);
  }
}

TEST_F(ArchiveTest, NeverCreatesFifoOrDeviceFromAnEntry) {
  for (uint32_t type : {uint32_t{S_IFIFO}, uint32_t{S_IFCHR}}) {
    std::string zip = raw_zip({{"job/dev", AE_IFREG, "x"}});
    patch_unix_type(&zip, type);
    std::error_code ec;
    fs::remove_all(dest_, ec);
    Status s = unpack_zip_from_memory(zip, dest_);
    if (!s.ok()) {  // refused by our type check
      EXPECT_NE(s.message().find("'job/dev' is a device, FIFO or socket"), std::string::npos)
          << s.to_string();
      EXPECT_FALSE(fs::exists(dest_));
      continue;
    }
    // libarchive's zip reader maps every type but dir/symlink to a regular file.
    struct stat st {};
    ASSERT_EQ(::lstat((dest_ / "job/dev").c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(read_text(dest_ / "job/dev"), "x");
  }
}

TEST_F(ArchiveTest, RejectsDuplicateNames) {
  expect_refused(raw_zip({{"job/a.txt", AE_IFREG, "1"}, {"job/./a.txt", AE_IFREG, "2"}}),
                 "'job/./a.txt' appears more than once");
}

TEST_F(ArchiveTest, RejectsEntryOverDeclaredSizeLimit) {
  ExtractLimits limits;
  limits.max_entry_bytes = 1000;
  expect_refused(raw_zip({{"job/big", AE_IFREG, std::string(2000, 'a')}}), "declares 2000 bytes",
                 limits);
}

TEST_F(ArchiveTest, RejectsBombWhoseDeclaredSizeLies) {
  const uint32_t real = 4u << 20;
  std::string zip = raw_zip({{"job/bomb", AE_IFREG, std::string(real, '\0')}}, /*deflate=*/true);
  ASSERT_LT(zip.size(), 100000u);  // highly compressible
  patch_declared_sizes(&zip, real, 100);
  ExtractLimits limits;
  limits.max_entry_bytes = 1u << 20;
  expect_refused(zip, "holds more than 1048576 bytes", limits);
}

TEST_F(ArchiveTest, RejectsTooManyEntriesAndTooManyBytes) {
  std::vector<RawEntry> many;
  for (int i = 0; i < 11; ++i) many.push_back({"job/f" + std::to_string(i), AE_IFREG, "x"});
  ExtractLimits limits;
  limits.max_entries = 10;
  expect_refused(raw_zip(many), "more than 10 entries", limits);

  ExtractLimits total;
  total.max_total_bytes = 1000;
  expect_refused(raw_zip({{"job/a", AE_IFREG, std::string(600, 'a')},
                          {"job/b", AE_IFREG, std::string(600, 'b')}}),
                 "exceed the limit of 1000 bytes in total", total);
}

TEST_F(ArchiveTest, FailedExtractionLeavesEmptyTargetEmptyAndRefusesNonEmptyTarget) {
  fs::create_directories(dest_);
  EXPECT_FALSE(
      unpack_zip_from_memory(raw_zip({{"a", AE_IFREG, "1"}, {"../b", AE_IFREG, "2"}}), dest_).ok());
  EXPECT_TRUE(fs::is_empty(dest_));
  EXPECT_FALSE(has_temp_sibling(tmp_.path()));

  write_text(dest_ / "old.txt", "old");
  auto good = pack_zip_to_string(job_);
  ASSERT_TRUE(good.ok());
  Status s = unpack_zip_from_memory(*good, dest_);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(tree(dest_), (std::map<std::string, std::string>{{"old.txt", "old"}}));
}

// Proves: a zip read front to back in uneven pieces extracts to the same tree as from memory,
// deflated and stored entries alike, without needing the central directory at its end.
TEST_F(ArchiveTest, AStreamedZipExtractsAsTheWholeOne) {
  std::string big(300000, '\0');
  std::mt19937 rng(3);
  for (auto& c : big) c = static_cast<char>(rng());
  write_text(job_ / "app/custom/checkpoint.bin", big);  // does not shrink: stored
  auto zip = pack_zip_to_string(job_);
  ASSERT_TRUE(zip.ok());
  ASSERT_TRUE(unpack_zip_from_memory(*zip, tmp_.path() / "whole").ok());
  for (size_t piece : {size_t{1}, size_t{4093}, size_t{1} << 20}) {
    std::error_code ec;
    fs::remove_all(dest_, ec);
    size_t handed = 0;
    Status s = unpack_zip_stream(pieces(*zip, piece, &handed), dest_);
    ASSERT_TRUE(s.ok()) << piece << ": " << s.to_string();
    EXPECT_EQ(tree(dest_), tree(tmp_.path() / "whole")) << piece;
    // Read a byte at a time, the extraction stops at the central directory: it never needs it
    // (the central directory here is over 900 bytes).
    if (piece == 1) EXPECT_LT(handed + 400, zip->size()) << handed << " of " << zip->size();
  }
  EXPECT_EQ(read_text(dest_ / "myjob/app/custom/checkpoint.bin"), big);
}

// Proves: the reader's error ends the extraction with that very error, a stream that ends early
// is refused, and neither leaves anything behind.
TEST_F(ArchiveTest, AStreamThatFailsOrEndsEarlyLeavesNothing) {
  std::string noise(20000, '\0');
  std::mt19937 rng(5);
  for (auto& c : noise) c = static_cast<char>(rng());
  write_text(job_ / "app/custom/noise.bin", noise);
  auto zip = pack_zip_to_string(job_);
  ASSERT_TRUE(zip.ok());
  ASSERT_GT(zip->size(), 3000u);
  size_t calls = 0;
  Status s = unpack_zip_stream(
      [&]() -> Result<std::string_view> {
        if (++calls == 3) return UnavailableError("pulling the job zip from server: connection lost");
        return std::string_view(zip->data() + (calls - 1) * 1000, 1000);
      },
      dest_);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.to_string();
  EXPECT_EQ(s.message(), "pulling the job zip from server: connection lost");
  EXPECT_FALSE(fs::exists(dest_));
  EXPECT_FALSE(has_temp_sibling(tmp_.path()));

  s = unpack_zip_stream(pieces(zip->substr(0, zip->size() / 2), 1000), dest_);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(dest_));
  EXPECT_FALSE(has_temp_sibling(tmp_.path()));
}

TEST_F(ArchiveTest, RejectsGarbage) {
  Status s = unpack_zip_from_memory("this is not a zip", dest_);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(unpack_zip_stream(pieces("this is not a zip", 5), dest_).ok());
  EXPECT_FALSE(fs::exists(dest_));
  EXPECT_FALSE(has_temp_sibling(tmp_.path()));
}

}  // namespace
}  // namespace nvf::job
