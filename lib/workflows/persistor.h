// ModelPersistor: where the server's global model comes from and where it is saved (FLARE's
// ModelPersistor / ModelLearnable persistors). Implementations: NPModelPersistor
// (np_model_persistor.h) and PTFileModelPersistor (pt_file_model_persistor.h).
//
// Paths come from the caller through a PersistorContext, never from globals, so the simulator can
// run many jobs in one process. Threads: a persistor is used by its controller, one call at a time.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"
#include "fl/component_registry.h"
#include "fl/fl_model.h"

namespace nvf::fl {

struct PersistorContext {
  /// The job's run directory (server: <workspace>/<job_id>; simulator: .../simulate_job).
  std::filesystem::path run_dir;
  /// The server app's root inside run_dir (app_server); FLARE's app_root.
  std::filesystem::path app_dir;
};

class ModelPersistor : public Component {
 public:
  /// The initial global model, params_type FULL.
  virtual Result<FLModel> load() = 0;

  /// Saves the global model; when `is_best`, also writes the best-model files.
  virtual Status save(const FLModel& global, bool is_best) = 0;
  /// As save(), but the persistor may still be writing when it returns (a large model's files take
  /// seconds, which the next round can overlap). It keeps reading `global`'s tensors until flush()
  /// or its next call returns, so the caller must not change them in place before; errors of the
  /// write come from that call. Default: save().
  virtual Status save_in_background(const FLModel& global, bool is_best) { return save(global, is_best); }
  /// Waits for a save still being written. Errors: that save's.
  virtual Status flush() { return Status::OK(); }

  /// Writes only the best-model files (FLARE's GLOBAL_BEST_MODEL_AVAILABLE: the model the clients
  /// just evaluated, before the round's update). Persistors without best files do nothing.
  virtual Status save_best(const FLModel& model) = 0;
};

/// OK for a non-empty relative path without ".." (a file name under the run or app directory).
/// Errors: INVALID_ARGUMENT naming `arg`.
inline Status check_relative_name(std::string_view arg, const std::string& name) {
  const std::filesystem::path p(name);
  bool climbs = false;
  for (const auto& part : p) climbs |= part == "..";
  if (name.empty() || p.is_absolute() || climbs) {
    return InvalidArgumentError(std::string(arg) + " '" + name +
                                "' must be a relative path inside the job's directory");
  }
  return Status::OK();
}

}  // namespace nvf::fl
