// The metric message a trainer sends: both kinds, and what a peer may get wrong.
#include "fl/analytics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nvf::fl {
namespace {

TEST(AnalyticsTest, ScalarAndScalarsBecomeMetrics) {
  auto one = parse_metric_message(R"({"type":"SCALAR","tag":"loss","value":0.25,"step":7})", "site-1", 100.5);
  ASSERT_TRUE(one.ok()) << one.status().to_string();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].site, "site-1");
  EXPECT_EQ((*one)[0].tag, "loss");
  EXPECT_EQ((*one)[0].value, 0.25);
  EXPECT_EQ((*one)[0].step, 7);
  EXPECT_EQ((*one)[0].wall_time, 100.5);
  auto many = parse_metric_message(R"({"type":"SCALARS","tag":"acc","values":{"train":0.9,"val":0.8},"step":2})",
                                   "site-2", 1);
  ASSERT_TRUE(many.ok());
  ASSERT_EQ(many->size(), 2u);
  EXPECT_EQ((*many)[0].tag, "acc/train");
  EXPECT_EQ((*many)[1].tag, "acc/val");
  EXPECT_EQ((*many)[1].value, 0.8);
  // JSON has no NaN: a writer sends null, and it stays NaN.
  auto nan = parse_metric_message(R"({"type":"SCALAR","tag":"loss","value":null})", "s", 0);
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan((*nan)[0].value));
  EXPECT_EQ((*nan)[0].step, 0);
}

TEST(AnalyticsTest, MalformedMessagesAreRefusedNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "not JSON"},
      {"[1]", "not a JSON object"},
      {R"({"tag":"x","value":1})", "type"},
      {R"({"type":"IMAGE","tag":"x"})", "IMAGE"},
      {R"({"type":"SCALAR","value":1})", "tag"},
      {R"({"type":"SCALAR","tag":"","value":1})", "tag"},
      {R"({"type":"SCALAR","tag":"x"})", "value: missing"},
      {R"({"type":"SCALAR","tag":"x","value":"1"})", "value: a number"},
      {R"({"type":"SCALAR","tag":"x","value":1,"step":1.5})", "step"},
      {R"({"type":"SCALARS","tag":"x","values":[1]})", "values"},
      {R"({"type":"SCALARS","tag":"x","values":{"a":"b"}})", "values.a"},
  };
  for (const auto& [json, what] : cases) {
    auto r = parse_metric_message(json, "site-9", 0);
    ASSERT_FALSE(r.ok()) << json;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << json;
    EXPECT_NE(r.status().message().find("metric from site-9"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(what), std::string::npos) << json << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace nvf::fl
