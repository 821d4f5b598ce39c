// The trainer's data sources (synthetic, CSV, .npy/safetensors tensors, CIFAR-10 binary) and
// TorchScript models, each loaded and trained for a round; and their errors.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tensor/npy.h"
#include "tensor/safetensors.h"
#include "trainer/data_internal.h"
#include "trainer/local_trainer.h"

namespace nvf::trainer {
namespace {

namespace fs = std::filesystem;
using tensor::Tensor;

class TrainerDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::path(::testing::TempDir()) / "nvf_trainer_XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void write(const fs::path& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
    ASSERT_TRUE(f.good());
  }

  // Two Gaussian blobs per class in `features` dimensions: easy for an MLP.
  void make_blobs(int n, int features, int classes, std::vector<float>& x,
                  std::vector<int64_t>& y) {
    Rng rng(42);
    for (int i = 0; i < n; ++i) {
      int c = i % classes;
      y.push_back(c);
      for (int f = 0; f < features; ++f) {
        x.push_back(static_cast<float>((f % classes == c ? 2.0 : 0.0) + 0.5 * rng.normal()));
      }
    }
  }

  // Trains `rounds` rounds from the initial weights; returns the last round's eval_before.
  static double train_rounds(LocalTrainer& trainer, int rounds) {
    auto params = trainer.initial_params();
    EXPECT_TRUE(params.ok());
    tensor::TensorDict p = std::move(params).value();
    double acc = 0;
    for (int r = 0; r < rounds; ++r) {
      auto result = trainer.train(p);
      EXPECT_TRUE(result.ok()) << result.status().to_string();
      if (!result.ok()) return -1;
      EXPECT_GT(result->steps, 0);
      acc = result->eval_before.accuracy;
      p = std::move(result->params);
    }
    return acc;
  }

  fs::path dir_;
};

TEST_F(TrainerDataTest, SyntheticDataIsDeterministicAndSiteSpecific) {
  Dataset a = make_synthetic(64, 1, 0), b = make_synthetic(64, 1, 0), c = make_synthetic(64, 2, 0);
  ASSERT_EQ(a.x.shape(), (tensor::Shape{64, 3, 32, 32}));
  EXPECT_EQ(a.x.to_doubles(), b.x.to_doubles());
  EXPECT_EQ(a.y.to_doubles(), b.y.to_doubles());
  EXPECT_NE(a.x.to_doubles(), c.x.to_doubles());
  EXPECT_EQ(a.num_classes, 10);
  // Site 1's class balance differs from site 2's.
  Dataset big1 = make_synthetic(2000, 1, 0), big2 = make_synthetic(2000, 2, 0);
  std::vector<int> h1(10), h2(10);
  for (double v : big1.y.to_doubles()) ++h1[static_cast<size_t>(v)];
  for (double v : big2.y.to_doubles()) ++h2[static_cast<size_t>(v)];
  EXPECT_NE(h1, h2);
  for (int v : h1) EXPECT_GT(v, 50);  // every class present
}

TEST_F(TrainerDataTest, CsvDatasetWithHeaderLoadsAndTrains) {
  std::vector<float> x;
  std::vector<int64_t> y;
  make_blobs(300, 4, 3, x, y);
  std::string csv = "f0,f1,f2,f3,label\n";
  for (size_t i = 0; i < y.size(); ++i) {
    for (int f = 0; f < 4; ++f) csv += std::to_string(x[i * 4 + f]) + ",";
    csv += std::to_string(y[i]) + "\r\n";
  }
  write(dir_ / "blobs.csv", csv);
  TrainOptions o;
  o.model = "mlp";
  o.data = (dir_ / "blobs.csv").string();
  o.optimizer = "adam";
  o.lr = 0.01;
  auto trainer = LocalTrainer::create(o);
  ASSERT_TRUE(trainer.ok()) << trainer.status().to_string();
  EXPECT_EQ((*trainer)->num_train_samples(), 240);
  EXPECT_EQ((*trainer)->num_val_samples(), 60);
  auto init = (*trainer)->initial_params();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->find("fc1.weight")->shape(), (tensor::Shape{64, 4}));
  EXPECT_EQ(init->find("fc2.weight")->shape(), (tensor::Shape{3, 64}));
  EXPECT_GT(train_rounds(**trainer, 3), 0.9);
}

TEST_F(TrainerDataTest, CsvErrorsNameTheLine) {
  write(dir_ / "bad.csv", "1,2,0\n3,4\n");
  TrainOptions o;
  o.model = "mlp";
  o.data = (dir_ / "bad.csv").string();
  auto r = LocalTrainer::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("bad.csv:2"), std::string::npos) << r.status().message();

  write(dir_ / "neg.csv", "1,2,0\n3,4,-1\n");
  o.data = (dir_ / "neg.csv").string();
  r = LocalTrainer::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("neg.csv:2"), std::string::npos) << r.status().message();

  o.data = (dir_ / "missing.csv").string();
  r = LocalTrainer::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("missing.csv"), std::string::npos) << r.status().message();
}

TEST_F(TrainerDataTest, NpyTensorDatasetLoadsAndTrains) {
  std::vector<float> x;
  std::vector<int64_t> y;
  make_blobs(200, 8, 4, x, y);
  ASSERT_TRUE(tensor::write_npy(dir_ / "x.npy", Tensor::from_vector<float>({200, 2, 4}, x)).ok());
  std::vector<int32_t> y32(y.begin(), y.end());
  ASSERT_TRUE(tensor::write_npy(dir_ / "y.npy", Tensor::from_vector<int32_t>({200}, y32)).ok());
  TrainOptions o;
  o.model = "mlp";
  o.data = "tensors:" + (dir_ / "x.npy").string() + "," + (dir_ / "y.npy").string();
  o.optimizer = "adam";
  o.lr = 0.01;
  auto trainer = LocalTrainer::create(o);
  ASSERT_TRUE(trainer.ok()) << trainer.status().to_string();
  EXPECT_EQ((*trainer)->num_train_samples(), 160);
  auto init = (*trainer)->initial_params();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->find("fc1.weight")->shape(), (tensor::Shape{64, 8}));  // [2, 4] flattened
  EXPECT_GT(train_rounds(**trainer, 3), 0.9);
}

TEST_F(TrainerDataTest, SafetensorsDatasetWithNamedTensorsLoads) {
  std::vector<float> x;
  std::vector<int64_t> y;
  make_blobs(100, 6, 2, x, y);
  tensor::TensorDict d;
  ASSERT_TRUE(d.insert("x", Tensor::from_vector<float>({100, 6}, x)).ok());
  ASSERT_TRUE(d.insert("y", Tensor::from_vector<int64_t>({100}, y)).ok());
  ASSERT_TRUE(tensor::write_safetensors(dir_ / "d.safetensors", d).ok());
  std::string f = (dir_ / "d.safetensors").string();
  TrainOptions o;
  o.model = "mlp";
  o.data = "tensors:" + f + "," + f;
  o.max_samples = 50;
  auto trainer = LocalTrainer::create(o);
  ASSERT_TRUE(trainer.ok()) << trainer.status().to_string();
  EXPECT_EQ((*trainer)->num_train_samples() + (*trainer)->num_val_samples(), 50);
  EXPECT_GE(train_rounds(**trainer, 1), 0.0);
}

TEST_F(TrainerDataTest, TensorDatasetErrorsNameTheFile) {
  ASSERT_TRUE(tensor::write_npy(dir_ / "x.npy",
                                Tensor::from_vector<float>({4, 2}, {0, 1, 2, 3, 4, 5, 6, 7}))
                  .ok());
  ASSERT_TRUE(
      tensor::write_npy(dir_ / "y3.npy", Tensor::from_vector<int64_t>({3}, {0, 1, 0})).ok());
  ASSERT_TRUE(
      tensor::write_npy(dir_ / "yf.npy", Tensor::from_vector<float>({4}, {0, 1, 0, 1})).ok());
  TrainOptions o;
  o.model = "mlp";
  auto x = (dir_ / "x.npy").string();
  o.data = "tensors:" + x + "," + (dir_ / "y3.npy").string();
  auto r = LocalTrainer::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("y3.npy"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("[4]"), std::string::npos) << r.status().message();
  o.data = "tensors:" + x + "," + (dir_ / "yf.npy").string();
  r = LocalTrainer::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("integers"), std::string::npos) << r.status().message();
  o.data = "tensors:" + (dir_ / "nope.npy").string() + "," + x;
  r = LocalTrainer::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("nope.npy"), std::string::npos) << r.status().message();
  // simple_network cannot take flat samples.
  ASSERT_TRUE(
      tensor::write_npy(dir_ / "y.npy", Tensor::from_vector<int64_t>({4}, {0, 1, 0, 1})).ok());
  o.model = "simple_network";
  o.data = "tensors:" + x + "," + (dir_ / "y.npy").string();
  r = LocalTrainer::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("[3, 32, 32]"), std::string::npos) << r.status().message();
}

std::string cifar_records(int n, uint8_t max_label) {
  std::string out;
  Rng rng(n);
  for (int i = 0; i < n; ++i) {
    out.push_back(static_cast<char>(i % (max_label + 1)));
    for (int p = 0; p < 3072; ++p) out.push_back(static_cast<char>(rng.below(256)));
  }
  return out;
}

TEST_F(TrainerDataTest, CifarBinaryDirectoryLoadsAndTrains) {
  write(dir_ / "data_batch_1.bin", cifar_records(30, 9));
  write(dir_ / "data_batch_2.bin", cifar_records(10, 9));
  write(dir_ / "test_batch.bin", cifar_records(12, 9));
  TrainOptions o;
  o.data = dir_.string();
  auto trainer = LocalTrainer::create(o);
  ASSERT_TRUE(trainer.ok()) << trainer.status().to_string();
  EXPECT_EQ((*trainer)->num_train_samples(), 40);
  EXPECT_EQ((*trainer)->num_val_samples(), 12);  // test_batch.bin is the validation split
  EXPECT_GE(train_rounds(**trainer, 1), 0.0);
}

TEST_F(TrainerDataTest, BadCifarDirectoryGivesClearErrors) {
  TrainOptions o;
  o.data = dir_.string();
  auto r = LocalTrainer::create(o);  // empty directory
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("data_batch_"), std::string::npos) << r.status().message();

  write(dir_ / "data_batch_1.bin", cifar_records(2, 9) + "xyz");  // truncated
  r = LocalTrainer::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("data_batch_1.bin"), std::string::npos);
  EXPECT_NE(r.status().message().find("3073"), std::string::npos) << r.status().message();

  std::string bad_label = cifar_records(3, 9);
  bad_label[3073] = 12;  // record 1
  write(dir_ / "data_batch_1.bin", bad_label);
  r = LocalTrainer::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("record 1 has label 12"), std::string::npos)
      << r.status().message();
}

constexpr char kScriptModel[] = R"PY(
import sys, torch, torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Linear(4 * 15 * 15, 10)
    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.head(torch.flatten(x, 1))
torch.manual_seed(0)
torch.jit.script(Net()).save(sys.argv[1])
)PY";

bool python_has_torch() {
  return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

TEST_F(TrainerDataTest, TorchScriptModelTrainsOneRound) {
  if (!python_has_torch()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch";
  write(dir_ / "make_model.py", kScriptModel);
  fs::path model = dir_ / "net.pt";
  std::string cmd =
      "/usr/bin/python3 '" + (dir_ / "make_model.py").string() + "' '" + model.string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  auto exported = export_initial_params(model.string(), 0);
  ASSERT_TRUE(exported.ok()) << exported.status().to_string();
  EXPECT_EQ(exported->names(),
            (std::vector<std::string>{"conv.weight", "conv.bias", "bn.weight", "bn.bias",
                                      "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
                                      "head.weight", "head.bias"}));
  EXPECT_EQ(exported->find("bn.num_batches_tracked")->dtype(), tensor::DType::kI64);

  TrainOptions o;
  o.model = model.string();
  o.max_samples = 200;
  o.site_index = 1;
  auto trainer = LocalTrainer::create(o);
  ASSERT_TRUE(trainer.ok()) << trainer.status().to_string();
  auto init = (*trainer)->initial_params();
  ASSERT_TRUE(init.ok());
  auto r = (*trainer)->train(*init);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->steps, 10);  // 160 training samples / 16
  EXPECT_EQ(r->params.names(), exported->names());
  // Buffers are trained state too: batch norm counted its batches.
  EXPECT_EQ(r->params.find("bn.num_batches_tracked")->value_as_double(0), 10.0);
  EXPECT_NE(r->params.find("bn.running_mean")->to_doubles(),
            init->find("bn.running_mean")->to_doubles());
}

TEST_F(TrainerDataTest, UnreadableTorchScriptFileIsAnError) {
  write(dir_ / "junk.pt", "not a zip");
  auto r = export_initial_params((dir_ / "junk.pt").string(), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("junk.pt"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace nvf::trainer
