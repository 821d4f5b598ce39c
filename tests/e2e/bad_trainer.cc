// bad_trainer: a trainer on the public Client API whose results the server must reject. It sends
// the received params back with the first tensor flattened (shape [N] instead of the global's).
#include <nvflare/client.h>

#include <cstdio>

int main() {
  if (nvflare::Status s = nvflare::init(); !s.ok()) {
    std::fprintf(stderr, "bad_trainer: %s\n", s.message().c_str());
    return 1;
  }
  while (nvflare::is_running()) {
    auto task = nvflare::receive();
    if (!task.ok() || !*task) break;
    nvflare::FLModel result;
    bool first = true;
    for (const auto& [name, t] : (*task)->params) {
      auto shape = t.shape();
      if (first) shape = {t.numel()};
      first = false;
      result.params.insert_or_assign(name, nvflare::Tensor::from_doubles(t.dtype(), shape, t.to_doubles()));
    }
    result.meta["NUM_STEPS_CURRENT_ROUND"] = 1;
    // The server refuses it; keep going so that the job, not this program, decides what happens.
    if (nvflare::Status s = nvflare::send(result); !s.ok()) {
      std::fprintf(stderr, "bad_trainer: %s\n", s.message().c_str());
    }
  }
  nvflare::shutdown();
  return 0;
}
