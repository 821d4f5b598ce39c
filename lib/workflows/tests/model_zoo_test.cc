#include "workflows/model_zoo.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace nvf::fl {
namespace {

TEST(ModelZooTest, SimpleNetworkHasFlaresStateDictLayout) {
  auto arch = find_architecture("simple_network");
  ASSERT_TRUE(arch.ok());
  auto dict = init_model(*arch, 0);
  ASSERT_TRUE(dict.ok());
  const std::vector<std::pair<std::string, tensor::Shape>> expected = {
      {"conv1.weight", {6, 3, 5, 5}},  {"conv1.bias", {6}},
      {"conv2.weight", {16, 6, 5, 5}}, {"conv2.bias", {16}},
      {"fc1.weight", {120, 400}},      {"fc1.bias", {120}},
      {"fc2.weight", {84, 120}},       {"fc2.bias", {84}},
      {"fc3.weight", {10, 84}},        {"fc3.bias", {10}}};
  ASSERT_EQ(dict->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*dict)[i].first, expected[i].first);
    EXPECT_EQ((*dict)[i].second.shape(), expected[i].second) << expected[i].first;
    EXPECT_EQ((*dict)[i].second.dtype(), tensor::DType::kF32);
  }
  EXPECT_EQ(find_architecture("SimpleNetwork")->name, "simple_network");
  EXPECT_EQ(find_architecture("my_pkg.net.SimpleNetwork")->name, "simple_network");
}

TEST(ModelZooTest, InitIsUniformWithinOneOverSqrtFanIn) {
  auto arch = find_architecture("simple_network");
  auto dict = init_model(*arch, 42);
  ASSERT_TRUE(dict.ok());
  const std::map<std::string, double> fan_in = {
      {"conv1", 75}, {"conv2", 150}, {"fc1", 400}, {"fc2", 120}, {"fc3", 84}};
  for (const auto& [name, t] : *dict) {
    const double bound = 1.0 / std::sqrt(fan_in.at(name.substr(0, name.find('.'))));
    double lo = 1, hi = -1, sum = 0;
    for (float v : t.view<float>()) {
      lo = std::min<double>(lo, v);
      hi = std::max<double>(hi, v);
      sum += v;
    }
    EXPECT_GE(lo, -bound) << name;
    EXPECT_LE(hi, bound) << name;
    if (t.numel() >= 1000) {  // spread over the whole interval, centred
      EXPECT_LT(lo, -0.9 * bound) << name;
      EXPECT_GT(hi, 0.9 * bound) << name;
      EXPECT_LT(std::abs(sum / t.numel()), 0.1 * bound) << name;
    }
  }
}

TEST(ModelZooTest, SameSeedSameModelOtherSeedOtherModel) {
  auto arch = find_architecture("mlp:4:8:2");
  ASSERT_TRUE(arch.ok());
  auto a = init_model(*arch, 5), b = init_model(*arch, 5), c = init_model(*arch, 6);
  EXPECT_EQ((*a)[0].second.to_doubles(), (*b)[0].second.to_doubles());
  EXPECT_NE((*a)[0].second.to_doubles(), (*c)[0].second.to_doubles());
}

TEST(ModelZooTest, MlpSpecGivesLinearLayers) {
  auto arch = find_architecture("mlp:784:128:64:10");
  ASSERT_TRUE(arch.ok());
  EXPECT_EQ(arch->name, "mlp:784:128:64:10");
  ASSERT_EQ(arch->params.size(), 6u);
  EXPECT_EQ(arch->params[0].name, "fc1.weight");
  EXPECT_EQ(arch->params[0].shape, (tensor::Shape{128, 784}));
  EXPECT_EQ(arch->params[0].fan_in, 784);
  EXPECT_EQ(arch->params[5].name, "fc3.bias");
  EXPECT_EQ(arch->params[5].shape, (tensor::Shape{10}));
  EXPECT_EQ(arch->params[5].fan_in, 64);
}

TEST(ModelZooTest, UnknownOrMalformedNamesAreErrors) {
  auto unknown = find_architecture("resnet50");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("available: simple_network"), std::string::npos);
  EXPECT_FALSE(find_architecture("mlp:4").ok());
  EXPECT_FALSE(find_architecture("mlp:4:x:2").ok());
  EXPECT_FALSE(find_architecture("mlp:4:0:2").ok());
}

}  // namespace
}  // namespace nvf::fl
