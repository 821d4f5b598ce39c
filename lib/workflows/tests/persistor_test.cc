#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "workflows/np_model_persistor.h"
#include "workflows/pt_file_model_persistor.h"
#include "tensor/safetensors.h"
#include "tensor/tests/test_util.h"

namespace nvf::fl {
namespace {

using tensor::Tensor;
using tensor::testing::TempDir;

std::string tensor_bytes(const Tensor& t) {
  return std::string(reinterpret_cast<const char*>(t.data()), t.nbytes());
}

TEST(NPModelPersistorTest, DefaultModelIsFlaresThreeByThree) {
  TempDir dir;
  auto p = NPModelPersistor::create({dir.path(), dir.path() / "app_server"}, {});
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  auto m = (*p)->load();
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->params_type, ParamsType::kFull);
  ASSERT_EQ(m->params.names(), std::vector<std::string>{"numpy_key"});
  const Tensor& t = *m->params.find("numpy_key");
  EXPECT_EQ(t.dtype(), tensor::DType::kF32);
  EXPECT_EQ(t.shape(), (tensor::Shape{3, 3}));
  EXPECT_EQ(t.to_doubles(), (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(NPModelPersistorTest, SavedFileIsByteForByteWhatNumpyWrites) {
  TempDir dir;
  auto p = NPModelPersistor::create({dir.path(), dir.path() / "app_server"}, {});
  ASSERT_TRUE(p.ok());
  auto m = (*p)->load();
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*p)->save(*m, /*is_best=*/false).ok());

  std::string expected("\x93NUMPY\x01\x00\x76\x00", 10);
  expected += "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }";
  expected += std::string(128 - 1 - expected.size(), ' ');
  expected += '\n';
  ASSERT_EQ(expected.size(), 128u);
  const std::vector<float> values{1, 2, 3, 4, 5, 6, 7, 8, 9};
  expected.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));

  const auto path = dir.path() / "models" / "server.npy";
  EXPECT_EQ((*p)->model_path(), path);
  auto bytes = base::read_file(path);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  EXPECT_EQ(*bytes, expected);

  auto st = tensor::SafetensorsReader::open(dir.path() / "models" / "server.safetensors");
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  auto t = st->tensor("numpy_key");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(tensor_bytes(*t), tensor_bytes(*m->params.find("numpy_key")));
}

TEST(NPModelPersistorTest, InitialModelFromArgsAndResumeFromTheSavedFile) {
  TempDir dir;
  NPModelPersistorOptions o;
  o.initial_model = config::Value::parse("[[0.5, 1], [2, 3]]");
  auto p = NPModelPersistor::create({dir.path(), dir.path() / "app"}, o);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  auto m = (*p)->load();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->params.find("numpy_key")->shape(), (tensor::Shape{2, 2}));
  EXPECT_EQ(m->params.find("numpy_key")->to_doubles(), (std::vector<double>{0.5, 1, 2, 3}));

  FLModel updated;
  updated.params_type = ParamsType::kFull;
  ASSERT_TRUE(updated.params.insert("numpy_key", Tensor::from_vector<float>({2}, {7, 8})).ok());
  ASSERT_TRUE((*p)->save(updated, false).ok());
  auto again = NPModelPersistor::create({dir.path(), dir.path() / "app"}, o);
  auto resumed = (*again)->load();
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->params.find("numpy_key")->to_doubles(), (std::vector<double>{7, 8}));
}

TEST(NPModelPersistorTest, RaggedInitialModelIsAnError) {
  NPModelPersistorOptions o;
  o.initial_model = config::Value::parse("[[1, 2], [3]]");
  auto p = NPModelPersistor::create({"/r", "/r/app"}, o);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("ragged"), std::string::npos) << p.status().message();
  o.initial_model = config::Value::parse("[1, [2]]");
  EXPECT_FALSE(NPModelPersistor::create({"/r", "/r/app"}, o).ok());
  o.initial_model = config::Value::parse("[1, \"x\"]");
  EXPECT_FALSE(NPModelPersistor::create({"/r", "/r/app"}, o).ok());
}

// Loads the checkpoint with torch.load and prints {"top_keys": [...], "tensors": {name: {dtype,
// shape, values}}} as the last line.
constexpr const char* kTorchLoad = R"PY(
import json, sys, torch
obj = torch.load(sys.argv[1], map_location="cpu")
out = {"top_keys": list(obj.keys()), "tensors": {}}
for name, t in obj["model"].items():
    out["tensors"][name] = {"dtype": str(t.dtype), "shape": list(t.shape),
                            "values": [float(v) for v in t.reshape(-1).double().tolist()]}
print(json.dumps(out))
)PY";

class PTFileModelPersistorTest : public ::testing::Test {
 protected:
  PersistorContext ctx() const { return {dir_.path(), dir_.path() / "app_server"}; }
  std::unique_ptr<PTFileModelPersistor> make(PTFileModelPersistorOptions o) {
    auto p = PTFileModelPersistor::create(ctx(), std::move(o));
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? std::move(p).value() : nullptr;
  }
  // A persistor whose source checkpoint is `init`, written to custom/init.safetensors.
  std::unique_ptr<PTFileModelPersistor> make_from(const tensor::TensorDict& init) {
    const auto custom = dir_.path() / "app_server" / "custom";
    EXPECT_TRUE(base::make_dirs(custom).ok());
    EXPECT_TRUE(tensor::write_safetensors(custom / "init.safetensors", init).ok());
    PTFileModelPersistorOptions o;
    o.source_ckpt_file_full_name = "init.safetensors";
    return make(o);
  }
  static PTFileModelPersistorOptions simple() {
    PTFileModelPersistorOptions o;
    o.model = find_architecture("simple_network").value();
    o.seed = 7;
    return o;
  }
  TempDir dir_;
};

TEST_F(PTFileModelPersistorTest, WritesPtAndSafetensorsWithBitIdenticalTensors) {
  auto p = make(simple());
  auto m = p->load();
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_EQ(m->params.size(), 10u);
  ASSERT_TRUE(p->save(*m, /*is_best=*/false).ok());
  const auto pt = dir_.path() / "app_server" / "FL_global_model.pt";
  const auto st = dir_.path() / "app_server" / "FL_global_model.safetensors";
  ASSERT_TRUE(std::filesystem::exists(pt));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "app_server" / "best_FL_global_model.pt"));

  auto reader = tensor::SafetensorsReader::open(st);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  ASSERT_EQ(reader->names().size(), 10u);
  for (const auto& [name, t] : m->params) {
    auto back = reader->tensor(name);
    ASSERT_TRUE(back.ok()) << name;
    EXPECT_EQ(back->shape(), t.shape()) << name;
    EXPECT_EQ(tensor_bytes(*back), tensor_bytes(t)) << name;
  }

  if (auto reason = tensor::testing::torch_unavailable_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  auto r = tensor::testing::run_python({"-c", kTorchLoad, pt.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string line = r.output;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  line = line.substr(line.find_last_of('\n') + 1);
  auto out = nlohmann::json::parse(line, nullptr, false);
  ASSERT_FALSE(out.is_discarded()) << r.output;
  EXPECT_EQ(out["top_keys"], nlohmann::json::array({"model"}));
  ASSERT_EQ(out["tensors"].size(), 10u);
  for (const auto& info : reader->infos()) {
    SCOPED_TRACE(info.name);
    const auto& got = out["tensors"][info.name];
    EXPECT_EQ(got["dtype"], "torch.float32");
    EXPECT_EQ(got["shape"].get<std::vector<int64_t>>(), info.shape);
    EXPECT_EQ(got["values"].get<std::vector<double>>(), reader->tensor(info.name)->to_doubles());
  }
}

TEST_F(PTFileModelPersistorTest, BestFilesAreWrittenWhenBest) {
  auto p = make(simple());
  auto m = p->load();
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(p->save(*m, /*is_best=*/true).ok());
  for (const char* f : {"FL_global_model.pt", "FL_global_model.safetensors",
                        "best_FL_global_model.pt", "best_FL_global_model.safetensors"}) {
    EXPECT_TRUE(std::filesystem::exists(dir_.path() / "app_server" / f)) << f;
  }
  std::filesystem::remove(p->best_model_path());
  ASSERT_TRUE(p->save_best(*m).ok());
  EXPECT_TRUE(std::filesystem::exists(p->best_model_path()));
}

TEST_F(PTFileModelPersistorTest, ExcludedKeysStayOutOfTheModelButKeepStoredValues) {
  auto o = simple();
  o.exclude_vars = "^fc3\\.";
  auto p = make(o);
  auto m = p->load();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->params.size(), 8u);
  EXPECT_FALSE(m->params.contains("fc3.weight"));
  auto init = init_model(*o.model, o.seed);
  ASSERT_TRUE(init.ok());
  // A new global model: conv1.bias changes; fc3 is not in it.
  FLModel g;
  g.params_type = ParamsType::kFull;
  for (const auto& [name, t] : m->params) ASSERT_TRUE(g.params.insert(name, t.share()).ok());
  g.params.insert_or_assign("conv1.bias", Tensor::from_vector<float>({6}, {1, 2, 3, 4, 5, 6}));
  for (int round = 0; round < 2; ++round) {  // the second save merges from the first file
    ASSERT_TRUE(p->save(g, false).ok());
    auto reader = tensor::SafetensorsReader::open(
        PTFileModelPersistor::safetensors_twin(p->global_model_path()));
    ASSERT_TRUE(reader.ok());
    EXPECT_EQ(reader->size(), 10u);
    EXPECT_EQ(tensor_bytes(*reader->tensor("fc3.weight")), tensor_bytes(*init->find("fc3.weight")));
    EXPECT_EQ(reader->tensor("conv1.bias")->to_doubles(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  }
}

constexpr const char* kTorchSums = R"PY(
import json, sys, zipfile, torch
path = sys.argv[1]
bad = zipfile.ZipFile(path).testzip()
sd = torch.load(path, map_location="cpu")["model"]
print(json.dumps({"bad_member": bad, "keys": list(sd.keys()),
                  "sums": [float(t.double().sum()) for t in sd.values()],
                  "numel": [t.numel() for t in sd.values()]}))
)PY";

// Proves: a model of kDirectSaveBytes or more is saved by save_in_background() while the caller
// goes on; after flush() both files hold exactly its bytes (the .pt's CRCs, patched on blocks
// already on disk, pass Python's zipfile check and torch.load reads it), the best files too, and
// no scratch (.prev) is left beside them after this first save. A save that cannot be written reports its
// error, naming the file, from flush(); the next save works again.
TEST_F(PTFileModelPersistorTest, LargeModelsAreSavedInTheBackground) {
  constexpr int64_t kBig = PTFileModelPersistor::kDirectSaveBytes / 4;  // float32
  tensor::TensorDict init;
  auto big = Tensor::zeros(tensor::DType::kF32, {kBig});
  ASSERT_TRUE(big.ok());
  double big_sum = 0;
  {
    auto v = big->template mutable_view<float>();
    for (int64_t i = 0; i < kBig; ++i) big_sum += v[static_cast<size_t>(i)] = static_cast<float>(i % 1000);
  }
  ASSERT_TRUE(init.insert("odd", Tensor::from_vector<float>({7}, {1, 2, 3, 4, 5, 6, 7})).ok());
  ASSERT_TRUE(init.insert("big", std::move(*big)).ok());
  auto p = make_from(init);
  auto m = p->load();
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  m->params.insert_or_assign("odd", Tensor::from_vector<float>({7}, {10, 20, 30, 40, 50, 60, 70}));
  ASSERT_TRUE(p->save_in_background(*m, /*is_best=*/true).ok());
  ASSERT_TRUE(p->flush().ok());
  const auto app = dir_.path() / "app_server";
  for (const char* name : {"FL_global_model", "best_FL_global_model"}) {
    SCOPED_TRACE(name);
    auto reader = tensor::SafetensorsReader::open(app / (std::string(name) + ".safetensors"));
    ASSERT_TRUE(reader.ok()) << reader.status().to_string();
    EXPECT_EQ(tensor_bytes(*reader->tensor("big")), tensor_bytes(*m->params.find("big")));
    EXPECT_EQ(reader->tensor("odd")->to_doubles(), (std::vector<double>{10, 20, 30, 40, 50, 60, 70}));
    EXPECT_FALSE(std::filesystem::exists(base::previous_version_path(app / (std::string(name) + ".pt"))));
  }
  if (auto reason = tensor::testing::torch_unavailable_reason(); reason.empty()) {
    auto r = tensor::testing::run_python({"-c", kTorchSums, p->global_model_path().string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::string line = r.output;
    while (!line.empty() && line.back() == '\n') line.pop_back();
    auto out = nlohmann::json::parse(line.substr(line.find_last_of('\n') + 1), nullptr, false);
    ASSERT_FALSE(out.is_discarded()) << r.output;
    EXPECT_TRUE(out["bad_member"].is_null()) << out.dump();
    EXPECT_EQ(out["keys"], nlohmann::json::array({"odd", "big"}));
    EXPECT_EQ(out["sums"], nlohmann::json::array({280.0, big_sum}));
    EXPECT_EQ(out["numel"], nlohmann::json::array({7, kBig}));
  }

  // A directory where the file should go: the write fails in the background; flush() says so.
  ASSERT_TRUE(std::filesystem::remove(p->global_model_path()));
  ASSERT_TRUE(base::make_dirs(p->global_model_path() / "in-the-way").ok());
  ASSERT_TRUE(p->save_in_background(*m, false).ok());
  Status failed = p->flush();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("FL_global_model.pt"), std::string::npos) << failed.message();
  EXPECT_TRUE(p->flush().ok());  // reported once
  std::filesystem::remove_all(p->global_model_path());
  ASSERT_TRUE(p->save_in_background(*m, false).ok());
  ASSERT_TRUE(p->flush().ok());
  EXPECT_TRUE(std::filesystem::is_regular_file(p->global_model_path()));
}

// Proves: a large model saved round after round lands in the blocks of its version before last
// (from the third save, the files' inodes are the scratch files' of before it), each save holds
// exactly its round's bytes, the previous version stays as the scratch while the run goes on, and
// end_run() leaves the last version and no scratch (decision 028).
TEST_F(PTFileModelPersistorTest, ALargeModelIsSavedOverItsVersionBeforeLast) {
  constexpr int64_t kBig = PTFileModelPersistor::kDirectSaveBytes / 4;  // float32
  auto big = Tensor::zeros(tensor::DType::kF32, {kBig});
  ASSERT_TRUE(big.ok());
  tensor::TensorDict init;
  ASSERT_TRUE(init.insert("big", std::move(*big)).ok());
  auto p = make_from(init);
  auto m = p->load();
  ASSERT_TRUE(m.ok()) << m.status().to_string();

  auto inode = [](const std::filesystem::path& f) {
    struct stat st {};
    return ::stat(f.c_str(), &st) == 0 ? st.st_ino : ino_t{0};
  };
  const auto pt = p->global_model_path();
  const auto twin = PTFileModelPersistor::safetensors_twin(pt);
  auto saved_round = [&](const std::filesystem::path& f) {
    auto reader = tensor::SafetensorsReader::open(f);
    if (!reader.ok()) return -1.0;
    auto t = reader->tensor("big");
    if (!t.ok()) return -2.0;
    auto v = t->template view<float>();
    return v[0] == v[v.size() - 1] ? static_cast<double>(v[0]) : -3.0;
  };
  ino_t scratch_pt = 0;
  ino_t scratch_twin = 0;
  for (int round = 1; round <= 4; ++round) {
    SCOPED_TRACE(round);
    auto v = m->params.find("big")->template mutable_view<float>();
    std::fill(v.begin(), v.end(), static_cast<float>(round));
    ASSERT_TRUE(p->save_in_background(*m, false).ok());
    ASSERT_TRUE(p->flush().ok());
    EXPECT_EQ(saved_round(twin), round);
    EXPECT_EQ(std::filesystem::exists(base::previous_version_path(pt)), round > 1);  // nothing to swap with at first
    if (round > 1) {
      EXPECT_EQ(saved_round(base::previous_version_path(twin)), round - 1);
    }
    if (round > 2) {
      EXPECT_EQ(inode(pt), scratch_pt);
      EXPECT_EQ(inode(twin), scratch_twin);
    }
    scratch_pt = inode(base::previous_version_path(pt));
    scratch_twin = inode(base::previous_version_path(twin));
  }
  p->end_run();
  EXPECT_EQ(saved_round(twin), 4);
  EXPECT_FALSE(std::filesystem::exists(base::previous_version_path(pt)));
  EXPECT_FALSE(std::filesystem::exists(base::previous_version_path(twin)));
  if (auto reason = tensor::testing::torch_unavailable_reason(); reason.empty()) {
    auto r = tensor::testing::run_python({"-c", kTorchSums, pt.string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("\"sums\": [" + std::to_string(4 * kBig) + ".0]"), std::string::npos) << r.output;
  }
}

TEST_F(PTFileModelPersistorTest, SourceCheckpointFormats) {
  auto init = init_model(find_architecture("mlp:3:2").value(), 1);
  ASSERT_TRUE(init.ok());
  const auto custom = dir_.path() / "app_server" / "custom";
  ASSERT_TRUE(base::make_dirs(custom).ok());
  ASSERT_TRUE(tensor::write_safetensors(custom / "init.safetensors", *init).ok());

  PTFileModelPersistorOptions o;
  o.source_ckpt_file_full_name = "init.safetensors";  // relative to custom/
  auto m = make(o)->load();
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->params.names(), (std::vector<std::string>{"fc1.weight", "fc1.bias"}));
  EXPECT_EQ(tensor_bytes(*m->params.find("fc1.weight")), tensor_bytes(*init->find("fc1.weight")));

  o.source_ckpt_file_full_name = custom / "missing.safetensors";
  EXPECT_EQ(make(o)->load().status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(base::atomic_write(custom / "model.npy", "x").ok());
  o.source_ckpt_file_full_name = custom / "model.npy";
  EXPECT_EQ(make(o)->load().status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PTFileModelPersistorTest, TorchFileWithoutTheHelperSaysHowToGetIt) {
  const auto custom = dir_.path() / "app_server" / "custom";
  ASSERT_TRUE(base::make_dirs(custom).ok());
  ASSERT_TRUE(base::atomic_write(custom / "model.pt", "x").ok());
  for (const char* helper : {"", "/nonexistent/nvflare-train"}) {
    PTFileModelPersistorOptions o;
    o.model_file = "model.pt";  // the config's "model": a TorchScript file
    o.torch_helper = helper;
    auto m = make(o)->load();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(m.status().message().find("model.pt"), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find("nvflare-train"), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find("NVF_WITH_TORCH=ON"), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find(".safetensors"), std::string::npos) << m.status().message();
  }
  PTFileModelPersistorOptions o;
  o.model_file = custom / "missing.ts";
  EXPECT_EQ(make(o)->load().status().code(), StatusCode::kNotFound);
}

TEST_F(PTFileModelPersistorTest, HelperFailureCarriesItsMessage) {
  const auto custom = dir_.path() / "app_server" / "custom";
  ASSERT_TRUE(base::make_dirs(custom).ok());
  ASSERT_TRUE(base::atomic_write(custom / "model.pt", "x").ok());
  const auto helper = dir_.path() / "fake-helper";
  ASSERT_TRUE(base::atomic_write(helper, "#!/bin/sh\necho \"model '$2' is not a loadable file\" >&2\nexit 1\n").ok());
  std::filesystem::permissions(helper, std::filesystem::perms::owner_all);
  PTFileModelPersistorOptions o;
  o.source_ckpt_file_full_name = "model.pt";
  o.torch_helper = helper;
  auto m = make(o)->load();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("is not a loadable file"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("exited with code 1"), std::string::npos) << m.status().message();
}

TEST_F(PTFileModelPersistorTest, NeedsAModelOrACheckpoint) {
  auto p = PTFileModelPersistor::create(ctx(), {});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("simple_network"), std::string::npos);
  auto o = simple();
  o.global_model_file_name = "../escape.pt";
  EXPECT_FALSE(PTFileModelPersistor::create(ctx(), o).ok());
}

}  // namespace
}  // namespace nvf::fl
