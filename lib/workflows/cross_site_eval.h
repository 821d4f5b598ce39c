// Cross-site evaluation (FLARE's CrossSiteModelEval, workflows spec §9) and global-model
// evaluation (FLARE's EvalController / FedEval, §10), with the model locators they read server
// models from.
//
// CrossSiteModelEval: (1) the server's models, named by a ModelLocator, are stored as
// <run>/cross_site_val/model_shareables/SRV_<name>.safetensors; (2) every participant gets a
// submit_model task and answers with its local model (FULL), stored as
// model_shareables/<site>.safetensors; (3) every model — server models first — goes to every
// participant in a validate task (meta "_model_owner_" = the model's name) and each answer's
// metrics are stored in result_shareables/<site>_<owner>.json; (4)
// cross_site_val/cross_val_results.json holds {site: {owner: {metric: value}}}, FLARE's layout.
// Validation tasks of the different models run concurrently. A site that fails a validation
// appears with {"error": "..."} for that model (FLARE writes {}); a site that submits no model
// just has no column; the job completes either way.
//
// FedEval (EvalController): one validate task with the persistor's model to every client; the
// per-site metrics are logged and, unlike FLARE (which writes nothing), written to
// <run>/eval_results.json as {site: {metric: value}} (or {"error": ...}).
//
// Threads: run() on the controller thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "fl/component_registry.h"
#include "workflows/controller.h"
#include "workflows/persistor.h"
#include "workflows/pt_file_model_persistor.h"

namespace nvf::workflows {

/// FLARE's ModelLocator: the server models cross-site evaluation evaluates.
class ModelLocator : public fl::Component {
 public:
  /// The names of the models available now.
  virtual std::vector<std::string> model_names() const = 0;
  /// Errors: NOT_FOUND for a name that model_names() does not give; file errors naming the path.
  virtual Result<fl::FLModel> locate(const std::string& name) const = 0;
};

/// FLARE's NPModelLocator: .npy files, {name: file} relative to model_dir (relative to the run
/// folder unless absolute). Default {"server": "server.npy"} in "models", where NPModelPersistor
/// saves. A model is {"numpy_key": array}.
class NPModelLocator : public ModelLocator {
 public:
  NPModelLocator(std::filesystem::path model_dir, std::map<std::string, std::string> models);
  std::vector<std::string> model_names() const override;
  Result<fl::FLModel> locate(const std::string& name) const override;

 private:
  std::filesystem::path dir_;
  std::map<std::string, std::string> models_;
};

/// FLARE's PTFileModelLocator: the PT persistor's FL_global_model.pt and best_FL_global_model.pt
/// (those that exist), read from their safetensors twins.
class PTFileModelLocator : public ModelLocator {
 public:
  explicit PTFileModelLocator(const fl::PTFileModelPersistor* persistor) : persistor_(persistor) {}
  std::vector<std::string> model_names() const override;
  Result<fl::FLModel> locate(const std::string& name) const override;

 private:
  const fl::PTFileModelPersistor* persistor_;
};

struct CrossSiteEvalOptions {
  std::string submit_model_task_name = "submit_model";  // empty: server models only (GlobalModelEval)
  std::string validation_task_name = "validate";
  std::chrono::milliseconds submit_model_timeout{600000};
  std::chrono::milliseconds validation_timeout{6000000};
  std::string cross_val_dir = "cross_site_val";
  std::vector<std::string> participating_clients;  // empty: every client
};

class CrossSiteModelEval : public fl::Component, public fl::Controller {
 public:
  CrossSiteModelEval(CrossSiteEvalOptions options, const ModelLocator* locator);
  Status run(fl::ControllerContext& ctx) override;
  config::Value stats() const override;
  std::vector<std::string> task_names() const override {
    if (opt_.submit_model_task_name.empty()) return {opt_.validation_task_name};
    return {opt_.submit_model_task_name, opt_.validation_task_name};
  }

 private:
  CrossSiteEvalOptions opt_;
  const ModelLocator* locator_;
  mutable std::mutex mu_;
  const char* phase_ = "init";
};

struct FedEvalOptions {
  std::string validation_task_name = "validate";
  std::chrono::milliseconds validation_timeout{6000000};
  std::string results_file = "eval_results.json";
};

class FedEval : public fl::Component, public fl::Controller {
 public:
  FedEval(FedEvalOptions options, fl::ModelPersistor* persistor) : opt_(std::move(options)), persistor_(persistor) {}
  Status run(fl::ControllerContext& ctx) override;
  std::vector<std::string> task_names() const override { return {opt_.validation_task_name}; }

 private:
  FedEvalOptions opt_;
  fl::ModelPersistor* persistor_;
};

}  // namespace nvf::workflows
