// IntimeModelSelector: FLARE's best-model selection (workflows spec §4.2,
// nvflare/app_common/widgets/intime_model_selector.py).
//
// Per round: round_started() resets the sums; add_result() takes each client result's evaluation
// of the model it received (FLModel.metrics[key_metric], else meta["initial_metrics"][key_metric],
// negated with negate_key_metric), weighted by aggregation_weights.get(client, 1.0) ×
// (NUM_STEPS_CURRENT_ROUND when weigh_by_local_iter); round 0 (the initial model) and results of
// another round are skipped. before_aggregation() computes Σw·m / Σw and says whether it beats the
// best so far (higher is better; the best starts at −∞); the controller then saves the model the
// clients evaluated as the best model. observe() is the shortcut for a controller that already has
// the round's aggregated metrics.
//
// Threads: one call at a time (the controller's), like FLARE's serialized event handlers.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "base/logging.h"
#include "fl/component_registry.h"
#include "fl/fl_model.h"

namespace nvf::fl {

struct ModelSelectorOptions {
  std::string key_metric = "val_accuracy";
  bool negate_key_metric = false;
  bool weigh_by_local_iter = false;
  std::map<std::string, double> aggregation_weights;
  /// The meta key holding the evaluation of the received model when metrics lack the key.
  std::string validation_metric_name = std::string(kMetaInitialMetrics);
};

class IntimeModelSelector : public Component {
 public:
  explicit IntimeModelSelector(ModelSelectorOptions options, base::Logger logger = nullptr);

  const ModelSelectorOptions& options() const { return options_; }

  /// ROUND_STARTED: resets the round's sums.
  void round_started(int round);

  /// BEFORE_CONTRIBUTION_ACCEPT: counts the result's key metric. `contribution_round`, when
  /// known, must equal the current round. Returns whether the result was counted (false for round
  /// 0, another round, or a missing or non-numeric metric).
  bool add_result(const std::string& client, const FLModel& result,
                  std::optional<int> contribution_round = std::nullopt);

  /// BEFORE_AGGREGATION: true when the round's weighted key metric beats the best so far (it then
  /// becomes the best). False when no result of the round carried the metric.
  bool before_aggregation();

  /// round_started + before_aggregation for already-aggregated metrics of `round`.
  bool observe(int round, const std::map<std::string, double>& metrics);

  /// The best value (negated when negate_key_metric) and its round; nullopt / -1 before any.
  std::optional<double> best_value() const { return best_; }
  int best_round() const { return best_round_; }

 private:
  ModelSelectorOptions options_;
  base::Logger logger_;
  int round_ = 0;
  double sum_ = 0;
  double weight_ = 0;
  std::optional<double> best_;
  int best_round_ = -1;
};

}  // namespace nvf::fl
