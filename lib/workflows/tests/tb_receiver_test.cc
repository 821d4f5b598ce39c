// TensorBoard event files: the checksums against published vectors and the record layout. (An
// independent reader — Python's struct and google.protobuf — reads a whole job's files in
// tests/python.)
#include "workflows/tb_receiver.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/files.h"
#include "tensor/tests/test_util.h"

namespace nvf::workflows {
namespace {

uint64_t le64(const std::string& s, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<size_t>(i)]);
  return v;
}
uint32_t le32(const std::string& s, size_t at) { return static_cast<uint32_t>(le64(s + std::string(8, '\0'), at)); }

TEST(TBReceiverTest, Crc32cMatchesPublishedVectors) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the CRC-32C check value
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
  const uint32_t c = crc32c("123456789");
  EXPECT_EQ(masked_crc32c("123456789"), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST(TBReceiverTest, EachSiteGetsAFileOfCheckedRecords) {
  tensor::testing::TempDir tmp;
  const tensor::testing::TempDir* dir = &tmp;
  TBAnalyticsReceiver r(dir->path() / "tb_events", base::null_logger());
  ASSERT_TRUE(r.record({"site-1", "loss", 0.5, 3, 1700000000.25}).ok());
  ASSERT_TRUE(r.record({"site-1", "loss", 0.25, 4, 1700000001.0}).ok());
  ASSERT_TRUE(r.record({"site-2", "acc/val", 0.75, 1, 1700000002.0}).ok());
  // A site name from a peer never leaves the folder.
  EXPECT_FALSE(r.record({"../x", "loss", 1, 1, 1}).ok());
  EXPECT_FALSE(r.record({"", "loss", 1, 1, 1}).ok());
  r.close();
  for (const char* site : {"site-1", "site-2"}) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir->path() / "tb_events" / site)) files.push_back(e.path());
    ASSERT_EQ(files.size(), 1u) << site;
    EXPECT_EQ(files[0].filename().string().rfind("events.out.tfevents.1700000", 0), 0u) << files[0];
    auto bytes = base::read_file(files[0]);
    ASSERT_TRUE(bytes.ok());
    // Records: length, masked crc of the length, data, masked crc of the data.
    size_t at = 0;
    int records = 0;
    std::string first;
    while (at < bytes->size()) {
      ASSERT_LE(at + 12, bytes->size());
      const uint64_t len = le64(*bytes, at);
      EXPECT_EQ(le32(*bytes, at + 8), masked_crc32c(bytes->substr(at, 8)));
      ASSERT_LE(at + 12 + len + 4, bytes->size());
      const std::string data = bytes->substr(at + 12, len);
      EXPECT_EQ(le32(*bytes, at + 12 + len), masked_crc32c(data));
      if (records == 0) first = data;
      at += 12 + len + 4;
      ++records;
    }
    EXPECT_EQ(records, std::string(site) == "site-1" ? 3 : 2);
    EXPECT_NE(first.find("brain.Event:2"), std::string::npos);
  }
  // The metric's bytes: tag and float value inside the event.
  const std::string e = encode_scalar_event(1.0, 3, "loss", 0.5f);
  EXPECT_NE(e.find("loss"), std::string::npos);
  float half = 0.5f;
  EXPECT_NE(e.find(std::string(reinterpret_cast<const char*>(&half), 4)), std::string::npos);
}

}  // namespace
}  // namespace nvf::workflows
