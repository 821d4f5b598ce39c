#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numbers>
#include <string_view>
#include <system_error>
#include <utility>

#include "base/files.h"
#include "tensor/npy.h"
#include "tensor/safetensors.h"
#include "trainer/data_internal.h"

namespace nvf::trainer {
namespace {

namespace fs = std::filesystem;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

// ---- synthetic task ---------------------------------------------------------------------------
// Ten smooth class prototypes (3x4x4 Gaussian noise, bilinearly upsampled to 3x32x32, scaled to a
// standard deviation of 0.5) come from a fixed seed that every site shares, so all sites learn the
// same task. A sample is its class prototype, circularly shifted by up to kMaxShift pixels, times
// a random contrast in [0.6, 1.4], plus Gaussian noise of kNoise: a signal well below the noise per
// pixel, which a small CNN learns over a few rounds (measured with SimpleNetwork, 2 sites, SGD lr
// 0.01 momentum 0.9, batch 16: ~0.1 at random init, ~0.4 after one FedAvg round, > 0.8 after 4).
// Each site draws labels with its own class balance and noise from its own seed.
constexpr uint64_t kPrototypeSeed = 0x5EEDC1FA510ull;
constexpr int kClasses = 10;
constexpr int kChannels = 3;
constexpr int kSide = 32;
constexpr int kLowSide = 4;
constexpr int kMaxShift = 4;
constexpr double kNoise = 3.0;
constexpr double kPrototypeStd = 0.5;

// Bilinear upsampling kLowSide -> kSide with PyTorch's align_corners=False convention.
std::vector<float> upsample(const std::vector<double>& low) {
  std::vector<float> out(kChannels * kSide * kSide);
  const double ratio = static_cast<double>(kLowSide) / kSide;
  auto coord = [&](int dst, int& i0, int& i1, double& w1) {
    double src = std::max(0.0, (dst + 0.5) * ratio - 0.5);
    i0 = std::min(static_cast<int>(src), kLowSide - 1);
    i1 = std::min(i0 + 1, kLowSide - 1);
    w1 = src - i0;
  };
  for (int c = 0; c < kChannels; ++c) {
    const double* plane = low.data() + c * kLowSide * kLowSide;
    for (int y = 0; y < kSide; ++y) {
      int y0, y1;
      double wy;
      coord(y, y0, y1, wy);
      for (int x = 0; x < kSide; ++x) {
        int x0, x1;
        double wx;
        coord(x, x0, x1, wx);
        double top = plane[y0 * kLowSide + x0] * (1 - wx) + plane[y0 * kLowSide + x1] * wx;
        double bottom = plane[y1 * kLowSide + x0] * (1 - wx) + plane[y1 * kLowSide + x1] * wx;
        out[(c * kSide + y) * kSide + x] = static_cast<float>(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return out;
}

std::vector<std::vector<float>> make_prototypes() {
  Rng rng(kPrototypeSeed);
  std::vector<std::vector<float>> protos;
  for (int k = 0; k < kClasses; ++k) {
    std::vector<double> low(kChannels * kLowSide * kLowSide);
    for (double& v : low) v = rng.normal();
    std::vector<float> p = upsample(low);
    double mean = 0, sq = 0;
    for (float v : p) mean += v;
    mean /= static_cast<double>(p.size());
    for (float v : p) sq += (v - mean) * (v - mean);
    double scale = kPrototypeStd / std::sqrt(sq / static_cast<double>(p.size()));
    for (float& v : p) v = static_cast<float>(v * scale);
    protos.push_back(std::move(p));
  }
  return protos;
}

// Cumulative class weights: balanced for site 0, otherwise a site-specific cosine tilt (each
// class keeps at least a quarter of the largest class's weight).
std::vector<double> class_cdf(int site_index) {
  std::vector<double> cdf(kClasses);
  double total = 0;
  for (int c = 0; c < kClasses; ++c) {
    double w = site_index == 0
                   ? 1.0
                   : 1.0 + 0.6 * std::cos(2 * std::numbers::pi * (c + 3 * site_index) / kClasses);
    total += w;
    cdf[c] = total;
  }
  for (double& v : cdf) v /= total;
  return cdf;
}

// ---- helpers ------------------------------------------------------------------------------------

Status bad(const std::string& where, const std::string& what) {
  return InvalidArgumentError(where + ": " + what);
}

// Errors from our readers (NOT_FOUND, DATA_LOSS, ...) become INVALID_ARGUMENT naming the file.
Status as_invalid(const Status& s, const std::string& what, const fs::path& path) {
  std::string msg = s.message();
  if (msg.find(path.string()) == std::string::npos) msg = path.string() + ": " + msg;
  return InvalidArgumentError("cannot read " + what + " " + msg);
}

bool is_integer_dtype(DType d) {
  return d == DType::kI64 || d == DType::kI32 || d == DType::kI16 || d == DType::kI8 ||
         d == DType::kU8;
}

std::vector<int64_t> iota(int64_t begin, int64_t end) {
  std::vector<int64_t> v;
  v.reserve(static_cast<size_t>(std::max<int64_t>(0, end - begin)));
  for (int64_t i = begin; i < end; ++i) v.push_back(i);
  return v;
}

// Splits rows [0, n) into train/validation after a seeded shuffle.
Status split(Dataset& d, int64_t n, const TrainOptions& o) {
  std::vector<int64_t> rows = iota(0, n);
  Rng(mix_seed(mix_seed(o.seed, 0x5B117), static_cast<uint64_t>(o.site_index))).shuffle(rows);
  auto n_val = static_cast<int64_t>(std::llround(static_cast<double>(n) * o.val_fraction));
  if (o.val_fraction > 0 && n_val == 0) n_val = 1;
  if (n - n_val < 1) {
    return bad(d.source, "too few samples (" + std::to_string(n) + ") for a training split with " +
                             "val_fraction " + std::to_string(o.val_fraction));
  }
  d.val_index.assign(rows.begin(), rows.begin() + n_val);
  d.train_index.assign(rows.begin() + n_val, rows.end());
  std::sort(d.val_index.begin(), d.val_index.end());
  if (n_val == 0) d.val_index = d.train_index;  // evaluate on the training split
  return Status::OK();
}

int64_t capped(int64_t n, int64_t max_samples) {
  return max_samples > 0 ? std::min(n, max_samples) : n;
}

// ---- CIFAR-10 binary ----------------------------------------------------------------------------

constexpr size_t kCifarImage = 3 * 32 * 32;
constexpr size_t kCifarRecord = 1 + kCifarImage;

// Appends up to `limit` records of `path` to `pixels`/`labels`.
Status read_cifar_file(const fs::path& path, int64_t limit, std::vector<uint8_t>& pixels,
                       std::vector<int64_t>& labels) {
  auto bytes = base::read_file(path);
  if (!bytes.ok()) return as_invalid(bytes.status(), "CIFAR-10 batch", path);
  const std::string& b = *bytes;
  if (b.empty() || b.size() % kCifarRecord != 0) {
    return bad(path.string(), "size " + std::to_string(b.size()) +
                                  " is not a positive multiple of 3073 bytes (1 label byte + " +
                                  "3072 pixel bytes); is this the CIFAR-10 binary version?");
  }
  int64_t records = static_cast<int64_t>(b.size() / kCifarRecord);
  for (int64_t r = 0; r < records && static_cast<int64_t>(labels.size()) < limit; ++r) {
    const auto* rec = reinterpret_cast<const uint8_t*>(b.data()) + r * kCifarRecord;
    if (rec[0] >= kClasses) {
      return bad(path.string(), "record " + std::to_string(r) + " has label " +
                                    std::to_string(rec[0]) + ", outside [0, 10)");
    }
    labels.push_back(rec[0]);
    pixels.insert(pixels.end(), rec + 1, rec + kCifarRecord);
  }
  return Status::OK();
}

Result<Dataset> load_cifar(const fs::path& dir, const TrainOptions& o) {
  std::vector<fs::path> batches;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with("data_batch_") && name.ends_with(".bin")) batches.push_back(it->path());
  }
  if (ec) return bad(dir.string(), "cannot list the CIFAR-10 directory: " + ec.message());
  if (batches.empty()) {
    return bad(dir.string(),
               "no data_batch_*.bin files (expected the CIFAR-10 binary version: "
               "data_batch_1.bin ... data_batch_5.bin, test_batch.bin)");
  }
  std::sort(batches.begin(), batches.end());
  const int64_t limit = capped(std::numeric_limits<int64_t>::max(), o.max_samples);
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  for (const fs::path& p : batches) {
    if (static_cast<int64_t>(labels.size()) >= limit) break;
    NVF_RETURN_IF_ERROR(read_cifar_file(p, limit, pixels, labels));
  }
  const auto n_train = static_cast<int64_t>(labels.size());
  fs::path test = dir / "test_batch.bin";
  bool has_test = fs::exists(test, ec);
  if (has_test) {
    const int64_t test_limit = o.max_samples > 0 ? n_train + o.max_samples : limit;
    NVF_RETURN_IF_ERROR(read_cifar_file(test, test_limit, pixels, labels));
  }
  const auto n = static_cast<int64_t>(labels.size());

  Dataset d;
  d.source = dir.string();
  d.x = Tensor::from_vector<uint8_t>({n, 3, 32, 32}, pixels);
  d.y = Tensor::from_vector<int64_t>({n}, labels);
  d.scale = 2.0 / 255.0;  // (x/255 - 0.5)/0.5
  d.shift = -1.0;
  d.num_classes = kClasses;
  if (has_test) {
    d.train_index = iota(0, n_train);
    d.val_index = iota(n_train, n);
    return d;
  }
  NVF_RETURN_IF_ERROR(split(d, n, o));
  return d;
}

// ---- tensor files -------------------------------------------------------------------------------

// One tensor from a .npy file, or from a .safetensors file holding one tensor or one named
// `role` ("x"/"y", any case).
Result<Tensor> load_tensor_file(const fs::path& path, const std::string& role) {
  std::string ext = path.extension().string();
  if (ext == ".npy") {
    auto t = tensor::read_npy(path);
    if (!t.ok()) return as_invalid(t.status(), role + " tensor file", path);
    return std::move(t).value();
  }
  if (ext != ".safetensors") {
    return bad(path.string(), "unknown tensor file type '" + ext + "' (use .npy or .safetensors)");
  }
  auto reader = tensor::SafetensorsReader::open(path);
  if (!reader.ok()) return as_invalid(reader.status(), role + " tensor file", path);
  if (reader->size() == 1) return reader->tensor(reader->infos()[0].name);
  for (const auto& info : reader->infos()) {
    std::string lower = info.name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == role) return reader->tensor(info.name);
  }
  std::string names;
  for (const auto& n : reader->names()) names += (names.empty() ? "" : ", ") + n;
  return bad(path.string(), "holds " + std::to_string(reader->size()) + " tensors [" + names +
                                "] and none is named '" + role + "'");
}

Result<Dataset> load_tensors(std::string_view spec, const TrainOptions& o) {
  size_t comma = spec.find(',');
  if (comma == std::string_view::npos) {
    return bad("data '" + std::string(spec) + "'", "expected tensors:X_PATH,Y_PATH");
  }
  fs::path x_path(spec.substr(0, comma)), y_path(spec.substr(comma + 1));
  NVF_ASSIGN_OR_RETURN(Tensor x, load_tensor_file(x_path, "x"));
  NVF_ASSIGN_OR_RETURN(Tensor y, load_tensor_file(y_path, "y"));
  if (x.dtype() == DType::kBool || x.shape().size() < 2 || x.shape()[0] < 1) {
    return bad(x_path.string(), "samples must be a numeric tensor [N, ...] with N >= 1, got " +
                                    std::string(tensor::safetensors_name(x.dtype())) + " " +
                                    tensor::shape_to_string(x.shape()));
  }
  const int64_t n = x.shape()[0];
  bool column = y.shape().size() == 2 && y.shape()[1] == 1;
  if (!(y.shape().size() == 1 || column) || y.shape()[0] != n) {
    return bad(y_path.string(), "labels must have shape [" + std::to_string(n) +
                                    "] to match the samples, got " +
                                    tensor::shape_to_string(y.shape()));
  }
  if (!is_integer_dtype(y.dtype())) {
    return bad(y_path.string(),
               "labels must be integers, got " + std::string(tensor::safetensors_name(y.dtype())));
  }
  std::vector<int64_t> labels(static_cast<size_t>(n));
  int64_t max_label = 0;
  for (int64_t i = 0; i < n; ++i) {
    auto v = static_cast<int64_t>(y.value_as_double(static_cast<size_t>(i)));
    if (v < 0) return bad(y_path.string(), "label " + std::to_string(i) + " is negative");
    labels[static_cast<size_t>(i)] = v;
    max_label = std::max(max_label, v);
  }
  Dataset d;
  d.source = std::string(spec);
  d.x = std::move(x);
  d.y = Tensor::from_vector<int64_t>({n}, labels);
  d.num_classes = max_label + 1;
  NVF_RETURN_IF_ERROR(split(d, capped(n, o.max_samples), o));
  return d;
}

// ---- CSV ----------------------------------------------------------------------------------------

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Parses a comma-separated numeric line; false when any field is not a number.
bool parse_row(std::string_view line, std::vector<double>& out) {
  out.clear();
  while (true) {
    size_t comma = line.find(',');
    std::string_view field = trim(line.substr(0, comma));
    if (!field.empty() && field.front() == '+') field.remove_prefix(1);
    double v = 0;
    auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
    if (field.empty() || ec != std::errc() || ptr != field.data() + field.size()) return false;
    out.push_back(v);
    if (comma == std::string_view::npos) return true;
    line.remove_prefix(comma + 1);
  }
}

Result<Dataset> load_csv(const fs::path& path, const TrainOptions& o) {
  auto text = base::read_file(path);
  if (!text.ok()) return as_invalid(text.status(), "CSV file", path);
  std::vector<float> features;
  std::vector<int64_t> labels;
  std::vector<double> row;
  size_t columns = 0;
  int line_no = 0;
  bool first = true;
  const int64_t limit = capped(std::numeric_limits<int64_t>::max(), o.max_samples);
  std::string_view rest = *text;
  while (!rest.empty() && static_cast<int64_t>(labels.size()) < limit) {
    size_t nl = rest.find('\n');
    std::string_view line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    std::string where = path.string() + ":" + std::to_string(line_no);
    if (!parse_row(line, row)) {
      if (first) {  // a header line
        first = false;
        continue;
      }
      return bad(where, "not a row of numbers");
    }
    first = false;
    if (columns == 0) columns = row.size();
    if (columns < 2) return bad(where, "need at least one feature column and a label column");
    if (row.size() != columns) {
      return bad(where,
                 std::to_string(row.size()) + " columns, expected " + std::to_string(columns));
    }
    double label = row.back();
    if (label < 0 || label != std::floor(label) || label > 1e9) {
      return bad(where, "label " + std::to_string(label) + " is not a non-negative integer");
    }
    labels.push_back(static_cast<int64_t>(label));
    for (size_t i = 0; i + 1 < columns; ++i) features.push_back(static_cast<float>(row[i]));
  }
  if (labels.empty()) return bad(path.string(), "no data rows");
  const auto n = static_cast<int64_t>(labels.size());
  Dataset d;
  d.source = path.string();
  d.x = Tensor::from_vector<float>({n, static_cast<int64_t>(columns - 1)}, features);
  d.y = Tensor::from_vector<int64_t>({n}, labels);
  d.num_classes = *std::max_element(labels.begin(), labels.end()) + 1;
  NVF_RETURN_IF_ERROR(split(d, n, o));
  return d;
}

Status check_options(const TrainOptions& o) {
  if (!(o.val_fraction >= 0 && o.val_fraction < 1)) {
    return InvalidArgumentError("val_fraction " + std::to_string(o.val_fraction) +
                                " is outside [0, 1)");
  }
  if (o.site_index < 0) return InvalidArgumentError("site_index must be >= 0");
  if (o.max_samples < 0) return InvalidArgumentError("max_samples must be >= 0");
  return Status::OK();
}

}  // namespace

// ---- public (module-internal) functions ---------------------------------------------------------

uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Rng::Rng(uint64_t seed) {
  for (int i = 0; i < 4; ++i) s_[i] = mix_seed(seed, static_cast<uint64_t>(i));
}

uint64_t Rng::next() {
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 1.0 - uniform();  // (0, 1]
  double u2 = uniform();
  double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2 * std::numbers::pi * u2);
  has_spare_ = true;
  return r * std::cos(2 * std::numbers::pi * u2);
}

uint64_t Rng::below(uint64_t n) {
  // Lemire's multiply-shift; the bias (< n / 2^64) is irrelevant here.
  return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
}

void Rng::shuffle(std::vector<int64_t>& v) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
}

tensor::Shape Dataset::sample_shape() const {
  return tensor::Shape(x.shape().begin() + 1, x.shape().end());
}

Dataset make_synthetic(int64_t n, int site_index, uint64_t seed) {
  static_assert(kChannels * kSide * kSide == kCifarImage);
  const std::vector<std::vector<float>> protos = make_prototypes();
  const std::vector<double> cdf = class_cdf(site_index);
  Rng rng(mix_seed(mix_seed(seed, 0x5417E), static_cast<uint64_t>(site_index)));
  auto x = Tensor::zeros(DType::kF32, {n, kChannels, kSide, kSide});
  NVF_CHECK(x.ok());
  auto out = x->mutable_view<float>();
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double u = rng.uniform();
    int label = static_cast<int>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
    label = std::min(label, kClasses - 1);
    labels[static_cast<size_t>(i)] = label;
    const int dy = static_cast<int>(rng.below(2 * kMaxShift + 1)) - kMaxShift;
    const int dx = static_cast<int>(rng.below(2 * kMaxShift + 1)) - kMaxShift;
    const double contrast = 0.6 + 0.8 * rng.uniform();
    const std::vector<float>& p = protos[static_cast<size_t>(label)];
    float* dst = out.data() + i * static_cast<int64_t>(kCifarImage);
    for (int c = 0; c < kChannels; ++c) {
      for (int y = 0; y < kSide; ++y) {
        const int sy = (y - dy + kSide) % kSide;
        for (int xx = 0; xx < kSide; ++xx) {
          const int sx = (xx - dx + kSide) % kSide;
          double v = p[(c * kSide + sy) * kSide + sx] * contrast + kNoise * rng.normal();
          dst[(c * kSide + y) * kSide + xx] = static_cast<float>(v);
        }
      }
    }
  }
  Dataset d;
  d.source = "synthetic (site " + std::to_string(site_index) + ")";
  d.x = std::move(x).value();
  d.y = Tensor::from_vector<int64_t>({n}, labels);
  d.num_classes = kClasses;
  return d;
}

Result<Dataset> load_dataset(const TrainOptions& o) {
  NVF_RETURN_IF_ERROR(check_options(o));
  const std::string& spec = o.data;
  if (spec.empty() || spec == "synthetic") {
    const int64_t n = o.max_samples > 0 ? o.max_samples : kSyntheticSamples;
    Dataset d = make_synthetic(n, o.site_index, o.seed);
    NVF_RETURN_IF_ERROR(split(d, n, o));
    return d;
  }
  if (spec.starts_with("tensors:")) return load_tensors(std::string_view(spec).substr(8), o);
  std::error_code ec;
  fs::path path(spec);
  if (fs::is_directory(path, ec)) return load_cifar(path, o);
  if (path.extension() == ".csv") return load_csv(path, o);
  return InvalidArgumentError(
      "data '" + spec +
      "' is not 'synthetic', an existing CIFAR-10 binary directory, 'tensors:X_PATH,Y_PATH' or a "
      ".csv file");
}

}  // namespace nvf::trainer
