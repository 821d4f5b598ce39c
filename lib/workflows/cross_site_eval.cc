#include "workflows/cross_site_eval.h"

#include <algorithm>
#include <memory>

#include "base/files.h"
#include "base/strings.h"
#include "tensor/npy.h"
#include "tensor/safetensors.h"
#include "workflows/collect_sink.h"

namespace nvf::workflows {
namespace {

namespace fs = std::filesystem;

constexpr const char* kModelOwner = "_model_owner_";

config::Value metrics_json(const fl::CollectSink::Entry& e) {
  if (!e.status.ok()) return config::Value{{"error", e.status.message()}};
  config::Value m = config::Value::object();
  for (const auto& [k, v] : e.model.metrics) m[k] = v;
  return m;
}

Status write_json(const fs::path& path, const config::Value& v) {
  NVF_RETURN_IF_ERROR(base::make_dirs(path.parent_path()));
  return base::atomic_write(path, v.dump(2) + "\n");
}

}  // namespace

NPModelLocator::NPModelLocator(fs::path model_dir, std::map<std::string, std::string> models)
    : dir_(std::move(model_dir)), models_(std::move(models)) {}

std::vector<std::string> NPModelLocator::model_names() const {
  std::vector<std::string> out;
  for (const auto& [name, file] : models_) {
    std::error_code ec;
    if (fs::exists(dir_ / file, ec)) out.push_back(name);
  }
  return out;
}

Result<fl::FLModel> NPModelLocator::locate(const std::string& name) const {
  auto it = models_.find(name);
  if (it == models_.end()) return NotFoundError("no server model named '" + name + "'");
  NVF_ASSIGN_OR_RETURN(tensor::Tensor t, tensor::read_npy(dir_ / it->second));
  NVF_RETURN_IF_ERROR(t.make_owned());
  fl::FLModel m;
  m.params_type = fl::ParamsType::kFull;
  NVF_RETURN_IF_ERROR(m.params.insert("numpy_key", std::move(t)));
  return m;
}

std::vector<std::string> PTFileModelLocator::model_names() const {
  std::vector<std::string> out;
  for (const fs::path& p : {persistor_->global_model_path(), persistor_->best_model_path()}) {
    std::error_code ec;
    if (fs::exists(fl::PTFileModelPersistor::safetensors_twin(p), ec)) out.push_back(p.filename().string());
  }
  return out;
}

Result<fl::FLModel> PTFileModelLocator::locate(const std::string& name) const {
  for (const fs::path& p : {persistor_->global_model_path(), persistor_->best_model_path()}) {
    if (p.filename() != name) continue;
    NVF_ASSIGN_OR_RETURN(auto reader, tensor::SafetensorsReader::open(fl::PTFileModelPersistor::safetensors_twin(p)));
    fl::FLModel m;
    m.params_type = fl::ParamsType::kFull;
    for (auto& [k, t] : reader.tensors()) {
      NVF_ASSIGN_OR_RETURN(tensor::Tensor own, t.clone());
      NVF_RETURN_IF_ERROR(m.params.insert(k, std::move(own)));
    }
    return m;
  }
  return NotFoundError("no server model named '" + name + "'");
}

CrossSiteModelEval::CrossSiteModelEval(CrossSiteEvalOptions options, const ModelLocator* locator)
    : opt_(std::move(options)), locator_(locator) {}

config::Value CrossSiteModelEval::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config::Value{{"phase", phase_}};
}

Status CrossSiteModelEval::run(fl::ControllerContext& ctx) {
  std::vector<std::string> sites = opt_.participating_clients.empty() ? ctx.clients() : opt_.participating_clients;
  const fs::path dir = ctx.run_dir() / opt_.cross_val_dir;
  std::error_code ec;
  fs::remove_all(dir / "model_shareables", ec);
  fs::remove_all(dir / "result_shareables", ec);
  NVF_RETURN_IF_ERROR(base::make_dirs(dir / "model_shareables"));
  NVF_RETURN_IF_ERROR(base::make_dirs(dir / "result_shareables"));

  // The models to evaluate, in order: server models, then the sites' own.
  std::vector<std::pair<std::string, fl::FLModel>> models;
  if (locator_) {
    for (const auto& name : locator_->model_names()) {
      auto m = locator_->locate(name);
      if (!m.ok()) {
        ctx.logger()->error("cross-site evaluation: server model {}: {}", name, m.status().message());
        continue;
      }
      const std::string owner = "SRV_" + name;
      NVF_RETURN_IF_ERROR(tensor::write_safetensors(dir / "model_shareables" / (owner + ".safetensors"), m->params, {}));
      models.emplace_back(owner, std::move(m).value());
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = "submit_model";
  }
  if (!opt_.submit_model_task_name.empty()) {
    fl::TaskSpec submit;
    submit.name = opt_.submit_model_task_name;
    submit.targets = sites;
    submit.timeout = opt_.submit_model_timeout;
    submit.data.meta[std::string(fl::kMetaSubmitModelName)] = "best_model";
    fl::CollectSink sink;
    NVF_RETURN_IF_ERROR(ctx.broadcast_and_wait(submit, sink).status());
    for (auto& [site, e] : sink.take()) {
      if (!e.status.ok() || e.model.params.empty()) {
        ctx.logger()->warn("cross-site evaluation: {} submitted no model{}", site,
                           e.status.ok() ? "" : ": " + e.status.message());
        continue;
      }
      NVF_RETURN_IF_ERROR(tensor::write_safetensors(dir / "model_shareables" / (site + ".safetensors"), e.model.params, {}));
      e.model.params_type = fl::ParamsType::kFull;
      models.emplace_back(site, std::move(e.model));
    }
  }
  if (models.empty()) ctx.logger()->warn("cross-site evaluation: there is no model to evaluate");
  {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = "validate";
  }
  // One validate task per model, all live together.
  std::vector<std::unique_ptr<fl::CollectSink>> sinks;
  std::vector<std::unique_ptr<fl::TaskHandle>> handles;
  for (auto& [owner, model] : models) {
    fl::TaskSpec task;
    task.name = opt_.validation_task_name;
    task.targets = sites;
    task.timeout = opt_.validation_timeout;
    task.data.params_type = fl::ParamsType::kFull;
    task.data.meta[kModelOwner] = owner;
    for (const auto& [k, t] : model.params) NVF_RETURN_IF_ERROR(task.data.params.insert(k, t.share()));
    sinks.push_back(std::make_unique<fl::CollectSink>());
    NVF_ASSIGN_OR_RETURN(auto handle, ctx.broadcast(task, *sinks.back()));
    handles.push_back(std::move(handle));
  }
  config::Value results = config::Value::object();
  for (const auto& s : sites) results[s] = config::Value::object();
  for (size_t i = 0; i < handles.size(); ++i) {
    const std::string& owner = models[i].first;
    NVF_ASSIGN_OR_RETURN(fl::TaskOutcome outcome, handles[i]->wait());
    auto got = sinks[i]->take();
    for (const auto& site : sites) {
      auto it = got.find(site);
      config::Value m = it != got.end() ? metrics_json(it->second)
                                        : config::Value{{"error", "no validation result (timed out or left)"}};
      results[site][owner] = m;
      NVF_RETURN_IF_ERROR(write_json(dir / "result_shareables" / (site + "_" + owner + ".json"), m));
    }
    ctx.report_progress("cross-site evaluation: model " + owner + " validated by " +
                        std::to_string(outcome.responded.size()) + "/" + std::to_string(sites.size()) + " sites");
  }
  NVF_RETURN_IF_ERROR(write_json(dir / "cross_val_results.json", results));
  ctx.report_progress("cross-site evaluation results: " + (dir / "cross_val_results.json").string());
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = "finished";
  return Status::OK();
}

Status FedEval::run(fl::ControllerContext& ctx) {
  if (!persistor_) return FailedPreconditionError("FedEval has no persistor: set persistor_id");
  NVF_ASSIGN_OR_RETURN(fl::FLModel model, persistor_->load());
  fl::TaskSpec task;
  task.name = opt_.validation_task_name;
  task.timeout = opt_.validation_timeout;
  task.data.params_type = fl::ParamsType::kFull;
  task.data.meta[kModelOwner] = "SRV_global";
  for (const auto& [k, t] : model.params) NVF_RETURN_IF_ERROR(task.data.params.insert(k, t.share()));
  fl::CollectSink sink;
  NVF_ASSIGN_OR_RETURN(fl::TaskOutcome outcome, ctx.broadcast_and_wait(task, sink));
  auto got = sink.take();
  ctx.logger()->info("Got {} results", outcome.responded.size());
  config::Value results = config::Value::object();
  for (const auto& site : ctx.clients()) {
    auto it = got.find(site);
    results[site] = it != got.end() ? metrics_json(it->second)
                                    : config::Value{{"error", "no validation result (timed out or left)"}};
    ctx.report_progress("evaluation: " + site + ": " + results[site].dump());
  }
  const fs::path out = ctx.run_dir() / opt_.results_file;
  NVF_RETURN_IF_ERROR(write_json(out, results));
  ctx.report_progress("evaluation results: " + out.string());
  return Status::OK();
}

}  // namespace nvf::workflows
