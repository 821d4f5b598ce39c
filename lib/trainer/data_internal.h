// Datasets of the trainer, private to lib/trainer: loading (synthetic, CIFAR-10 binary, tensor
// files, CSV) into our own tensors and the train/validation split. No LibTorch here: data.cc
// compiles without it, and the trainer views the tensors as at::Tensor without a copy.
//
// Plain values and stateless functions; a Rng is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "tensor/tensor.h"
#include "trainer/local_trainer.h"

namespace nvf::trainer {

/// Synthetic samples per site when max_samples is 0.
inline constexpr int64_t kSyntheticSamples = 1200;

/// A labelled dataset: samples x [N, ...] (any numeric dtype, e.g. CIFAR's bytes) and labels y
/// (I64 [N]); the model's input is float(x) * scale + shift. train_index and val_index list rows.
struct Dataset {
  tensor::Tensor x;
  tensor::Tensor y;
  double scale = 1.0;
  double shift = 0.0;
  int64_t num_classes = 0;  // 1 + the largest label; 10 for CIFAR-10 and synthetic
  std::vector<int64_t> train_index;
  std::vector<int64_t> val_index;
  std::string source;  // the data spec, for messages

  /// The shape of one sample (x's shape without the first dimension).
  tensor::Shape sample_shape() const;
};

/// Loads and splits the data named by options.data. Errors: INVALID_ARGUMENT naming the file
/// (or option) and what is wrong.
Result<Dataset> load_dataset(const TrainOptions& options);

/// The synthetic CIFAR-shaped task for site `site_index` (0 = balanced): `n` samples, F32
/// [n, 3, 32, 32], labels in [0, 10).
Dataset make_synthetic(int64_t n, int site_index, uint64_t seed);

/// Combines two seeds into one (splitmix64 of a mix), for independent derived streams.
uint64_t mix_seed(uint64_t a, uint64_t b);

/// A small deterministic generator (xoshiro256**), the same on every platform: data, splits and
/// shuffles do not depend on the standard library's distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  /// Uniform in [0, 1).
  double uniform();
  /// Standard normal (Box-Muller).
  double normal();
  /// Uniform integer in [0, n); n > 0.
  uint64_t below(uint64_t n);
  /// Fisher-Yates shuffle.
  void shuffle(std::vector<int64_t>& v);

 private:
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace nvf::trainer
