#include "tensor/pt_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/files.h"
#include "tensor/tests/test_util.h"

namespace nvf::tensor {
namespace {

using testing::run_python;
using testing::TempDir;

// Loads a checkpoint with torch.load and prints, as one JSON line: its layout, every tensor's
// dtype, shape, contiguity and values, plus zipfile checks (CRCs, 64-byte payload alignment).
constexpr const char* kLoadScript = R"PY(
import collections, json, struct, sys, zipfile
import torch
path, wrapped = sys.argv[1], sys.argv[2] == "1"
obj = torch.load(path, map_location="cpu")
out = {"top_type": type(obj).__name__}
if wrapped:
    out["top_keys"] = list(obj.keys())
    obj = obj["model"]
out["dict_type"] = type(obj).__name__
tensors = {}
for name, t in obj.items():
    tensors[name] = {
        "dtype": str(t.dtype).replace("torch.", ""),
        "shape": list(t.shape),
        "contiguous": t.is_contiguous(),
        "values": [float(v) for v in t.reshape(-1).double().tolist()],
    }
out["names"] = list(obj.keys())
out["tensors"] = tensors
with zipfile.ZipFile(path) as z:
    out["bad_crc"] = z.testzip()
    out["entries"] = [i.filename for i in z.infolist()]
    misaligned = []
    with open(path, "rb") as f:
        for info in z.infolist():
            f.seek(info.header_offset)
            header = f.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            if start % 64 != 0:
                misaligned.append(info.filename)
    out["misaligned"] = misaligned
print(json.dumps(out))
)PY";

std::string torch_dtype(DType d) {
  switch (d) {
    case DType::kF64:
      return "float64";
    case DType::kF32:
      return "float32";
    case DType::kF16:
      return "float16";
    case DType::kBF16:
      return "bfloat16";
    case DType::kI64:
      return "int64";
    case DType::kI32:
      return "int32";
    case DType::kI16:
      return "int16";
    case DType::kI8:
      return "int8";
    case DType::kU8:
      return "uint8";
    case DType::kBool:
      return "bool";
  }
  return "?";
}

TensorDict mixed_dict() {
  TensorDict d;
  auto add = [&](const std::string& name, Tensor t) {
    EXPECT_TRUE(d.insert(name, std::move(t)).ok());
  };
  add("conv.weight", Tensor::from_vector<float>({2, 1, 2, 2}, {1, -2, 3.5f, 4, 5, 6, 7, -8.25f}));
  add("conv.bias", Tensor::from_vector<double>({2}, {1e-300, -3.125}));
  add("half", Tensor::from_doubles(DType::kF16, {3}, {0.5, -1, 65504}));
  add("bf16", Tensor::from_doubles(DType::kBF16, {2, 2}, {1.5, -8, 0.0078125, 256}));
  add("bn.num_batches_tracked", Tensor::from_vector<int64_t>({}, {123456789012LL}));
  add("i32", Tensor::from_vector<int32_t>({3}, {-7, 0, 2147483647}));
  add("i16", Tensor::from_vector<int16_t>({2}, {-32768, 32767}));
  add("i8", Tensor::from_vector<int8_t>({2}, {-128, 127}));
  add("u8", Tensor::from_vector<uint8_t>({3}, {0, 128, 255}));
  add("mask", Tensor::from_vector<bool>({2, 2}, {true, false, false, true}));
  add("scalar", Tensor::from_vector<float>({}, {2.5f}));
  add("empty", Tensor::from_vector<float>({0}, {}));
  add("empty2d", Tensor::from_vector<float>({3, 0}, {}));
  add("unicode.名前", Tensor::from_vector<float>({1}, {9}));
  return d;
}

void expect_loaded_equals(const std::filesystem::path& path, const TensorDict& expected,
                          bool wrapped) {
  auto r = run_python({"-c", kLoadScript, path.string(), wrapped ? "1" : "0"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // torch may print warnings before the JSON line; the JSON is the last line.
  std::string line = r.output;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  line = line.substr(line.find_last_of('\n') + 1);
  nlohmann::json out = nlohmann::json::parse(line, nullptr, false);
  ASSERT_FALSE(out.is_discarded()) << r.output;
  if (wrapped) {
    EXPECT_EQ(out["top_type"], "dict");
    EXPECT_EQ(out["top_keys"], nlohmann::json::array({"model"}));
  }
  EXPECT_EQ(out["dict_type"], "OrderedDict");
  EXPECT_EQ(out["names"].get<std::vector<std::string>>(), expected.names());
  EXPECT_TRUE(out["bad_crc"].is_null()) << out["bad_crc"];
  EXPECT_TRUE(out["misaligned"].empty()) << out["misaligned"];
  for (const auto& [name, t] : expected) {
    SCOPED_TRACE(name);
    const auto& got = out["tensors"][name];
    ASSERT_TRUE(got.is_object());
    EXPECT_EQ(got["dtype"], torch_dtype(t.dtype()));
    EXPECT_EQ(got["shape"].get<std::vector<int64_t>>(), t.shape());
    EXPECT_TRUE(got["contiguous"].get<bool>());
    EXPECT_EQ(got["values"].get<std::vector<double>>(), t.to_doubles());
  }
}

class PtWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = testing::torch_unavailable_reason(); !reason.empty()) GTEST_SKIP() << reason;
  }
  TempDir dir_;
};

TEST_F(PtWriterTest, TorchLoadsAStateDictOfEveryDtype) {
  const auto path = dir_ / "state.pt";
  TensorDict d = mixed_dict();
  ASSERT_TRUE(write_pt(path, d, /*wrap_in_model_dict=*/false).ok());
  expect_loaded_equals(path, d, false);
}

TEST_F(PtWriterTest, TorchLoadsTheFlareModelWrapper) {
  const auto path = dir_ / "FL_global_model.pt";
  TensorDict d = mixed_dict();
  ASSERT_TRUE(write_pt(path, d, /*wrap_in_model_dict=*/true).ok());
  expect_loaded_equals(path, d, true);
}

TEST_F(PtWriterTest, TorchLoadsForcedZip64Records) {
  const auto path = dir_ / "zip64.pt";
  TensorDict d = mixed_dict();
  PtWriter w;
  PtWriter::Options options;
  options.force_zip64 = true;
  ASSERT_TRUE(w.open(path, options).ok());
  for (const auto& [name, t] : d) ASSERT_TRUE(w.add_tensor(name, t).ok());
  ASSERT_TRUE(w.commit().ok());
  expect_loaded_equals(path, d, false);
}

TEST_F(PtWriterTest, TorchLoadsTensorsStreamedInPiecesAndAnEmptyDict) {
  const auto path = dir_ / "pieces.pt";
  const size_t n = 300000;  // > 65535 and > 2^16 elements: BININT sizes in the pickle
  std::vector<float> big(n);
  for (size_t i = 0; i < n; ++i) big[i] = static_cast<float>(i % 977) - 400.0f;
  PtWriter w;
  ASSERT_TRUE(w.open(path).ok());
  ASSERT_TRUE(w.add_tensor("big", DType::kF32, {static_cast<int64_t>(n)}).ok());
  const auto* p = reinterpret_cast<const std::byte*>(big.data());
  for (size_t off = 0; off < n * 4; off += 65537) {
    ASSERT_TRUE(w.write(p + off, std::min<size_t>(65537, n * 4 - off)).ok());
  }
  ASSERT_TRUE(w.commit().ok());
  TensorDict expected;
  ASSERT_TRUE(
      expected.insert("big", Tensor::from_vector<float>({static_cast<int64_t>(n)}, big)).ok());
  expect_loaded_equals(path, expected, false);

  const auto empty_path = dir_ / "empty.pt";
  ASSERT_TRUE(write_pt(empty_path, TensorDict{}, true).ok());
  expect_loaded_equals(empty_path, TensorDict{}, true);
}

TEST(PtWriterErrorsTest, RejectsIncompleteDuplicateAndOversizedTensors) {
  TempDir dir;
  const auto path = dir / "bad.pt";
  std::vector<float> v(4, 1.0f);
  const auto* p = reinterpret_cast<const std::byte*>(v.data());
  PtWriter w;
  EXPECT_EQ(w.write(p, 4).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(w.open(path).ok());
  EXPECT_EQ(w.write(p, 4).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(w.add_tensor("a", DType::kF32, {2}).ok());
  EXPECT_EQ(w.write(p, 12).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(w.write(p, 4).ok());
  auto early = w.add_tensor("b", DType::kF32, {1});
  EXPECT_EQ(early.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(early.message().find("'a'"), std::string::npos);
  ASSERT_TRUE(w.write(p, 4).ok());
  EXPECT_EQ(w.add_tensor("a", DType::kF32, {1}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(w.add_tensor(std::string("\xff\xfe", 2), DType::kF32, {1}).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(w.add_tensor("c", DType::kF32, {2}).ok());
  auto commit = w.commit();
  EXPECT_EQ(commit.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(commit.message().find("'c'"), std::string::npos);
  w.abandon();
  EXPECT_FALSE(std::filesystem::exists(path));
}

// Proves: a whole tensor's CRC goes into its header up front and a streamed one's is patched in
// later, and both give the same file, byte for byte, through the page cache or around it (direct
// writes, where the patch lands on a block already on disk: the tensor is larger than the stage).
TEST(PtWriterErrorsTest, WholeAndStreamedTensorsGiveTheSameFileBufferedOrDirect) {
  TempDir dir;
  TensorDict d = mixed_dict();
  const int64_t n = static_cast<int64_t>(base::AtomicFileWriter::kDirectStageBytes / 4 + 1000);
  std::vector<float> big(static_cast<size_t>(n));
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 1013);
  ASSERT_TRUE(d.insert("big", Tensor::from_vector<float>({n}, big)).ok());
  std::vector<std::string> files;
  for (bool direct : {false, true}) {
    for (bool streamed : {false, true}) {
      const auto path = dir / ("m" + std::to_string(direct) + std::to_string(streamed) + ".pt");
      PtWriter w;
      PtWriter::Options o;
      o.wrap_in_model_dict = true;
      o.file.direct = direct;
      ASSERT_TRUE(w.open(path, o).ok());
      for (const auto& [name, t] : d) {
        if (!streamed) {
          ASSERT_TRUE(w.add_tensor(name, t).ok());
          continue;
        }
        ASSERT_TRUE(w.add_tensor(name, t.dtype(), t.shape()).ok());
        for (size_t off = 0; off < t.nbytes(); off += 1 << 20) {
          ASSERT_TRUE(w.write(t.data() + off, std::min<size_t>(1 << 20, t.nbytes() - off)).ok());
        }
      }
      ASSERT_TRUE(w.commit().ok());
      auto bytes = base::read_file(path);
      ASSERT_TRUE(bytes.ok());
      files.push_back(std::move(*bytes));
    }
  }
  for (size_t i = 1; i < files.size(); ++i) EXPECT_TRUE(files[i] == files[0]) << "file " << i << " differs";
}

TEST(PtWriterErrorsTest, WritesAZipWithVersionAndPickleRecords) {
  TempDir dir;
  const auto path = dir / "layout.pt";
  TensorDict d;
  ASSERT_TRUE(d.insert("w", Tensor::from_vector<float>({1}, {1})).ok());
  ASSERT_TRUE(write_pt(path, d).ok());
  auto bytes = base::read_file(path);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_NE(bytes->find("archive/data/0"), std::string::npos);
  EXPECT_NE(bytes->find("archive/data.pkl"), std::string::npos);
  EXPECT_NE(bytes->find("archive/version"), std::string::npos);
  EXPECT_NE(bytes->find("ctorch\nFloatStorage\n"), std::string::npos);
  EXPECT_NE(bytes->find("ctorch._utils\n_rebuild_tensor_v2\n"), std::string::npos);
  // The end of central directory record closes the file.
  EXPECT_EQ(bytes->substr(bytes->size() - 22, 4), std::string("PK\x05\x06", 4));
}

}  // namespace
}  // namespace nvf::tensor
