// LocalTrainer: the LibTorch training core of `nvflare train` — one site's model, data and
// optimizer, driven round by round with global weights in and local weights out (spec/workflows.md
// §0.4; FedProx §5). A library without networking: the Client API loop calls it.
//
// The boundary carries our own tensor::TensorDict (names = PyTorch state_dict keys), so this header
// pulls in no LibTorch header; only the trainer's .cc files do (DESIGN §4.3).
//
// Models (TrainOptions::model):
//   "simple_network"  FLARE hello-pt's SimpleNetwork (CIFAR-shaped input [3, 32, 32], 10 classes).
//   "mlp"             Linear(in, 64) - ReLU - Linear(64, classes) over flattened samples, sized
//   from
//                     the data ("mlp:IN:CLASSES" fixes the sizes, e.g. for export_initial_params).
//   a path to a .pt   a TorchScript module: script your model in Python with
//                     `torch.jit.script(model).save(path)` and train it here. Its named parameters
//                     and buffers are the state dict; its forward takes a float batch [B, ...] and
//                     returns logits [B, classes].
// Data (TrainOptions::data):
//   "synthetic" / ""  a deterministic CIFAR-shaped task [N, 3, 32, 32], 10 classes (see data.cc);
//                     site_index gives each site its own class balance and noise.
//   a directory       CIFAR-10 binary batches: training from data_batch_*.bin, validation from
//                     test_batch.bin when present (otherwise split off by val_fraction); pixels are
//                     normalized to (x/255 - 0.5)/0.5.
//   "tensors:X,Y"     X float [N, ...] and integer labels y [N] from .safetensors or .npy files (a
//                     safetensors file holds one tensor, or tensors named "x"/"y").
//   a .csv file       numeric rows, last column the integer label; a non-numeric first line is a
//                     header and is skipped.
//
// Determinism: given the options (seed included), initial weights, data, splits, shuffles and
// therefore results are reproducible on one machine and thread count.
//
// Threads: a LibTorch trainer is used by one thread at a time. Several trainers may live in one
// process, but `threads` sets LibTorch's process-wide intra-op thread count.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "tensor/tensor.h"

namespace nvf::trainer {

struct TrainOptions {
  /// "simple_network" | "mlp" | "mlp:IN:CLASSES" | a path to a TorchScript .pt file.
  std::string model = "simple_network";
  /// "synthetic" (also when empty) | CIFAR-10 binary dir | "tensors:X_PATH,Y_PATH" | a .csv file.
  std::string data = "synthetic";
  /// 1-based site number for the synthetic data (0: balanced classes, no site twist).
  int site_index = 0;
  int epochs = 1;
  int batch_size = 16;
  double lr = 0.01;
  /// SGD momentum (ignored by Adam).
  double momentum = 0.9;
  /// "sgd" | "adam". The optimizer lives as long as the trainer, so its state (momentum, Adam
  /// moments) carries over between rounds, as in FLARE's hello-pt client.
  std::string optimizer = "sgd";
  /// FedProx: loss += mu/2 * sum over parameters of ||w - w_global||^2. 0 disables it.
  double fedprox_mu = 0;
  /// Share of the samples held out for validation, in [0, 1). With 0, evaluation uses the
  /// training split.
  double val_fraction = 0.2;
  uint64_t seed = 0;
  /// Use at most this many samples of the source (0 = all; synthetic default: 1200 per site).
  int64_t max_samples = 0;
  /// LibTorch intra-op threads (torch::set_num_threads, process-wide); 0 leaves it unchanged.
  int threads = 1;
};

struct Metrics {
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // share of correct top-1 predictions, in [0, 1]
  int64_t samples = 0;  // samples the numbers are over
};

struct RoundResult {
  /// The new local weights (parameters and buffers), names = PyTorch state_dict keys. Owned
  /// copies: later rounds do not change them.
  tensor::TensorDict params;
  /// The received global model on the local validation split — FLARE's "accuracy" metric.
  Metrics eval_before;
  /// Running loss/accuracy over this round's training batches (samples = samples processed).
  Metrics train;
  /// NUM_STEPS_CURRENT_ROUND: optimizer steps taken this round.
  int64_t steps = 0;
};

class LocalTrainer {
 public:
  /// Builds the model (initialized from `options.seed`), loads and splits the data, checks that
  /// model and data fit (a trial forward pass) and creates the optimizer.
  /// Errors: INVALID_ARGUMENT for a bad option (naming it), an unknown model spec, an unreadable or
  /// malformed data file or TorchScript file (naming the file and what is wrong), labels out of
  /// range, or data whose sample shape the model cannot take.
  static Result<std::unique_ptr<LocalTrainer>> create(const TrainOptions& options);

  ~LocalTrainer();
  LocalTrainer(const LocalTrainer&) = delete;
  LocalTrainer& operator=(const LocalTrainer&) = delete;

  /// The current local weights in state_dict order (after create(): the initial weights).
  /// Owned copies. Errors: INTERNAL if LibTorch fails.
  Result<tensor::TensorDict> initial_params() const;

  /// Loads `params` into the model and evaluates it on the validation split (no weight update).
  /// Errors: INVALID_ARGUMENT when a name is missing or extra or a shape differs (naming the
  /// tensor and both shapes; the model is then unchanged); INTERNAL if LibTorch fails.
  Result<Metrics> evaluate(const tensor::TensorDict& params);

  /// One FL round: loads `global_params`, evaluates them (eval_before), trains `epochs` local
  /// epochs (with the FedProx term when fedprox_mu > 0) and returns the new weights.
  /// Errors: as evaluate(); INTERNAL if training fails or the loss becomes non-finite.
  Result<RoundResult> train(const tensor::TensorDict& global_params);

  /// SCAFFOLD (nvflare/scaffold.h): after every optimizer step of train(), w −= lr·correction[name]
  /// for each state entry with a correction. An empty dict turns it off. Errors: INVALID_ARGUMENT
  /// for a name the model lacks or a shape that differs.
  Status set_step_correction(const tensor::TensorDict& correction);

  const TrainOptions& options() const;
  /// Samples in the training and validation splits.
  int64_t num_train_samples() const;
  int64_t num_val_samples() const;

 private:
  struct Impl;
  explicit LocalTrainer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The initial weights of `model_spec` (as TrainOptions::model; "mlp" needs "mlp:IN:CLASSES")
/// initialized from `seed` — a TorchScript file's weights are those saved in it. For a helper
/// executable, so that servers, which never load LibTorch, can get a model's initial weights.
/// Errors: INVALID_ARGUMENT for an unknown spec or an unreadable TorchScript file.
Result<tensor::TensorDict> export_initial_params(const std::string& model_spec, uint64_t seed);

}  // namespace nvf::trainer
