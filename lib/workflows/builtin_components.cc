// The registry entries of the server-side components (persistors, the aggregator, model selection,
// accepted FLARE widgets): their FLARE aliases, accepted args and the factories that turn config
// args into objects (register_server_components()).
#include <string>

#include "base/strings.h"
#include "workflows/aggregator.h"
#include "fl/component_registry.h"
#include "workflows/register.h"
#include "workflows/model_selector.h"
#include "workflows/model_zoo.h"
#include "workflows/np_model_persistor.h"
#include "workflows/pt_file_model_persistor.h"
#include "workflows/tb_receiver.h"

namespace nvf::fl {
namespace {

using config::Value;
using Made = Result<std::unique_ptr<Component>>;

/// Prefixes a component's own error with the file and the component's field.
Status at_component(const BuildContext& ctx, const Status& s) {
  return Status(s.code(), std::string(ctx.file()) + ": " + ctx.field().str() + ": " + s.message());
}

PersistorContext persistor_context(const BuildContext& ctx) {
  return PersistorContext{ctx.env().run_dir, ctx.env().app_dir};
}

Made make_np_persistor(const BuildContext& ctx) {
  NPModelPersistorOptions o;
  NVF_ASSIGN_OR_RETURN(o.model_dir, ctx.string_arg("model_dir", o.model_dir));
  NVF_ASSIGN_OR_RETURN(o.model_name, ctx.string_arg("model_name", o.model_name));
  for (const char* arg : {"initial_model", "model"}) {
    if (!ctx.has_arg(arg)) continue;
    o.initial_model = ctx.args()[arg];
    auto t = tensor_from_nested_list(o.initial_model);
    if (!t.ok()) return ctx.arg_error(arg, t.status().message());
    break;
  }
  NVF_ASSIGN_OR_RETURN(std::string ckpt, ctx.string_arg("initial_ckpt", ""));
  o.initial_ckpt = ckpt;
  auto made = NPModelPersistor::create(persistor_context(ctx), std::move(o), ctx.logger());
  if (!made.ok()) return at_component(ctx, made.status());
  return std::unique_ptr<Component>(std::move(made).value());
}

// "model": a model-zoo name, the id of a model component, or an inline {"path": ...} object.
Result<ModelArchitecture> model_arg(const BuildContext& ctx) {
  const Value& v = ctx.args()["model"];
  if (v.is_object()) {
    for (const char* key : {"path", "class_path", "name"}) {
      if (!v.contains(key) || !v[key].is_string()) continue;
      auto arch = find_architecture(v[key].get<std::string>());
      if (!arch.ok()) return ctx.arg_error("model", arch.status().message());
      return arch;
    }
    return ctx.arg_error("model", "a model object needs a \"path\"");
  }
  if (!v.is_string()) return ctx.arg_error("model", "must be a model name, id or object");
  const std::string name = v.get<std::string>();
  auto arch = find_architecture(name);
  if (arch.ok()) return arch;
  auto comp = ctx.component_as<ModelArchitectureComponent>("model", name, "a model");
  if (comp.ok()) return (*comp)->architecture();
  return ctx.arg_error("model", "'" + name + "' is neither a model-zoo name (" +
                                    base::join(model_zoo_names(), ", ") +
                                    ") nor the id of a model component");
}

Made make_pt_persistor(const BuildContext& ctx) {
  PTFileModelPersistorOptions o;
  NVF_ASSIGN_OR_RETURN(o.exclude_vars, ctx.string_arg("exclude_vars", ""));
  NVF_ASSIGN_OR_RETURN(o.global_model_file_name,
                       ctx.string_arg("global_model_file_name", o.global_model_file_name));
  NVF_ASSIGN_OR_RETURN(
      o.best_global_model_file_name,
      ctx.string_arg("best_global_model_file_name", o.best_global_model_file_name));
  for (const char* arg : {"source_ckpt_file_full_name", "initial_ckpt"}) {
    NVF_ASSIGN_OR_RETURN(std::string ckpt, ctx.string_arg(arg, ""));
    if (!ckpt.empty()) o.source_ckpt_file_full_name = ckpt;
  }
  NVF_ASSIGN_OR_RETURN(int64_t seed, ctx.int_arg("seed", 0));
  o.seed = static_cast<uint64_t>(seed);
  if (ctx.has_arg("model")) {
    const Value& v = ctx.args()["model"];
    // FLARE names the model as a Python class ({"path": "model.Net", "args": {...}}, or the id of
    // a component with that path); one whose module is in the app's custom folder is the job's
    // own class, and Python builds its initial weights. Other classes must be in the model zoo.
    std::string class_path;
    Value class_args = Value::object();
    if (v.is_object()) {
      for (const char* key : {"path", "class_path"}) {
        if (v.contains(key) && v[key].is_string()) {
          class_path = v[key].get<std::string>();
          break;
        }
      }
      if (v.contains("args")) class_args = v["args"];
    } else if (v.is_string()) {
      class_path = v.get<std::string>();
      if (!find_architecture(class_path).ok()) {
        if (auto c = ctx.component("model", class_path); c.ok()) {
          if (auto* pc = dynamic_cast<PythonClassComponent*>(*c)) {
            class_path = pc->class_path();
            class_args = pc->args();
          }
        }
      }
    }
    if (v.is_string() && is_torch_file_name(class_path)) {
      o.model_file = class_path;  // a TorchScript model: its saved weights
    } else if (!class_path.empty() && !python_module_file(ctx.env().app_dir / "custom", class_path).empty()) {
      if (!class_args.is_object()) return ctx.arg_error("model", "\"args\" of the model class must be an object");
      o.python_class_path = class_path;
      o.python_class_args = class_args.dump();
      o.python = ctx.env().python;
      o.python_package_root = ctx.env().python_package_root;
    } else {
      NVF_ASSIGN_OR_RETURN(o.model, model_arg(ctx));
    }
  }
  o.torch_helper = ctx.env().torch_helper;
  if (ctx.has_arg("filter_id")) {
    ctx.logger()->warn("{}: {}: filter_id is ignored: persistor filters are not supported yet",
                       ctx.file(), ctx.field().str());
  }
  for (const char* arg : {"load_weights_only", "allow_numpy_conversion"}) {
    NVF_RETURN_IF_ERROR(ctx.bool_arg(arg, false).status());  // accepted; no effect without torch
  }
  auto made = PTFileModelPersistor::create(persistor_context(ctx), std::move(o), ctx.logger());
  if (!made.ok()) return at_component(ctx, made.status());
  return std::unique_ptr<Component>(std::move(made).value());
}

Made make_intime_aggregator(const BuildContext& ctx) {
  AggregatorOptions o;
  if (ctx.has_arg("exclude_vars") && !ctx.args()["exclude_vars"].is_string()) {
    return ctx.arg_error("exclude_vars",
                         "only a regex string is supported (per-collection dicts are not)");
  }
  NVF_ASSIGN_OR_RETURN(o.exclude_vars, ctx.string_arg("exclude_vars", ""));
  if (ctx.has_arg("aggregation_weights")) {
    for (const auto& [k, v] : ctx.args()["aggregation_weights"].items()) {
      if (v.is_object()) {
        return ctx.arg_error("aggregation_weights",
                             "per-collection weights (a dict of dicts) are not supported");
      }
    }
  }
  NVF_ASSIGN_OR_RETURN(o.aggregation_weights, ctx.number_map_arg("aggregation_weights"));
  NVF_ASSIGN_OR_RETURN(std::string kind, ctx.string_arg("expected_data_kind", "WEIGHT_DIFF"));
  if (kind == "WEIGHTS") {
    o.expected_params_type = ParamsType::kFull;
  } else if (kind == "WEIGHT_DIFF") {
    o.expected_params_type = ParamsType::kDiff;
  } else if (kind == "METRICS") {
    o.expected_params_type = ParamsType::kNone;
  } else {
    return ctx.arg_error("expected_data_kind", "'" + kind +
                                                   "' is not supported; use WEIGHTS, "
                                                   "WEIGHT_DIFF or METRICS");
  }
  NVF_ASSIGN_OR_RETURN(bool by_iter, ctx.bool_arg("weigh_by_local_iter", true));
  if (!by_iter) {
    return ctx.arg_error("weigh_by_local_iter",
                         "false (homomorphic-encryption mode) is not supported");
  }
  auto made = WeightedAggregator::create(std::move(o), ctx.logger());
  if (!made.ok()) return ctx.arg_error("exclude_vars", made.status().message());
  return std::unique_ptr<Component>(std::move(made).value());
}

Made make_model_selector(const BuildContext& ctx) {
  ModelSelectorOptions o;
  NVF_ASSIGN_OR_RETURN(o.key_metric, ctx.string_arg("key_metric", o.key_metric));
  NVF_ASSIGN_OR_RETURN(o.negate_key_metric, ctx.bool_arg("negate_key_metric", false));
  NVF_ASSIGN_OR_RETURN(o.weigh_by_local_iter, ctx.bool_arg("weigh_by_local_iter", false));
  NVF_ASSIGN_OR_RETURN(o.aggregation_weights, ctx.number_map_arg("aggregation_weights"));
  NVF_ASSIGN_OR_RETURN(o.validation_metric_name,
                       ctx.string_arg("validation_metric_name", o.validation_metric_name));
  return std::unique_ptr<Component>(new IntimeModelSelector(std::move(o), ctx.logger()));
}

void must_add(ComponentRegistry& registry, ComponentEntry entry) {
  const Status s = registry.add(std::move(entry));
  NVF_CHECK(s.ok());
}

}  // namespace

Status register_server_components(ComponentRegistry& r) {
  must_add(r, {"NPModelPersistor",
               {"nvflare.app_common.np.np_model_persistor.NPModelPersistor"},
               ComponentKind::kPersistor,
               {"model_dir", "model_name", "initial_model", "model", "initial_ckpt"},
               make_np_persistor});
  must_add(r, {"PTFileModelPersistor",
               {"nvflare.app_opt.pt.file_model_persistor.PTFileModelPersistor"},
               ComponentKind::kPersistor,
               {"exclude_vars", "model", "global_model_file_name", "best_global_model_file_name",
                "source_ckpt_file_full_name", "initial_ckpt", "filter_id", "load_weights_only",
                "allow_numpy_conversion", "seed"},
               make_pt_persistor});
  must_add(r, {"InTimeAccumulateWeightedAggregator",
               {"nvflare.app_common.aggregators.intime_accumulate_model_aggregator."
                "InTimeAccumulateWeightedAggregator"},
               ComponentKind::kAggregator,
               {"exclude_vars", "aggregation_weights", "expected_data_kind", "weigh_by_local_iter"},
               make_intime_aggregator});
  must_add(r, {"IntimeModelSelector",
               {"nvflare.app_common.widgets.intime_model_selector.IntimeModelSelector"},
               ComponentKind::kModelSelector,
               {"weigh_by_local_iter", "aggregation_weights", "validation_metric_name",
                "key_metric", "negate_key_metric"},
               make_model_selector});
  must_add(r, {"FullModelShareableGenerator",
               {"nvflare.app_common.shareablegenerators.full_model_shareable_generator."
                "FullModelShareableGenerator"},
               ComponentKind::kOther,
               {},
               [](const BuildContext&) -> Made {
                 return std::unique_ptr<Component>(new NoOpComponent());  // controllers do it
               }});
  must_add(r, {"TBAnalyticsReceiver",
               {"nvflare.app_opt.tracking.tb.tb_receiver.TBAnalyticsReceiver"},
               ComponentKind::kOther,
               {"tb_folder", "events"},
               [](const BuildContext& ctx) -> Made {
                 NVF_ASSIGN_OR_RETURN(std::string folder, ctx.string_arg("tb_folder", "tb_events"));
                 if (folder.empty() || folder.find("..") != std::string::npos || folder[0] == '/') {
                   return ctx.arg_error("tb_folder", "must be a folder name inside the job's run folder");
                 }
                 return std::unique_ptr<Component>(
                     new workflows::TBAnalyticsReceiver(ctx.env().run_dir / folder, ctx.logger()));
               }});
  // The client-side half of FLARE's tracking: here the client job always forwards a trainer's
  // metrics to the server job, so these have nothing to do.
  for (auto [name, path] : {std::pair{"ConvertToFedEvent", "nvflare.app_common.widgets.convert_to_fed_event.ConvertToFedEvent"},
                            {"TBWriter", "nvflare.app_opt.tracking.tb.tb_writer.TBWriter"}}) {
    must_add(r, {name, {path}, ComponentKind::kOther, {}, [](const BuildContext&) -> Made {
                   return std::unique_ptr<Component>(new NoOpComponent());
                 }});
  }
  must_add(r, {"SimpleNetwork",
               {"simple_network.SimpleNetwork"},
               ComponentKind::kOther,
               {},
               [](const BuildContext&) -> Made {
                 auto arch = find_architecture("simple_network");
                 NVF_CHECK(arch.ok());
                 return std::unique_ptr<Component>(
                     new ModelArchitectureComponent(std::move(arch).value()));
               }});
  return Status::OK();
}

}  // namespace nvf::fl
