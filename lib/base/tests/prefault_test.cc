#include "base/prefault.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace nvf::base {
namespace {

// A fresh anonymous mapping (no page present until touched), unmapped at scope exit.
class Mapping {
 public:
  explicit Mapping(size_t size) : size_(size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    data_ = p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
  }
  ~Mapping() {
    if (data_) ::munmap(data_, size_);
  }
  std::byte* data() const { return data_; }
  // Pages of [data, data+size) present in memory.
  size_t resident_pages() const {
    size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> v((size_ + page - 1) / page);
    if (::mincore(data_, size_, v.data()) != 0) return 0;
    size_t n = 0;
    for (unsigned char c : v) n += c & 1;
    return n;
  }

 private:
  size_t size_;
  std::byte* data_ = nullptr;
};

TEST(PrefaulterTest, FaultsInEveryWholePageOfTheRegions) {
  if (!Prefaulter::supported()) GTEST_SKIP() << "kernel without MADV_POPULATE_WRITE";
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  Mapping a(24u << 20), b(3 * page);
  ASSERT_NE(a.data(), nullptr);
  ASSERT_NE(b.data(), nullptr);
  ASSERT_EQ(a.resident_pages(), 0u);
  // b starts one byte into its first page: only its two whole pages are faulted in.
  Prefaulter p({{a.data(), 24u << 20}, {b.data() + 1, 3 * page - 1}}, /*min_bytes=*/0);
  p.wait();
  EXPECT_EQ(a.resident_pages(), (24u << 20) / page);
  EXPECT_EQ(b.resident_pages(), 2u);
  EXPECT_EQ(p.populated(), (24u << 20) + 2 * page);
}

TEST(PrefaulterTest, AnUnalignedRegionLongerThanAStepLeavesNoPageOutBetweenSteps) {
  if (!Prefaulter::supported()) GTEST_SKIP() << "kernel without MADV_POPULATE_WRITE";
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t size = 3 * Prefaulter::kStep;
  Mapping m(size);
  ASSERT_NE(m.data(), nullptr);
  Prefaulter p({{m.data() + 100, size - 100}}, 0);  // the first page is partial: left to the writer
  p.wait();
  EXPECT_EQ(m.resident_pages(), size / page - 1);
  EXPECT_EQ(p.populated(), size - page);
}

TEST(PopulatePagesTest, FaultsInTheWholePagesOnTheCallingThread) {
  if (!Prefaulter::supported()) GTEST_SKIP() << "kernel without MADV_POPULATE_WRITE";
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  Mapping m(8 * page);
  ASSERT_NE(m.data(), nullptr);
  EXPECT_EQ(populate_pages(m.data() + 1, 4 * page), 3 * page);  // pages 1..3; page 0 is partial
  EXPECT_EQ(m.resident_pages(), 3u);
  EXPECT_EQ(populate_pages(m.data() + 1, page), 0u);  // no whole page inside
  EXPECT_EQ(populate_pages(m.data(), 8 * page), 8 * page);
  EXPECT_EQ(m.resident_pages(), 8u);
}

TEST(PrefaulterTest, NeverChangesBytesAlreadyWritten) {
  const size_t size = 16u << 20;
  Mapping m(size);
  ASSERT_NE(m.data(), nullptr);
  for (size_t i = 0; i < size; ++i) m.data()[i] = static_cast<std::byte>((i * 13 + 5) & 0xff);
  Prefaulter p({{m.data(), size}}, 0);
  p.wait();
  for (size_t i = 0; i < size; i += 4093)
    ASSERT_EQ(m.data()[i], static_cast<std::byte>((i * 13 + 5) & 0xff)) << "byte " << i;
}

TEST(PrefaulterTest, SmallRegionsStartNoThreadAndStopIsIdempotent) {
  Mapping m(1u << 20);
  ASSERT_NE(m.data(), nullptr);
  Prefaulter p({{m.data(), 1u << 20}});  // under the 64 MiB default minimum
  p.wait();
  EXPECT_EQ(p.populated(), 0u);
  EXPECT_EQ(m.resident_pages(), 0u);
  p.stop();
  p.stop();
}

}  // namespace
}  // namespace nvf::base
