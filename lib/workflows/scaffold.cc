#include "workflows/scaffold.h"

#include "tensor/accumulate.h"
#include "workflows/aggregator.h"

namespace nvf::workflows {

using tensor::Tensor;

Status ScaffoldUpdater::start(const fl::FLModel& global, int) {
  c_ = tensor::TensorDict();
  for (const auto& [name, w] : global.params) {
    if (!tensor::is_floating(w.dtype())) continue;
    NVF_ASSIGN_OR_RETURN(Tensor z, Tensor::zeros(tensor::DType::kF32, w.shape()));
    NVF_RETURN_IF_ERROR(c_.insert(name, std::move(z)));
  }
  return Status::OK();
}

Status ScaffoldUpdater::prepare_task(fl::FLModel& task_data, int) {
  for (const auto& [name, c] : c_) {
    NVF_RETURN_IF_ERROR(task_data.params.insert(std::string(fl::kScaffoldCGlobalPrefix) + name, c.share()));
  }
  return Status::OK();
}

Status ScaffoldUpdater::update(fl::FLModel& global, fl::FLModel aggregated, int) {
  const std::string prefix(fl::kScaffoldCDiffPrefix);
  tensor::TensorDict model, c_diff;
  for (auto& [name, t] : aggregated.params) {
    if (name.rfind(prefix, 0) == 0) {
      NVF_RETURN_IF_ERROR(c_diff.insert(name.substr(prefix.size()), std::move(t)));
    } else {
      NVF_RETURN_IF_ERROR(model.insert(name, std::move(t)));
    }
  }
  for (const auto& [name, c] : c_) {
    const Tensor* d = c_diff.find(name);
    if (!d) {
      return InvalidArgumentError("SCAFFOLD: the results carry no control-variate change for '" + name +
                                  "' (params '" + prefix + name +
                                  "'): the clients must run SCAFFOLD (nvflare train --algorithm scaffold, or "
                                  "nvflare::Scaffold in a trainer)");
    }
    if (d->shape() != c.shape()) {
      return InvalidArgumentError("SCAFFOLD: the control-variate change of '" + name + "' has shape " +
                                  tensor::shape_to_string(d->shape()) + " but the model's is " +
                                  tensor::shape_to_string(c.shape()));
    }
  }
  aggregated.params = std::move(model);
  NVF_RETURN_IF_ERROR(fl::apply_update(global, std::move(aggregated)));
  // A new tensor per round: the last task's data (and a late download) still view the old one.
  for (auto& [name, c] : c_) {
    NVF_ASSIGN_OR_RETURN(Tensor next, c.clone());
    NVF_RETURN_IF_ERROR(tensor::accumulate(next, *c_diff.find(name), 1.0, name));
    c = std::move(next);
  }
  return Status::OK();
}

}  // namespace nvf::workflows
