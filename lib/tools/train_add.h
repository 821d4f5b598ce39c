// The built-in trainers of `nvflare train` that need no LibTorch, written on the public Client API:
//
// `--add DELTA`: hello-numpy's trainer (and the benchmarks'): for a train task adds DELTA to every
// floating-point weight it receives and sends the result back as FULL params with
// NUM_STEPS_CURRENT_ROUND 1; for a validate task answers the metric "weight_mean" (the mean of
// the received floating values); for submit_model sends the weights of its last train task. With
// `--algorithm scaffold` a train task runs one SCAFFOLD step (nvflare/scaffold.h) at learning
// rate `lr`: w = w_global + DELTA, corrected by −lr·(c_global − c_local), and sends Δc.
//
// `--model lr`: logistic regression by Newton-Raphson (FLARE's hello-lr client, workflows spec §19):
// for a train task computes, at the received θ (params "numpy_key": intercept then one weight per
// feature), the gradient g = Xᵀ(y − p) and the Hessian H = XᵀDX (D = p(1 − p), X with a column of
// ones first) over the site's n samples and sends their per-sample means {"gradient": g/n,
// "hessian": H/n} with NUM_STEPS = n and the metric "accuracy" of θ (so the server's weighted mean
// is the pooled gradient and Hessian of all sites' data); a validate task answers accuracy only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace nvf::tools {

struct AddTrainerOptions {
  double delta = 0;
  std::string algorithm = "fedavg";  // fedavg | scaffold
  double lr = 1.0;                   // scaffold's step size
};

/// Runs until the client job ends the run. Errors from the Client API; INVALID_ARGUMENT for an
/// unknown algorithm.
Status run_add_trainer(const AddTrainerOptions& options);

/// Logistic-regression data: n rows of d features (row-major, no intercept column) and 0/1 labels.
struct LrData {
  int64_t n = 0;
  int64_t d = 0;
  std::vector<double> x;
  std::vector<double> y;
};

/// A CSV file: numeric rows, last column the 0/1 label; a non-numeric first line is a header.
/// Errors: INVALID_ARGUMENT naming the file and line (ragged rows, a non-number, a label not 0/1).
Result<LrData> load_lr_csv(const std::string& path);

/// Deterministic synthetic data for site `site` (1-based): 100 + 50·((site−1) mod 5) rows,
/// features N(μ_site, 1) with a site-specific shift, labels Bernoulli(σ(θ*·[1, x])) with θ* fixed
/// by `seed`.
LrData synthetic_lr_data(int site, int num_features, uint64_t seed);

/// g = Xᵀ(y − p) (size d+1) and H = XᵀDX (row-major (d+1)²) at θ (size d+1, intercept first).
void lr_gradient_hessian(const LrData& data, const std::vector<double>& theta, std::vector<double>* g,
                         std::vector<double>* h);

/// Share of rows whose prediction σ(θ·[1, x]) ≥ 0.5 matches the label.
double lr_accuracy(const LrData& data, const std::vector<double>& theta);

struct LrTrainerOptions {
  std::string data = "synthetic";  // "synthetic" or a CSV file
  int num_features = 13;           // for synthetic data
  uint64_t seed = 0;
  int site_index = 0;              // 0: from the site name
};

Status run_lr_trainer(const LrTrainerOptions& options);

}  // namespace nvf::tools
