// Filters (FLARE's task_data_filters / task_result_filters, cli-and-formats §2.3, workflows §18):
// transformations of a task's data or a task's result, configured per task name as chains in an
// app config and run where the model is (docs/decisions/010-filters-run-where-the-model-is.md):
//   server: task data, direction OUT, before the task's params are published (ServerJobEngine);
//           task results, direction IN, on each client's result before the workflow sees it;
//   client: task data, direction IN, in the trainer right after the Client API downloads the
//           params; task results, direction OUT, in the trainer before send() publishes them.
// A chain entry is {"tasks": [names or "*"], "filters": [{path, args}...], "direction"?:
// "in" | "out" | "inout"}; without "direction" the defaults above apply. The filters are built
// through the component registry (FLARE class paths are aliases); built-ins: ExcludeVars,
// PercentilePrivacy, SVTPrivacy.
//
// Ownership: FilterChains owns its filters. Threads: chains and filters are read-only after they
// are built; a filter's filter() may be called from several threads at once (server result
// filters run on the download threads) and keeps no state between calls except behind its own lock.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/logging.h"
#include "base/status.h"
#include "config/value.h"
#include "fl/component_registry.h"
#include "fl/fl_model.h"

namespace nvf::fl {

/// Which message a chain filters: the task's data (server → client) or its result.
enum class FilterKind { kTaskData, kTaskResult };
/// OUT: the message leaves this side; IN: it arrives.
enum class FilterDirection { kIn, kOut };

/// "task_data_filters" / "task_result_filters".
std::string_view filter_kind_key(FilterKind kind);
/// "in" / "out".
std::string_view filter_direction_name(FilterDirection direction);

/// FLARE's defaults: server data=OUT, result=IN; client data=IN, result=OUT.
FilterDirection default_filter_direction(FilterKind kind, bool is_server);

struct FilterContext {
  std::string task_name;
  std::string site_name;  // where the filter runs ("server", "site-1")
  std::string peer;       // the other side when known (the client whose result this is)
  FilterKind kind = FilterKind::kTaskData;
  FilterDirection direction = FilterDirection::kOut;
  base::Logger logger;  // null: drop
};

/// A filter transforms a whole FLModel in place. Tensors of `model.params` may be read-only views
/// of memory the filter does not own (the server's global model, a received buffer): a filter
/// never writes into a tensor it did not create — it replaces it with a new one.
class Filter : public Component {
 public:
  /// Errors end the task data (the workflow's broadcast fails) or reject the result.
  virtual Status filter(FLModel& model, const FilterContext& ctx) = 0;
};

/// The filter chains of one app config.
class FilterChains {
 public:
  FilterChains() = default;
  FilterChains(FilterChains&&) noexcept = default;
  FilterChains& operator=(FilterChains&&) noexcept = default;

  /// The filters of the chain for `kind` of `task` going `direction`: the chain naming the task
  /// wins over one whose pattern ("*", fnmatch) matches; empty when none.
  std::vector<Filter*> select(FilterKind kind, std::string_view task, FilterDirection direction) const;
  bool has(FilterKind kind, std::string_view task, FilterDirection direction) const {
    return !select(kind, task, direction).empty();
  }
  bool empty() const { return chains_.empty(); }

  /// Runs the chain selected by ctx.kind, ctx.task_name and ctx.direction on `model`, in order.
  /// Errors: the first filter error, prefixed with the filter's field ("task_result_filters[0].
  /// filters[1] (ExcludeVars): ...").
  Status apply(FLModel& model, const FilterContext& ctx) const;

 private:
  friend Result<FilterChains> build_filter_chains(const config::Value&, const ComponentRegistry&,
                                                  std::string_view, const BuildEnv&, bool);
  struct Chain {
    FilterKind kind = FilterKind::kTaskData;
    bool in = false, out = false;
    std::vector<std::string> tasks;
    std::vector<Filter*> filters;
    std::vector<std::string> fields;  // "task_result_filters[0].filters[1] (ExcludeVars)"
  };
  const Chain* find(FilterKind kind, std::string_view task, FilterDirection direction) const;

  std::vector<Chain> chains_;
  std::vector<std::unique_ptr<Component>> owned_;
};

/// Builds the task_data_filters and task_result_filters chains of a resolved app config (`file`
/// names it in messages). A disabled filter is skipped; a chain whose direction never applies on
/// this side is kept (it never runs) and logged. Errors: INVALID_ARGUMENT naming the file and the
/// field for a malformed chain ("tasks"/"filters" not non-empty lists, a bad "direction"), an
/// unknown filter path ("unknown component path 'x' in task_result_filters[0].filters[1];
/// available: ..."), a component that is not a filter, a filter's argument error.
Result<FilterChains> build_filter_chains(const config::Value& resolved_app_config,
                                         const ComponentRegistry& registry, std::string_view file,
                                         const BuildEnv& env, bool is_server);

/// The filter part of an app config ({"task_data_filters": [...], "task_result_filters": [...]},
/// keys absent when the config has none): what a client job hands its trainer.
config::Value filter_config_of(const config::Value& resolved_app_config);

/// Adds ExcludeVars, PercentilePrivacy and SVTPrivacy (called by ComponentRegistry::builtin()).
Status add_builtin_filters(ComponentRegistry& registry);

// ---- the built-in filters' math, on FLARE's terms (workflows §18) ----

/// numpy.percentile(values, q) with linear interpolation; values is reordered. 0 for no values.
double percentile_linear(std::vector<double>& values, double q);

}  // namespace nvf::fl
