#include "tensor/npy.h"

#include <gtest/gtest.h>

#include "base/files.h"
#include "tensor/tests/test_util.h"

namespace nvf::tensor {
namespace {

using testing::raw_bytes;
using testing::TempDir;
using testing::write_raw;

std::string v1_header(const std::string& dict) {
  // Pad the dict with spaces and a newline so magic + version + length + dict is 64-aligned.
  std::string text = dict;
  const size_t total = (10 + text.size() + 1 + 63) / 64 * 64;
  text.append(total - 10 - text.size() - 1, ' ');
  text += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(text.size() & 0xFF);
  out += static_cast<char>(text.size() >> 8);
  return out + text;
}

TEST(NpyTest, RoundTripsEveryNumpyDtype) {
  TempDir dir;
  for (DType d : kAllDTypes) {
    if (d == DType::kBF16) continue;
    const auto path = dir / ("t_" + std::string(safetensors_name(d)) + ".npy");
    Tensor t = Tensor::from_doubles(d, {2, 3}, {0, 1, 2, 3, 4, 5});
    ASSERT_TRUE(write_npy(path, t).ok());
    auto back = read_npy(path);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(back->dtype(), d);
    EXPECT_EQ(back->shape(), (Shape{2, 3}));
    EXPECT_EQ(back->to_doubles(), t.to_doubles()) << safetensors_name(d);
  }
}

TEST(NpyTest, WritesTheNumpyHeaderExactly) {
  TempDir dir;
  const auto path = dir / "a.npy";
  ASSERT_TRUE(
      write_npy(path, Tensor::from_vector<float>({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9})).ok());
  auto bytes = base::read_file(path);
  ASSERT_TRUE(bytes.ok());
  const std::string expected_header =
      v1_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }");
  ASSERT_EQ(expected_header.size(), 128u);
  EXPECT_EQ(bytes->substr(0, 128), expected_header);
  EXPECT_EQ(bytes->size(), 128u + 36u);

  auto one_d = encode_npy_header(DType::kI64, {5});
  ASSERT_TRUE(one_d.ok());
  EXPECT_NE(one_d->find("'shape': (5,), }"), std::string::npos);
  auto scalar = encode_npy_header(DType::kF64, {});
  ASSERT_TRUE(scalar.ok());
  EXPECT_NE(scalar->find("'shape': (), }"), std::string::npos);
  EXPECT_EQ(scalar->size() % 64, 0u);
}

TEST(NpyTest, ReadsAHandWrittenFile) {
  TempDir dir;
  const auto path = dir / "hand.npy";
  // Double quotes, no trailing comma, extra spaces: still a valid Python literal.
  write_raw(path, v1_header(R"({"descr": "<i4",  'fortran_order':False, 'shape': (2,2)})") +
                      raw_bytes(std::vector<int32_t>{1, -2, 3, -4}));
  auto t = read_npy(path);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->dtype(), DType::kI32);
  EXPECT_EQ(t->shape(), (Shape{2, 2}));
  EXPECT_EQ(t->to_doubles(), (std::vector<double>{1, -2, 3, -4}));
}

TEST(NpyTest, ReadsVersion2Headers) {
  TempDir dir;
  const auto path = dir / "v2.npy";
  std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }";
  std::string text =
      dict + std::string((12 + dict.size() + 1 + 63) / 64 * 64 - 12 - dict.size() - 1, ' ') + "\n";
  std::string file = "\x93NUMPY";
  file += '\x02';
  file += '\x00';
  for (int i = 0; i < 4; ++i) file += static_cast<char>((text.size() >> (8 * i)) & 0xFF);
  file += text + "\x07\x08\x09";
  write_raw(path, file);
  auto t = read_npy(path);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->to_doubles(), (std::vector<double>{7, 8, 9}));
}

TEST(NpyTest, RejectsUnsupportedFilesNamingTheFile) {
  TempDir dir;
  struct Case {
    std::string name;
    std::string bytes;
    std::string reason;
  } cases[] = {
      {"fortran",
       v1_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }") +
           std::string(16, '\0'),
       "fortran_order True"},
      {"bigendian",
       v1_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }") +
           std::string(8, '\0'),
       "big-endian"},
      {"unknown",
       v1_header("{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }") +
           std::string(32, '\0'),
       "unsupported dtype '<c16'"},
      {"truncated",
       v1_header("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }") +
           std::string(20, '\0'),
       "truncated"},
      {"magic", "PK\x03\x04 not numpy", "magic"},
      {"malformed", v1_header("{'descr': '<f8', 'shape': [4], }"), "malformed header"},
      {"missing_key", v1_header("{'descr': '<f8', 'shape': (4,), }") + std::string(32, '\0'),
       "fortran_order"},
  };
  for (const auto& c : cases) {
    const auto path = dir / (c.name + ".npy");
    write_raw(path, c.bytes);
    auto t = read_npy(path);
    ASSERT_FALSE(t.ok()) << c.name;
    EXPECT_NE(t.status().message().find(path.string()), std::string::npos) << t.status().message();
    EXPECT_NE(t.status().message().find(c.reason), std::string::npos) << t.status().message();
  }
}

TEST(NpyTest, NumpyReadsOurFilesAndWeReadNumpys) {
  if (!std::filesystem::exists("/usr/bin/python3") ||
      testing::run_python({"-c", "import numpy"}).exit_code != 0) {
    GTEST_SKIP() << "/usr/bin/python3 cannot import numpy";
  }
  TempDir dir;
  ASSERT_TRUE(
      write_npy(dir / "ours.npy", Tensor::from_doubles(DType::kF16, {2, 2}, {1.5, -2, 3, 4})).ok());
  ASSERT_TRUE(write_npy(dir / "scalar.npy", Tensor::from_vector<double>({}, {3.25})).ok());
  const std::string script = R"PY(
import sys, numpy as np
d = sys.argv[1]
a = np.load(d + "/ours.npy")
assert a.dtype == np.float16 and a.shape == (2, 2) and a.tolist() == [[1.5, -2.0], [3.0, 4.0]], a
s = np.load(d + "/scalar.npy")
assert s.dtype == np.float64 and s.shape == () and float(s) == 3.25, s
np.save(d + "/theirs.npy", np.arange(6, dtype=np.int16).reshape(3, 2) - 2)
np.save(d + "/flags.npy", np.array([True, False, True]))
print("ok")
)PY";
  auto r = testing::run_python({"-c", script, dir.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto theirs = read_npy(dir / "theirs.npy");
  ASSERT_TRUE(theirs.ok()) << theirs.status().to_string();
  EXPECT_EQ(theirs->dtype(), DType::kI16);
  EXPECT_EQ(theirs->shape(), (Shape{3, 2}));
  EXPECT_EQ(theirs->to_doubles(), (std::vector<double>{-2, -1, 0, 1, 2, 3}));
  auto flags = read_npy(dir / "flags.npy");
  ASSERT_TRUE(flags.ok()) << flags.status().to_string();
  EXPECT_EQ(flags->dtype(), DType::kBool);
  EXPECT_EQ(flags->to_doubles(), (std::vector<double>{1, 0, 1}));
}

TEST(NpyTest, RefusesToWriteBf16) {
  TempDir dir;
  auto s = write_npy(dir / "b.npy", Tensor::from_doubles(DType::kBF16, {1}, {1}));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("BF16"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "b.npy"));
}

}  // namespace
}  // namespace nvf::tensor
