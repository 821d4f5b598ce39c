#include "workflows/model_selector.h"

#include <cmath>

namespace nvf::fl {

IntimeModelSelector::IntimeModelSelector(ModelSelectorOptions options, base::Logger logger)
    : options_(std::move(options)), logger_(logger ? std::move(logger) : base::null_logger()) {}

void IntimeModelSelector::round_started(int round) {
  round_ = round;
  sum_ = 0;
  weight_ = 0;
}

bool IntimeModelSelector::add_result(const std::string& client, const FLModel& result,
                                     std::optional<int> contribution_round) {
  if (round_ == 0) return false;  // clients evaluated the initial model
  if (contribution_round && *contribution_round != round_) {
    logger_->info("result of client '{}' is for round {} but the current round is {}; skipped",
                  client, *contribution_round, round_);
    return false;
  }
  std::optional<double> metric;
  if (auto it = result.metrics.find(options_.key_metric); it != result.metrics.end()) {
    metric = it->second;
  } else if (result.meta.is_object() && result.meta.contains(options_.validation_metric_name)) {
    const auto& m = result.meta[options_.validation_metric_name];
    if (m.is_object() && m.contains(options_.key_metric) && m[options_.key_metric].is_number()) {
      metric = m[options_.key_metric].get<double>();
    }
  }
  if (!metric) {
    logger_->debug("result of client '{}' has no metric '{}'; not used for model selection", client,
                   options_.key_metric);
    return false;
  }
  double weight = 1.0;
  if (auto it = options_.aggregation_weights.find(client);
      it != options_.aggregation_weights.end()) {
    weight = it->second;
  }
  if (options_.weigh_by_local_iter) {
    weight *= meta_number(result, kMetaNumStepsCurrentRound).value_or(1.0);
  }
  sum_ += weight * (options_.negate_key_metric ? -*metric : *metric);
  weight_ += weight;
  return true;
}

bool IntimeModelSelector::before_aggregation() {
  if (weight_ == 0) return false;
  const double value = sum_ / weight_;
  if (std::isnan(value)) return false;
  if (best_ && !(value > *best_)) return false;
  best_ = value;
  best_round_ = round_;
  logger_->info("new best validation metric {} = {} at round {}", options_.key_metric, value,
                round_);
  return true;
}

bool IntimeModelSelector::observe(int round, const std::map<std::string, double>& metrics) {
  round_started(round);
  FLModel m;
  m.metrics = metrics;
  add_result("<aggregated>", m);
  return before_aggregation();
}

}  // namespace nvf::fl
