#include "workflows/error_policy.h"

#include <algorithm>

namespace nvf::fl {

int ClientErrorPolicy::effective_min(bool tolerant, int num_targets, int min_arg) {
  if (tolerant) return std::clamp(min_arg, 1, std::max(1, num_targets));
  return min_arg <= 0 ? num_targets : min_arg;
}

ClientErrorPolicy ClientErrorPolicy::tolerant(int num_targets, int min_clients,
                                              std::optional<bool> ignore_result_error) {
  return ClientErrorPolicy(true, num_targets, min_clients, ignore_result_error);
}

ClientErrorPolicy ClientErrorPolicy::flare(int num_targets, int min_responses,
                                           std::optional<bool> ignore_result_error) {
  return ClientErrorPolicy(false, num_targets, min_responses, ignore_result_error);
}

void ClientErrorPolicy::start_round(int num_targets) {
  num_targets_ = num_targets;
  min_results_ = effective_min(tolerant_, num_targets, min_arg_);
  failed_.clear();
}

ClientErrorPolicy::Decision ClientErrorPolicy::decide(const std::string& client,
                                                      std::string_view what) {
  const std::string who = "client '" + client + "' " + std::string(what);
  if (ignore_ == true) return {Action::kIgnore, who + "; ignored (ignore_result_error is true)"};
  if (ignore_ == false) {
    return {Action::kAbort, who + "; aborting the job (ignore_result_error is false)"};
  }
  failed_.insert(client);
  const int remaining = num_targets_ - static_cast<int>(failed_.size());
  if (remaining >= min_results_) {
    return {Action::kIgnore, who + "; ignored: " + std::to_string(remaining) + " of " +
                                 std::to_string(num_targets_) + " clients can still deliver (" +
                                 std::to_string(min_results_) + " needed)"};
  }
  return {Action::kAbort, who + "; aborting the job: only " + std::to_string(remaining) + " of " +
                              std::to_string(num_targets_) + " clients can still deliver but " +
                              std::to_string(min_results_) + " are needed"};
}

ClientErrorPolicy::Decision ClientErrorPolicy::on_client_error(const std::string& client,
                                                               std::string_view reason) {
  return decide(client, "returned an error: " + std::string(reason));
}

ClientErrorPolicy::Decision ClientErrorPolicy::on_client_silent(const std::string& client) {
  if (!tolerant_) {
    return {Action::kIgnore, "client '" + client +
                                 "' sent no result; the round aggregates what "
                                 "arrived"};
  }
  return decide(client, "sent no result before the round ended");
}

Status ClientErrorPolicy::check_enough_results(int received) const {
  const int needed = (tolerant_ && ignore_ != true) ? min_results_ : 1;
  if (received >= needed) return Status::OK();
  return AbortedError("only " + std::to_string(received) + " of " + std::to_string(num_targets_) +
                      " clients returned a usable result but " + std::to_string(needed) +
                      " are needed");
}

}  // namespace nvf::fl
