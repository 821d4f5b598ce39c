#include "workflows/newton_lr.h"

#include <cmath>

namespace nvf::workflows {

Result<std::vector<double>> solve_linear(std::vector<double> a, std::vector<double> b) {
  const size_t n = b.size();
  if (a.size() != n * n) return InvalidArgumentError("solve_linear: the matrix is not n×n for n = " + std::to_string(n));
  for (size_t col = 0; col < n; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < n; ++r) {
      if (std::fabs(a[r * n + col]) > std::fabs(a[pivot * n + col])) pivot = r;
    }
    if (!(std::fabs(a[pivot * n + col]) > 1e-300)) {
      return FailedPreconditionError("the Newton system is singular (column " + std::to_string(col) + ")");
    }
    if (pivot != col) {
      for (size_t c = 0; c < n; ++c) std::swap(a[col * n + c], a[pivot * n + c]);
      std::swap(b[col], b[pivot]);
    }
    for (size_t r = col + 1; r < n; ++r) {
      const double f = a[r * n + col] / a[col * n + col];
      if (f == 0) continue;
      for (size_t c = col; c < n; ++c) a[r * n + c] -= f * a[col * n + c];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> x(n);
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t c = i + 1; c < n; ++c) s -= a[i * n + c] * x[c];
    x[i] = s / a[i * n + i];
  }
  return x;
}

Status NewtonUpdater::update(fl::FLModel& global, fl::FLModel aggregated, int) {
  tensor::Tensor* theta_t = global.params.find("numpy_key");
  if (!theta_t && global.params.size() == 1) theta_t = &global.params[0].second;
  if (!theta_t) return InvalidArgumentError("Newton logistic regression: the global model has no 'numpy_key'");
  std::vector<double> theta = theta_t->to_doubles();
  const size_t k = theta.size();
  const tensor::Tensor* g = aggregated.params.find("gradient");
  const tensor::Tensor* h = aggregated.params.find("hessian");
  if (!g || !h) {
    return InvalidArgumentError(
        "Newton logistic regression: the sites' results must carry 'gradient' and 'hessian' (run nvflare train "
        "--model lr)");
  }
  if (static_cast<size_t>(g->numel()) != k || static_cast<size_t>(h->numel()) != k * k) {
    return InvalidArgumentError("Newton logistic regression: the model has " + std::to_string(k) +
                                " values but the gradient has " + std::to_string(g->numel()) + " and the Hessian " +
                                std::to_string(h->numel()));
  }
  double total = 1;
  if (aggregated.meta.contains("total_weight") && aggregated.meta["total_weight"].is_number()) {
    total = aggregated.meta["total_weight"].get<double>();
  }
  std::vector<double> gv = g->to_doubles(), hv = h->to_doubles();
  for (double& v : gv) v *= total;
  for (double& v : hv) v *= total;
  for (size_t i = 0; i < k; ++i) hv[i * k + i] += epsilon_;
  NVF_ASSIGN_OR_RETURN(std::vector<double> d, solve_linear(std::move(hv), std::move(gv)));
  for (size_t i = 0; i < k; ++i) theta[i] += damping_ * d[i];
  *theta_t = tensor::Tensor::from_vector<double>(theta_t->shape(), theta);
  global.meta = std::move(aggregated.meta);
  global.metrics = std::move(aggregated.metrics);
  return Status::OK();
}

}  // namespace nvf::workflows
