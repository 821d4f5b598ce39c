// The conveniences of ControllerContext, written on broadcast() alone.
#include "workflows/controller.h"

namespace nvf::fl {
Result<TaskSpec> view_of(const TaskSpec& task) {
  TaskSpec v;
  v.name = task.name;
  NVF_ASSIGN_OR_RETURN(v.data, view_of(task.data));
  for (const auto& [target, m] : task.per_target) {
    NVF_ASSIGN_OR_RETURN(FLModel own, view_of(m));
    v.per_target.emplace(target, std::move(own));
  }
  v.targets = task.targets;
  v.min_responses = task.min_responses;
  v.wait_time_after_min_received = task.wait_time_after_min_received;
  v.timeout = task.timeout;
  v.assignment_timeout = task.assignment_timeout;
  return v;
}

Result<TaskOutcome> ControllerContext::broadcast_and_wait(const TaskSpec& task, ResultSink& sink) {
  NVF_ASSIGN_OR_RETURN(std::unique_ptr<TaskHandle> handle, broadcast(task, sink));
  return handle->wait();
}

Result<TaskOutcome> ControllerContext::send_and_wait(const TaskSpec& spec, const std::string& target,
                                                    ResultSink& sink) {
  NVF_ASSIGN_OR_RETURN(TaskSpec task, view_of(spec));
  task.targets = {target};
  std::erase_if(task.per_target, [&](const auto& entry) { return entry.first != target; });
  task.min_responses = 0;
  return broadcast_and_wait(task, sink);
}

Result<std::vector<std::string>> ControllerContext::relay_and_wait(const TaskSpec& spec,
                                                                   const std::vector<std::string>& order,
                                                                   ResultSink& sink, const RelayStep& step) {
  NVF_ASSIGN_OR_RETURN(TaskSpec task, view_of(spec));
  std::vector<std::string> answered;
  for (const auto& target : order) {
    if (abort_requested()) return CancelledError("the relay of task " + task.name + " was aborted");
    NVF_ASSIGN_OR_RETURN(TaskOutcome outcome, send_and_wait(task, target, sink));
    if (!outcome.responded.empty()) answered.push_back(target);
    if (!outcome.missing.empty()) logger()->warn("relay of task {}: {} did not answer; going on", task.name, target);
    if (step) {
      NVF_ASSIGN_OR_RETURN(bool go_on, step(target, outcome, task));
      if (!go_on) break;
    }
  }
  return answered;
}

}  // namespace nvf::fl
