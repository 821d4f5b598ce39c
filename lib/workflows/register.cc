// The workflows in the component registry (FLARE class paths are aliases): FedAvg and
// ScatterAndGather, FedOpt, SCAFFOLD, Cyclic, cross-site and global-model evaluation, and the
// Newton-Raphson logistic regression, with the components they need (server optimizer, model
// locators, the LR persistor).
#include <chrono>

#include "base/files.h"
#include "base/strings.h"
#include "workflows/cross_site_eval.h"
#include "workflows/cyclic.h"
#include "workflows/fedavg.h"
#include "workflows/fedopt.h"
#include "workflows/newton_lr.h"
#include "workflows/np_model_persistor.h"
#include "workflows/register.h"
#include "workflows/scaffold.h"

namespace nvf::workflows {

// FLARE's ValidationJsonGenerator: cross-site evaluation writes the results file itself; at the end
// of a run without one, this writes FLARE's empty result, "{}".
class ValidationJsonGenerator : public fl::Component, public fl::EndRunListener {
 public:
  ValidationJsonGenerator(std::filesystem::path file, base::Logger log) : file_(std::move(file)), log_(std::move(log)) {}
  void end_run() override {
    std::error_code ec;
    if (std::filesystem::exists(file_, ec)) return;
    Status s = base::make_dirs(file_.parent_path());
    if (s.ok()) s = base::atomic_write(file_, "{}\n");
    if (!s.ok()) log_->warn("ValidationJsonGenerator: {}", s.message());
  }

 private:
  std::filesystem::path file_;
  base::Logger log_;
};
namespace {

using fl::BuildContext;

// Seconds from a config as milliseconds; NaN and values beyond ten million seconds (115 days) are
// clamped (the args are range-checked where a bad value must be refused).
std::chrono::milliseconds seconds(double s) {
  if (!(s > 0)) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(s, 1e7) * 1000));
}

fl::IntimeModelSelector* optional_selector(const BuildContext& ctx) {
  std::string id = ctx.string_arg("model_selector_id", "model_selector").value_or("model_selector");
  auto c = ctx.component_as<fl::IntimeModelSelector>("model_selector_id", id, "a model selector");
  return c.ok() ? *c : nullptr;
}

// The args FedAvg and the ModelController workflows built on it share.
Result<FedAvgOptions> fedavg_options(const BuildContext& ctx, int64_t default_rounds = 5) {
  FedAvgOptions o;
  NVF_ASSIGN_OR_RETURN(int64_t n, ctx.int_arg("num_clients", 0));
  NVF_ASSIGN_OR_RETURN(int64_t min_clients, ctx.int_arg("min_clients", n > 0 ? n : 1));
  if (min_clients < 1 || min_clients > 100000) return ctx.arg_error("num_clients", "must be between 1 and 100000");
  o.min_clients = static_cast<int>(min_clients);
  NVF_ASSIGN_OR_RETURN(int64_t rounds, ctx.int_arg("num_rounds", default_rounds));
  NVF_ASSIGN_OR_RETURN(int64_t start, ctx.int_arg("start_round", 0));
  if (rounds < 1 || rounds > 1000000) return ctx.arg_error("num_rounds", "must be between 1 and 1000000");
  if (start < 0 || start > 1000000) return ctx.arg_error("start_round", "must be between 0 and 1000000");
  o.num_rounds = static_cast<int>(rounds);
  o.start_round = static_cast<int>(start);
  NVF_ASSIGN_OR_RETURN(o.task_name, ctx.string_arg("task_name", "train"));
  NVF_ASSIGN_OR_RETURN(o.stop_cond, ctx.string_arg("stop_cond", ""));
  if (!o.stop_cond.empty() && !parse_stop_condition(o.stop_cond).ok()) {
    return ctx.arg_error("stop_cond", parse_stop_condition(o.stop_cond).status().message());
  }
  NVF_ASSIGN_OR_RETURN(int64_t patience, ctx.int_arg("patience", 0));
  if (patience < 0 || patience > 1000000) return ctx.arg_error("patience", "must be between 0 and 1000000");
  o.patience = static_cast<int>(patience);
  NVF_ASSIGN_OR_RETURN(double wait, ctx.number_arg("wait_time_after_min_received", 0));
  o.wait_time_after_min_received = seconds(wait);
  NVF_ASSIGN_OR_RETURN(double timeout, ctx.number_arg("train_timeout", 0));
  o.timeout = seconds(timeout);
  NVF_ASSIGN_OR_RETURN(int64_t gc, ctx.int_arg("memory_gc_rounds", 1));
  o.memory_gc_rounds = static_cast<int>(std::clamp<int64_t>(gc, 0, 1000000));
  NVF_ASSIGN_OR_RETURN(o.aggregation.exclude_vars, ctx.string_arg("exclude_vars", ""));
  NVF_ASSIGN_OR_RETURN(o.aggregation.aggregation_weights, ctx.number_map_arg("aggregation_weights"));
  return o;
}

Result<fl::ModelPersistor*> persistor_of(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(std::string pid, ctx.string_arg("persistor_id", "persistor"));
  return ctx.component_as<fl::ModelPersistor>("persistor_id", pid, "a model persistor");
}

Result<std::unique_ptr<fl::Component>> make_fedavg(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(FedAvgOptions o, fedavg_options(ctx));
  NVF_ASSIGN_OR_RETURN(fl::ModelPersistor * persistor, persistor_of(ctx));
  return std::unique_ptr<fl::Component>(new FedAvg(std::move(o), persistor, optional_selector(ctx)));
}

Result<std::unique_ptr<ServerOptimizer>> server_optimizer(const BuildContext& ctx, int num_rounds) {
  const config::Value none;
  auto parsed = parse_server_optimizer(ctx.has_arg("optimizer_args") ? ctx.args()["optimizer_args"] : none,
                                       ctx.has_arg("lr_scheduler_args") ? ctx.args()["lr_scheduler_args"] : none,
                                       num_rounds);
  if (!parsed.ok()) {
    const std::string m = parsed.status().message();  // a copy: status() returns a temporary
    return ctx.arg_error(m.rfind("lr_scheduler", 0) == 0 ? "lr_scheduler_args" : "optimizer_args", m);
  }
  NVF_ASSIGN_OR_RETURN(std::string plain, ctx.string_arg("plain_update_vars", parsed->plain_update_vars));
  parsed->plain_update_vars = plain;
  auto made = ServerOptimizer::create(std::move(parsed).value());
  if (!made.ok()) return ctx.arg_error("optimizer_args", made.status().message());
  return made;
}

// FLARE's FedOpt ModelController (app_opt/pt/fedopt_ctl.py): its defaults are SGD lr 1.0 momentum
// 0.6 and CosineAnnealingLR(T_max 3, eta_min 0.9).
Result<std::unique_ptr<fl::Component>> make_fedopt(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(FedAvgOptions o, fedavg_options(ctx));
  o.aggregation.expected_params_type = fl::ParamsType::kDiff;
  NVF_ASSIGN_OR_RETURN(fl::ModelPersistor * persistor, persistor_of(ctx));
  NVF_ASSIGN_OR_RETURN(auto opt, server_optimizer(ctx, o.num_rounds));
  if (!ctx.has_arg("optimizer_args")) {
    ServerOptimizerOptions d = opt->options();
    d.optimizer = "sgd";
    d.lr = 1.0;
    d.momentum = 0.6;
    if (!ctx.has_arg("lr_scheduler_args")) {
      d.schedule = "cosine";
      d.t_max = 3;
      d.eta_min = 0.9;
    }
    NVF_ASSIGN_OR_RETURN(opt, ServerOptimizer::create(d));
  }
  auto wf = std::make_unique<FedAvg>(std::move(o), persistor, optional_selector(ctx));
  wf->adopt_updater(std::move(opt));
  return std::unique_ptr<fl::Component>(std::move(wf));
}

// PTFedOptModelShareableGenerator for ScatterAndGather: no optimizer_args means SGD lr 1.0 without
// momentum (FLARE's default, = FedAvg).
Result<std::unique_ptr<fl::Component>> make_fedopt_generator(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(auto opt, server_optimizer(ctx, 0));
  return std::unique_ptr<fl::Component>(std::move(opt));
}

Result<std::unique_ptr<fl::Component>> make_scaffold(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(FedAvgOptions o, fedavg_options(ctx));
  NVF_ASSIGN_OR_RETURN(fl::ModelPersistor * persistor, persistor_of(ctx));
  auto wf = std::make_unique<FedAvg>(std::move(o), persistor, optional_selector(ctx));
  wf->adopt_updater(std::make_unique<ScaffoldUpdater>());
  return std::unique_ptr<fl::Component>(std::move(wf));
}

Result<std::unique_ptr<fl::Component>> make_cyclic(const BuildContext& ctx) {
  CyclicOptions o;
  NVF_ASSIGN_OR_RETURN(int64_t rounds, ctx.int_arg("num_rounds", 5));
  if (rounds < 1 || rounds > 1000000) return ctx.arg_error("num_rounds", "must be between 1 and 1000000");
  o.num_rounds = static_cast<int>(rounds);
  NVF_ASSIGN_OR_RETURN(o.task_name, ctx.string_arg("task_name", "train"));
  NVF_ASSIGN_OR_RETURN(double assign, ctx.number_arg("task_assignment_timeout", 10));
  if (assign < 0) return ctx.arg_error("task_assignment_timeout", "must not be negative");
  o.task_assignment_timeout = seconds(assign);
  NVF_ASSIGN_OR_RETURN(int64_t persist, ctx.int_arg("persist_every_n_rounds", 1));
  if (persist < 1) return ctx.arg_error("persist_every_n_rounds", "must be at least 1");
  o.persist_every_n_rounds = static_cast<int>(std::min<int64_t>(persist, 1000000));
  NVF_ASSIGN_OR_RETURN(int64_t seed, ctx.int_arg("seed", 0));
  o.seed = static_cast<uint64_t>(seed);
  if (ctx.has_arg("order")) {
    const config::Value& v = ctx.args()["order"];
    if (v.is_array()) {
      for (const auto& s : v) {
        if (!s.is_string()) return ctx.arg_error("order", "a list of site names must hold strings");
        o.sites.push_back(s.get<std::string>());
      }
      if (o.sites.size() < 2) return ctx.arg_error("order", "a list of sites needs at least 2 names");
    } else if (v.is_string()) {
      std::string name = v.get<std::string>();
      for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (name != "FIXED" && name != "RANDOM" && name != "RANDOM_WITHOUT_SAME_IN_A_ROW") {
        return ctx.arg_error("order", "'" + v.get<std::string>() +
                                          "' is not an order; use FIXED, RANDOM, RANDOM_WITHOUT_SAME_IN_A_ROW or a "
                                          "list of site names");
      }
      o.order = name;
    } else {
      return ctx.arg_error("order", "must be FIXED, RANDOM, RANDOM_WITHOUT_SAME_IN_A_ROW or a list of site names");
    }
  }
  NVF_ASSIGN_OR_RETURN(bool early, ctx.bool_arg("allow_early_termination", false));
  (void)early;  // accepted: no EARLY_TERMINATION return code exists here
  NVF_ASSIGN_OR_RETURN(fl::ModelPersistor * persistor, persistor_of(ctx));
  return std::unique_ptr<fl::Component>(new Cyclic(std::move(o), persistor));
}

Result<std::vector<std::string>> string_list(const BuildContext& ctx, const char* arg) {
  std::vector<std::string> out;
  if (!ctx.has_arg(arg)) return out;
  const config::Value& v = ctx.args()[arg];
  if (!v.is_array()) return ctx.arg_error(arg, "must be a list of names");
  for (const auto& s : v) {
    if (!s.is_string()) return ctx.arg_error(arg, "must be a list of names");
    out.push_back(s.get<std::string>());
  }
  return out;
}

Result<const ModelLocator*> locator_of(const BuildContext& ctx, bool required) {
  NVF_ASSIGN_OR_RETURN(std::string id, ctx.string_arg("model_locator_id", ""));
  if (id.empty()) {
    if (required) return ctx.arg_error("model_locator_id", "is required (the id of a model locator component)");
    return static_cast<const ModelLocator*>(nullptr);
  }
  NVF_ASSIGN_OR_RETURN(ModelLocator * l, ctx.component_as<ModelLocator>("model_locator_id", id, "a model locator"));
  return static_cast<const ModelLocator*>(l);
}

Result<std::unique_ptr<fl::Component>> make_cse(const BuildContext& ctx, bool global_only) {
  CrossSiteEvalOptions o;
  NVF_ASSIGN_OR_RETURN(o.submit_model_task_name, ctx.string_arg("submit_model_task_name", global_only ? "" : "submit_model"));
  NVF_ASSIGN_OR_RETURN(o.validation_task_name, ctx.string_arg("validation_task_name", "validate"));
  NVF_ASSIGN_OR_RETURN(double submit, ctx.number_arg("submit_model_timeout", 600));
  NVF_ASSIGN_OR_RETURN(double validate, ctx.number_arg("validation_timeout", 6000));
  if (!(submit >= 0)) return ctx.arg_error("submit_model_timeout", "must not be negative");
  if (!(validate >= 0)) return ctx.arg_error("validation_timeout", "must not be negative");
  o.submit_model_timeout = seconds(submit);
  o.validation_timeout = seconds(validate);
  NVF_ASSIGN_OR_RETURN(o.cross_val_dir, ctx.string_arg("cross_val_dir", "cross_site_val"));
  if (auto s = fl::check_relative_name("cross_val_dir", o.cross_val_dir); !s.ok()) {
    return ctx.arg_error("cross_val_dir", s.message());
  }
  NVF_ASSIGN_OR_RETURN(o.participating_clients, string_list(ctx, "participating_clients"));
  NVF_ASSIGN_OR_RETURN(const ModelLocator* locator, locator_of(ctx, global_only));
  return std::unique_ptr<fl::Component>(new CrossSiteModelEval(std::move(o), locator));
}

Result<std::unique_ptr<fl::Component>> make_np_locator(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(std::string dir, ctx.string_arg("model_dir", "models"));
  std::map<std::string, std::string> models = {{"server", "server.npy"}};
  if (ctx.has_arg("model_name")) {
    const config::Value& v = ctx.args()["model_name"];
    if (!v.is_object() || v.empty()) return ctx.arg_error("model_name", "must be a dict {name: file.npy}");
    models.clear();
    for (const auto& [k, f] : v.items()) {
      if (!f.is_string()) return ctx.arg_error("model_name", "the file of '" + k + "' must be a string");
      models[k] = f.get<std::string>();
    }
  }
  std::filesystem::path p(dir);
  if (p.is_relative()) {
    if (auto s = fl::check_relative_name("model_dir", dir); !s.ok()) return ctx.arg_error("model_dir", s.message());
    p = ctx.env().run_dir / p;
  }
  return std::unique_ptr<fl::Component>(new NPModelLocator(p, std::move(models)));
}

Result<std::unique_ptr<fl::Component>> make_pt_locator(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(std::string id, ctx.string_arg("pt_persistor_id", "persistor"));
  NVF_ASSIGN_OR_RETURN(fl::PTFileModelPersistor * p,
                       ctx.component_as<fl::PTFileModelPersistor>("pt_persistor_id", id, "a PTFileModelPersistor"));
  return std::unique_ptr<fl::Component>(new PTFileModelLocator(p));
}

Result<std::unique_ptr<fl::Component>> make_fedeval(const BuildContext& ctx) {
  FedEvalOptions o;
  NVF_ASSIGN_OR_RETURN(double timeout, ctx.number_arg("timeout", 6000));
  NVF_ASSIGN_OR_RETURN(timeout, ctx.number_arg("validation_timeout", timeout));
  if (timeout < 0) return ctx.arg_error("timeout", "must not be negative");
  o.validation_timeout = seconds(timeout);
  NVF_ASSIGN_OR_RETURN(o.validation_task_name, ctx.string_arg("validation_task_name", "validate"));
  NVF_ASSIGN_OR_RETURN(fl::ModelPersistor * persistor, persistor_of(ctx));
  return std::unique_ptr<fl::Component>(new FedEval(std::move(o), persistor));
}

// The LR persistor: θ = zeros(n_features + 1) in <run>/<model_dir>/<model_name>.
Result<std::unique_ptr<fl::ModelPersistor>> lr_persistor(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(int64_t n, ctx.int_arg("n_features", 13));
  if (n < 1 || n > 4096) return ctx.arg_error("n_features", "must be between 1 and 4096");
  fl::NPModelPersistorOptions o;
  NVF_ASSIGN_OR_RETURN(o.model_dir, ctx.string_arg("model_dir", "models"));
  NVF_ASSIGN_OR_RETURN(o.model_name, ctx.string_arg("model_name", "weights.npy"));
  o.initial_model = config::Value::array();
  for (int64_t i = 0; i <= n; ++i) o.initial_model.push_back(0.0);
  auto made = fl::NPModelPersistor::create(fl::PersistorContext{ctx.env().run_dir, ctx.env().app_dir}, std::move(o),
                                           ctx.logger());
  if (!made.ok()) return ctx.arg_error("model_dir", made.status().message());
  return std::unique_ptr<fl::ModelPersistor>(std::move(made).value());
}

// FedAvgLR owns its default LR persistor when no persistor_id is given.
class FedAvgLR : public FedAvg {
 public:
  FedAvgLR(FedAvgOptions o, std::unique_ptr<fl::ModelPersistor> own, fl::ModelPersistor* p)
      : FedAvg(std::move(o), own ? own.get() : p, nullptr), own_(std::move(own)) {}

 private:
  std::unique_ptr<fl::ModelPersistor> own_;
};

Result<std::unique_ptr<fl::Component>> make_fedavg_lr(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(FedAvgOptions o, fedavg_options(ctx));
  NVF_ASSIGN_OR_RETURN(double damping, ctx.number_arg("damping_factor", 0.8));
  NVF_ASSIGN_OR_RETURN(double epsilon, ctx.number_arg("epsilon", 1.0));
  if (!(damping > 0) || damping > 1) return ctx.arg_error("damping_factor", "must be in (0, 1]");
  if (epsilon < 0) return ctx.arg_error("epsilon", "must not be negative");
  std::unique_ptr<fl::ModelPersistor> own;
  fl::ModelPersistor* persistor = nullptr;
  if (ctx.has_arg("persistor_id")) {
    NVF_ASSIGN_OR_RETURN(persistor, persistor_of(ctx));
  } else {
    NVF_ASSIGN_OR_RETURN(own, lr_persistor(ctx));
  }
  auto wf = std::make_unique<FedAvgLR>(std::move(o), std::move(own), persistor);
  wf->adopt_updater(std::make_unique<NewtonUpdater>(damping, epsilon));
  return std::unique_ptr<fl::Component>(std::move(wf));
}

Result<std::unique_ptr<fl::Component>> make_sag(const BuildContext& ctx) {
  FedAvgOptions o;
  NVF_ASSIGN_OR_RETURN(int64_t min_clients, ctx.int_arg("min_clients", 1));
  NVF_ASSIGN_OR_RETURN(int64_t rounds, ctx.int_arg("num_rounds", 5));
  NVF_ASSIGN_OR_RETURN(int64_t start, ctx.int_arg("start_round", 0));
  if (rounds < 1) return ctx.arg_error("num_rounds", "must be at least 1");
  o.min_clients = static_cast<int>(std::max<int64_t>(1, min_clients));
  o.num_rounds = static_cast<int>(rounds);
  o.start_round = static_cast<int>(start);
  NVF_ASSIGN_OR_RETURN(o.task_name, ctx.string_arg("train_task_name", "train"));
  NVF_ASSIGN_OR_RETURN(double wait, ctx.number_arg("wait_time_after_min_received", 0));
  o.wait_time_after_min_received = seconds(wait);
  NVF_ASSIGN_OR_RETURN(double timeout, ctx.number_arg("train_timeout", 0));
  o.timeout = seconds(timeout);
  NVF_ASSIGN_OR_RETURN(int64_t gc, ctx.int_arg("memory_gc_rounds", 1));
  o.memory_gc_rounds = static_cast<int>(gc);
  NVF_ASSIGN_OR_RETURN(std::string aid, ctx.string_arg("aggregator_id", "aggregator"));
  auto agg = ctx.component_as<fl::WeightedAggregator>("aggregator_id", aid, "an aggregator");
  if (agg.ok()) o.aggregation = (*agg)->options();
  NVF_ASSIGN_OR_RETURN(fl::ModelPersistor * persistor, persistor_of(ctx));
  // PTFedOptModelShareableGenerator makes this FedOpt (FLARE's PT FedOpt recipe).
  fl::ModelUpdater* updater = nullptr;
  NVF_ASSIGN_OR_RETURN(std::string gid, ctx.string_arg("shareable_generator_id", ""));
  if (!gid.empty()) {
    if (auto c = ctx.component("shareable_generator_id", gid); c.ok()) {
      if (auto* opt = dynamic_cast<ServerOptimizer*>(*c)) {
        updater = opt;
        o.aggregation.expected_params_type = fl::ParamsType::kDiff;
      }
    }
  }
  return std::unique_ptr<fl::Component>(new FedAvg(std::move(o), persistor, optional_selector(ctx), nullptr, updater));
}

}  // namespace

Status register_workflows(fl::ComponentRegistry& registry) {
  NVF_RETURN_IF_ERROR(fl::register_server_components(registry));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "FedAvg",
      {"nvflare.app_common.workflows.fedavg.FedAvg", "nvflare.app_opt.pt.fedavg.PTFedAvg",
       "nvflare.app_common.workflows.base_fedavg.BaseFedAvg"},
      fl::ComponentKind::kWorkflow,
      {"num_clients", "min_clients", "num_rounds", "start_round", "persistor_id", "ignore_result_error",
       "allow_empty_global_weights", "task_check_period", "memory_gc_rounds", "model", "save_filename", "stop_cond",
       "patience", "task_name", "exclude_vars", "aggregation_weights", "wait_time_after_min_received",
       "train_timeout", "model_selector_id"},
      make_fedavg}));
  const std::vector<std::string> fedavg_args = {
      "num_clients", "min_clients", "num_rounds", "start_round", "persistor_id", "ignore_result_error",
      "allow_empty_global_weights", "task_check_period", "memory_gc_rounds", "model", "save_filename", "stop_cond",
      "patience", "task_name", "exclude_vars", "aggregation_weights", "wait_time_after_min_received",
      "train_timeout", "model_selector_id"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> all = fedavg_args;
    all.insert(all.end(), more.begin(), more.end());
    return all;
  };
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "FedOpt",
      {"nvflare.app_opt.pt.fedopt_ctl.FedOpt", "nvflare.app_opt.tf.fedopt_ctl.FedOpt"},
      fl::ComponentKind::kWorkflow,
      with({"optimizer_args", "lr_scheduler_args", "source_model", "device", "plain_update_vars"}),
      make_fedopt}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "PTFedOptModelShareableGenerator",
      {"nvflare.app_opt.pt.fedopt.PTFedOptModelShareableGenerator"},
      fl::ComponentKind::kOther,
      {"optimizer_args", "lr_scheduler_args", "source_model", "device", "plain_update_vars"},
      make_fedopt_generator}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "Scaffold",
      {"nvflare.app_common.workflows.scaffold.Scaffold"},
      fl::ComponentKind::kWorkflow,
      fedavg_args,
      make_scaffold}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "CyclicController",
      {"nvflare.app_common.workflows.cyclic_ctl.CyclicController", "Cyclic",
       "nvflare.app_common.workflows.cyclic.Cyclic"},
      fl::ComponentKind::kWorkflow,
      {"num_rounds", "task_assignment_timeout", "persistor_id", "shareable_generator_id", "task_name",
       "task_check_period", "persist_every_n_rounds", "snapshot_every_n_rounds", "order", "allow_early_termination",
       "memory_gc_rounds", "num_clients", "start_round", "seed"},
      make_cyclic}));
  const std::vector<std::string> cse_args = {
      "task_check_period", "cross_val_dir", "submit_model_timeout", "validation_timeout", "model_locator_id",
      "formatter_id", "submit_model_task_name", "validation_task_name", "cleanup_models", "participating_clients",
      "wait_for_clients_timeout"};
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "CrossSiteModelEval",
      {"nvflare.app_common.workflows.cross_site_model_eval.CrossSiteModelEval"},
      fl::ComponentKind::kWorkflow, cse_args,
      [](const BuildContext& ctx) { return make_cse(ctx, false); }}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "GlobalModelEval",
      {"nvflare.app_common.workflows.global_model_eval.GlobalModelEval"},
      fl::ComponentKind::kWorkflow, cse_args,
      [](const BuildContext& ctx) { return make_cse(ctx, true); }}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "EvalController",
      {"nvflare.app_common.workflows.eval_controller.EvalController", "FedEval"},
      fl::ComponentKind::kWorkflow,
      {"persistor_id", "timeout", "validation_timeout", "validation_task_name", "task_check_period"},
      make_fedeval}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "FedAvgLR",
      {"nvflare.app_common.workflows.lr.fedavg.FedAvgLR"},
      fl::ComponentKind::kWorkflow,
      with({"damping_factor", "epsilon", "model_dir", "model_name", "n_features"}),
      make_fedavg_lr}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "LRModelPersistor",
      {"nvflare.app_common.workflows.lr.np_persistor.LRModelPersistor"},
      fl::ComponentKind::kPersistor,
      {"model_dir", "model_name", "n_features"},
      [](const BuildContext& ctx) -> Result<std::unique_ptr<fl::Component>> {
        NVF_ASSIGN_OR_RETURN(auto p, lr_persistor(ctx));
        return std::unique_ptr<fl::Component>(std::move(p));
      }}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "NPModelLocator",
      {"nvflare.app_common.np.np_model_locator.NPModelLocator"},
      fl::ComponentKind::kOther,
      {"model_dir", "model_name"},
      make_np_locator}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "PTFileModelLocator",
      {"nvflare.app_opt.pt.file_model_locator.PTFileModelLocator"},
      fl::ComponentKind::kOther,
      {"pt_persistor_id"},
      make_pt_locator}));
  NVF_RETURN_IF_ERROR(registry.add(fl::ComponentEntry{
      "ValidationJsonGenerator",
      {"nvflare.app_common.widgets.validation_json_generator.ValidationJsonGenerator"},
      fl::ComponentKind::kOther,
      {"results_dir", "json_file_name"},
      [](const BuildContext& ctx) -> Result<std::unique_ptr<fl::Component>> {
        NVF_ASSIGN_OR_RETURN(std::string dir, ctx.string_arg("results_dir", "cross_site_val"));
        NVF_ASSIGN_OR_RETURN(std::string name, ctx.string_arg("json_file_name", "cross_val_results.json"));
        for (const auto& [arg, v] : {std::pair{"results_dir", dir}, {"json_file_name", name}}) {
          if (v.empty() || v[0] == '/' || v.find("..") != std::string::npos) {
            return ctx.arg_error(arg, "must be a name inside the job's run folder");
          }
        }
        return std::unique_ptr<fl::Component>(
            new ValidationJsonGenerator(ctx.env().run_dir / dir / name, ctx.logger()));
      }}));
  return registry.add(fl::ComponentEntry{
      "ScatterAndGather",
      {"nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather"},
      fl::ComponentKind::kWorkflow,
      {"min_clients", "num_rounds", "start_round", "wait_time_after_min_received", "aggregator_id", "persistor_id",
       "shareable_generator_id", "train_task_name", "train_timeout", "ignore_result_error",
       "allow_empty_global_weights", "task_check_period", "persist_every_n_rounds", "snapshot_every_n_rounds",
       "memory_gc_rounds", "model_selector_id"},
      make_sag});
}

}  // namespace nvf::workflows
