#include "protocol/protocol.h"

#include <gtest/gtest.h>

namespace nvf::protocol {
namespace {

TEST(ProtocolTest, ModelMessageRoundTripsHeaderAndManifest) {
  fl::FLModel m;
  m.params_type = fl::ParamsType::kDiff;
  m.metrics["accuracy"] = 0.75;
  m.meta["NUM_STEPS_CURRENT_ROUND"] = 12;
  m.current_round = 3;
  m.total_rounds = 5;
  cellnet::Manifest manifest;
  manifest.source = "site-1.job.trainer";
  manifest.ref_id = "R0123456789abcdef0123456789abcdef";
  cellnet::DownloadItem item;
  item.name = "fc1.weight";
  item.dtype = tensor::DType::kF32;
  item.shape = {2, 3};
  item.size = 24;
  manifest.items.push_back(item);
  auto decoded = decode_model_message(encode_model_message(m, manifest), "test");
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded->model.params_type, fl::ParamsType::kDiff);
  EXPECT_DOUBLE_EQ(decoded->model.metrics.at("accuracy"), 0.75);
  EXPECT_EQ(decoded->model.meta["NUM_STEPS_CURRENT_ROUND"], 12);
  EXPECT_EQ(decoded->model.current_round, 3);
  ASSERT_TRUE(decoded->params.has_value());
  EXPECT_EQ(*decoded->params, manifest);
  auto none = decode_model_message(encode_model_message(m, std::nullopt), "test");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->params.has_value());
}

TEST(ProtocolTest, MalformedModelMessageNamesTheSender) {
  auto bad = decode_model_message(cellnet::Message::of("{\"x\": 1}"), "result from site-2");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("result from site-2"), std::string::npos);
  auto junk = decode_model_message(cellnet::Message::of("not json"), "result from site-2");
  ASSERT_FALSE(junk.ok());
}

TEST(ProtocolTest, TensorStreamConsumerHandsOverEachTensorWhenComplete) {
  cellnet::Manifest manifest;
  for (auto [name, shape] : {std::pair<std::string, tensor::Shape>{"a", {2}}, {"empty", {0}}, {"b", {3}}}) {
    cellnet::DownloadItem it;
    it.name = name;
    it.dtype = tensor::DType::kF32;
    it.shape = shape;
    it.size = static_cast<uint64_t>(shape[0]) * 4;
    manifest.items.push_back(it);
  }
  std::vector<std::pair<std::string, std::vector<double>>> got;
  TensorStreamConsumer c([&](const std::string& name, tensor::Tensor t) {
    got.emplace_back(name, t.to_doubles());
    return Status::OK();
  });
  ASSERT_TRUE(c.start(manifest).ok());
  float a[2] = {1, 2}, b[3] = {3, 4, 5};
  auto slice = [](const void* p, size_t n) { return cellnet::Slice::copy_of({static_cast<const char*>(p), n}); };
  ASSERT_TRUE(c.consume(0, 0, slice(a, 4)).ok());
  EXPECT_TRUE(got.empty());  // half of "a" only
  ASSERT_TRUE(c.consume(0, 4, slice(a + 1, 4)).ok());
  ASSERT_TRUE(c.consume(2, 0, slice(b, 12)).ok());
  ASSERT_TRUE(c.finish().ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].first, "a");
  EXPECT_EQ(got[0].second, (std::vector<double>{1, 2}));
  EXPECT_EQ(got[1].first, "empty");
  EXPECT_TRUE(got[1].second.empty());
  EXPECT_EQ(got[2].second, (std::vector<double>{3, 4, 5}));
}

// Proves: a tensor the callee does not keep leaves its memory to the next one (a sink that
// accumulates touches one tensor's worth of pages per result), while a tensor the callee keeps is
// never overwritten by later ones.
TEST(ProtocolTest, TensorStreamConsumerReusesMemoryOnlyOfTensorsNotKept) {
  cellnet::Manifest manifest;
  for (const char* name : {"a", "b", "c", "d"}) {
    cellnet::DownloadItem it;
    it.name = name;
    it.dtype = tensor::DType::kF32;
    it.shape = {4};
    it.size = 16;
    manifest.items.push_back(it);
  }
  std::vector<const std::byte*> where;
  tensor::TensorDict kept;
  TensorStreamConsumer c([&](const std::string& name, tensor::Tensor t) {
    where.push_back(t.data());
    if (name == "b") return kept.insert(name, std::move(t));  // the callee keeps "b" only
    return Status::OK();
  });
  ASSERT_TRUE(c.start(manifest).ok());
  for (size_t i = 0; i < 4; ++i) {
    const float v[4] = {float(i), float(i) + 0.5f, float(i) + 1, float(i) + 2};
    ASSERT_TRUE(c.consume(i, 0, cellnet::Slice::copy_of({reinterpret_cast<const char*>(v), 16})).ok());
  }
  ASSERT_TRUE(c.finish().ok());
  ASSERT_EQ(where.size(), 4u);
  EXPECT_EQ(where[0], where[1]);  // "a" was not kept: "b" landed in its memory
  EXPECT_NE(where[2], where[1]);  // "b" is kept: "c" got new memory
  EXPECT_EQ(where[3], where[2]);  // and "d" reused that of "c"
  EXPECT_EQ(kept.find("b")->to_doubles(), (std::vector<double>{1, 1.5, 2, 3}));
}

}  // namespace
}  // namespace nvf::protocol
