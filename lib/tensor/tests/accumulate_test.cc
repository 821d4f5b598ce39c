#include "tensor/accumulate.h"

#include <gtest/gtest.h>

#include <cstring>

namespace nvf::tensor {
namespace {

// Sizes around the 16-element block so both the vector body and the scalar tail run.
constexpr size_t kSizes[] = {0, 1, 15, 16, 17, 37, 1000};

TEST(AccumulateTest, FloatKernelAddsWeightedInput) {
  for (size_t n : kSizes) {
    std::vector<float> acc(n), x(n);
    for (size_t i = 0; i < n; ++i) {
      acc[i] = static_cast<float>(i);
      x[i] = static_cast<float>(2 * i + 1);
    }
    accumulate(acc.data(), x.data(), n, 0.5f);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(acc[i], static_cast<float>(i) + 0.5f * static_cast<float>(2 * i + 1))
          << n << " " << i;
    }
  }
}

TEST(AccumulateTest, DoubleKernelsAddWeightedInput) {
  for (size_t n : kSizes) {
    std::vector<double> acc(n, 1.0), xd(n);
    std::vector<float> xf(n);
    for (size_t i = 0; i < n; ++i) {
      xd[i] = 0.1 * static_cast<double>(i);
      xf[i] = static_cast<float>(i);
    }
    accumulate(acc.data(), xd.data(), n, 3.0);
    accumulate(acc.data(), xf.data(), n, 0.25);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_DOUBLE_EQ(acc[i],
                       1.0 + 3.0 * (0.1 * static_cast<double>(i)) + 0.25 * static_cast<double>(i));
    }
  }
}

TEST(AccumulateTest, HalfAndBfloatInputsConvertExactly) {
  for (size_t n : kSizes) {
    std::vector<uint16_t> h(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      h[i] = float_to_half(static_cast<float>(i) * 0.5f - 3.0f);
      b[i] = float_to_bf16(static_cast<float>(i) * -0.25f);
    }
    std::vector<float> acc(n, 0.0f);
    std::vector<double> acc64(n, 0.0);
    accumulate_f16(acc.data(), h.data(), n, 2.0f);
    accumulate_bf16(acc.data(), b.data(), n, 4.0f);
    accumulate_f16(acc64.data(), h.data(), n, 1.0);
    accumulate_bf16(acc64.data(), b.data(), n, 1.0);
    for (size_t i = 0; i < n; ++i) {
      const float hv = static_cast<float>(i) * 0.5f - 3.0f;
      const float bv = bf16_to_float(float_to_bf16(static_cast<float>(i) * -0.25f));
      ASSERT_EQ(acc[i], 2.0f * hv + 4.0f * bv) << i;
      ASSERT_EQ(acc64[i], static_cast<double>(hv) + static_cast<double>(bv)) << i;
    }
  }
}

TEST(AccumulateTest, ScaleMultipliesEveryElement) {
  std::vector<float> f(37, 3.0f);
  std::vector<double> d(37, 3.0);
  scale(f.data(), f.size(), 0.5f);
  scale(d.data(), d.size(), -2.0);
  for (float v : f) ASSERT_EQ(v, 1.5f);
  for (double v : d) ASSERT_EQ(v, -6.0);
}

TEST(AccumulateTest, DivideGivesExactlyTheScalarQuotients) {
  // 1/3 is not exact in binary: multiplying by it would differ from dividing in some elements.
  std::vector<float> f(1037);
  std::vector<double> d(1037);
  for (size_t i = 0; i < f.size(); ++i) {
    f[i] = static_cast<float>(i) * 0.7f + 0.1f;
    d[i] = static_cast<double>(i) * 0.7 + 0.1;
  }
  const std::vector<float> f0 = f;
  const std::vector<double> d0 = d;
  divide(f.data(), f.size(), 3.0f);
  divide(d.data(), d.size(), 3.0);
  size_t differs_from_reciprocal = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    volatile float q = f0[i] / 3.0f;  // scalar division, as before the kernel
    ASSERT_EQ(f[i], q) << i;
    ASSERT_EQ(d[i], d0[i] / 3.0) << i;
    if (f0[i] * (1.0f / 3.0f) != q) ++differs_from_reciprocal;
  }
  EXPECT_GT(differs_from_reciprocal, 0u) << "the test data cannot tell dividing from multiplying";
}

TEST(AccumulateTest, TensorWeightedAverageOfThreeClients) {
  // FedAvg: (10 * a + 30 * b + 60 * c) / 100.
  auto acc = Tensor::zeros(DType::kF32, {2, 2});
  ASSERT_TRUE(acc.ok());
  Tensor a = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_doubles(DType::kF16, {2, 2}, {2, 2, 2, 2});
  Tensor c = Tensor::from_doubles(DType::kBF16, {2, 2}, {-1, 0, 1, 8});
  ASSERT_TRUE(accumulate(*acc, a, 10).ok());
  ASSERT_TRUE(accumulate(*acc, b, 30).ok());
  ASSERT_TRUE(accumulate(*acc, c, 60).ok());
  ASSERT_TRUE(scale(*acc, 0.01).ok());
  const std::vector<double> expected{(10 + 60 - 60) / 100.0, (20 + 60 + 0) / 100.0,
                                     (30 + 60 + 60) / 100.0, (40 + 60 + 480) / 100.0};
  auto got = acc->to_doubles();
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(got[i], expected[i], 1e-6) << i;
}

TEST(AccumulateTest, IntegerAndBoolInputsIntoF64) {
  auto acc = Tensor::zeros(DType::kF64, {3});
  ASSERT_TRUE(acc.ok());
  ASSERT_TRUE(accumulate(*acc, Tensor::from_vector<int64_t>({3}, {1, -2, 1LL << 40}), 2).ok());
  ASSERT_TRUE(accumulate(*acc, Tensor::from_vector<bool>({3}, {true, false, true}), 1).ok());
  ASSERT_TRUE(accumulate(*acc, Tensor::from_vector<uint8_t>({3}, {255, 0, 1}), 1).ok());
  EXPECT_EQ(acc->to_doubles(), (std::vector<double>{2 + 1 + 255, -4, 2.0 * (1LL << 40) + 2}));
}

TEST(AccumulateTest, MisalignedInputGivesTheSameResult) {
  const size_t n = 5000;  // more than one bounce buffer of floats
  std::vector<std::byte> storage(n * 4 + 1);
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = static_cast<float>(i) - 100.0f;
  std::memcpy(storage.data() + 1, values.data(), n * 4);
  auto x =
      Tensor::borrow(DType::kF32, {static_cast<int64_t>(n)}, storage.data() + 1, n * 4, nullptr);
  ASSERT_TRUE(x.ok());
  auto acc = Tensor::zeros(DType::kF32, {static_cast<int64_t>(n)});
  ASSERT_TRUE(acc.ok());
  ASSERT_TRUE(accumulate(*acc, *x, 2.0).ok());
  auto got = acc->view<float>();
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], 2.0f * values[i]) << i;
}

TEST(AccumulateTest, RejectsMismatchedShapesAndBadAccumulatorsNamingTheTensor) {
  auto acc = Tensor::zeros(DType::kF32, {2, 2});
  ASSERT_TRUE(acc.ok());
  auto s = accumulate(*acc, Tensor::from_vector<float>({4}, {1, 2, 3, 4}), 1.0, "fc.weight");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'fc.weight'"), std::string::npos);
  EXPECT_NE(s.message().find("[4]"), std::string::npos);
  EXPECT_NE(s.message().find("[2, 2]"), std::string::npos);

  Tensor int_acc = Tensor::from_vector<int32_t>({1}, {0});
  auto s2 = accumulate(int_acc, Tensor::from_vector<int32_t>({1}, {1}), 1.0, "steps");
  EXPECT_EQ(s2.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s2.message().find("'steps'"), std::string::npos);

  Tensor borrowed = acc->share();
  auto s3 = accumulate(borrowed, Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}), 1.0, "w");
  EXPECT_EQ(s3.code(), StatusCode::kFailedPrecondition);
}

// Proves: sum() reads every dtype in place (odd lengths, an unaligned view) and add_scalar()
// adds in place to floating tensors, refusing integers and borrowed memory.
TEST(AccumulateTest, SumAndAddScalarInPlace) {
  Tensor f = Tensor::from_vector<float>({7}, {1, 2, 3, 4, 5, 6, 7.5f});
  EXPECT_DOUBLE_EQ(sum(f), 28.5);
  EXPECT_DOUBLE_EQ(sum(Tensor::from_vector<double>({3}, {0.25, 0.5, 1})), 1.75);
  EXPECT_DOUBLE_EQ(sum(Tensor::from_vector<int64_t>({2}, {-3, 10})), 7.0);
  std::vector<std::byte> raw(1 + 5 * 4);
  const float v[5] = {1, 1, 1, 1, 2};
  std::memcpy(raw.data() + 1, v, sizeof v);
  auto view = Tensor::borrow(DType::kF32, {5}, raw.data() + 1, 20, nullptr);
  ASSERT_TRUE(view.ok());
  EXPECT_DOUBLE_EQ(sum(*view), 6.0);  // unaligned: read element by element
  const std::byte* before = f.data();
  ASSERT_TRUE(add_scalar(f, 1.0).ok());
  EXPECT_EQ(f.data(), before);
  EXPECT_EQ(f.to_doubles(), (std::vector<double>{2, 3, 4, 5, 6, 7, 8.5}));
  Tensor h = Tensor::from_doubles(DType::kF16, {2}, {1.5, -2});
  ASSERT_TRUE(add_scalar(h, 1.0).ok());
  EXPECT_EQ(h.to_doubles(), (std::vector<double>{2.5, -1}));
  Tensor i = Tensor::from_vector<int32_t>({1}, {1});
  EXPECT_EQ(add_scalar(i, 1.0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(add_scalar(*view, 1.0).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace nvf::tensor
