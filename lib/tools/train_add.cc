#include "tools/train_add.h"

#include <cstdio>

#include "nvflare/client.h"
#include "tensor/accumulate.h"

namespace nvf::tools {

Status run_add_trainer(double delta) {
  NVF_RETURN_IF_ERROR(nvflare::init());
  int rounds = 0;
  while (nvflare::is_running()) {
    auto task = nvflare::receive();
    if (!task.ok()) return task.status();
    if (!*task) break;
    nvflare::FLModel& in = **task;
    nvflare::FLModel out;
    for (auto& [name, t] : in.params) {
      if (tensor::is_floating(t.dtype())) {
        NVF_ASSIGN_OR_RETURN(tensor::Tensor ones, tensor::Tensor::zeros(tensor::DType::kF64, t.shape()));
        for (auto& v : ones.mutable_view<double>()) v = delta;
        NVF_RETURN_IF_ERROR(t.make_owned());
        NVF_RETURN_IF_ERROR(tensor::accumulate(t, ones, 1.0, name));
      }
      NVF_RETURN_IF_ERROR(out.params.insert(name, std::move(t)));
    }
    out.params_type = nvflare::ParamsType::kFull;
    out.current_round = in.current_round;
    out.meta["NUM_STEPS_CURRENT_ROUND"] = 1;
    std::printf("%s: round %d: added %g to %zu tensors\n", nvflare::site_name().c_str(), in.current_round, delta,
                out.params.size());
    std::fflush(stdout);
    NVF_RETURN_IF_ERROR(nvflare::send(out));
    ++rounds;
  }
  nvflare::shutdown();
  return Status::OK();
}

}  // namespace nvf::tools
