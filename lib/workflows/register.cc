// FedAvg and ScatterAndGather in the component registry (FLARE class paths are aliases).
#include <chrono>

#include "workflows/fedavg.h"
#include "workflows/register.h"

namespace nvf::workflows {
namespace {

using fl::BuildContext;

std::chrono::milliseconds seconds(double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); }

fl::IntimeModelSelector* optional_selector(const BuildContext& ctx) {
  std::string id = ctx.string_arg("model_selector_id", "model_selector").value_or("model_selector");
  auto c = ctx.component_as<fl::IntimeModelSelector>("model_selector_id", id, "a model selector");
  return c.ok() ? *c : nullptr;
}

Result<std::unique_ptr<fl::Component>> make_fedavg(const BuildContext& ctx) {
  FedAvgOptions o;
  NVF_ASSIGN_OR_RETURN(int64_t n, ctx.int_arg("num_clients", 0));
  NVF_ASSIGN_OR_RETURN(int64_t min_clients, ctx.int_arg("min_clients", n > 0 ? n : 1));
  o.min_clients = static_cast<int>(min_clients);
  NVF_ASSIGN_OR_RETURN(int64_t rounds, ctx.int_arg("num_rounds", 5));
  NVF_ASSIGN_OR_RETURN(int64_t start, ctx.int_arg("start_round", 0));
  if (rounds < 1) return ctx.arg_error("num_rounds", "must be at least 1");
  if (o.min_clients < 1) return ctx.arg_error("num_clients", "must be at least 1");
  o.num_rounds = static_cast<int>(rounds);
  o.start_round = static_cast<int>(start);
  NVF_ASSIGN_OR_RETURN(o.task_name, ctx.string_arg("task_name", "train"));
  NVF_ASSIGN_OR_RETURN(o.stop_cond, ctx.string_arg("stop_cond", ""));
  if (!o.stop_cond.empty() && !parse_stop_condition(o.stop_cond).ok()) {
    return ctx.arg_error("stop_cond", parse_stop_condition(o.stop_cond).status().message());
  }
  NVF_ASSIGN_OR_RETURN(int64_t patience, ctx.int_arg("patience", 0));
  o.patience = static_cast<int>(patience);
  NVF_ASSIGN_OR_RETURN(double wait, ctx.number_arg("wait_time_after_min_received", 0));
  o.wait_time_after_min_received = seconds(wait);
  NVF_ASSIGN_OR_RETURN(double timeout, ctx.number_arg("train_timeout", 0));
  o.timeout = seconds(timeout);
  NVF_ASSIGN_OR_RETURN(int64_t gc, ctx.int_arg("memory_gc_rounds", 1));
  o.memory_gc_rounds = static_cast<int>(gc);
  NVF_ASSIGN_OR_RETURN(o.aggregation.exclude_vars, ctx.string_arg("exclude_vars", ""));
  NVF_ASSIGN_OR_RETURN(o.aggregation.aggregation_weights, ctx.number_map_arg("aggregation_weights"));
  NVF_ASSIGN_OR_RETURN(std::string pid, ctx.string_arg("persistor_id", "persistor"));
  NVF_ASSIGN_OR_RETURN(fl::ModelPersistor * persistor,
                       ctx.component_as<fl::ModelPersistor>("persistor_id", pid, "a model persistor"));
  return std::unique_ptr<fl::Component>(new FedAvg(std::move(o), persistor, optional_selector(ctx)));
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
  NVF_ASSIGN_OR_RETURN(std::string pid, ctx.string_arg("persistor_id", "persistor"));
  NVF_ASSIGN_OR_RETURN(fl::ModelPersistor * persistor,
                       ctx.component_as<fl::ModelPersistor>("persistor_id", pid, "a model persistor"));
  return std::unique_ptr<fl::Component>(new FedAvg(std::move(o), persistor, optional_selector(ctx)));
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
