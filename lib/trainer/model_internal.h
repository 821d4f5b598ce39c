// The trainer's models behind one small interface, private to lib/trainer: the built-in
// SimpleNetwork (FLARE hello-pt) and MLP, and TorchScript modules loaded from a file. models.cc is
// the only file that includes torch::nn and torch::jit.
//
// A Model is used by one thread at a time; its state() tensors alias the live weights.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "tensor/tensor.h"

namespace nvf::trainer {

/// One entry of a model's state dict: a parameter (trained) or a buffer (e.g. BatchNorm's running
/// statistics). `tensor` is the live tensor: writing it changes the model.
struct StateEntry {
  std::string name;
  at::Tensor tensor;
  bool is_parameter = true;
};

class Model {
 public:
  virtual ~Model() = default;
  /// Logits [B, classes] for a float batch [B, ...]. Throws c10::Error on bad input.
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  /// Parameters and buffers in PyTorch's state_dict order (per module: its parameters, its
  /// buffers, then its children).
  virtual std::vector<StateEntry> state() = 0;
  /// Training or evaluation mode (dropout, batch norm).
  virtual void set_training(bool on) = 0;
};

/// What the data says about the model's input; zeros when unknown (export without data).
struct DataShape {
  tensor::Shape sample_shape;
  int64_t num_classes = 0;
};

/// Builds the model named by `spec` (see TrainOptions::model). Built-in models are initialized
/// from `seed` with PyTorch's default distribution (uniform ±1/sqrt(fan_in)), independently of
/// LibTorch's global generator. Errors: INVALID_ARGUMENT for an unknown spec, sizes that do not
/// fit the data, or an unreadable TorchScript file (naming it).
Result<std::unique_ptr<Model>> make_model(const std::string& spec, const DataShape& data,
                                          uint64_t seed);

}  // namespace nvf::trainer
