// FLModel: the unit of exchange between controllers, executors and trainers (FLARE's
// nvflare.app_common.abstract.fl_model.FLModel), plus the meta keys FLARE gives meaning to.
//
// Params travel separately from the rest (as safetensors, tensor by tensor); the rest, the
// "header" (params type, metrics, meta, rounds), is encoded here as one small JSON object.
// An FLModel is a move-only value (its TensorDict is); owned by whoever holds it. The functions
// here are stateless and safe from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "nvflare/status.h"
#include "nvflare/tensor.h"

namespace nvf::config {
/// The value tree of configs and of FLModel meta (the same alias as config/value.h).
using Value = nlohmann::ordered_json;
}  // namespace nvf::config

namespace nvf::fl {

/// FLARE's ParamsType: FULL weights, DIFF (new − received), or none (metrics-only results).
enum class ParamsType { kNone, kFull, kDiff };

/// "FULL", "DIFF", "NONE".
std::string_view params_type_name(ParamsType type);

/// Parses "FULL" / "DIFF" (FLARE's enum values). Errors: INVALID_ARGUMENT naming the value.
Result<ParamsType> parse_params_type(std::string_view name);

// FLMetaKey (nvflare/app_common/abstract/fl_model.py).
inline constexpr std::string_view kMetaNumStepsCurrentRound = "NUM_STEPS_CURRENT_ROUND";
inline constexpr std::string_view kMetaProcessedAlgorithm = "PROCESSED_ALGORITHM";
inline constexpr std::string_view kMetaProcessedKeys = "PROCESSED_KEYS";
inline constexpr std::string_view kMetaInitialMetrics = "initial_metrics";
inline constexpr std::string_view kMetaFilterHistory = "filter_history";
inline constexpr std::string_view kMetaConfigs = "configs";
inline constexpr std::string_view kMetaValidateType = "validate_type";
inline constexpr std::string_view kMetaStartRound = "start_round";
inline constexpr std::string_view kMetaCurrentRound = "current_round";
inline constexpr std::string_view kMetaTotalRounds = "total_rounds";
inline constexpr std::string_view kMetaJobId = "job_id";
inline constexpr std::string_view kMetaSiteName = "site_name";
inline constexpr std::string_view kMetaSubmitModelName = "submit_model_name";
/// Set by the FedAvg aggregation on the aggregated model.
inline constexpr std::string_view kMetaNrAggregated = "nr_aggregated";
/// SCAFFOLD (FLARE's meta "scaffold_c_global" / "scaffold_c_diff"): the server's control variate
/// travels with a train task as params named "scaffold_c_global.<name>", and a client's change of
/// its own control variate comes back as params named "scaffold_c_diff.<name>" (tensors travel as
/// params here, streamed like the model; nvflare/scaffold.h does the client's part).
inline constexpr std::string_view kScaffoldCGlobalPrefix = "scaffold_c_global.";
inline constexpr std::string_view kScaffoldCDiffPrefix = "scaffold_c_diff.";

struct FLModel {
  tensor::TensorDict params;
  ParamsType params_type = ParamsType::kNone;
  /// Empty means "no metrics" (FLARE's metrics=None).
  std::map<std::string, double> metrics;
  /// Always a JSON object.
  config::Value meta = config::Value::object();
  int current_round = 0;
  int start_round = 0;
  int total_rounds = 0;
};

/// Encodes everything but params as one JSON object:
/// {"params_type": "FULL"|"DIFF"|null, "metrics": {...}, "meta": {...}, "current_round": n,
///  "start_round": n, "total_rounds": n}. Non-finite metrics are written as the strings
/// "nan", "inf", "-inf" (JSON has no such numbers).
std::string encode_fl_model_header(const FLModel& model);

/// Decodes a header written by encode_fl_model_header (params stay empty). Missing fields keep
/// their defaults; unknown fields are ignored (a newer peer may add some).
/// Errors: INVALID_ARGUMENT "FLModel header: <field>: <what>" for malformed JSON, a non-object,
/// an unknown params_type, a non-object metrics/meta, a non-number metric value, or a round that
/// is not an integer in [0, 2^31).
Result<FLModel> decode_fl_model_header(std::string_view json);

/// The number at meta[key] when present and numeric.
std::optional<double> meta_number(const FLModel& model, std::string_view key);

/// A copy of everything but the params (an FLModel is move-only because of them).
FLModel header_of(const FLModel& model);
/// A copy whose params are views of `model`'s (Tensor::share: no bytes are copied).
/// Errors: none in practice (a duplicate name cannot occur in a TensorDict).
Result<FLModel> view_of(const FLModel& model);

}  // namespace nvf::fl
