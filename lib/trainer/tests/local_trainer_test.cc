// LocalTrainer with the built-in models on synthetic data: weights in/out, errors, evaluation, a
// two-site FedAvg simulation, determinism and FedProx.
#include "trainer/local_trainer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

namespace nvf::trainer {
namespace {

using tensor::Shape;
using tensor::Tensor;
using tensor::TensorDict;

std::unique_ptr<LocalTrainer> make_trainer(TrainOptions o) {
  auto t = LocalTrainer::create(o);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? std::move(t).value() : nullptr;
}

TensorDict clone_dict(const TensorDict& d) {
  TensorDict out;
  for (const auto& [name, t] : d) {
    auto c = t.clone();
    NVF_CHECK(c.ok());
    out.insert_or_assign(name, std::move(c).value());
  }
  return out;
}

double max_abs_diff(const TensorDict& a, const TensorDict& b) {
  double m = 0;
  for (const auto& [name, t] : a) {
    const Tensor* o = b.find(name);
    if (o == nullptr) return INFINITY;
    auto x = t.to_doubles(), y = o->to_doubles();
    if (x.size() != y.size()) return INFINITY;
    for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  }
  return m;
}

bool all_finite(const TensorDict& d) {
  for (const auto& [name, t] : d) {
    for (double v : t.to_doubles()) {
      if (!std::isfinite(v)) return false;
    }
  }
  return true;
}

// FedAvg's weighted mean (weights = NUM_STEPS_CURRENT_ROUND), in plain C++.
TensorDict average(const std::vector<std::pair<TensorDict, int64_t>>& results) {
  TensorDict out;
  double total = 0;
  for (const auto& r : results) total += static_cast<double>(r.second);
  for (const auto& [name, first] : results[0].first) {
    std::vector<double> acc(static_cast<size_t>(first.numel()), 0.0);
    for (const auto& [params, steps] : results) {
      auto v = params.find(name)->to_doubles();
      for (size_t i = 0; i < v.size(); ++i) acc[i] += v[i] * static_cast<double>(steps) / total;
    }
    out.insert_or_assign(name, Tensor::from_doubles(first.dtype(), first.shape(), acc));
  }
  return out;
}

TEST(LocalTrainerTest, SimpleNetworkHasFlareStateDictKeysAndShapes) {
  auto trainer = make_trainer({});
  ASSERT_NE(trainer, nullptr);
  auto params = trainer->initial_params();
  ASSERT_TRUE(params.ok()) << params.status().to_string();
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"conv1.weight", {6, 3, 5, 5}},  {"conv1.bias", {6}},
      {"conv2.weight", {16, 6, 5, 5}}, {"conv2.bias", {16}},
      {"fc1.weight", {120, 400}},      {"fc1.bias", {120}},
      {"fc2.weight", {84, 120}},       {"fc2.bias", {84}},
      {"fc3.weight", {10, 84}},        {"fc3.bias", {10}}};
  ASSERT_EQ(params->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*params)[i].first, expected[i].first);
    EXPECT_EQ((*params)[i].second.shape(), expected[i].second) << expected[i].first;
    EXPECT_EQ((*params)[i].second.dtype(), tensor::DType::kF32);
    EXPECT_TRUE((*params)[i].second.is_owned());
  }
  // PyTorch's default init: |w| <= 1/sqrt(fan_in) (fc1: fan_in 400).
  for (double v : params->find("fc1.weight")->to_doubles()) EXPECT_LE(std::abs(v), 0.05 + 1e-7);
}

TEST(LocalTrainerTest, InitialWeightsDependOnTheSeedOnly) {
  auto a = export_initial_params("simple_network", 7);
  auto b = export_initial_params("simple_network", 7);
  auto c = export_initial_params("simple_network", 8);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().to_string();
  EXPECT_EQ(max_abs_diff(*a, *b), 0.0);
  EXPECT_GT(max_abs_diff(*a, *c), 0.0);
  TrainOptions o;
  o.seed = 7;
  o.max_samples = 50;
  auto trainer = make_trainer(o);
  ASSERT_NE(trainer, nullptr);
  auto t = trainer->initial_params();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(max_abs_diff(*a, *t), 0.0);
}

TEST(LocalTrainerTest, LoadedWeightsReadBackEqual) {
  TrainOptions o;
  o.max_samples = 50;
  auto trainer = make_trainer(o);
  ASSERT_NE(trainer, nullptr);
  auto other = export_initial_params("simple_network", 123);
  ASSERT_TRUE(other.ok());
  auto before = trainer->initial_params();
  ASSERT_TRUE(before.ok());
  ASSERT_GT(max_abs_diff(*before, *other), 0.0);
  ASSERT_TRUE(trainer->evaluate(*other).ok());
  auto after = trainer->initial_params();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(max_abs_diff(*after, *other), 0.0);
  EXPECT_EQ(after->names(), other->names());
}

TEST(LocalTrainerTest, ShapeMismatchNamesTheTensorAndBothShapes) {
  TrainOptions o;
  o.max_samples = 50;
  auto trainer = make_trainer(o);
  ASSERT_NE(trainer, nullptr);
  auto params = trainer->initial_params();
  ASSERT_TRUE(params.ok());
  auto before = clone_dict(*params);
  params->insert_or_assign("fc2.weight", Tensor::from_doubles(tensor::DType::kF32, {84, 7},
                                                              std::vector<double>(84 * 7, 1.0)));
  auto r = trainer->evaluate(*params);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("fc2.weight"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("[84, 7]"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("[84, 120]"), std::string::npos) << r.status().message();
  // A rejected load leaves the model unchanged.
  auto now = trainer->initial_params();
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(max_abs_diff(*now, before), 0.0);
}

TEST(LocalTrainerTest, MissingAndExtraNamesAreRejected) {
  TrainOptions o;
  o.max_samples = 50;
  auto trainer = make_trainer(o);
  ASSERT_NE(trainer, nullptr);
  auto params = trainer->initial_params();
  ASSERT_TRUE(params.ok());
  params->erase("conv2.bias");
  auto r = trainer->train(*params);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("missing tensor 'conv2.bias'"), std::string::npos)
      << r.status().message();

  params = trainer->initial_params();
  ASSERT_TRUE(params.ok());
  ASSERT_TRUE(params->insert("extra.weight", Tensor::from_vector<float>({2}, {1, 2})).ok());
  r = trainer->train(*params);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unexpected tensor 'extra.weight'"), std::string::npos)
      << r.status().message();
}

TEST(LocalTrainerTest, RejectsBadOptions) {
  TrainOptions o;
  o.optimizer = "rmsprop";
  EXPECT_EQ(LocalTrainer::create(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.fedprox_mu = -0.1;
  EXPECT_EQ(LocalTrainer::create(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.val_fraction = 1.0;
  EXPECT_EQ(LocalTrainer::create(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.model = "no_such_model";
  auto r = LocalTrainer::create(o);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("no_such_model"), std::string::npos);
  EXPECT_EQ(export_initial_params("mlp", 0).status().code(), StatusCode::kInvalidArgument);
  auto mlp = export_initial_params("mlp:12:3", 0);
  ASSERT_TRUE(mlp.ok()) << mlp.status().to_string();
  EXPECT_EQ(mlp->names(),
            (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_EQ(mlp->find("fc2.weight")->shape(), (Shape{3, 64}));
}

TEST(LocalTrainerTest, RandomModelIsNearChanceOnSyntheticData) {
  TrainOptions o;
  o.site_index = 1;
  auto trainer = make_trainer(o);
  ASSERT_NE(trainer, nullptr);
  EXPECT_EQ(trainer->num_train_samples() + trainer->num_val_samples(), 1200);
  EXPECT_EQ(trainer->num_val_samples(), 240);
  auto params = trainer->initial_params();
  ASSERT_TRUE(params.ok());
  auto m = trainer->evaluate(*params);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->samples, 240);
  EXPECT_LT(m->accuracy, 0.3);
  EXPECT_NEAR(m->loss, std::log(10.0), 0.3);
}

// The acceptance bar for the synthetic task: FedAvg of sites 1 and 2 with SimpleNetwork, SGD lr
// 0.01 momentum 0.9, batch 16, one local epoch per round.
TEST(LocalTrainerTest, FedAvgOfTwoSitesLearnsTheSyntheticTask) {
  std::vector<std::unique_ptr<LocalTrainer>> sites;
  for (int site = 1; site <= 2; ++site) {
    TrainOptions o;
    o.site_index = site;
    sites.push_back(make_trainer(o));
    ASSERT_NE(sites.back(), nullptr);
  }
  auto init = sites[0]->initial_params();
  ASSERT_TRUE(init.ok());
  TensorDict global = std::move(init).value();
  std::vector<double> accuracy;  // the sites' mean eval_before per round, then the final model
  const int kRounds = 4;
  for (int round = 1; round <= kRounds; ++round) {
    auto start = std::chrono::steady_clock::now();
    std::vector<std::pair<TensorDict, int64_t>> results;
    double acc = 0;
    for (auto& site : sites) {
      auto r = site->train(global);
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(r->steps, (site->num_train_samples() + 15) / 16);
      EXPECT_TRUE(std::isfinite(r->train.loss));
      acc += r->eval_before.accuracy / static_cast<double>(sites.size());
      results.emplace_back(std::move(r->params), r->steps);
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("round %d: eval_before accuracy %.3f, both sites trained in %.2f s\n", round, acc,
                seconds);
    accuracy.push_back(acc);
    global = average(results);
  }
  double final_acc = 0;
  for (auto& site : sites) {
    auto m = site->evaluate(global);
    ASSERT_TRUE(m.ok());
    final_acc += m->accuracy / static_cast<double>(sites.size());
  }
  std::printf("after round %d: accuracy %.3f\n", kRounds, final_acc);
  EXPECT_LE(accuracy[0], 0.6);
  EXPECT_GE(final_acc, accuracy[0] + 0.15);
  EXPECT_GT(accuracy[3], accuracy[1]);  // still improving after the first round
}

TEST(LocalTrainerTest, TrainingIsDeterministicAndFedProxChangesTheResult) {
  auto run = [](double mu) {
    TrainOptions o;
    o.site_index = 2;
    o.max_samples = 300;
    o.fedprox_mu = mu;
    auto trainer = make_trainer(o);
    NVF_CHECK(trainer != nullptr);
    auto init = trainer->initial_params();
    NVF_CHECK(init.ok());
    auto r1 = trainer->train(*init);
    NVF_CHECK(r1.ok());
    auto r2 = trainer->train(r1->params);  // a second round starts from the first's weights
    NVF_CHECK(r2.ok());
    return std::move(r2).value();
  };
  RoundResult a = run(0), b = run(0), prox = run(1.0);
  EXPECT_EQ(max_abs_diff(a.params, b.params), 0.0);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_DOUBLE_EQ(a.train.loss, b.train.loss);
  EXPECT_GT(max_abs_diff(a.params, prox.params), 1e-6);
  EXPECT_TRUE(all_finite(prox.params));
  EXPECT_TRUE(std::isfinite(prox.train.loss));
  EXPECT_EQ(prox.steps, a.steps);
}

TEST(LocalTrainerTest, AdamAndSeveralEpochsCountSteps) {
  TrainOptions o;
  o.max_samples = 100;
  o.val_fraction = 0.2;
  o.epochs = 2;
  o.batch_size = 32;
  o.optimizer = "adam";
  o.lr = 0.001;
  auto trainer = make_trainer(o);
  ASSERT_NE(trainer, nullptr);
  auto init = trainer->initial_params();
  ASSERT_TRUE(init.ok());
  auto r = trainer->train(*init);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->steps, 2 * 3);  // 80 training samples: batches of 32, 32, 16 per epoch
  EXPECT_EQ(r->train.samples, 160);
  EXPECT_GT(max_abs_diff(*init, r->params), 0.0);
}

}  // namespace
}  // namespace nvf::trainer
