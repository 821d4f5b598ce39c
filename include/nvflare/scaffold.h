// SCAFFOLD on the client (Karimireddy et al. 2020; FLARE's PTScaffoldHelper, workflows spec §7.3):
// keeps the site's control variate c_local between rounds, corrects each optimizer step with
// c_global − c_local, and after training computes the control-variate change Δc that the server
// averages. Works on nvflare tensors; a LibTorch trainer takes correction() once per round (as
// at::Tensor views, nvflare/client_torch.h) and applies it with its own ops.
//
//   nvflare::Scaffold scaffold;
//   auto task = nvflare::receive();                    // a SCAFFOLD train task
//   scaffold.begin_round(**task);                      // takes c_global out of the task's params
//   for each step: optimizer step on w; scaffold.correct(w, lr);   // w −= lr·(c_global − c_local)
//   nvflare::FLModel out; out.params = w ...;
//   scaffold.end_round(w, steps, lr, out);             // adds Δc to out's params
//   nvflare::send(out);
//
// Per floating tensor (others are left alone): c_new = c_local − c_global + (w_global − w)/(steps·lr),
// Δc = c_new − c_local, c_local := c_new. Δc is sent as params "scaffold_c_diff.<name>".
// Not thread-safe: one training loop uses it.
#pragma once

#include <cstdint>

#include "nvflare/client.h"

namespace nvflare {

class Scaffold {
 public:
  /// Removes the params "scaffold_c_global.<name>" from `task` (they are c_global), keeps a copy
  /// of the received weights (w_global) and sets c_local to zeros on the first round.
  /// Errors: INVALID_ARGUMENT when the task carries no control variate (the job does not run
  /// SCAFFOLD) or one whose shape differs from its tensor's.
  Status begin_round(FLModel& task);
  /// c_global − c_local per floating tensor of the model, F32 (the per-step correction).
  const TensorDict& correction() const { return correction_; }
  /// w −= lr·correction for every tensor of `weights` that has one (F32 or F64 tensors).
  Status correct(TensorDict& weights, double lr) const;
  /// After `steps` local steps at learning rate `lr` (the last one): computes Δc, updates c_local
  /// and adds Δc to `out.params`. Errors: INVALID_ARGUMENT for steps ≤ 0 or lr ≤ 0, or a tensor of
  /// the model missing from `trained`.
  Status end_round(const TensorDict& trained, int64_t steps, double lr, FLModel& out);

  const TensorDict& c_local() const { return c_local_; }

 private:
  TensorDict c_local_;
  TensorDict c_global_;
  TensorDict w_global_;
  TensorDict correction_;
};

}  // namespace nvflare
