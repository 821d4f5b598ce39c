#include "tensor_torch/torch_view.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace nvf::tensor_torch {
namespace {

using tensor::DType;
using tensor::Tensor;

TEST(TorchViewTest, ToTorchSharesBytesAndValues) {
  Tensor t = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  at::Tensor a = to_torch(t);
  EXPECT_EQ(a.data_ptr(), static_cast<const void*>(t.data()));
  EXPECT_EQ(a.sizes().vec(), (std::vector<int64_t>{2, 3}));
  EXPECT_FLOAT_EQ(a[1][2].item<float>(), 6.0f);
  a.mul_(2);  // writes through to the shared (owned) buffer
  EXPECT_FLOAT_EQ(t.view<float>()[5], 12.0f);
}

TEST(TorchViewTest, TorchViewOutlivesSourceTensor) {
  at::Tensor a;
  {
    Tensor t = Tensor::from_vector<int64_t>({3}, {7, 8, 9});
    a = to_torch(t);
  }
  EXPECT_EQ(a.sum().item<int64_t>(), 24);
}

TEST(TorchViewTest, FromTorchBorrowsWithoutCopy) {
  at::Tensor a = at::arange(12, at::kFloat).reshape({3, 4});
  auto t = from_torch(a);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(static_cast<const void*>(t->data()), a.data_ptr());
  EXPECT_EQ(t->shape(), (tensor::Shape{3, 4}));
  EXPECT_DOUBLE_EQ(t->value_as_double(11), 11.0);
  a = at::Tensor();  // the view keeps the storage alive
  EXPECT_DOUBLE_EQ(t->value_as_double(5), 5.0);
}

TEST(TorchViewTest, EveryDTypeMapsBothWays) {
  for (DType d : tensor::kAllDTypes) {
    auto back = from_scalar_type(to_scalar_type(d));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, d);
  }
  at::Tensor h = at::ones({4}, at::kBFloat16);
  auto t = from_torch(h);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->dtype(), DType::kBF16);
  EXPECT_DOUBLE_EQ(t->value_as_double(3), 1.0);
}

TEST(TorchViewTest, RejectsNonContiguousAndComplex) {
  at::Tensor a = at::arange(6, at::kFloat).reshape({2, 3}).t();
  auto t = from_torch(a);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("contiguous"), std::string::npos);
  auto c = from_torch(at::zeros({2}, at::kComplexFloat));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("not supported"), std::string::npos);
}

}  // namespace
}  // namespace nvf::tensor_torch
