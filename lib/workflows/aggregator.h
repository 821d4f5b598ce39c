// WeightedAggregator: FLARE's streaming weighted mean of client results (workflows spec §1.1,
// §1.2, §2.2d), holding ONE accumulator per tensor whatever the number of clients.
//
// Per result: weight = aggregation_weights.get(client, 1.0) × meta NUM_STEPS_CURRENT_ROUND
// (default 1.0, a missing value is logged at most 10 times per client). Per tensor name k (names
// matching the exclude_vars regex, Python re.search semantics, are skipped):
//   sum[k] += w · x[k]   (float32 accumulator; float64 for F64, I64 and I32 inputs)
//   count[k] += w
//   result[k] = sum[k] / count[k], in the dtype of the inputs (integers rounded to nearest).
// Metrics are averaged with the same weights when every result of the round has metrics.
// The aggregated FLModel carries the params type of the first result and meta
// {"nr_aggregated": n, "current_round": r, "total_weight": Σ of the results' weights}.
//
// Two ways in: add() takes a whole result, checks it completely and only then accumulates it
// (all or nothing); the caller may free the result's tensors right after. The incremental API
// (begin_client, add_tensor..., finish_client) accumulates tensors as they arrive over the
// network, each checked on arrival; a client whose stream breaks midway has contributed the
// tensors already added (the per-key weighted mean stays exact for every key, as with FLARE's
// helper) and abandon_client() keeps it out of nr_aggregated and the metrics.
//
// Threads: every method may be called from any thread; calls are serialized by an internal mutex
// (accumulation into the single accumulator is serial anyway).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "base/logging.h"
#include "base/status.h"
#include "fl/component_registry.h"
#include "fl/fl_model.h"
#include "workflows/controller.h"
#include "tensor/tensor.h"

namespace nvf::fl {

struct AggregatorOptions {
  /// A regex searched in each tensor name; matching tensors are not aggregated. Empty: none.
  std::string exclude_vars;
  /// Per-client weight factors; clients not listed weigh 1.0.
  std::map<std::string, double> aggregation_weights;
  /// When set, results of another params type are rejected (FLARE's expected_data_kind:
  /// WEIGHTS = kFull, WEIGHT_DIFF = kDiff, METRICS = kNone). Unset: any type, but every result
  /// of a round must have the type of the first.
  std::optional<ParamsType> expected_params_type;
};

class WeightedAggregator : public Component, public Aggregator {
 public:
  /// Errors: INVALID_ARGUMENT when exclude_vars is not a valid regex.
  static Result<std::unique_ptr<WeightedAggregator>> create(AggregatorOptions options,
                                                            base::Logger logger = nullptr);

  const AggregatorOptions& options() const { return options_; }

  /// Starts a new round: drops the accumulators and contributions (not the expected shapes).
  void reset(int current_round = 0) override;
  /// The shapes results must have: a result tensor named like one of `global`'s must have its
  /// shape (results are weights or diffs of the model the round was sent with), whatever result
  /// comes first. Unset: results are only checked against each other.
  void expect_shapes_of(const tensor::TensorDict& global) override;
  int current_round() const;

  /// The weight a result of `client` gets. Errors: INVALID_ARGUMENT when
  /// NUM_STEPS_CURRENT_ROUND is present but not a number (names the client).
  Result<double> weight_of(const std::string& client, const FLModel& result);

  /// Checks and accumulates a whole result. Errors (each names the client, and the tensor where
  /// one is at fault): ALREADY_EXISTS for a second result of a client in this round;
  /// INVALID_ARGUMENT for a params type other than the expected one or the first result's, FULL or
  /// DIFF without params, a tensor whose shape differs from the expected one (expect_shapes_of) or
  /// whose shape or dtype differs from earlier results', a tensor
  /// earlier results lack, a tensor missing that earlier results have, a non-numeric
  /// NUM_STEPS_CURRENT_ROUND. Nothing is accumulated when an error is returned.
  Status add(const std::string& client, const FLModel& result);

  /// Starts an incremental result; `header` carries params_type, meta and metrics (its params are
  /// ignored). Errors: as add() for duplicates, params type and NUM_STEPS.
  Status begin_client(const std::string& client, const FLModel& header);
  /// Accumulates one tensor of a begun client (excluded names are skipped). Errors:
  /// FAILED_PRECONDITION when the client has not begun or has finished; INVALID_ARGUMENT naming
  /// client and tensor for a repeated tensor, a shape or dtype mismatch, or a tensor earlier
  /// results lack.
  Status add_tensor(const std::string& client, const std::string& name, const tensor::Tensor& t);
  /// Completes a begun client: its metrics count from now on. Errors: FAILED_PRECONDITION when
  /// not begun; INVALID_ARGUMENT naming the first tensor earlier results have and this one lacks
  /// (the client is then abandoned), or FULL/DIFF without any tensor.
  Status finish_client(const std::string& client);
  /// Gives up on a begun client (stream broken): it does not count in nr_aggregated or metrics.
  void abandon_client(const std::string& client);

  // fl::Aggregator, over the calls above.
  Status accept_begin(const std::string& client, const FLModel& header) override {
    return begin_client(client, header);
  }
  Status accept_tensor(const std::string& client, const std::string& name, const tensor::Tensor& t) override {
    return add_tensor(client, name, t);
  }
  Status accept_end(const std::string& client) override { return finish_client(client); }
  void abandon(const std::string& client) override { abandon_client(client); }
  /// Adds `memory` to what the accumulators of the next round may take (by name, when dtype and
  /// shape fit and nothing else holds it); what that round does not take is let go when it ends.
  void recycle(tensor::TensorDict memory) override;

  /// Clients whose results were completely added this round, in order.
  std::vector<std::string> contributors() const override;

  /// The weighted mean of the round; ends the round (the accumulators become the result, so the
  /// aggregator is empty afterwards, with the same current_round). Clients begun but not finished
  /// are abandoned (logged). Errors: FAILED_PRECONDITION when no result was completely added, or
  /// when a tensor's total weight is 0.
  Result<FLModel> aggregate() override;

 private:
  struct Accumulator {
    std::string name;
    tensor::Tensor sum;
    tensor::DType input_dtype = tensor::DType::kF32;
    double weight = 0;
  };
  struct ClientState {
    double weight = 1.0;
    std::map<std::string, double> metrics;
    std::set<std::string> received;
    bool finished = false;
  };

  WeightedAggregator(AggregatorOptions options, std::optional<std::regex> exclude,
                     base::Logger logger);

  bool excluded(const std::string& name) const;
  Status check_header_locked(const std::string& client, const FLModel& header);
  Status begin_locked(const std::string& client, const FLModel& header);
  Status check_tensor_locked(const std::string& client, const std::string& name,
                             const tensor::Tensor& t) const;
  Status accumulate_locked(const std::string& client, const std::string& name,
                           const tensor::Tensor& t);
  Status finish_locked(const std::string& client);
  Result<double> weight_locked(const std::string& client, const FLModel& result);
  void reset_locked(int current_round);

  const AggregatorOptions options_;
  const std::optional<std::regex> exclude_;
  const base::Logger logger_;

  mutable std::mutex mu_;  // guards everything below
  int current_round_ = 0;
  std::vector<Accumulator> accs_;
  std::map<std::string, size_t, std::less<>> acc_index_;
  std::optional<std::set<std::string>> reference_keys_;  // keys of the first finished result
  std::map<std::string, tensor::Shape, std::less<>> expected_shapes_;  // the global model's
  std::optional<ParamsType> first_type_;
  std::string first_client_;
  std::map<std::string, ClientState> clients_;
  std::vector<std::string> finished_order_;
  std::map<std::string, int> missing_steps_logged_;  // kept across rounds
  std::map<std::string, std::vector<tensor::Tensor>, std::less<>> recycled_;  // recycle(): by name
};

/// Applies an aggregated result to the global model (FLARE's FLModelUtils.update_model):
/// FULL replaces the params (excluded keys disappear, as in FLARE), DIFF adds
/// global[k] += diff[k] for each diff key. The global model's meta and metrics become the
/// aggregated ones. `aggregated` is consumed (FULL params move without a copy).
/// Errors: INVALID_ARGUMENT when the global model is not FULL, the aggregated one has no params
/// type, or a diff key is missing from the global model or has another shape (nothing changes).
Status apply_update(FLModel& global, FLModel aggregated);

}  // namespace nvf::fl
