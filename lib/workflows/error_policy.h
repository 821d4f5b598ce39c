// ClientErrorPolicy: what a controller does when a client returns an error or stays silent
// (workflows spec §0.3, nvflare/app_common/utils/error_handling_utils.py), with our recorded
// change as the default.
//
// FLARE 2.7.2: ignore_result_error True ignores every bad result, False aborts the job on the
// first, None (default) adds the client to a failed set and ignores it while
// num_targets − |failed| ≥ min_responses, else aborts; ModelController turns min_responses 0 into
// num_targets, so with FedAvg's defaults ONE client error aborts the job.
// Ours (ClientErrorPolicy::tolerant, the default): the same dynamic rule with min_responses =
// the job's min_clients, and a silent client (no result by the round's deadline, or its job
// process died) counts as failed; the job goes on while at least min_clients results can still
// arrive. ClientErrorPolicy::flare() reproduces 2.7.2 exactly for compatibility tests.
//
// A value owned by one controller; one thread at a time.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/status.h"

namespace nvf::fl {

class ClientErrorPolicy {
 public:
  enum class Action { kIgnore, kAbort };
  struct Decision {
    Action action = Action::kIgnore;
    /// For the log (kIgnore) or the job's abort reason (kAbort): names the client and the rule.
    std::string message;
  };

  /// Our default: tolerate failures while num_targets − |failed| ≥ min_clients (min_clients ≤ 0
  /// means 1; it is capped at num_targets).
  static ClientErrorPolicy tolerant(int num_targets, int min_clients,
                                    std::optional<bool> ignore_result_error = std::nullopt);
  /// FLARE 2.7.2's ModelController: min_responses 0 means every target; silent clients are not
  /// errors (the round ends on the dead-client rule and aggregates what arrived).
  static ClientErrorPolicy flare(int num_targets, int min_responses,
                                 std::optional<bool> ignore_result_error = std::nullopt);

  /// A new round with `num_targets` clients: the failed set is cleared.
  void start_round(int num_targets);

  /// A client returned an error result (rc ≠ OK, or a result that could not be used).
  Decision on_client_error(const std::string& client, std::string_view reason);
  /// A client gave no result before the round ended (or its job died).
  Decision on_client_silent(const std::string& client);

  /// After the round: OK when `received` results are enough to aggregate (min_clients in the
  /// tolerant mode unless every error is ignored, else 1). Errors: ABORTED naming the counts.
  Status check_enough_results(int received) const;

  const std::set<std::string>& failed() const { return failed_; }
  int min_results() const { return min_results_; }

 private:
  ClientErrorPolicy(bool tolerant, int num_targets, int min_arg, std::optional<bool> ignore)
      : tolerant_(tolerant),
        num_targets_(num_targets),
        min_arg_(min_arg),
        min_results_(effective_min(tolerant, num_targets, min_arg)),
        ignore_(ignore) {}
  static int effective_min(bool tolerant, int num_targets, int min_arg);
  Decision decide(const std::string& client, std::string_view what);

  bool tolerant_;
  int num_targets_;
  int min_arg_;  // min_clients (tolerant) or min_responses (flare) as given
  int min_results_;
  std::optional<bool> ignore_;
  std::set<std::string> failed_;
};

}  // namespace nvf::fl
