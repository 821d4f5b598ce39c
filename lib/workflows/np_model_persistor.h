// NPModelPersistor: FLARE's NumPy persistor (nvflare/app_common/np/np_model_persistor.py) for
// hello-numpy style jobs. The model is one array under the key "numpy_key".
//
// load(): an existing <run_dir>/<model_dir>/<model_name> (np.load, so a restarted job resumes),
// else the initial checkpoint (.npy), else the initial model given in args (a nested list, as
// float32), else FLARE's default [[1,2,3],[4,5,6],[7,8,9]] float32.
// save(): <run_dir>/<model_dir>/<model_name> exactly as np.save writes it, and beside it
// <stem>.safetensors holding every param (atomic writes). FLARE's NumPy persistor keeps no best
// model, so is_best / save_best write nothing more.
//
// Threads: one call at a time (the controller's).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/logging.h"
#include "config/value.h"
#include "workflows/persistor.h"

namespace nvf::fl {

/// The key FLARE's NumPy workflows use for the single array.
inline constexpr std::string_view kNumpyKey = "numpy_key";

struct NPModelPersistorOptions {
  std::string model_dir = "models";
  std::string model_name = "server.npy";
  /// A number or nested list of numbers (FLARE's initial_model / model); null: the default 3x3.
  config::Value initial_model;
  /// An .npy file (absolute, or relative to <app_dir>/custom); empty: none.
  std::filesystem::path initial_ckpt;
};

class NPModelPersistor : public ModelPersistor {
 public:
  /// Errors: INVALID_ARGUMENT when initial_model is not a rectangular nested list of numbers, or
  /// model_dir / model_name would leave the run directory.
  static Result<std::unique_ptr<NPModelPersistor>> create(PersistorContext context,
                                                          NPModelPersistorOptions options,
                                                          base::Logger logger = nullptr);

  /// Errors: the .npy reader's (naming the file) for an existing but unreadable model file or
  /// initial checkpoint; NOT_FOUND for a missing initial checkpoint.
  Result<FLModel> load() override;
  /// Errors: INVALID_ARGUMENT when the model has no "numpy_key" (and not exactly one tensor) or
  /// holds BF16; file errors naming the path.
  Status save(const FLModel& global, bool is_best) override;
  Status save_best(const FLModel&) override { return Status::OK(); }

  std::filesystem::path model_path() const;
  std::filesystem::path safetensors_path() const;

 private:
  NPModelPersistor(PersistorContext context, NPModelPersistorOptions options,
                   tensor::Tensor initial, base::Logger logger);

  PersistorContext context_;
  NPModelPersistorOptions options_;
  tensor::Tensor initial_;
  base::Logger logger_;
};

/// A float32 tensor from a number or a nested list of numbers ([[1,2],[3,4]] -> shape [2, 2]).
/// Errors: INVALID_ARGUMENT for a ragged list or a non-number element (naming its index path).
Result<tensor::Tensor> tensor_from_nested_list(const config::Value& value);

}  // namespace nvf::fl
