#include "workflows/aggregator.h"

#include <gtest/gtest.h>

namespace nvf::fl {
namespace {

using tensor::DType;
using tensor::Tensor;

FLModel result(std::vector<std::pair<std::string, std::vector<float>>> tensors,
               std::optional<double> num_steps, ParamsType type = ParamsType::kFull,
               std::map<std::string, double> metrics = {}) {
  FLModel m;
  m.params_type = type;
  for (auto& [name, values] : tensors) {
    const int64_t n = static_cast<int64_t>(values.size());
    EXPECT_TRUE(m.params.insert(name, Tensor::from_vector<float>({n}, values)).ok());
  }
  if (num_steps) m.meta[std::string(kMetaNumStepsCurrentRound)] = *num_steps;
  m.metrics = std::move(metrics);
  return m;
}

std::unique_ptr<WeightedAggregator> make(AggregatorOptions o = {}) {
  auto a = WeightedAggregator::create(std::move(o));
  EXPECT_TRUE(a.ok()) << a.status().to_string();
  return std::move(a).value();
}

std::vector<float> floats(const FLModel& m, const std::string& name) {
  const Tensor* t = m.params.find(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t) return {};
  auto v = t->view<float>();
  return {v.begin(), v.end()};
}

TEST(WeightedAggregatorTest, ThreeClientsGiveTheExactWeightedMeanByNumSteps) {
  auto agg = make();
  agg->reset(4);
  ASSERT_TRUE(agg->add("site-1", result({{"w", {1, 2}}, {"b", {3}}}, 1, ParamsType::kFull,
                                        {{"accuracy", 0.5}}))
                  .ok());
  ASSERT_TRUE(agg->add("site-2", result({{"w", {4, 5}}, {"b", {6}}}, 2, ParamsType::kFull,
                                        {{"accuracy", 0.6}}))
                  .ok());
  ASSERT_TRUE(agg->add("site-3", result({{"w", {7, 11}}, {"b", {-3}}}, 3, ParamsType::kFull,
                                        {{"accuracy", 0.9}}))
                  .ok());
  auto out = agg->aggregate();
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  // w: (1·1 + 4·2 + 7·3)/6 = 30/6 = 5, (2·1 + 5·2 + 11·3)/6 = 45/6 = 7.5; b: (3 + 12 − 9)/6 = 1.
  EXPECT_EQ(floats(*out, "w"), (std::vector<float>{5.0f, 7.5f}));
  EXPECT_EQ(floats(*out, "b"), (std::vector<float>{1.0f}));
  EXPECT_EQ(out->params.names(), (std::vector<std::string>{"w", "b"}));
  EXPECT_EQ(out->params.find("w")->dtype(), DType::kF32);
  EXPECT_EQ(out->params_type, ParamsType::kFull);
  EXPECT_DOUBLE_EQ(out->metrics.at("accuracy"), (0.5 * 1 + 0.6 * 2 + 0.9 * 3) / 6);
  EXPECT_EQ(out->meta["nr_aggregated"], 3);
  EXPECT_EQ(out->meta["current_round"], 4);
  EXPECT_EQ(out->current_round, 4);
  // aggregate() ends the round.
  EXPECT_EQ(agg->aggregate().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(agg->add("site-1", result({{"w", {1}}}, 1)).ok()) << "new round after aggregate";
}

// Proves: the memory of a replaced global model becomes the next round's accumulator when nothing
// else holds it (no fresh pages per round), the mean stays exact in that memory (old values are
// cleared), and memory someone still reads is never taken.
TEST(WeightedAggregatorTest, RecycledMemoryHoldsTheNextAccumulatorOnlyWhenNobodyReadsIt) {
  auto agg = make();
  agg->reset(0);
  ASSERT_TRUE(agg->add("site-1", result({{"w", {1, 2}}, {"b", {3}}}, 1)).ok());
  auto round0 = agg->aggregate();
  ASSERT_TRUE(round0.ok());
  const std::byte* w_mem = round0->params.find("w")->data();
  const std::byte* b_mem = round0->params.find("b")->data();
  Tensor reader = round0->params.find("b")->share();  // someone still reads "b"
  agg->recycle(std::move(round0->params));

  agg->reset(1);
  ASSERT_TRUE(agg->add("site-1", result({{"w", {10, 20}}, {"b", {30}}}, 1)).ok());
  ASSERT_TRUE(agg->add("site-2", result({{"w", {20, 40}}, {"b", {60}}}, 3)).ok());
  auto round1 = agg->aggregate();
  ASSERT_TRUE(round1.ok());
  EXPECT_EQ(round1->params.find("w")->data(), w_mem);  // taken: nobody held it
  EXPECT_NE(round1->params.find("b")->data(), b_mem);  // not taken: it is being read
  EXPECT_EQ(floats(*round1, "w"), (std::vector<float>{17.5f, 35.0f}));  // (10 + 60)/4, (20 + 120)/4
  EXPECT_EQ(floats(*round1, "b"), (std::vector<float>{52.5f}));
  EXPECT_EQ(reader.to_doubles(), (std::vector<double>{3}));
  // Memory of another shape or dtype is not used either.
  tensor::TensorDict odd;
  ASSERT_TRUE(odd.insert("w", Tensor::from_vector<float>({3}, {0, 0, 0})).ok());
  const std::byte* odd_mem = odd.find("w")->data();
  agg->recycle(std::move(odd));
  agg->reset(2);
  ASSERT_TRUE(agg->add("site-1", result({{"w", {1, 1}}, {"b", {1}}}, 1)).ok());
  auto round2 = agg->aggregate();
  ASSERT_TRUE(round2.ok());
  EXPECT_NE(round2->params.find("w")->data(), odd_mem);
  EXPECT_EQ(floats(*round2, "w"), (std::vector<float>{1, 1}));
  // Two offers for one name (the replaced global, still read, and a free one): the free one is
  // taken.
  tensor::TensorDict held, free_one;
  ASSERT_TRUE(held.insert("w", Tensor::from_vector<float>({2}, {7, 7})).ok());
  ASSERT_TRUE(free_one.insert("w", Tensor::from_vector<float>({2}, {9, 9})).ok());
  Tensor still_read = held.find("w")->share();
  const std::byte* free_mem = free_one.find("w")->data();
  agg->recycle(std::move(held));
  agg->recycle(std::move(free_one));
  agg->reset(3);
  ASSERT_TRUE(agg->add("site-1", result({{"w", {2, 4}}, {"b", {1}}}, 1)).ok());
  auto round3 = agg->aggregate();
  ASSERT_TRUE(round3.ok());
  EXPECT_EQ(round3->params.find("w")->data(), free_mem);
  EXPECT_EQ(floats(*round3, "w"), (std::vector<float>{2, 4}));
  EXPECT_EQ(still_read.to_doubles(), (std::vector<double>{7, 7}));
}

TEST(WeightedAggregatorTest, AggregationWeightsMultiplyNumStepsAndMissingStepsCountOne) {
  AggregatorOptions o;
  o.aggregation_weights = {{"site-1", 2.0}, {"site-2", 0.5}};
  auto agg = make(o);
  ASSERT_TRUE(agg->add("site-1", result({{"w", {1}}}, std::nullopt)).ok());   // weight 2
  ASSERT_TRUE(agg->add("site-2", result({{"w", {4}}}, 4)).ok());              // weight 0.5·4 = 2
  ASSERT_TRUE(agg->add("site-3", result({{"w", {10}}}, std::nullopt)).ok());  // weight 1
  auto out = agg->aggregate();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(floats(*out, "w"), (std::vector<float>{(2.0f + 8.0f + 10.0f) / 5.0f}));
}

TEST(WeightedAggregatorTest, OutputsKeepTheInputDtype) {
  auto agg = make();
  for (int i = 0; i < 2; ++i) {
    FLModel m;
    m.params_type = ParamsType::kFull;
    ASSERT_TRUE(
        m.params.insert("d", Tensor::from_vector<double>({2}, {0.1 * (i + 1), 1e-300})).ok());
    ASSERT_TRUE(m.params.insert("h", Tensor::from_doubles(DType::kF16, {1}, {1.0 + i})).ok());
    ASSERT_TRUE(m.params.insert("n", Tensor::from_vector<int64_t>({1}, {10 + 3 * i})).ok());
    ASSERT_TRUE(agg->add("site-" + std::to_string(i), m).ok());
  }
  auto out = agg->aggregate();
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out->params.find("d")->dtype(), DType::kF64);
  EXPECT_EQ(out->params.find("d")->to_doubles(), (std::vector<double>{(0.1 + 0.2) / 2, 1e-300}));
  EXPECT_EQ(out->params.find("h")->dtype(), DType::kF16);
  EXPECT_EQ(out->params.find("h")->to_doubles(), (std::vector<double>{1.5}));
  EXPECT_EQ(out->params.find("n")->dtype(), DType::kI64);
  EXPECT_EQ(out->params.find("n")->to_doubles(), (std::vector<double>{12}));  // 11.5 -> even
}

TEST(WeightedAggregatorTest, DuplicateResultOfAClientIsRejected) {
  auto agg = make();
  agg->reset(2);
  ASSERT_TRUE(agg->add("site-1", result({{"w", {1}}}, 1)).ok());
  Status s = agg->add("site-1", result({{"w", {100}}}, 1));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("'site-1'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("round 2"), std::string::npos) << s.message();
  auto out = agg->aggregate();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(floats(*out, "w"), std::vector<float>{1});
}

TEST(WeightedAggregatorTest, MismatchesNameTheClientAndTensorAndAccumulateNothing) {
  auto agg = make();
  ASSERT_TRUE(agg->add("site-1", result({{"w", {1, 2}}, {"b", {1}}}, 1)).ok());
  struct Case {
    FLModel model;
    std::vector<std::string> expected;
  };
  std::vector<Case> cases;
  cases.push_back({result({{"w", {1, 2, 3}}, {"b", {1}}}, 1), {"'site-2'", "'w'", "shape [3]"}});
  cases.push_back({result({{"w", {1, 2}}}, 1), {"'site-2'", "missing tensor 'b'"}});
  cases.push_back({result({{"w", {1, 2}}, {"b", {1}}, {"x", {1}}}, 1), {"'site-2'", "'x'"}});
  cases.push_back({result({{"w", {1, 2}}, {"b", {1}}}, 1, ParamsType::kDiff),
                   {"'site-2'", "DIFF", "FULL", "site-1"}});
  {
    FLModel m = result({{"b", {1}}}, 1);
    ASSERT_TRUE(m.params.insert("w", Tensor::from_vector<double>({2}, {1, 2})).ok());
    cases.push_back({std::move(m), {"'site-2'", "'w'", "dtype F64"}});
  }
  {
    FLModel m = result({{"w", {1, 2}}, {"b", {1}}}, 1);
    m.meta[std::string(kMetaNumStepsCurrentRound)] = "many";
    cases.push_back({std::move(m), {"'site-2'", "NUM_STEPS_CURRENT_ROUND"}});
  }
  cases.push_back({result({}, 1), {"'site-2'", "no params"}});
  for (auto& c : cases) {
    Status s = agg->add("site-2", c.model);
    ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
    for (const auto& e : c.expected) {
      EXPECT_NE(s.message().find(e), std::string::npos) << e << " not in: " << s.message();
    }
  }
  auto out = agg->aggregate();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(floats(*out, "w"), (std::vector<float>{1, 2}));
  EXPECT_EQ(out->meta["nr_aggregated"], 1);
}

TEST(WeightedAggregatorTest, ShapesAreCheckedAgainstTheGlobalModelWhicheverResultComesFirst) {
  auto agg = make();
  agg->reset(0);
  agg->expect_shapes_of(result({{"w", {0, 0}}}, 1).params);
  Status bad = agg->add("site-2", result({{"w", {1, 2, 3}}}, 1));  // arrives first
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("'site-2'"), std::string::npos) << bad.message();
  EXPECT_NE(bad.message().find("'w' has shape [3]"), std::string::npos) << bad.message();
  EXPECT_TRUE(agg->begin_client("site-3", result({}, 1)).ok());
  EXPECT_FALSE(agg->add_tensor("site-3", "w", Tensor::from_vector<float>({1}, {1})).ok());
  agg->abandon_client("site-3");
  ASSERT_TRUE(agg->add("site-1", result({{"w", {1, 2}}}, 1)).ok());
  EXPECT_EQ(agg->contributors(), (std::vector<std::string>{"site-1"}));
}

TEST(WeightedAggregatorTest, ExpectedParamsTypeIsEnforced) {
  AggregatorOptions o;
  o.expected_params_type = ParamsType::kDiff;
  auto agg = make(o);
  Status s = agg->add("site-1", result({{"w", {1}}}, 1, ParamsType::kFull));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("expects DIFF"), std::string::npos) << s.message();
  EXPECT_TRUE(agg->add("site-1", result({{"w", {1}}}, 1, ParamsType::kDiff)).ok());
  auto out = agg->aggregate();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->params_type, ParamsType::kDiff);
}

TEST(WeightedAggregatorTest, ExcludeVarsSkipsMatchingTensors) {
  AggregatorOptions o;
  o.exclude_vars = "bias|running_";
  auto agg = make(o);
  ASSERT_TRUE(
      agg->add("a", result({{"fc.weight", {2}}, {"fc.bias", {1}}, {"bn.running_mean", {5}}}, 1))
          .ok());
  ASSERT_TRUE(agg->add("b", result({{"fc.weight", {4}}}, 1)).ok());  // no excluded keys: fine
  auto out = agg->aggregate();
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out->params.names(), std::vector<std::string>{"fc.weight"});
  EXPECT_EQ(floats(*out, "fc.weight"), std::vector<float>{3});
}

TEST(WeightedAggregatorTest, InvalidExcludeRegexIsAnError) {
  AggregatorOptions o;
  o.exclude_vars = "(unclosed";
  auto a = WeightedAggregator::create(o);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("(unclosed"), std::string::npos);
}

TEST(WeightedAggregatorTest, MetricsAreDroppedWhenAnyResultHasNone) {
  auto agg = make();
  ASSERT_TRUE(agg->add("a", result({{"w", {1}}}, 1, ParamsType::kFull, {{"acc", 1}})).ok());
  ASSERT_TRUE(agg->add("b", result({{"w", {1}}}, 1)).ok());
  auto out = agg->aggregate();
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->metrics.empty());
}

TEST(WeightedAggregatorTest, IncrementalTensorsEqualWholeResults) {
  auto whole = make();
  auto inc = make();
  std::vector<FLModel> results;
  results.push_back(result({{"w", {1, 2}}, {"b", {3}}}, 2, ParamsType::kFull, {{"acc", 0.5}}));
  results.push_back(result({{"w", {5, -1}}, {"b", {0.25}}}, 3, ParamsType::kFull, {{"acc", 1}}));
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string client = "site-" + std::to_string(i + 1);
    ASSERT_TRUE(whole->add(client, results[i]).ok());
    FLModel header;
    header.params_type = results[i].params_type;
    header.meta = results[i].meta;
    header.metrics = results[i].metrics;
    ASSERT_TRUE(inc->begin_client(client, header).ok());
    for (const auto& [name, t] : results[i].params) {
      ASSERT_TRUE(inc->add_tensor(client, name, t).ok());
    }
    EXPECT_EQ(inc->add_tensor(client, "w", *results[i].params.find("w")).code(),
              StatusCode::kInvalidArgument)
        << "a repeated tensor is refused";
    ASSERT_TRUE(inc->finish_client(client).ok());
  }
  // A third client that breaks midway is abandoned: not counted, no metrics.
  FLModel header;
  header.params_type = ParamsType::kFull;
  header.metrics = {{"acc", 0}};
  ASSERT_TRUE(inc->begin_client("site-3", header).ok());
  inc->abandon_client("site-3");
  EXPECT_EQ(inc->add_tensor("site-3", "w", *results[0].params.find("w")).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(inc->contributors(), (std::vector<std::string>{"site-1", "site-2"}));

  auto a = whole->aggregate();
  auto b = inc->aggregate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(floats(*a, "w"), floats(*b, "w"));
  EXPECT_EQ(floats(*a, "b"), floats(*b, "b"));
  EXPECT_EQ(a->metrics, b->metrics);
  EXPECT_EQ(b->meta["nr_aggregated"], 2);
}

TEST(WeightedAggregatorTest, IncrementalFinishReportsAMissingTensor) {
  auto agg = make();
  ASSERT_TRUE(agg->add("site-1", result({{"w", {1}}, {"b", {1}}}, 1)).ok());
  FLModel header;
  header.params_type = ParamsType::kFull;
  ASSERT_TRUE(agg->begin_client("site-2", header).ok());
  ASSERT_TRUE(agg->add_tensor("site-2", "w", Tensor::from_vector<float>({1}, {3})).ok());
  Status s = agg->finish_client("site-2");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'site-2' is missing tensor 'b'"), std::string::npos) << s.message();
  Status unknown = agg->add_tensor("site-9", "w", Tensor::from_vector<float>({1}, {3}));
  EXPECT_EQ(unknown.code(), StatusCode::kFailedPrecondition);
}

TEST(ApplyUpdateTest, DiffIsAddedToTheGlobalModel) {
  FLModel global = result({{"w", {1, 2, 3}}, {"b", {10}}}, std::nullopt);
  auto agg = make();
  ASSERT_TRUE(agg->add("a", result({{"w", {1, 1, 1}}}, 1, ParamsType::kDiff)).ok());
  ASSERT_TRUE(agg->add("b", result({{"w", {3, 3, -1}}}, 1, ParamsType::kDiff)).ok());
  auto diff = agg->aggregate();
  ASSERT_TRUE(diff.ok());
  ASSERT_TRUE(apply_update(global, std::move(diff).value()).ok());
  EXPECT_EQ(floats(global, "w"), (std::vector<float>{3, 4, 3}));
  EXPECT_EQ(floats(global, "b"), std::vector<float>{10}) << "keys not in the diff are unchanged";
  EXPECT_EQ(global.params_type, ParamsType::kFull);
  EXPECT_EQ(global.meta["nr_aggregated"], 2);
}

TEST(ApplyUpdateTest, FullReplacesTheParams) {
  FLModel global = result({{"w", {1}}, {"excluded", {7}}}, std::nullopt);
  ASSERT_TRUE(apply_update(global, result({{"w", {5}}}, std::nullopt)).ok());
  EXPECT_EQ(global.params.names(), std::vector<std::string>{"w"});
  EXPECT_EQ(floats(global, "w"), std::vector<float>{5});
}

TEST(ApplyUpdateTest, BadDiffChangesNothing) {
  FLModel global = result({{"w", {1, 2}}}, std::nullopt);
  Status missing = apply_update(global, result({{"w", {1, 1}}, {"q", {1}}}, 1, ParamsType::kDiff));
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("'q'"), std::string::npos);
  Status shape = apply_update(global, result({{"w", {1, 1, 1}}}, 1, ParamsType::kDiff));
  EXPECT_NE(shape.message().find("'w'"), std::string::npos);
  EXPECT_EQ(floats(global, "w"), (std::vector<float>{1, 2}));
  EXPECT_FALSE(apply_update(global, FLModel{}).ok()) << "no params type";
}

}  // namespace
}  // namespace nvf::fl
