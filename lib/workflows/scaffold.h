// SCAFFOLD's server side (workflows spec §7.2): FedAvg whose task carries the server's control
// variate c (one tensor per model tensor, zeros at the start) and whose clients send back their
// control-variate change Δc beside their weights; after the round's weighted mean (weights
// NUM_STEPS_CURRENT_ROUND, as FLARE) the model is updated as FedAvg does and c += mean(Δc).
// Like FLARE 2.7.2 there is no |S|/N factor (all sampled clients take part each round).
//
// Wire form (include/nvflare/fl_model.h): c goes out as params "scaffold_c_global.<name>", Δc
// comes back as params "scaffold_c_diff.<name>"; the client side is nvflare/scaffold.h.
//
// Threads: used by one controller thread.
#pragma once

#include <memory>

#include "fl/component_registry.h"
#include "workflows/controller.h"

namespace nvf::workflows {

class ScaffoldUpdater : public fl::Component, public fl::ModelUpdater {
 public:
  /// c := zeros like every floating tensor of the global model (F32; integer tensors have none).
  Status start(const fl::FLModel& global, int num_rounds) override;
  /// Adds c to the task's params.
  Status prepare_task(fl::FLModel& task_data, int round) override;
  /// Splits the aggregate into the model update (applied as FedAvg does) and mean Δc (added to c).
  /// Errors: INVALID_ARGUMENT when the results carry no Δc for a tensor of c (the clients do not
  /// run SCAFFOLD), or a Δc of another shape.
  Status update(fl::FLModel& global, fl::FLModel aggregated, int round) override;

  const tensor::TensorDict& c_global() const { return c_; }

 private:
  tensor::TensorDict c_;
};

}  // namespace nvf::workflows
