#include "tensor/tensor.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "base/prefault.h"
#include "tensor/dtype.h"

namespace nvf::tensor {
namespace {

TEST(DTypeTest, SafetensorsNamesRoundTrip) {
  for (DType d : kAllDTypes) {
    auto parsed = parse_safetensors_dtype(safetensors_name(d));
    ASSERT_TRUE(parsed.ok()) << safetensors_name(d);
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_EQ(safetensors_name(DType::kBool), "BOOL");
  EXPECT_EQ(safetensors_name(DType::kBF16), "BF16");
  auto bad = parse_safetensors_dtype("F8_E4M3");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("F8_E4M3"), std::string::npos);
}

TEST(DTypeTest, SizesAndTorchStorageNames) {
  EXPECT_EQ(dtype_size(DType::kF64), 8u);
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_size(DType::kI64), 8u);
  EXPECT_EQ(dtype_size(DType::kI8), 1u);
  EXPECT_EQ(dtype_size(DType::kBool), 1u);
  EXPECT_EQ(torch_storage_name(DType::kF32), "FloatStorage");
  EXPECT_EQ(torch_storage_name(DType::kBF16), "BFloat16Storage");
  EXPECT_EQ(torch_storage_name(DType::kI8), "CharStorage");
  EXPECT_EQ(torch_storage_name(DType::kU8), "ByteStorage");
}

TEST(DTypeTest, NpyDescrsRoundTripAndBf16HasNone) {
  for (DType d : kAllDTypes) {
    auto descr = npy_descr(d);
    if (d == DType::kBF16) {
      EXPECT_FALSE(descr.ok());
      continue;
    }
    ASSERT_TRUE(descr.ok());
    EXPECT_EQ(*parse_npy_descr(*descr), d);
  }
  EXPECT_EQ(*npy_descr(DType::kU8), "|u1");
  EXPECT_EQ(*npy_descr(DType::kF16), "<f2");
  auto big = parse_npy_descr(">f4");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("big-endian"), std::string::npos);
  EXPECT_FALSE(parse_npy_descr("<c8").ok());
}

TEST(DTypeTest, HalfConversionsAreExactOnRepresentableValues) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f, 5.9604645e-08f, -0.1875f}) {
    EXPECT_EQ(half_to_float(float_to_half(v)), v) << v;
  }
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(1e6f))));
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_float(float_to_bf16(-3.5f)), -3.5f);
  // Round to nearest even: 1 + 2^-8 lies halfway between two bf16 values.
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.00390625f)), 1.0f);
}

TEST(TensorTest, ZerosIsOwnedAlignedAndZero) {
  auto t = Tensor::zeros(DType::kF32, {2, 3});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->numel(), 6);
  EXPECT_EQ(t->nbytes(), 24u);
  EXPECT_TRUE(t->is_owned());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data()) % 64, 0u);
  for (float v : t->view<float>()) EXPECT_EQ(v, 0.0f);
  auto scalar = Tensor::zeros(DType::kF64, {});
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->numel(), 1);
  auto empty = Tensor::zeros(DType::kF32, {3, 0});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->numel(), 0);
  EXPECT_EQ(empty->nbytes(), 0u);
}

// Pages present in memory among the whole pages of the tensor's bytes.
size_t resident_whole_pages(const Tensor& t, size_t* whole) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(t.data()) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(t.data()) + t.nbytes()) & ~(page - 1);
  *whole = (end - begin) / page;
  std::vector<unsigned char> v(*whole);
  if (::mincore(reinterpret_cast<void*>(begin), end - begin, v.data()) != 0) return SIZE_MAX;
  size_t n = 0;
  for (unsigned char c : v) n += c & 1;
  return n;
}

TEST(TensorTest, ALargeNewTensorHasItsPagesUnlessTheCallerFaultsThemIn) {
  if (!base::Prefaulter::supported()) GTEST_SKIP() << "kernel without MADV_POPULATE_WRITE";
  // 64 MiB: a mapping of its own, fresh every time, so untouched pages are not resident.
  const Shape shape{16, 1 << 20};
  size_t whole = 0;
  auto populated = Tensor::uninitialized(DType::kF32, shape);
  ASSERT_TRUE(populated.ok()) << populated.status().message();
  EXPECT_EQ(resident_whole_pages(*populated, &whole), whole);
  EXPECT_GT(whole, 16000u);
  auto copy = populated->clone();  // a copy's memory is new and written at once: populated too
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(resident_whole_pages(*copy, &whole), whole);

  auto lazy = Tensor::uninitialized(DType::kF32, shape, Tensor::Pages::kOnFirstWrite);
  ASSERT_TRUE(lazy.ok());
  EXPECT_EQ(resident_whole_pages(*lazy, &whole), 0u);
}

TEST(TensorTest, ALargeTensorStartsOnAHugePageBoundaryAndZerosAreZeroWhateverTheSize) {
  for (int64_t n : {int64_t{1} << 20, (int64_t{1} << 20) + 3, int64_t{3} << 20}) {
    // 4 MiB + 12 bytes: a mapping of its own, not a whole number of pages.
    auto t = Tensor::zeros(DType::kF32, {n});
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data()) % (uintptr_t{2} << 20), 0u) << n;
    const auto* f = reinterpret_cast<const float*>(t->data());
    for (int64_t i = 0; i < n; i += 4099) ASSERT_EQ(f[i], 0.0f) << i;
    ASSERT_EQ(f[n - 1], 0.0f);
    std::memset(t->mutable_data(), 0x7f, t->nbytes());  // every byte is writable, to the last
  }
  // Heap-sized zeros are zero even where freed memory held other bytes.
  for (int round = 0; round < 3; ++round) {
    auto t = Tensor::zeros(DType::kF32, {1000});
    ASSERT_TRUE(t.ok());
    const auto* f = reinterpret_cast<const float*>(t->data());
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(f[i], 0.0f) << i;
    std::memset(t->mutable_data(), 0x5a, t->nbytes());
  }
}

TEST(TensorTest, RejectsNegativeAndOverflowingShapes) {
  auto neg = Tensor::zeros(DType::kF32, {2, -1});
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.status().message().find("negative"), std::string::npos);
  EXPECT_FALSE(Tensor::zeros(DType::kF32, {1LL << 40, 1LL << 40}).ok());
}

TEST(TensorTest, BorrowDoesNotCopyAndKeepsMemoryAlive) {
  auto buffer = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4});
  const auto* p = reinterpret_cast<const std::byte*>(buffer->data());
  auto t = Tensor::borrow(DType::kF32, {4}, p, 16, buffer);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->data(), p);
  EXPECT_FALSE(t->is_owned());
  std::weak_ptr<std::vector<float>> weak = buffer;
  buffer.reset();
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(t->to_doubles(), (std::vector<double>{1, 2, 3, 4}));
  Tensor shared = t->share();
  EXPECT_EQ(shared.data(), p);
  *t = Tensor();
  EXPECT_FALSE(weak.expired());
  shared = Tensor();
  EXPECT_TRUE(weak.expired());
}

TEST(TensorTest, BorrowRejectsWrongSize) {
  std::vector<float> v(4);
  auto t =
      Tensor::borrow(DType::kF32, {5}, reinterpret_cast<const std::byte*>(v.data()), 16, nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("needs 20 bytes"), std::string::npos);
}

TEST(TensorTest, MakeOwnedCopiesBorrowedBytes) {
  std::vector<int32_t> v{5, 6};
  auto t =
      Tensor::borrow(DType::kI32, {2}, reinterpret_cast<const std::byte*>(v.data()), 8, nullptr);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->make_owned().ok());
  EXPECT_TRUE(t->is_owned());
  v[0] = 99;
  EXPECT_EQ(t->view<int32_t>()[0], 5);
  t->mutable_view<int32_t>()[1] = 7;
  EXPECT_EQ(t->to_doubles(), (std::vector<double>{5, 7}));
}

TEST(TensorTest, FromDoublesConvertsEveryDtype) {
  for (DType d : kAllDTypes) {
    Tensor t = Tensor::from_doubles(d, {3}, {0, 1, 2});
    EXPECT_EQ(t.dtype(), d);
    const double last = d == DType::kBool ? 1 : 2;
    EXPECT_EQ(t.to_doubles(), (std::vector<double>{0, 1, last})) << safetensors_name(d);
  }
}

TEST(TensorDictTest, KeepsInsertionOrderAndCountsBytes) {
  TensorDict d;
  ASSERT_TRUE(d.insert("z", Tensor::from_vector<float>({2}, {1, 2})).ok());
  ASSERT_TRUE(d.insert("a", Tensor::from_vector<double>({3}, {1, 2, 3})).ok());
  ASSERT_TRUE(d.insert("m", Tensor::from_vector<int8_t>({1}, {4})).ok());
  EXPECT_EQ(d.names(), (std::vector<std::string>{"z", "a", "m"}));
  EXPECT_EQ(d.total_bytes(), 8u + 24u + 1u);
  auto dup = d.insert("a", Tensor());
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  d.insert_or_assign("a", Tensor::from_vector<float>({1}, {9}));
  EXPECT_EQ(d.names(), (std::vector<std::string>{"z", "a", "m"}));
  EXPECT_EQ(d.find("a")->to_doubles(), (std::vector<double>{9}));
  EXPECT_TRUE(d.erase("z"));
  EXPECT_FALSE(d.erase("z"));
  EXPECT_EQ(d.names(), (std::vector<std::string>{"a", "m"}));
  ASSERT_NE(d.find("m"), nullptr);
  EXPECT_EQ(d.find("m")->to_doubles(), (std::vector<double>{4}));
  EXPECT_EQ(d.find("nope"), nullptr);
}

}  // namespace
}  // namespace nvf::tensor
