#include "nvflare/scaffold.h"

#include <string>

#include "tensor/accumulate.h"

namespace nvflare {
namespace {
namespace t = nvf::tensor;
using nvf::InvalidArgumentError;
}  // namespace

Status Scaffold::begin_round(FLModel& task) {
  const std::string prefix(nvf::fl::kScaffoldCGlobalPrefix);
  TensorDict model, c_global;
  for (auto& [name, v] : task.params) {
    if (name.rfind(prefix, 0) == 0) {
      NVF_RETURN_IF_ERROR(c_global.insert(name.substr(prefix.size()), std::move(v)));
    } else {
      NVF_RETURN_IF_ERROR(model.insert(name, std::move(v)));
    }
  }
  task.params = std::move(model);
  if (c_global.empty()) {
    return InvalidArgumentError(
        "SCAFFOLD: the task carries no control variate (params 'scaffold_c_global.*'): the job's server does not "
        "run SCAFFOLD");
  }
  // Built aside and taken over at the end: a failure leaves the helper as it was.
  TensorDict w_global, correction, c_local_new;
  for (const auto& [name, c] : c_global) {
    const Tensor* w = task.params.find(name);
    if (!w || w->shape() != c.shape()) {
      return InvalidArgumentError("SCAFFOLD: the control variate of '" + name + "' " +
                                  (w ? "has shape " + t::shape_to_string(c.shape()) + " but the tensor has " +
                                           t::shape_to_string(w->shape())
                                     : "has no tensor of that name in the model"));
    }
    NVF_ASSIGN_OR_RETURN(Tensor wg, t::Tensor::zeros(t::DType::kF64, w->shape()));
    NVF_RETURN_IF_ERROR(t::accumulate(wg, *w, 1.0, name));
    NVF_RETURN_IF_ERROR(w_global.insert(name, std::move(wg)));
    const Tensor* local = c_local_.find(name);
    if (local && local->shape() != c.shape()) local = nullptr;  // the model changed: start afresh
    NVF_ASSIGN_OR_RETURN(Tensor cl, t::Tensor::zeros(t::DType::kF32, c.shape()));
    if (local) NVF_RETURN_IF_ERROR(t::accumulate(cl, *local, 1.0, name));
    NVF_ASSIGN_OR_RETURN(Tensor corr, t::Tensor::zeros(t::DType::kF32, c.shape()));
    NVF_RETURN_IF_ERROR(t::accumulate(corr, c, 1.0, name));
    NVF_RETURN_IF_ERROR(t::accumulate(corr, cl, -1.0, name));
    NVF_RETURN_IF_ERROR(correction.insert(name, std::move(corr)));
    NVF_RETURN_IF_ERROR(c_local_new.insert(name, std::move(cl)));
  }
  w_global_ = std::move(w_global);
  correction_ = std::move(correction);
  c_local_ = std::move(c_local_new);
  c_global_ = std::move(c_global);
  return nvf::Status::OK();
}

Status Scaffold::correct(TensorDict& weights, double lr) const {
  for (auto& [name, w] : weights) {
    const Tensor* corr = correction_.find(name);
    if (!corr) continue;
    NVF_RETURN_IF_ERROR(w.make_owned());
    NVF_RETURN_IF_ERROR(t::accumulate(w, *corr, -lr, name));
  }
  return nvf::Status::OK();
}

Status Scaffold::end_round(const TensorDict& trained, int64_t steps, double lr, FLModel& out) {
  if (steps <= 0 || !(lr > 0)) return InvalidArgumentError("SCAFFOLD: steps and lr must be positive");
  const std::string prefix(nvf::fl::kScaffoldCDiffPrefix);
  for (const auto& [name, wg] : w_global_) {
    const Tensor* w = trained.find(name);
    if (!w) return InvalidArgumentError("SCAFFOLD: the trained model has no tensor '" + name + "'");
    // c_new = c_local − c_global + (w_global − w)/(steps·lr); Δc = c_new − c_local = (w_global − w)/(steps·lr) − c_global
    NVF_ASSIGN_OR_RETURN(Tensor dc, t::Tensor::zeros(t::DType::kF64, wg.shape()));
    NVF_RETURN_IF_ERROR(t::accumulate(dc, wg, 1.0, name));
    NVF_RETURN_IF_ERROR(t::accumulate(dc, *w, -1.0, name));
    NVF_RETURN_IF_ERROR(t::scale(dc, 1.0 / (static_cast<double>(steps) * lr), name));
    NVF_RETURN_IF_ERROR(t::accumulate(dc, *c_global_.find(name), -1.0, name));
    NVF_ASSIGN_OR_RETURN(Tensor dc32, t::Tensor::zeros(t::DType::kF32, wg.shape()));
    NVF_RETURN_IF_ERROR(t::accumulate(dc32, dc, 1.0, name));
    NVF_RETURN_IF_ERROR(t::accumulate(*c_local_.find(name), dc32, 1.0, name));
    NVF_RETURN_IF_ERROR(out.params.insert(prefix + name, std::move(dc32)));
  }
  return nvf::Status::OK();
}

}  // namespace nvflare
