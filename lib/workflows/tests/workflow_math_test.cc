// The server math of the workflow library, against numbers computed by hand: FedOpt's optimizers
// and schedules, SCAFFOLD's control variates, the Newton solver, Cyclic's orders.
#include <gtest/gtest.h>

#include <cmath>

#include "workflows/cyclic.h"
#include "workflows/fedopt.h"
#include "workflows/newton_lr.h"
#include "workflows/scaffold.h"

namespace nvf::workflows {
namespace {

using fl::FLModel;
using fl::ParamsType;
using tensor::Tensor;

FLModel model_of(ParamsType type, std::vector<std::pair<std::string, std::vector<float>>> tensors) {
  FLModel m;
  m.params_type = type;
  for (auto& [name, v] : tensors) {
    EXPECT_TRUE(m.params.insert(name, Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v)).ok());
  }
  return m;
}

std::vector<double> values(const FLModel& m, const std::string& name) {
  const Tensor* t = m.params.find(name);
  EXPECT_NE(t, nullptr) << name;
  return t ? t->to_doubles() : std::vector<double>{};
}

std::unique_ptr<ServerOptimizer> optimizer(const std::string& json_opt, const std::string& json_sched = "null",
                                           int rounds = 3) {
  auto o = parse_server_optimizer(config::Value::parse(json_opt), config::Value::parse(json_sched), rounds);
  EXPECT_TRUE(o.ok()) << o.status().to_string();
  auto made = ServerOptimizer::create(*o);
  EXPECT_TRUE(made.ok()) << made.status().to_string();
  return std::move(made).value();
}

// Two rounds of diffs [0.2, -0.4] then [0.1, 0] on w = [1, -2].
std::vector<double> two_rounds(ServerOptimizer& opt, bool second = true) {
  FLModel global = model_of(ParamsType::kFull, {{"w", {1.0f, -2.0f}}});
  EXPECT_TRUE(opt.start(global, 3).ok());
  EXPECT_TRUE(opt.update(global, model_of(ParamsType::kDiff, {{"w", {0.2f, -0.4f}}}), 0).ok());
  if (second) EXPECT_TRUE(opt.update(global, model_of(ParamsType::kDiff, {{"w", {0.1f, 0.0f}}}), 1).ok());
  return values(global, "w");
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

TEST(FedOptTest, SgdWithLrOneAndNoMomentumIsFedAvg) {
  auto opt = optimizer(R"({"path": "torch.optim.SGD", "args": {"lr": 1.0}})");
  expect_near(two_rounds(*opt), {1.3, -2.4});
}

TEST(FedOptTest, SgdMomentumKeepsItsBufferAcrossRounds) {
  // b1 = g1 = [-0.2, 0.4]; w = [1.1, -2.2]; b2 = 0.9·b1 + [-0.1, 0] = [-0.28, 0.36]; w −= 0.5·b2.
  auto opt = optimizer(R"({"path": "torch.optim.SGD", "args": {"lr": 0.5, "momentum": 0.9}})");
  expect_near(two_rounds(*opt), {1.24, -2.38});
}

TEST(FedOptTest, AdamStepMatchesTorchAdam) {
  // t = 1: m̂ = g, v̂ = g², so w −= lr·g/(|g| + ε) = ±0.1.
  auto opt = optimizer(R"({"path": "torch.optim.Adam", "args": {"lr": 0.1}})");
  expect_near(two_rounds(*opt, false), {1.099999995000, -2.099999997500}, 3e-7);  // float32 weights
}

TEST(FedOptTest, FedAdagradAndFedYogiFollowReddiEtAl) {
  // m = 0.1·Δ; adagrad v = τ² + Δ²; yogi v = τ² + 0.01·Δ² (v < Δ²); w += 0.1·m/(√v + τ).
  auto adagrad = optimizer(R"({"path": "FedAdagrad", "args": {"lr": 0.1}})");
  expect_near(two_rounds(*adagrad, false), {1.009950124999, -2.009975031250}, 3e-7);
  auto yogi = optimizer(R"({"path": "FedYogi", "args": {"lr": 0.1}})");
  expect_near(two_rounds(*yogi, false), {1.095124921973, -2.097531245119}, 3e-7);
}

TEST(FedOptTest, CosineScheduleOfFlaresExampleAndStepSchedule) {
  auto cos = optimizer(R"({"path": "torch.optim.SGD", "args": {"lr": 1.0, "momentum": 0.6}})",
                       R"({"path": "torch.optim.lr_scheduler.CosineAnnealingLR", "args": {"T_max": 3, "eta_min": 0.9}})");
  EXPECT_DOUBLE_EQ(cos->lr_at(0), 1.0);
  EXPECT_NEAR(cos->lr_at(1), 0.975, 1e-12);
  EXPECT_NEAR(cos->lr_at(2), 0.925, 1e-12);
  EXPECT_NEAR(cos->lr_at(3), 0.9, 1e-12);
  auto step = optimizer(R"({"path": "torch.optim.SGD", "args": {"lr": 1.0}})",
                        R"({"path": "StepLR", "args": {"step_size": 2, "gamma": 0.5}})");
  EXPECT_DOUBLE_EQ(step->lr_at(1), 1.0);
  EXPECT_DOUBLE_EQ(step->lr_at(2), 0.5);
  // T_max "{num_rounds}" takes the workflow's rounds at start().
  auto later = optimizer(R"("sgd")", R"({"path": "CosineAnnealingLR", "args": {"T_max": "{num_rounds}"}})", 0);
  FLModel g = model_of(ParamsType::kFull, {{"w", {0}}});
  ASSERT_TRUE(later->start(g, 4).ok());
  EXPECT_NEAR(later->lr_at(2), 0.5, 1e-12);
}

TEST(FedOptTest, BatchNormStatisticsAndIntegersAreAddedNotStepped) {
  auto opt = optimizer(R"({"path": "torch.optim.SGD", "args": {"lr": 0.5}})");
  FLModel global = model_of(ParamsType::kFull, {{"bn.running_mean", {1.0f}}, {"w", {1.0f}}});
  ASSERT_TRUE(global.params.insert("bn.num_batches_tracked", Tensor::from_vector<int64_t>({1}, {3})).ok());
  FLModel diff = model_of(ParamsType::kDiff, {{"bn.running_mean", {1.0f}}, {"w", {1.0f}}});
  ASSERT_TRUE(diff.params.insert("bn.num_batches_tracked", Tensor::from_vector<int64_t>({1}, {2})).ok());
  ASSERT_TRUE(opt->update(global, std::move(diff), 0).ok());
  expect_near(values(global, "bn.running_mean"), {2.0});
  expect_near(values(global, "w"), {1.5});
  expect_near(values(global, "bn.num_batches_tracked"), {5.0});
}

TEST(FedOptTest, BadArgumentsAndFullResultsAreRefusedByName) {
  for (const char* bad : {R"({"path": "torch.optim.RMSprop"})", R"({"path": "torch.optim.Adagrad"})",
                          R"({"path": "torch.optim.SGD", "args": {"lr": "fast"}})",
                          R"({"path": "torch.optim.SGD", "args": {"nesterov": true}})",
                          R"({"path": "torch.optim.SGD", "args": {"learning_rate": 1}})"}) {
    auto o = parse_server_optimizer(config::Value::parse(bad), config::Value(), 3);
    EXPECT_FALSE(o.ok()) << bad;
    EXPECT_NE(o.status().message().find("optimizer_args"), std::string::npos) << o.status().message();
  }
  EXPECT_FALSE(ServerOptimizer::create(ServerOptimizerOptions{.optimizer = "sgd", .lr = -1}).ok());
  auto opt = optimizer(R"("sgd")");
  FLModel global = model_of(ParamsType::kFull, {{"w", {1.0f}}});
  Status s = opt->update(global, model_of(ParamsType::kFull, {{"w", {2.0f}}}), 0);
  EXPECT_NE(s.message().find("DIFF"), std::string::npos) << s.message();
  expect_near(values(global, "w"), {1.0});
}

TEST(ScaffoldTest, ControlVariateStartsAtZeroTravelsWithTheTaskAndAddsTheMeanChange) {
  ScaffoldUpdater u;
  FLModel global = model_of(ParamsType::kFull, {{"w", {1.0f, 2.0f}}});
  ASSERT_TRUE(global.params.insert("steps", Tensor::from_vector<int64_t>({1}, {0})).ok());
  ASSERT_TRUE(u.start(global, 2).ok());
  FLModel task;
  ASSERT_TRUE(u.prepare_task(task, 0).ok());
  expect_near(values(task, "scaffold_c_global.w"), {0, 0});
  EXPECT_EQ(task.params.find("scaffold_c_global.steps"), nullptr);  // integers have no control variate
  // The round's weighted mean: model diff [1, 1], mean Δc [-0.5, 0.25].
  FLModel agg = model_of(ParamsType::kDiff, {{"w", {1.0f, 1.0f}}, {"scaffold_c_diff.w", {-0.5f, 0.25f}}});
  ASSERT_TRUE(u.update(global, std::move(agg), 0).ok());
  expect_near(values(global, "w"), {2, 3});
  EXPECT_EQ(global.params.find("scaffold_c_diff.w"), nullptr);
  expect_near(u.c_global().find("w")->to_doubles(), {-0.5, 0.25});
  // Results without Δc: the message says what the clients must run.
  Status s = u.update(global, model_of(ParamsType::kDiff, {{"w", {1.0f, 1.0f}}}), 1);
  EXPECT_NE(s.message().find("--algorithm scaffold"), std::string::npos) << s.message();
}

TEST(NewtonTest, SolvesWithPivotingAndRefusesASingularSystem) {
  // [[0, 2], [1, 1]] x = [4, 3] → x = [1, 2] (needs a row swap).
  auto x = solve_linear({0, 2, 1, 1}, {4, 3});
  ASSERT_TRUE(x.ok()) << x.status().to_string();
  expect_near(*x, {1, 2}, 1e-12);
  EXPECT_EQ(solve_linear({1, 2, 2, 4}, {1, 2}).status().code(), StatusCode::kFailedPrecondition);
}

TEST(NewtonTest, StepUsesThePooledGradientAndHessian) {
  // Means g = [1, 0], H = [[2, 0], [0, 4]] over N = 4 samples: (4H + εI) d = 4g with ε = 2 →
  // d = [4/10, 0]; θ += 0.5·d.
  NewtonUpdater u(0.5, 2.0);
  FLModel global = model_of(ParamsType::kFull, {{"numpy_key", {1.0f, 1.0f}}});
  FLModel agg = model_of(ParamsType::kFull, {{"gradient", {1.0f, 0.0f}}});
  ASSERT_TRUE(agg.params.insert("hessian", Tensor::from_vector<float>({2, 2}, {2, 0, 0, 4})).ok());
  agg.meta["total_weight"] = 4;
  ASSERT_TRUE(u.update(global, std::move(agg), 0).ok());
  expect_near(values(global, "numpy_key"), {1.2, 1.0}, 1e-12);
  EXPECT_EQ(global.params.find("numpy_key")->dtype(), tensor::DType::kF64);
}

TEST(CyclicTest, OrdersAreFixedShuffledOrNeverTheSameSiteTwiceInARow) {
  std::vector<std::string> clients = {"site-1", "site-2", "site-3"};
  Cyclic fixed(CyclicOptions{}, nullptr);
  EXPECT_EQ(fixed.round_order(clients, "site-3"), clients);
  CyclicOptions listed;
  listed.sites = {"site-3", "site-1"};
  EXPECT_EQ(Cyclic(listed, nullptr).round_order(clients, ""), listed.sites);
  CyclicOptions r;
  r.order = "RANDOM_WITHOUT_SAME_IN_A_ROW";
  r.seed = 7;
  Cyclic random(r, nullptr);
  std::string last = "site-1";
  std::set<std::string> firsts;
  for (int i = 0; i < 50; ++i) {
    auto order = random.round_order(clients, last);
    ASSERT_EQ(order.size(), 3u);
    EXPECT_NE(order.front(), last);
    EXPECT_EQ(std::set<std::string>(order.begin(), order.end()).size(), 3u);
    firsts.insert(order.front());
    last = order.back();
  }
  EXPECT_EQ(firsts.size(), 3u);  // it does shuffle
}

}  // namespace
}  // namespace nvf::workflows
