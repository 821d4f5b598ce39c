// FedAvg (FLARE's ModelController FedAvg; ScatterAndGather configs map onto it): each round sends
// the global model to every client, accumulates the results tensor by tensor as they stream in
// (weighted by NUM_STEPS_CURRENT_ROUND), updates the global model (FULL replaces, DIFF adds) and
// saves it. One recorded change from FLARE (docs/decisions): a failed or silent client does not
// abort the job while at least min_clients results arrive; below that the job ends with a
// message naming the missing sites.
//
// Ownership: built from a job config by the registry and owned by the server job role; it borrows
// the persistor (and the optional model selector) from the same component set.
// Threads: run() on the controller thread; the ResultSink side is called from download threads
// (the aggregator is thread-safe).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "workflows/aggregator.h"
#include "fl/component_registry.h"
#include "workflows/controller.h"
#include "workflows/model_selector.h"
#include "workflows/persistor.h"

namespace nvf::workflows {

struct FedAvgOptions {
  int min_clients = 1;  // num_clients (FedAvg) / min_clients (ScatterAndGather)
  int num_rounds = 5;
  int start_round = 0;
  std::string task_name = "train";
  std::chrono::milliseconds wait_time_after_min_received{0};  // 0: wait for every client
  std::chrono::milliseconds timeout{0};                        // train_timeout; 0: none
  fl::AggregatorOptions aggregation;
  std::string stop_cond;  // "<key> <op> <number>", e.g. "accuracy >= 0.9"
  int patience = 0;       // stop after this many rounds without improvement (0: off)
  int memory_gc_rounds = 1;
};

/// Parses FLARE's stop_cond. Errors: INVALID_ARGUMENT naming the condition.
struct StopCondition {
  std::string key;
  std::string op;
  double target = 0;
  bool met(double value) const;
  bool better(double current, double best) const;
};
Result<StopCondition> parse_stop_condition(const std::string& text);

class FedAvg : public fl::Component, public fl::Controller {
 public:
  /// `aggregator` and `updater` are borrowed and may be null: then the streaming WeightedAggregator
  /// of options.aggregation and fl::apply_update (FULL replaces, DIFF adds).
  FedAvg(FedAvgOptions options, fl::ModelPersistor* persistor, fl::IntimeModelSelector* selector,
         fl::Aggregator* aggregator = nullptr, fl::ModelUpdater* updater = nullptr);
  /// Gives the workflow an updater it owns (FedOpt's optimizer, SCAFFOLD's control variates),
  /// replacing a borrowed one.
  void adopt_updater(std::unique_ptr<fl::ModelUpdater> updater);
  Status run(fl::ControllerContext& ctx) override;
  /// {"phase": "init" | "train" | "finished", "current_round", "num_rounds"}, as FLARE's
  /// ScatterAndGather reports them.
  config::Value stats() const override;
  std::vector<std::string> task_names() const override { return {opt_.task_name}; }

 private:
  Status run_round(fl::ControllerContext& ctx, fl::FLModel& global, int round, bool* stop);
  void set_progress(const char* phase, int round);

  FedAvgOptions opt_;
  fl::ModelPersistor* persistor_;
  fl::IntimeModelSelector* selector_;
  fl::Aggregator* aggregator_;
  fl::ModelUpdater* updater_;
  std::unique_ptr<fl::WeightedAggregator> own_aggregator_;  // when none was given
  std::unique_ptr<fl::ModelUpdater> own_updater_;
  std::optional<StopCondition> stop_;
  std::optional<double> best_;
  int rounds_without_improvement_ = 0;
  mutable std::mutex stats_mu_;
  const char* phase_ = "init";  // guarded by stats_mu_
  int current_round_ = 0;       // guarded by stats_mu_
};

}  // namespace nvf::workflows
