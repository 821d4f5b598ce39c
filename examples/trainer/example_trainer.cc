// example_trainer: a complete trainer on the nvflare Client API (docs/client-api.md).
// Each round it adds 0.5 to every weight of the global model and sends the result back.
#include <nvflare/client.h>

#include <cstdio>
#include <vector>

int main() {
  nvflare::Status s = nvflare::init();  // connects to the client job that launched us
  while (s.ok() && nvflare::is_running()) {
    auto task = nvflare::receive();  // the global model; nullopt when the job is over
    if (!task.ok() || !*task) {
      s = task.status();
      break;
    }
    nvflare::FLModel result;
    for (const auto& [name, weights] : (*task)->params) {
      std::vector<double> w = weights.to_doubles();
      for (double& v : w) v += 0.5;
      result.params.insert_or_assign(name, nvflare::Tensor::from_doubles(weights.dtype(), weights.shape(), w));
    }
    result.meta["NUM_STEPS_CURRENT_ROUND"] = 1;  // this result's weight in FedAvg
    s = nvflare::send(result);                   // returns once the server has it
  }
  if (!s.ok()) std::fprintf(stderr, "example_trainer: %s\n", s.message().c_str());
  nvflare::shutdown();
  return s.ok() ? 0 : 1;
}
