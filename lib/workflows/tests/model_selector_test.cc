#include "workflows/model_selector.h"

#include <gtest/gtest.h>

namespace nvf::fl {
namespace {

FLModel evaluated(double accuracy, double steps = 1) {
  FLModel m;
  m.metrics = {{"accuracy", accuracy}};
  m.meta[std::string(kMetaNumStepsCurrentRound)] = steps;
  return m;
}

TEST(IntimeModelSelectorTest, PicksTheRoundWithTheBestWeightedMetric) {
  ModelSelectorOptions o;
  o.key_metric = "accuracy";
  o.aggregation_weights = {{"site-2", 3.0}};
  IntimeModelSelector sel(o);
  // round -> (site-1, site-2) accuracies; weights 1 and 3.
  const std::vector<std::pair<double, double>> rounds = {
      {0.99, 0.99}, {0.5, 0.6}, {0.9, 0.5}, {0.4, 0.8}, {0.7, 0.7}};
  std::vector<bool> best;
  for (int r = 0; r < static_cast<int>(rounds.size()); ++r) {
    sel.round_started(r);
    const bool a = sel.add_result("site-1", evaluated(rounds[r].first));
    sel.add_result("site-2", evaluated(rounds[r].second));
    EXPECT_EQ(a, r != 0) << "round 0 evaluates the initial model and is skipped";
    best.push_back(sel.before_aggregation());
  }
  // Weighted: r1 (0.5+1.8)/4 = 0.575, r2 (0.9+1.5)/4 = 0.6, r3 (0.4+2.4)/4 = 0.7, r4 0.7.
  EXPECT_EQ(best, (std::vector<bool>{false, true, true, true, false}));
  EXPECT_EQ(sel.best_round(), 3);
  EXPECT_DOUBLE_EQ(*sel.best_value(), 0.7);
}

TEST(IntimeModelSelectorTest, NegatedMetricPrefersLowerValues) {
  ModelSelectorOptions o;
  o.key_metric = "loss";
  o.negate_key_metric = true;
  IntimeModelSelector sel(o);
  EXPECT_TRUE(sel.observe(1, {{"loss", 0.9}}));
  EXPECT_TRUE(sel.observe(2, {{"loss", 0.4}}));
  EXPECT_FALSE(sel.observe(3, {{"loss", 0.5}}));
  EXPECT_EQ(sel.best_round(), 2);
  EXPECT_DOUBLE_EQ(*sel.best_value(), -0.4);
}

TEST(IntimeModelSelectorTest, ReadsInitialMetricsAndWeighsByLocalIterWhenAsked) {
  ModelSelectorOptions o;
  o.key_metric = "val_acc";
  o.weigh_by_local_iter = true;
  IntimeModelSelector sel(o);
  sel.round_started(2);
  FLModel a;
  a.meta = {{"initial_metrics", {{"val_acc", 1.0}}}, {"NUM_STEPS_CURRENT_ROUND", 1}};
  FLModel b;
  b.meta = {{"initial_metrics", {{"val_acc", 0.0}}}, {"NUM_STEPS_CURRENT_ROUND", 3}};
  EXPECT_TRUE(sel.add_result("a", a));
  EXPECT_TRUE(sel.add_result("b", b));
  EXPECT_FALSE(sel.add_result("c", FLModel{})) << "no metric";
  EXPECT_FALSE(sel.add_result("d", a, /*contribution_round=*/1)) << "another round";
  EXPECT_TRUE(sel.before_aggregation());
  EXPECT_DOUBLE_EQ(*sel.best_value(), 0.25);
}

TEST(IntimeModelSelectorTest, NoMetricMeansNoBest) {
  IntimeModelSelector sel(ModelSelectorOptions{});
  sel.round_started(1);
  EXPECT_FALSE(sel.before_aggregation());
  EXPECT_FALSE(sel.best_value().has_value());
  EXPECT_EQ(sel.best_round(), -1);
}

}  // namespace
}  // namespace nvf::fl
