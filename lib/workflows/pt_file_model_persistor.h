// PTFileModelPersistor: FLARE's PyTorch file persistor (nvflare/app_opt/pt/file_model_persistor.py,
// workflows spec §4.1) without LibTorch.
//
// load(): the source checkpoint (absolute or relative to <app_dir>/custom; it must exist), else a
// TorchScript model file's saved weights, else the model-zoo architecture initialized natively
// (model_zoo.h), or the job's own Python model class (made once by Python, see
// python_class_path). A .safetensors file is read directly; a PyTorch/TorchScript file (.pt, .pth, .ts,
// .jit, .ckpt) is converted once by the LibTorch helper `nvflare-train --model FILE
// --export-initial <run_dir>/initial_model.safetensors`, run as a child process, so this process
// never loads LibTorch (DESIGN §4.3). The helper reads TorchScript files (torch.jit.save); a plain
// torch.save() state dict is refused with its message (convert it to .safetensors). Keys that
// match exclude_vars are left out of the model handed to the controller but kept in the stored
// state dict.
// save(): merges the global model into the stored state dict (keys it lacks keep their stored
// values, read back from the last file written or the initial source, never held in memory) and
// writes <app_dir>/FL_global_model.pt ({"model": OrderedDict}, readable by torch.load) and
// <app_dir>/FL_global_model.safetensors with bit-identical tensors; with is_best (or save_best)
// also best_FL_global_model.pt / .safetensors. Every write is atomic.
//
// Threads: one call at a time (the controller's).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "base/logging.h"
#include "workflows/model_zoo.h"
#include "workflows/persistor.h"

namespace nvf::fl {

struct PTFileModelPersistorOptions {
  /// Regex (re.search) of keys kept out of the model sent to clients. Empty: none.
  std::string exclude_vars;
  /// The initial architecture, when no source checkpoint is given.
  std::optional<ModelArchitecture> model;
  /// Seed of the native initialization of `model`.
  uint64_t seed = 0;
  std::string global_model_file_name = "FL_global_model.pt";
  std::string best_global_model_file_name = "best_FL_global_model.pt";
  /// Initial checkpoint: absolute, or relative to <app_dir>/custom. Empty: none.
  std::filesystem::path source_ckpt_file_full_name;
  /// A TorchScript model file (the config's "model" naming a file): absolute, or relative to
  /// <app_dir>/custom. Its saved weights are the initial model. Empty: none.
  std::filesystem::path model_file;
  /// The LibTorch helper (nvflare-train) that converts PyTorch/TorchScript files. Empty: none.
  std::filesystem::path torch_helper;
  /// How long the helper may take.
  std::chrono::milliseconds torch_helper_timeout{300000};
  /// A PyTorch model class of the job (FLARE's {"path": "model.SimpleNetwork", "args": {...}} whose
  /// module is in <app_dir>/custom): its initial state_dict is made once by Python
  /// (python_class_path instantiated with python_class_args, JSON) through the nvflare package's
  /// nvflare._initial_model. Empty: none.
  std::string python_class_path;
  std::string python_class_args = "{}";
  std::filesystem::path python;               // the interpreter
  std::filesystem::path python_package_root;  // on PYTHONPATH
};


/// True for names of PyTorch/TorchScript files (.pt, .pth, .ts, .jit, .ckpt; any case).
bool is_torch_file_name(const std::filesystem::path& path);

class PTFileModelPersistor : public ModelPersistor, public EndRunListener {
 public:
  /// Deletes the scratch files the per-round saves keep (the versions before last).
  void end_run() override;
  /// Errors: INVALID_ARGUMENT for an invalid exclude_vars regex, file names that would leave the
  /// app directory or do not end in ".pt", or neither a model nor a checkpoint.
  static Result<std::unique_ptr<PTFileModelPersistor>> create(PersistorContext context,
                                                              PTFileModelPersistorOptions options,
                                                              base::Logger logger = nullptr);

  /// Errors: NOT_FOUND for a missing source checkpoint or model file; INVALID_ARGUMENT for a file
  /// that is neither .safetensors nor a PyTorch file; FAILED_PRECONDITION for a PyTorch file when
  /// the torch helper is not available (saying how to get it); the helper's own message when it
  /// fails or times out; the safetensors reader's errors naming the file.
  Result<FLModel> load() override;
  /// Errors: file errors naming the path; INVALID_ARGUMENT for tensors the writers refuse.
  Status save(const FLModel& global, bool is_best) override;
  /// Models of at least kDirectSaveBytes are written by a thread of the persistor; smaller ones
  /// as save() does.
  Status save_in_background(const FLModel& global, bool is_best) override;
  Status flush() override;
  Status save_best(const FLModel& model) override;
  ~PTFileModelPersistor() override;

  std::filesystem::path global_model_path() const;
  std::filesystem::path best_model_path() const;
  /// The safetensors twin of a .pt path ("x.pt" -> "x.safetensors").
  static std::filesystem::path safetensors_twin(const std::filesystem::path& pt);
  /// Models of at least this many bytes are saved bypassing the page cache (decision 024).
  static constexpr uint64_t kDirectSaveBytes = uint64_t{64} << 20;

 private:
  PTFileModelPersistor(PersistorContext context, PTFileModelPersistorOptions options,
                       std::optional<std::regex> exclude, base::Logger logger);

  /// The initial file as given, resolved and checked to exist ("" when the model zoo is used).
  Result<std::filesystem::path> source_path() const;
  /// The safetensors file holding the initial weights (converting a PyTorch file first).
  Result<std::filesystem::path> initial_safetensors();
  Result<std::filesystem::path> run_torch_helper(const std::filesystem::path& torch_file) const;
  Result<std::filesystem::path> run_python_model_class() const;
  Result<std::filesystem::path> run_initial_model_helper(
      const std::function<std::vector<std::string>(const std::filesystem::path& out)>& argv_of,
      std::map<std::string, std::string> env, const std::string& what, const std::string& hint) const;
  Result<tensor::TensorDict> load_initial() const;
  /// The stored value of every key (borrowed from the last file written, or the initial source).
  Result<tensor::TensorDict> stored_values() const;
  Result<tensor::TensorDict> merged(const FLModel& model) const;
  /// Writes `pt` and its twin; returns what was written for the log ("<pt> and its ... in 0.8 s").
  Result<std::string> write_pair(const std::filesystem::path& pt, const tensor::TensorDict& dict) const;
  /// save() and save_in_background(): the latter writes on saver_ when the model is large.
  Status save_pair(const FLModel& global, bool is_best, bool background);
  /// Writes the global files (and the best files when `is_best`) of `dict`, logging each.
  Status write_global(const tensor::TensorDict& dict, bool is_best) const;

  PersistorContext context_;
  PTFileModelPersistorOptions options_;
  std::optional<std::regex> exclude_;
  base::Logger logger_;
  std::vector<std::string> stored_names_;  // the state dict's keys, in order
  std::filesystem::path last_written_;     // safetensors holding the stored dict ("" before save)
  std::filesystem::path initial_file_;     // safetensors of the initial weights ("": model zoo)
  // A save_in_background() being written: its thread, and what it reports when joined.
  std::thread saver_;
  Status saver_status_;
  std::vector<std::string> saver_names_;   // stored_names_ once it succeeds
};

}  // namespace nvf::fl
