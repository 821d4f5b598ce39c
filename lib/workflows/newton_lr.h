// Federated logistic regression by Newton-Raphson (FLARE's FedAvgLR, hello-lr; workflows spec §19).
// Each round the sites send, at the current θ, the per-sample means of the log-likelihood's
// gradient g_i and Hessian H_i with NUM_STEPS = n_i; their weighted mean times the total weight N
// is the pooled gradient g and Hessian H of all sites' data, and
//   θ += damping · solve(H + εI, g)
// which is exactly the centralized Newton step on the union of the data (FLARE's weighted mean of
// per-site sums is not: docs/decisions/018-workflow-library.md). θ is params "numpy_key"
// (intercept first), kept in float64.
//
// Threads: used by one controller thread.
#pragma once

#include <vector>

#include "fl/component_registry.h"
#include "workflows/controller.h"

namespace nvf::workflows {

/// Solves A x = b for a dense n×n row-major A by Gaussian elimination with partial pivoting.
/// Errors: FAILED_PRECONDITION when A is singular (to working precision).
Result<std::vector<double>> solve_linear(std::vector<double> a, std::vector<double> b);

class NewtonUpdater : public fl::Component, public fl::ModelUpdater {
 public:
  NewtonUpdater(double damping, double epsilon) : damping_(damping), epsilon_(epsilon) {}
  /// Errors: INVALID_ARGUMENT when the aggregate lacks "gradient" / "hessian" or their sizes do not
  /// fit θ; FAILED_PRECONDITION for a singular system.
  Status update(fl::FLModel& global, fl::FLModel aggregated, int round) override;

 private:
  double damping_;
  double epsilon_;
};

}  // namespace nvf::workflows
