// reuse_trainer: a trainer on the public Client API that shows where each train task's model
// lands. With NVFLARE_REUSE_MODEL_MEMORY=1 it prints, per train task, how many received tensors
// sit in the memory of the previous train task's tensors ("round R: reused N of M"), then adds
// 0.5 to every weight in place and sends the result back (so the job's result stays exact).
#include <nvflare/client.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

int main() {
  if (nvflare::Status s = nvflare::init(); !s.ok()) {
    std::fprintf(stderr, "reuse_trainer: %s\n", s.message().c_str());
    return 1;
  }
  std::map<std::string, const std::byte*> last;  // where the last train task's tensors were
  while (nvflare::is_running()) {
    auto task = nvflare::receive();
    if (!task.ok()) {
      std::fprintf(stderr, "reuse_trainer: %s\n", task.status().message().c_str());
      return 1;
    }
    if (!*task) break;
    nvflare::FLModel& in = **task;
    size_t reused = 0;
    for (const auto& [name, t] : in.params) reused += last.count(name) && last[name] == t.data();
    std::printf("round %d: reused %zu of %zu\n", in.current_round, reused, in.params.size());
    std::fflush(stdout);
    last.clear();
    nvflare::FLModel out;
    for (auto& [name, t] : in.params) {
      last[name] = t.data();
      auto values = t.to_doubles();
      for (double& v : values) v += 0.5;
      nvflare::Tensor updated = nvflare::Tensor::from_doubles(t.dtype(), t.shape(), values);
      std::memcpy(t.mutable_data(), updated.data(), t.nbytes());  // in place, as a trainer would
      out.params.insert_or_assign(name, t.share());
    }
    out.meta["NUM_STEPS_CURRENT_ROUND"] = 1;
    if (nvflare::Status s = nvflare::send(out); !s.ok()) {
      std::fprintf(stderr, "reuse_trainer: %s\n", s.message().c_str());
      return 1;
    }
  }
  nvflare::shutdown();
  return 0;
}
