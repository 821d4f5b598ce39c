#include "tools/recipe.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "base/files.h"
#include "base/strings.h"
#include "job/job_meta.h"
#include "workflows/fedopt.h"

namespace nvf::tools {
namespace {

namespace fs = std::filesystem;
using config::Value;

// Newton's Hessian is (features + 1)² doubles on every site and on the server.
constexpr int64_t kMaxFeatures = 4096;

RecipeParam P(std::string name, std::string type, Value fallback, std::string doc) {
  return RecipeParam{std::move(name), std::move(type), std::move(fallback), false, std::move(doc)};
}
RecipeParam R(std::string name, std::string type, std::string doc) {
  return RecipeParam{std::move(name), std::move(type), Value(), true, std::move(doc)};
}

std::vector<RecipeParam> base_params(const std::string& name, int rounds) {
  return {P("name", "str", name, "the job's name (the exported folder's name)"),
          R("min_clients", "int", "clients the job needs; each round waits for this many"),
          P("num_rounds", "int", rounds, "rounds of training")};
}

std::vector<RecipeParam> training_params() {
  return {
      P("framework", "str", "pytorch",
        "numpy (arrays, NPModelPersistor, models/server.npy) or pytorch (state dicts, PTFileModelPersistor, "
        "FL_global_model.pt)"),
      P("model", "model", Value(),
        "pytorch: a model of `nvflare train` (simple_network, mlp:IN:CLASSES) or a TorchScript file; numpy: the "
        "initial array as a nested list (default FLARE's [[1,2,3],[4,5,6],[7,8,9]])"),
      P("initial_ckpt", "str", Value(), "an initial checkpoint (.pt / .safetensors / .npy) instead of fresh weights"),
      P("train_script", "str", Value(),
        "the trainer command each client launches (default: `{NVFLARE_BIN} train --add 1` for numpy, "
        "`{NVFLARE_BIN} train --model MODEL` for pytorch)"),
      P("train_args", "str", "", "arguments appended to train_script"),
      P("params_transfer_type", "str", "FULL", "FULL (weights) or DIFF (weights minus the received ones)"),
      P("launch_once", "bool", true, "one trainer process for the whole job (false: one per task)"),
      P("key_metric", "str", "accuracy", "the metric that picks best_FL_global_model.pt"),
      P("per_site_config", "table", Value::object(),
        "per site: {train_script, train_args, params_transfer_type}; when given, its keys are the job's sites"),
      P("cross_site_eval", "bool", false,
        "after training, evaluate every site's and the server's models on every site "
        "(cross_site_val/cross_val_results.json; FLARE's add_cross_site_evaluation)"),
  };
}

std::vector<RecipeParam> fedavg_params() {
  return {P("stop_cond", "str", Value(), "stop early when the metric meets it, e.g. \"accuracy >= 0.9\""),
          P("patience", "int", Value(), "with stop_cond: stop after this many rounds without improvement"),
          P("exclude_vars", "str", Value(), "a regex: tensors whose names match are not aggregated"),
          P("aggregation_weights", "table", Value::object(), "per-site weight factors, e.g. {site-1 = 2.0}")};
}

std::vector<RecipeParam> join(std::initializer_list<std::vector<RecipeParam>> parts) {
  std::vector<RecipeParam> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<RecipeInfo> make_library() {
  std::vector<RecipeInfo> lib;
  lib.push_back({"fedavg", "FedAvgRecipe",
                 "FedAvg: the weighted mean of the sites' models each round (FLARE's FedAvg)",
                 join({base_params("fedavg", 2), training_params(), fedavg_params()})});
  lib.push_back({"fedprox", "FedAvgRecipe + PTFedProxLoss",
                 "FedProx: FedAvg whose trainers add (mu/2)·||w − w_global||² to the loss (pytorch)",
                 join({base_params("fedprox", 2), training_params(), fedavg_params(),
                       {P("fedprox_mu", "float", 0.01, "the proximal term's weight mu (>= 0)")}})});
  lib.push_back({"fedopt", "FedOptRecipe",
                 "FedOpt: FedAvg of the sites' diffs, then a server optimizer step (SGD, Adam, FedAdagrad, FedYogi)",
                 join({base_params("fedopt", 2), training_params(),
                       {P("optimizer_args", "table", Value(),
                          "{path = \"torch.optim.SGD\" | \"torch.optim.Adam\" | \"FedAdagrad\" | \"FedYogi\", args = "
                          "{lr = ..., momentum = ..., betas = [..], tau = ..}} (default SGD lr 1.0: = FedAvg)"),
                        P("lr_scheduler_args", "table", Value(),
                          "{path = \"CosineAnnealingLR\" | \"StepLR\" | \"ExponentialLR\", args = {T_max = ..., "
                          "eta_min = ...}}, stepped once per round (default: none)")}})});
  lib.push_back({"scaffold", "ScaffoldRecipe",
                 "SCAFFOLD: FedAvg with server and client control variates that correct client drift",
                 join({base_params("scaffold", 2), training_params()})});
  lib.push_back({"cyclic", "CyclicRecipe",
                 "Cyclic weight transfer: the model visits the sites one after another each round",
                 join({base_params("cyclic", 2), training_params(),
                       {P("order", "str", "FIXED", "FIXED, RANDOM or RANDOM_WITHOUT_SAME_IN_A_ROW"),
                        P("task_assignment_timeout", "float", 10.0,
                          "seconds a site has to fetch the task before it is skipped")}})});
  lib.push_back({"numpy_cross_site_eval", "NumpyCrossSiteEvalRecipe",
                 "Cross-site evaluation of pretrained server models (numpy arrays) on every site",
                 {P("name", "str", "numpy_cross_site_eval", "the job's name"),
                  P("min_clients", "int", 2, "clients the job needs"),
                  R("model_dir", "str", "the folder of the server models (.npy), absolute or relative to the recipe"),
                  P("model_name", "table", Value{{"server", "server.npy"}}, "{model name = file.npy} in model_dir"),
                  P("eval_script", "str", "{NVFLARE_BIN} train --add 0", "the evaluating trainer command"),
                  P("eval_args", "str", "", "arguments appended to eval_script"),
                  P("submit_model_timeout", "float", 600.0, "seconds for the submit_model task"),
                  P("validation_timeout", "float", 6000.0, "seconds for each validate task")}});
  lib.push_back({"fedeval", "FedEvalRecipe",
                 "Evaluate one checkpoint on every site; the metrics per site go to eval_results.json",
                 {P("name", "str", "eval", "the job's name"), R("min_clients", "int", "clients the job needs"),
                  P("framework", "str", "pytorch", "numpy or pytorch"),
                  P("model", "model", Value(), "as for fedavg (pytorch: the checkpoint's architecture)"),
                  R("eval_ckpt", "str", "the checkpoint to evaluate (.pt / .safetensors / .npy)"),
                  P("eval_script", "str", Value(), "the evaluating trainer command (default as train_script)"),
                  P("eval_args", "str", "", "arguments appended to eval_script"),
                  P("validation_timeout", "float", 6000.0, "seconds the validate task may take")}});
  lib.push_back({"lr_fedavg", "FedAvgLrRecipe",
                 "Logistic regression by federated Newton-Raphson (FLARE's hello-lr)",
                 {P("name", "str", "lr_fedavg", "the job's name"), R("min_clients", "int", "clients the job needs"),
                  P("num_rounds", "int", 2, "Newton steps"),
                  P("damping_factor", "float", 0.8, "step size in (0, 1]"),
                  P("epsilon", "float", 1.0, "the Hessian's regularization (H + epsilon·I)"),
                  P("num_features", "int", 13, "features per sample"),
                  P("train_script", "str", "{NVFLARE_BIN} train --model lr", "the trainer command"),
                  P("train_args", "str", "--data synthetic",
                    "arguments appended to train_script: --data synthetic | a CSV file (last column the 0/1 label)"),
                  P("per_site_config", "table", Value::object(), "per site: {train_script, train_args}")}});
  return lib;
}

const char* type_of(const Value& v) {
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_number()) return "float";
  if (v.is_string()) return "str";
  if (v.is_array()) return "list";
  if (v.is_object()) return "table";
  return "null";
}

bool fits(const std::string& type, const Value& v) {
  if (type == "int") return v.is_number_integer();
  if (type == "float") return v.is_number();
  if (type == "str") return v.is_string();
  if (type == "bool") return v.is_boolean();
  if (type == "list") return v.is_array();
  if (type == "table") return v.is_object();
  if (type == "model") return v.is_string() || v.is_array() || v.is_number();
  return true;
}

std::string framework_of(const Value& r) { return r.value("framework", std::string("pytorch")); }

Status check_ranges(const std::string& file, const std::string& recipe, const Value& r) {
  auto bad = [&](const std::string& key, const std::string& what) {
    return InvalidArgumentError(file + ": " + key + ": " + what);
  };
  auto int_at_least = [&](const char* key, int64_t lo, int64_t hi) -> Status {
    if (!r.contains(key) || r[key].is_null()) return Status::OK();
    const int64_t v = r[key].get<int64_t>();
    if (v < lo || v > hi) {
      return bad(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                          std::to_string(v));
    }
    return Status::OK();
  };
  NVF_RETURN_IF_ERROR(int_at_least("min_clients", recipe == "cyclic" ? 2 : 1, 100000));
  NVF_RETURN_IF_ERROR(int_at_least("num_rounds", 1, 1000000));
  NVF_RETURN_IF_ERROR(int_at_least("patience", 1, 1000000));
  NVF_RETURN_IF_ERROR(int_at_least("num_features", 1, kMaxFeatures));
  const std::string name = r.value("name", std::string());
  const bool plain = !name.empty() && name != "." && name != ".." && name.size() <= 128 &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                     });
  if (!plain) return bad("name", "'" + name + "' must be a plain folder name (letters, digits, '.', '-', '_')");
  if (r.contains("framework") && framework_of(r) != "numpy" && framework_of(r) != "pytorch") {
    return bad("framework", "'" + framework_of(r) + "' is not supported; use numpy or pytorch");
  }
  auto transfer_ok = [&](const std::string& key, const std::string& t) -> Status {
    if (t != "FULL" && t != "DIFF") return bad(key, "'" + t + "' must be FULL or DIFF");
    return Status::OK();
  };
  if (r.contains("params_transfer_type")) {
    NVF_RETURN_IF_ERROR(transfer_ok("params_transfer_type", r["params_transfer_type"].get<std::string>()));
  }
  if (r.contains("model") && framework_of(r) == "pytorch" && !r["model"].is_string()) {
    return bad("model", "with framework \"pytorch\" it names a model of `nvflare train` or a TorchScript file");
  }
  if (r.contains("order")) {
    const std::string o = r["order"].get<std::string>();
    if (o != "FIXED" && o != "RANDOM" && o != "RANDOM_WITHOUT_SAME_IN_A_ROW") {
      return bad("order", "'" + o + "' must be FIXED, RANDOM or RANDOM_WITHOUT_SAME_IN_A_ROW");
    }
  }
  if (r.contains("fedprox_mu") && !(r["fedprox_mu"].get<double>() >= 0)) return bad("fedprox_mu", "must be >= 0");
  if (r.contains("damping_factor")) {
    const double d = r["damping_factor"].get<double>();
    if (!(d > 0 && d <= 1)) return bad("damping_factor", "must be in (0, 1]");
  }
  for (const char* key : {"epsilon", "task_assignment_timeout", "validation_timeout", "submit_model_timeout"}) {
    if (!r.contains(key)) continue;
    const double v = r[key].get<double>();
    if (!(v >= 0 && v <= 1e7)) return bad(key, "must be a number between 0 and 10000000");
  }
  if (r.contains("fedprox_mu") && !(r["fedprox_mu"].get<double>() <= 1e6)) return bad("fedprox_mu", "must be <= 1e6");
  if (r.contains("per_site_config")) {
    for (const auto& [site, cfg] : r["per_site_config"].items()) {
      if (site == "server" || !job::is_valid_client_name(site)) {
        return bad("per_site_config." + site, "is not a site name (letters, digits, '-', '_')");
      }
      if (!cfg.is_object()) return bad("per_site_config." + site, "must be a table");
      for (const auto& [k, v] : cfg.items()) {
        static const std::set<std::string> allowed = {"train_script", "train_args", "params_transfer_type",
                                                      "launch_once"};
        if (!allowed.count(k)) {
          return bad("per_site_config." + site + "." + k,
                     "unknown; a site may set train_script, train_args, params_transfer_type, launch_once");
        }
        if (k == "launch_once" ? !v.is_boolean() : !v.is_string()) {
          return bad("per_site_config." + site + "." + k, std::string("must be a ") +
                                                             (k == "launch_once" ? "bool" : "str"));
        }
        if (k == "params_transfer_type") {
          NVF_RETURN_IF_ERROR(transfer_ok("per_site_config." + site + "." + k, v.get<std::string>()));
        }
      }
    }
  }
  if (r.contains("aggregation_weights")) {
    for (const auto& [site, w] : r["aggregation_weights"].items()) {
      if (!w.is_number()) return bad("aggregation_weights." + site, "must be a number");
    }
  }
  const size_t sites = r.contains("per_site_config") ? r["per_site_config"].size() : 0;
  if (sites > 0 && static_cast<int64_t>(sites) < r.value("min_clients", int64_t{1})) {
    return bad("per_site_config", "names " + std::to_string(sites) + " site(s) but min_clients is " +
                                      std::to_string(r.value("min_clients", int64_t{1})));
  }
  if (sites > 0 && recipe == "numpy_cross_site_eval") return bad("per_site_config", "is not a parameter here");
  if (r.contains("model_name")) {
    if (r["model_name"].empty()) return bad("model_name", "names no model");
    for (const auto& [model, f] : r["model_name"].items()) {
      if (!job::is_valid_client_name(model)) return bad("model_name." + model, "is not a plain name");
      if (!f.is_string() || f.get<std::string>().empty() || f.get<std::string>().find('/') != std::string::npos ||
          f.get<std::string>()[0] == '.') {
        return bad("model_name." + model, "must be a file name in model_dir");
      }
    }
  }
  if (recipe == "fedopt") {
    // The server optimizer's own checks, so that a bad optimizer is refused here, naming the file.
    const Value none;
    auto opt = workflows::parse_server_optimizer(r.value("optimizer_args", none), r.value("lr_scheduler_args", none),
                                                 static_cast<int>(r.value("num_rounds", int64_t{2})));
    if (!opt.ok()) return InvalidArgumentError(file + ": " + opt.status().message());
  }
  if (recipe == "fedprox" && framework_of(r) == "numpy") {
    return bad("framework", "fedprox's proximal term needs framework = \"pytorch\"");
  }
  return Status::OK();
}

Value component(const std::string& id, const std::string& path, Value args = Value::object()) {
  return Value{{"id", id}, {"path", path}, {"args", std::move(args)}};
}

Value persistor(const Value& r, const std::string& ckpt_key = "initial_ckpt") {
  const bool numpy = framework_of(r) == "numpy";
  Value args = Value::object();
  const Value model = r.value("model", Value());
  const Value ckpt = r.value(ckpt_key, Value());
  if (numpy) {
    if (!model.is_null()) args["initial_model"] = model;
    if (!ckpt.is_null()) args["initial_ckpt"] = ckpt;
    return component("persistor", "nvflare.app_common.np.np_model_persistor.NPModelPersistor", args);
  }
  args["model"] = model.is_null() ? Value("simple_network") : model;
  if (!ckpt.is_null()) args["source_ckpt_file_full_name"] = ckpt;
  return component("persistor", "nvflare.app_opt.pt.file_model_persistor.PTFileModelPersistor", args);
}

std::string default_script(const Value& r) {
  if (framework_of(r) == "numpy") return "{NVFLARE_BIN} train --add 1";
  const Value model = r.value("model", Value());
  return "{NVFLARE_BIN} train --model " + (model.is_string() ? model.get<std::string>() : std::string("simple_network"));
}

Value client_config(const Value& r, const std::string& command, const std::string& transfer, bool launch_once) {
  const bool numpy = framework_of(r) == "numpy";
  Value exec_args{{"launcher_id", "launcher"},
                  {"params_exchange_format", numpy ? "numpy" : "pytorch"},
                  {"params_transfer_type", transfer},
                  {"train_with_evaluation", true}};
  return Value{
      {"format_version", 2},
      {"executors",
       Value::array({Value{{"tasks", Value::array({"*"})},
                           {"executor",
                            {{"path", numpy ? "nvflare.app_common.executors.client_api_launcher_executor."
                                              "ClientAPILauncherExecutor"
                                            : "nvflare.app_opt.pt.client_api_launcher_executor."
                                              "PTClientAPILauncherExecutor"},
                             {"args", exec_args}}}}})},
      {"components",
       Value::array({component("launcher", "nvflare.app_common.launchers.subprocess_launcher.SubprocessLauncher",
                               Value{{"script", command}, {"launch_once", launch_once}})})},
      {"task_data_filters", Value::array()},
      {"task_result_filters", Value::array()}};
}

std::string joined(const std::string& script, const std::string& args) {
  return args.empty() ? script : script + " " + args;
}

// The server config and the trainer command (before per-site changes) of a recipe.
struct Plan {
  Value server;
  std::string script;
  std::string args;
  std::string algo_args;  // what the algorithm adds to every site's command
  std::string transfer = "FULL";
  bool launch_once = true;
};

Result<Plan> plan_of(const Value& r) {
  const std::string recipe = r["recipe"].get<std::string>();
  const bool numpy = framework_of(r) == "numpy";
  Plan p;
  p.transfer = r.value("params_transfer_type", std::string("FULL"));
  p.launch_once = r.value("launch_once", true);
  p.script = r.value("train_script", Value()).is_string() ? r["train_script"].get<std::string>() : default_script(r);
  p.args = r.value("train_args", std::string());
  Value workflows = Value::array();
  Value components = Value::array();
  const int min_clients = r.value("min_clients", 1);
  const int rounds = r.value("num_rounds", 2);
  auto fedavg_args = [&]() {
    Value a{{"num_clients", min_clients}, {"num_rounds", rounds}, {"persistor_id", "persistor"}};
    for (const char* k : {"stop_cond", "patience", "exclude_vars"}) {
      if (r.contains(k) && !r[k].is_null()) a[k] = r[k];
    }
    if (r.contains("aggregation_weights") && !r["aggregation_weights"].empty()) {
      a["aggregation_weights"] = r["aggregation_weights"];
    }
    return a;
  };
  auto add_selector = [&]() {
    if (!numpy) {
      components.push_back(component("model_selector", "nvflare.app_common.widgets.intime_model_selector.IntimeModelSelector",
                                     Value{{"key_metric", r.value("key_metric", std::string("accuracy"))}}));
    }
  };
  if (recipe == "fedavg" || recipe == "fedprox") {
    workflows.push_back(component("fedavg", "nvflare.app_common.workflows.fedavg.FedAvg", fedavg_args()));
    components.push_back(persistor(r));
    add_selector();
    if (recipe == "fedprox") {
      std::ostringstream mu;
      mu << r.value("fedprox_mu", 0.01);
      p.algo_args = "--fedprox-mu " + mu.str();
    }
  } else if (recipe == "fedopt") {
    Value a = fedavg_args();
    a["optimizer_args"] = r.value("optimizer_args", Value()).is_null()
                              ? Value{{"path", "torch.optim.SGD"}, {"args", {{"lr", 1.0}}}}
                              : r["optimizer_args"];
    a["lr_scheduler_args"] = r.value("lr_scheduler_args", Value());
    workflows.push_back(component("fedopt", "nvflare.app_opt.pt.fedopt_ctl.FedOpt", a));
    components.push_back(persistor(r));
    add_selector();
    p.transfer = "DIFF";  // FLARE's FedOptRecipe forces DIFF
  } else if (recipe == "scaffold") {
    workflows.push_back(component("scaffold", "nvflare.app_common.workflows.scaffold.Scaffold", fedavg_args()));
    components.push_back(persistor(r));
    add_selector();
    p.algo_args = "--algorithm scaffold";
  } else if (recipe == "cyclic") {
    workflows.push_back(component("cyclic", "nvflare.app_common.workflows.cyclic_ctl.CyclicController",
                                  Value{{"num_rounds", rounds},
                                        {"task_assignment_timeout", r.value("task_assignment_timeout", 10.0)},
                                        {"order", r.value("order", std::string("FIXED"))},
                                        {"persistor_id", "persistor"}}));
    components.push_back(persistor(r));
  } else if (recipe == "numpy_cross_site_eval") {
    workflows.push_back(component(
        "cross_site_validate", "nvflare.app_common.workflows.cross_site_model_eval.CrossSiteModelEval",
        Value{{"model_locator_id", "model_locator"},
              {"submit_model_task_name", ""},
              {"submit_model_timeout", r.value("submit_model_timeout", 600.0)},
              {"validation_timeout", r.value("validation_timeout", 6000.0)}}));
    components.push_back(component("model_locator", "nvflare.app_common.np.np_model_locator.NPModelLocator",
                                   Value{{"model_dir", "app_server/custom/models"}, {"model_name", r["model_name"]}}));
    p.script = r.value("eval_script", std::string("{NVFLARE_BIN} train --add 0"));
    p.args = r.value("eval_args", std::string());
  } else if (recipe == "fedeval") {
    workflows.push_back(component("eval", "nvflare.app_common.workflows.eval_controller.EvalController",
                                  Value{{"persistor_id", "persistor"},
                                        {"validation_timeout", r.value("validation_timeout", 6000.0)}}));
    components.push_back(persistor(r, "eval_ckpt"));
    p.script = r.value("eval_script", Value()).is_string() ? r["eval_script"].get<std::string>() : default_script(r);
    p.args = r.value("eval_args", std::string());
  } else if (recipe == "lr_fedavg") {
    const int features = r.value("num_features", 13);
    workflows.push_back(component("lr_fedavg", "nvflare.app_common.workflows.lr.fedavg.FedAvgLR",
                                  Value{{"num_clients", min_clients},
                                        {"num_rounds", rounds},
                                        {"damping_factor", r.value("damping_factor", 0.8)},
                                        {"epsilon", r.value("epsilon", 1.0)},
                                        {"n_features", features}}));
    p.algo_args = "--num-features " + std::to_string(features);
  } else {
    return InvalidArgumentError("recipe '" + recipe + "' has no job layout");
  }
  if (r.value("cross_site_eval", false)) {
    workflows.push_back(component("cross_site_validate",
                                  "nvflare.app_common.workflows.cross_site_model_eval.CrossSiteModelEval",
                                  Value{{"model_locator_id", "model_locator"}}));
    components.push_back(numpy ? component("model_locator", "nvflare.app_common.np.np_model_locator.NPModelLocator")
                               : component("model_locator", "nvflare.app_opt.pt.file_model_locator.PTFileModelLocator",
                                           Value{{"pt_persistor_id", "persistor"}}));
  }
  p.server = Value{{"format_version", 2},
                   {"workflows", workflows},
                   {"components", components},
                   {"task_data_filters", Value::array()},
                   {"task_result_filters", Value::array()}};
  return p;
}

Status write_json(const fs::path& path, const Value& v) {
  NVF_RETURN_IF_ERROR(base::make_dirs(path.parent_path()));
  return base::atomic_write(path, v.dump(4) + "\n");
}

}  // namespace

const std::vector<RecipeInfo>& recipe_library() {
  static const std::vector<RecipeInfo> lib = make_library();  // immutable after first use
  return lib;
}

Result<const RecipeInfo*> find_recipe(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& r : recipe_library()) {
    if (r.name == name) return &r;
    names.push_back(r.name);
  }
  return NotFoundError("there is no recipe '" + name + "' in the library; recipes: " + base::join(names, ", "));
}

Result<Value> load_recipe(const fs::path& file) {
  NVF_ASSIGN_OR_RETURN(Value v, config::load_file(file));
  return check_recipe(v, file.string(), fs::absolute(file).parent_path());
}

Result<Value> check_recipe(const Value& v, const std::string& where, const fs::path& base_dir) {
  if (!v.is_object()) return InvalidArgumentError(where + ": a recipe file must be a table of parameters");
  if (!v.contains("recipe") || !v["recipe"].is_string()) {
    return InvalidArgumentError(where + ": recipe: missing; name a recipe of the library, e.g. recipe = \"fedavg\" "
                                "(nvflare recipe list)");
  }
  auto info = find_recipe(v["recipe"].get<std::string>());
  if (!info.ok()) return InvalidArgumentError(where + ": recipe: " + info.status().message());
  Value out{{"recipe", (*info)->name}};
  std::vector<std::string> allowed;
  for (const auto& p : (*info)->params) allowed.push_back(p.name);
  for (const auto& item : v.items()) {
    const std::string& k = item.key();
    const Value& val = item.value();
    if (k == "recipe") continue;
    auto it = std::find_if((*info)->params.begin(), (*info)->params.end(), [&](const auto& p) { return p.name == k; });
    if (it == (*info)->params.end()) {
      return InvalidArgumentError(where + ": " + k + ": not a parameter of recipe '" + (*info)->name +
                                  "'; its parameters: " + base::join(allowed, ", "));
    }
    if (!fits(it->type, val)) {
      auto a = [](const std::string& t) { return (t == "int" ? "an " : "a ") + t; };
      return InvalidArgumentError(where + ": " + k + ": must be " + a(it->type) + " but is " + a(type_of(val)) +
                                  " (" + val.dump() + ")");
    }
    out[k] = val;
  }
  for (const auto& p : (*info)->params) {
    if (out.contains(p.name)) continue;
    if (p.required) {
      return InvalidArgumentError(where + ": " + p.name + ": required by recipe '" + (*info)->name + "' (" + p.doc + ")");
    }
    if (!p.fallback.is_null()) out[p.name] = p.fallback;
  }
  NVF_RETURN_IF_ERROR(check_ranges(where, (*info)->name, out));
  // Paths in the recipe are relative to the recipe file.
  for (const char* key : {"initial_ckpt", "eval_ckpt", "model_dir"}) {
    if (!out.contains(key) || !out[key].is_string()) continue;
    fs::path p = out[key].get<std::string>();
    if (p.is_relative()) out[key] = (base_dir / p).lexically_normal().string();
  }
  if (out.contains("model") && out["model"].is_string()) {
    const std::string m = out["model"].get<std::string>();
    if (m.size() > 3 && (m.ends_with(".pt") || m.ends_with(".pth")) && fs::path(m).is_relative()) {
      out["model"] = (base_dir / m).lexically_normal().string();
    }
  }
  return out;
}

Result<fs::path> export_recipe(const Value& r, const fs::path& out_dir) {
  NVF_ASSIGN_OR_RETURN(Plan plan, plan_of(r));
  const std::string name = r["name"].get<std::string>();
  const fs::path job = out_dir / name;
  std::error_code ec;
  if (fs::exists(job, ec) && !fs::exists(job / "meta.json", ec)) {
    return FailedPreconditionError(job.string() + " exists and is not a job folder; choose another -j folder or name");
  }
  // Written into a scratch folder beside it and renamed at the end: a failed export leaves
  // nothing behind, and an earlier export stays until the new one is complete.
  NVF_RETURN_IF_ERROR(base::make_dirs(out_dir));
  NVF_ASSIGN_OR_RETURN(fs::path tmp, base::make_temp_dir_in(out_dir, "." + name + ".export"));
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code e;
      if (!dir.empty()) fs::remove_all(dir, e);
    }
  } cleanup{tmp};
  const int64_t min_clients = r.value("min_clients", int64_t{1});
  Value meta{{"name", name}, {"resource_spec", Value::object()}, {"min_clients", min_clients},
             {"mandatory_clients", Value::array()}};
  const Value sites = r.value("per_site_config", Value::object());
  if (sites.empty()) {
    meta["deploy_map"] = Value{{"app", Value::array({"@ALL"})}};
    NVF_RETURN_IF_ERROR(write_json(tmp / "app" / "config" / "config_fed_server.json", plan.server));
    NVF_RETURN_IF_ERROR(write_json(tmp / "app" / "config" / "config_fed_client.json",
                                   client_config(r, joined(joined(plan.script, plan.args), plan.algo_args),
                                                 plan.transfer, plan.launch_once)));
  } else {
    // FLARE's per_site_config: its keys are the job's sites, each with an app of its own.
    meta["deploy_map"] = Value{{"app_server", Value::array({"server"})}};
    NVF_RETURN_IF_ERROR(write_json(tmp / "app_server" / "config" / "config_fed_server.json", plan.server));
    for (const auto& [site, cfg] : sites.items()) {
      const std::string script = cfg.value("train_script", plan.script);
      const std::string args = cfg.value("train_args", plan.args);
      const std::string transfer =
          r["recipe"] == "fedopt" ? "DIFF" : cfg.value("params_transfer_type", plan.transfer);
      const std::string app = "app_" + site;
      meta["deploy_map"][app] = Value::array({site});
      NVF_RETURN_IF_ERROR(write_json(tmp / app / "config" / "config_fed_client.json",
                                     client_config(r, joined(joined(script, args), plan.algo_args), transfer,
                                                   cfg.value("launch_once", plan.launch_once))));
    }
  }
  if (r["recipe"] == "numpy_cross_site_eval") {
    // The server models travel with the job (app_server/custom/models on the server).
    const fs::path from = r["model_dir"].get<std::string>();
    for (const auto& [model, f] : r["model_name"].items()) {
      const fs::path src = from / f.get<std::string>();
      if (!fs::is_regular_file(src, ec)) {
        return NotFoundError("model_name." + model + ": " + src.string() + " does not exist");
      }
      NVF_RETURN_IF_ERROR(base::make_dirs(tmp / "app" / "custom" / "models"));
      fs::copy_file(src, tmp / "app" / "custom" / "models" / src.filename(), fs::copy_options::overwrite_existing, ec);
      if (ec) return InternalError("cannot copy " + src.string() + ": " + ec.message());
    }
  }
  NVF_RETURN_IF_ERROR(write_json(tmp / "meta.json", meta));
  if (fs::exists(job, ec)) {
    fs::remove_all(job, ec);
    if (ec) return InternalError("cannot replace " + job.string() + ": " + ec.message());
  }
  fs::rename(tmp, job, ec);
  if (ec) return InternalError("cannot move the export to " + job.string() + ": " + ec.message());
  cleanup.dir.clear();
  return job;
}

std::string render_recipe_list() {
  std::string out;
  for (const auto& r : recipe_library()) {
    std::string name = r.name;
    name.resize(std::max<size_t>(name.size() + 2, 24), ' ');
    out += name + r.description + "\n";
  }
  return out;
}

std::string render_recipe(const RecipeInfo& info) {
  std::string out = info.name + " (FLARE's " + info.flare_name + "): " + info.description + "\n\nparameters:\n";
  for (const auto& p : info.params) {
    std::string head = "  " + p.name + " (" + p.type + ")";
    head += p.required ? ", required" : (p.fallback.is_null() ? "" : ", default " + p.fallback.dump());
    out += head + "\n      " + p.doc + "\n";
  }
  out += "\nexample:\n  recipe = \"" + info.name + "\"\n";
  for (const auto& p : info.params) {
    if (p.required) out += "  " + p.name + " = " + (p.type == "int" ? "2" : "\"...\"") + "\n";
  }
  return out;
}

}  // namespace nvf::tools
