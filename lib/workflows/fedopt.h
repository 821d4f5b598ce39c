// FedOpt's server side (workflows spec §6; Reddi et al. 2021, "Adaptive Federated Optimization"):
// the round's weighted mean of the clients' diffs Δ̄ is a pseudo-gradient g = −Δ̄ for an optimizer
// that keeps its state (momentum, moments) across rounds, with a learning rate that a schedule
// changes once per round. Written on our own tensors: the server never loads LibTorch.
//
// Optimizers (per element, t = the step number from 1):
//   sgd       torch.optim.SGD: b = μ·b + g (b = g at the first step); w −= lr·b. With μ = 0 and
//             lr = 1 this is FedAvg (FLARE's default when no optimizer_args are given).
//   adam      torch.optim.Adam: m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
//             w −= lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε).
//   adagrad   FedAdagrad (Reddi et al., Alg. 2): m = β1·m + (1−β1)·Δ̄; v = v + Δ̄²;
//             w += lr·m/(√v + τ); v starts at τ².
//   yogi      FedYogi: as adagrad with v = v − (1−β2)·Δ̄²·sign(v − Δ̄²).
// Schedules (the lr of round r, r counted from the workflow's first round):
//   constant; cosine (torch CosineAnnealingLR): eta_min + (lr − eta_min)(1 + cos(π·r/T_max))/2;
//   step (StepLR): lr·γ^⌊r/step_size⌋; exponential (ExponentialLR): lr·γ^r.
//
// Which tensors the optimizer moves: FLARE steps the model's named parameters and adds Δ̄ to the
// rest (batch-norm statistics, counters). Without a model object here, floating tensors whose name
// matches `plain_update_vars` (default: batch-norm running statistics) and every non-floating
// tensor get w += Δ̄; all other floating tensors are stepped.
//
// Threads: used by one controller thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>

#include "base/status.h"
#include "config/value.h"
#include "fl/component_registry.h"
#include "workflows/controller.h"

namespace nvf::workflows {

struct ServerOptimizerOptions {
  std::string optimizer = "sgd";  // sgd | adam | adagrad | yogi
  double lr = 1.0;
  double momentum = 0;    // sgd
  double beta1 = 0.9;     // adam, adagrad, yogi
  double beta2 = 0.999;   // adam (yogi's default is 0.99)
  double eps = 1e-8;      // adam
  double tau = 1e-3;      // adagrad, yogi: adaptivity, and √ of v's start
  std::string schedule = "constant";  // constant | cosine | step | exponential
  double t_max = 1;       // cosine; 0 or less: the workflow's number of rounds
  double eta_min = 0;     // cosine
  int step_size = 1;      // step
  double gamma = 1;       // step, exponential
  std::string plain_update_vars = "running_mean|running_var|num_batches_tracked";
};

/// Reads FLARE's `optimizer_args` / `lr_scheduler_args` objects ({"path": "torch.optim.SGD",
/// "args": {...}}) or our short names ("sgd", "adam", "FedAdagrad", "FedYogi"; "CosineAnnealingLR",
/// "StepLR", "ExponentialLR"). A string "{num_rounds}" for T_max is replaced by `num_rounds`.
/// Errors: INVALID_ARGUMENT naming the field and what is allowed.
Result<ServerOptimizerOptions> parse_server_optimizer(const config::Value& optimizer_args,
                                                      const config::Value& lr_scheduler_args, int num_rounds);

class ServerOptimizer : public fl::Component, public fl::ModelUpdater {
 public:
  /// Errors: INVALID_ARGUMENT for an unknown optimizer or schedule, a non-positive lr, β outside
  /// [0, 1), a bad regex.
  static Result<std::unique_ptr<ServerOptimizer>> create(ServerOptimizerOptions options);

  /// `aggregated` must be DIFF; the step uses its tensors as Δ̄. Errors: INVALID_ARGUMENT for FULL
  /// results (FedOpt needs diffs), a diff key missing from the global model or of another shape.
  Status update(fl::FLModel& global, fl::FLModel aggregated, int round) override;
  /// Takes the number of rounds for a cosine schedule whose T_max is "{num_rounds}".
  Status start(const fl::FLModel& global, int num_rounds) override;

  /// The learning rate the optimizer uses at the step of schedule step `r` (0-based).
  double lr_at(int r) const;
  const ServerOptimizerOptions& options() const { return opt_; }

 private:
  struct State {
    tensor::Tensor m;  // sgd momentum buffer / first moment (F64)
    tensor::Tensor v;  // second moment (F64)
  };
  explicit ServerOptimizer(ServerOptimizerOptions options, std::regex plain);

  ServerOptimizerOptions opt_;
  std::regex plain_;
  int steps_ = 0;  // optimizer steps taken
  int num_rounds_ = 0;
  std::map<std::string, State> state_;
};

}  // namespace nvf::workflows
