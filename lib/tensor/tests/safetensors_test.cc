#include "tensor/safetensors.h"

#include <gtest/gtest.h>

#include "base/files.h"
#include "tensor/tests/test_util.h"

namespace nvf::tensor {
namespace {

using testing::le64;
using testing::raw_bytes;
using testing::TempDir;
using testing::write_raw;

TensorDict sample_dict() {
  TensorDict d;
  EXPECT_TRUE(
      d.insert("layer.weight", Tensor::from_vector<float>({2, 3}, {1, -2, 3.5f, 4, 5, 6})).ok());
  EXPECT_TRUE(d.insert("layer.bias", Tensor::from_doubles(DType::kF16, {3}, {0.5, -1, 2})).ok());
  EXPECT_TRUE(d.insert("bn.num_batches_tracked", Tensor::from_vector<int64_t>({}, {42})).ok());
  EXPECT_TRUE(d.insert("empty", Tensor::from_vector<float>({0, 4}, {})).ok());
  EXPECT_TRUE(d.insert("mask", Tensor::from_vector<bool>({3}, {true, false, true})).ok());
  EXPECT_TRUE(d.insert("b16", Tensor::from_doubles(DType::kBF16, {2}, {1.5, -8})).ok());
  EXPECT_TRUE(d.insert("f64", Tensor::from_vector<double>({2}, {1e-300, 3.25})).ok());
  return d;
}

TEST(SafetensorsTest, RoundTripPreservesValuesOrderAndMetadata) {
  TempDir dir;
  const auto path = dir / "model.safetensors";
  TensorDict in = sample_dict();
  Metadata meta{{"format", "pt"}, {"round", "3"}};
  ASSERT_TRUE(write_safetensors(path, in, meta).ok());

  auto reader = SafetensorsReader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_EQ(reader->metadata(), meta);
  EXPECT_EQ(reader->names(), in.names());  // data offsets follow the written order
  TensorDict out = reader->tensors();
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [name, t] : in) {
    const Tensor* o = out.find(name);
    ASSERT_NE(o, nullptr) << name;
    EXPECT_EQ(o->dtype(), t.dtype()) << name;
    EXPECT_EQ(o->shape(), t.shape()) << name;
    EXPECT_EQ(o->to_doubles(), t.to_doubles()) << name;
    EXPECT_FALSE(o->is_owned() && o->nbytes() > 0) << name << " should be a view into the file";
  }
  // The header is padded so the data starts 8-byte aligned.
  EXPECT_EQ(reader->header().data_start() % 8, 0u);
}

TEST(SafetensorsTest, ViewsOutliveTheReader) {
  TempDir dir;
  const auto path = dir / "m.safetensors";
  TensorDict in;
  ASSERT_TRUE(in.insert("w", Tensor::from_vector<float>({3}, {7, 8, 9})).ok());
  ASSERT_TRUE(write_safetensors(path, in).ok());
  Tensor w;
  {
    auto reader = SafetensorsReader::open(path);
    ASSERT_TRUE(reader.ok());
    auto t = reader->tensor("w");
    ASSERT_TRUE(t.ok());
    w = std::move(t).value();
    EXPECT_EQ(reader->tensor("missing").status().code(), StatusCode::kNotFound);
  }
  EXPECT_EQ(w.to_doubles(), (std::vector<double>{7, 8, 9}));
}

TEST(SafetensorsTest, ReadsAFileBuiltByteByByteFromTheSpec) {
  TempDir dir;
  const auto path = dir / "hand.safetensors";
  // No padding and an odd-sized I16 tensor first, so the F32 data is not 4-byte aligned.
  const std::string header =
      R"({"__metadata__":{"who":"test"},"b":{"dtype":"F32","shape":[2],"data_offsets":[6,14]},)"
      R"("a":{"dtype":"I16","shape":[1,3],"data_offsets":[0,6]}})";
  std::string file = le64(header.size()) + header;
  file += raw_bytes(std::vector<int16_t>{7, -3, 1000});
  file += raw_bytes(std::vector<float>{1.5f, -2.25f});
  write_raw(path, file);

  auto reader = SafetensorsReader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_EQ(reader->names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(reader->metadata().at("who"), "test");
  auto a = reader->tensor("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->dtype(), DType::kI16);
  EXPECT_EQ(a->shape(), (Shape{1, 3}));
  EXPECT_EQ(a->to_doubles(), (std::vector<double>{7, -3, 1000}));
  auto b = reader->tensor("b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->to_doubles(), (std::vector<double>{1.5, -2.25}));
}

TEST(SafetensorsTest, WritesTheReferenceLayout) {
  TempDir dir;
  const auto path = dir / "ref.safetensors";
  TensorDict in;
  ASSERT_TRUE(in.insert("x", Tensor::from_vector<float>({2}, {1, 2})).ok());
  ASSERT_TRUE(write_safetensors(path, in).ok());
  auto bytes = base::read_file(path);
  ASSERT_TRUE(bytes.ok());
  const std::string json = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const size_t padded = (json.size() + 7) / 8 * 8;
  std::string expected = le64(padded) + json + std::string(padded - json.size(), ' ');
  expected += raw_bytes(std::vector<float>{1, 2});
  EXPECT_EQ(*bytes, expected);
}

TEST(SafetensorsTest, StreamsATensorInPieces) {
  TempDir dir;
  const auto path = dir / "pieces.safetensors";
  std::vector<float> big(10000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i) * 0.5f;
  std::vector<int32_t> small{1, 2, 3};
  SafetensorsWriter w;
  ASSERT_TRUE(
      w.open(path, {{"big", DType::kF32, {100, 100}}, {"small", DType::kI32, {3}}}, {{"k", "v"}})
          .ok());
  const auto* p = reinterpret_cast<const std::byte*>(big.data());
  const size_t total = big.size() * 4;
  for (size_t off = 0; off < total; off += 3001) {
    ASSERT_TRUE(w.write_tensor("big", p + off, std::min<size_t>(3001, total - off)).ok());
  }
  ASSERT_TRUE(w.write_tensor(1, reinterpret_cast<const std::byte*>(small.data()), 12).ok());
  ASSERT_TRUE(w.commit().ok());
  auto reader = SafetensorsReader::open(path);
  ASSERT_TRUE(reader.ok());
  auto t = reader->tensor("big");
  ASSERT_TRUE(t.ok());
  auto values = t->to_doubles();
  for (size_t i = 0; i < big.size(); ++i) ASSERT_EQ(values[i], big[i]) << i;
  EXPECT_EQ(reader->tensor("small")->to_doubles(), (std::vector<double>{1, 2, 3}));
}

TEST(SafetensorsTest, WriterRejectsOutOfOrderTooManyAndIncompleteTensors) {
  TempDir dir;
  const auto path = dir / "bad_write.safetensors";
  std::vector<float> v(4, 1.0f);
  const auto* p = reinterpret_cast<const std::byte*>(v.data());
  SafetensorsWriter w;
  ASSERT_TRUE(w.open(path, {{"a", DType::kF32, {2}}, {"b", DType::kF32, {2}}}).ok());
  auto early = w.write_tensor("b", p, 8);
  EXPECT_EQ(early.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(early.message().find("'a'"), std::string::npos);
  auto too_many = w.write_tensor("a", p, 12);
  EXPECT_EQ(too_many.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.write_tensor("nope", p, 4).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(w.write_tensor("a", p, 8).ok());
  ASSERT_TRUE(w.write_tensor("b", p, 4).ok());
  auto commit = w.commit();
  EXPECT_EQ(commit.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(commit.message().find("'b'"), std::string::npos);
  w.abandon();
  EXPECT_FALSE(std::filesystem::exists(path));
  SafetensorsWriter dup;
  EXPECT_EQ(dup.open(path, {{"a", DType::kF32, {2}}, {"a", DType::kF32, {2}}}).code(),
            StatusCode::kInvalidArgument);
}

TEST(SafetensorsTest, ReadsFromAnInMemoryBuffer) {
  std::vector<TensorSpec> specs{{"t", DType::kU8, {4}}};
  auto header = encode_safetensors_header(specs, {});
  ASSERT_TRUE(header.ok());
  auto reader =
      SafetensorsReader::from_string(*header + std::string("\x01\x02\x03\x04", 4), "peer site-1");
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_EQ(reader->tensor("t")->to_doubles(), (std::vector<double>{1, 2, 3, 4}));
  auto bad = SafetensorsReader::from_string(*header + "\x01", "peer site-1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("peer site-1"), std::string::npos);
}

struct BadFile {
  std::string name;
  std::string bytes;
  std::string reason;  // a fragment the message must contain
};

std::string with_header(const std::string& json, size_t data_bytes) {
  return le64(json.size()) + json + std::string(data_bytes, '\0');
}

std::vector<BadFile> bad_files() {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  return {
      {"short", "abc", "shorter than the 8-byte header length"},
      {"header_past_end", le64(1000) + "{}", "runs past the end"},
      {"header_too_large", le64(200'000'000) + "{}      ", "100 MB"},
      {"not_json", with_header("{not json", 0), "not valid JSON"},
      {"not_object", with_header("[1, 2]", 0), "not a JSON object"},
      {"unknown_dtype", with_header(R"({"a":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2),
       "unsupported dtype \"F8\""},
      {"negative_dim", with_header(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "negative dimension"},
      {"offsets_not_pair",
       with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8), "[begin, end]"},
      {"offsets_reversed",
       with_header(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8),
       "end before they begin"},
      {"offsets_past_end", with_header("{" + ok_entry + "}", 4), "run past the end of the data"},
      {"overlap",
       with_header("{" + ok_entry + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   12),
       "overlap tensor 'a'"},
      {"hole",
       with_header("{" + ok_entry + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                   16),
       "hole"},
      {"trailing_bytes", with_header("{" + ok_entry + "}", 12), "not covered by any tensor"},
      {"size_mismatch", with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "needs 12"},
      {"metadata_not_string", with_header(R"({"__metadata__":{"round":3},)" + ok_entry + "}", 8),
       "__metadata__ value for \"round\" is not a string"},
      {"duplicate_name", with_header("{" + ok_entry + "," + ok_entry + "}", 8), "listed twice"},
      {"float_dim", with_header(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8),
       "non-integer"},
  };
}

TEST(SafetensorsTest, RejectsEachClassOfBadFileNamingFileAndReason) {
  TempDir dir;
  for (const auto& bad : bad_files()) {
    const auto path = dir / ("bad_" + bad.name + ".safetensors");
    write_raw(path, bad.bytes);
    auto reader = SafetensorsReader::open(path);
    ASSERT_FALSE(reader.ok()) << bad.name << " was accepted";
    const std::string msg = reader.status().message();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << bad.name << ": " << msg;
    EXPECT_NE(msg.find(bad.reason), std::string::npos) << bad.name << ": " << msg;
  }
}

TEST(SafetensorsTest, MessagesNameTheTensor) {
  TempDir dir;
  const auto path = dir / "named.safetensors";
  write_raw(path, with_header(
                      R"({"conv1.weight":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0));
  auto reader = SafetensorsReader::open(path);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("'conv1.weight'"), std::string::npos);
}

TEST(SafetensorsTest, MissingFileIsNotFound) {
  TempDir dir;
  auto reader = SafetensorsReader::open(dir / "absent.safetensors");
  EXPECT_EQ(reader.status().code(), StatusCode::kNotFound);
  EXPECT_NE(reader.status().message().find("absent.safetensors"), std::string::npos);
}

TEST(SafetensorsTest, EmptyModelRoundTrips) {
  TempDir dir;
  const auto path = dir / "empty.safetensors";
  ASSERT_TRUE(write_safetensors(path, TensorDict{}, {{"a", "b"}}).ok());
  auto reader = SafetensorsReader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_EQ(reader->size(), 0u);
  EXPECT_EQ(reader->metadata().at("a"), "b");
}

}  // namespace
}  // namespace nvf::tensor
