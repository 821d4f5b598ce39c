#include "fl/fl_model.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nvf::fl {
namespace {

TEST(FLModelHeaderTest, RoundTripsEverythingButParams) {
  FLModel m;
  m.params_type = ParamsType::kDiff;
  m.metrics = {{"accuracy", 0.875}, {"loss", -1.5e-3}};
  m.meta = {{"NUM_STEPS_CURRENT_ROUND", 120}, {"initial_metrics", {{"accuracy", 0.5}}}};
  m.current_round = 3;
  m.start_round = 1;
  m.total_rounds = 10;
  ASSERT_TRUE(m.params.insert("w", tensor::Tensor::from_vector<float>({1}, {1})).ok());

  auto decoded = decode_fl_model_header(encode_fl_model_header(m));
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded->params_type, ParamsType::kDiff);
  EXPECT_EQ(decoded->metrics, m.metrics);
  EXPECT_EQ(decoded->meta, m.meta);
  EXPECT_EQ(decoded->current_round, 3);
  EXPECT_EQ(decoded->start_round, 1);
  EXPECT_EQ(decoded->total_rounds, 10);
  EXPECT_TRUE(decoded->params.empty());
  EXPECT_EQ(meta_number(*decoded, kMetaNumStepsCurrentRound), 120.0);
}

TEST(FLModelHeaderTest, NoneParamsTypeAndNonFiniteMetricsRoundTrip) {
  FLModel m;
  m.metrics = {{"nan", std::nan("")}, {"up", INFINITY}, {"down", -INFINITY}};
  const std::string json = encode_fl_model_header(m);
  EXPECT_NE(json.find("\"params_type\":null"), std::string::npos) << json;
  auto d = decode_fl_model_header(json);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->params_type, ParamsType::kNone);
  EXPECT_TRUE(std::isnan(d->metrics.at("nan")));
  EXPECT_EQ(d->metrics.at("up"), INFINITY);
  EXPECT_EQ(d->metrics.at("down"), -INFINITY);
}

TEST(FLModelHeaderTest, MissingFieldsKeepDefaults) {
  auto d = decode_fl_model_header(R"({"params_type": "FULL", "future_field": 1})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->params_type, ParamsType::kFull);
  EXPECT_TRUE(d->meta.is_object());
  EXPECT_EQ(d->current_round, 0);
}

TEST(FLModelHeaderTest, DecodeErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* field;
  };
  const Case cases[] = {
      {"not json", "<root>"},
      {"[1, 2]", "<root>"},
      {R"({"params_type": "HALF"})", "params_type: unknown params_type 'HALF'"},
      {R"({"params_type": 3})", "params_type"},
      {R"({"metrics": [1]})", "metrics"},
      {R"({"metrics": {"acc": {"x": 1}}})", "metrics.acc"},
      {R"({"meta": "x"})", "meta"},
      {R"({"current_round": 1.5})", "current_round"},
      {R"({"start_round": -1})", "start_round"},
      {R"({"total_rounds": 4294967296})", "total_rounds"},
  };
  for (const auto& c : cases) {
    auto d = decode_fl_model_header(c.json);
    ASSERT_FALSE(d.ok()) << c.json;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(d.status().message().find(std::string("FLModel header: ") + c.field),
              std::string::npos)
        << c.json << " -> " << d.status().message();
  }
}

TEST(FLModelHeaderTest, ParamsTypeNames) {
  EXPECT_EQ(params_type_name(ParamsType::kFull), "FULL");
  EXPECT_EQ(params_type_name(ParamsType::kDiff), "DIFF");
  EXPECT_EQ(*parse_params_type("DIFF"), ParamsType::kDiff);
  EXPECT_FALSE(parse_params_type("full").ok());
}

}  // namespace
}  // namespace nvf::fl
