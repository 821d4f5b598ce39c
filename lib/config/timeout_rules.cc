// The consistency rules over an effective timeout set, and the job-config check.
//
// FLARE 2.7.2 checks only a few relations (runtime.md §8.4, warnings at executor initialize); we
// check those, the relations its docs state, and the ones the protocols imply, before a job runs.
#include "config/timeouts.h"

#include <set>
#include <utility>

namespace nvf::config {
namespace {

enum class Op { kLt, kLe, kGt, kGe };

std::string_view op_text(Op op) {
  switch (op) {
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
  }
  return "?";
}

bool holds(double a, Op op, double b) {
  switch (op) {
    case Op::kLt: return a < b;
    case Op::kLe: return a <= b;
    case Op::kGt: return a > b;
    case Op::kGe: return a >= b;
  }
  return false;
}

// lhs op rhs; skipped when either side is None (or 0 where 0 disables the lhs).
struct Relation {
  std::string id;
  Severity severity;
  std::string lhs;
  Op op;
  std::string rhs;
  std::string why;
  bool skip_if_lhs_zero = false;
};

std::vector<Relation> relations() {
  using enum Severity;
  std::vector<Relation> r;
  for (std::string p : {"np_", "tensor_"}) {
    r.push_back({"download-ttl-covers-request", kWarning, p + "min_download_timeout", Op::kGe,
                 p + "streaming_per_request_timeout",
                 "the download transaction may expire mid-download (FLARE 2.7.2 rule 1)"});
  }
  for (std::string p : {"np_", "tensor_"}) {
    r.push_back({"submit-within-download-ttl", kWarning, "submit_result_timeout", Op::kLe,
                 p + "min_download_timeout",
                 "each send attempt may expire the download transaction of the result "
                 "(FLARE 2.7.2 rule 2)"});
  }
  r.push_back({"pipe-heartbeat", kError, "pipe_heartbeat_timeout", Op::kGt,
               "pipe_heartbeat_interval",
               "the pipe peer would be declared gone between two heartbeats", true});
  r.push_back({"client-heartbeat", kError, "heart_beat_interval", Op::kLt, "heart_beat_timeout",
               "the server would remove live clients between two heartbeats"});
  r.push_back({"job-heartbeat-grace", kError, "job_heartbeat_interval", Op::kLt,
               "dead_client_grace_period",
               "the server job would declare live client jobs dead between two heartbeats"});
  r.push_back({"dead-client-lead-time", kWarning, "dead_client_check_lead_time", Op::kLe,
               "dead_client_grace_period",
               "a client job that never reported is given longer than one that went silent"});
  r.push_back({"submit-covers-trainer-submit", kWarning, "submit_task_result_timeout", Op::kGe,
               "submit_result_timeout",
               "the client job may give up on the server while the trainer still waits for its "
               "ACK, and the trainer then resends a result that is already lost"});
  r.push_back({"ack-interval-within-window", kError, "streaming_ack_interval", Op::kLe,
               "streaming_window_size",
               "the sender fills the window before the receiver ACKs: every stream stalls"});
  r.push_back({"chunk-within-window", kError, "streaming_chunk_size", Op::kLe,
               "streaming_window_size", "one chunk does not fit in the send window"});
  r.push_back({"chunk-within-message-size", kError, "streaming_chunk_size", Op::kLe,
               "max_message_size", "every stream chunk would be refused as too big"});
  for (std::string p : {"np_", "tensor_"}) {
    r.push_back({"download-chunk-within-message-size", kError, p + "download_chunk_size",
                 Op::kLe, "max_message_size", "download replies would be refused as too big",
                 true});
  }
  r.push_back({"send-deadline-before-ack-watchdog", kWarning, "streaming_send_timeout", Op::kLt,
               "streaming_ack_progress_timeout",
               "a blocked frame write is reported as a missing ACK instead of a send timeout"});
  r.push_back({"ack-check-within-ack-timeout", kWarning, "streaming_ack_progress_check_interval",
               Op::kLt, "streaming_ack_progress_timeout",
               "the ACK watchdog detects a stall late, up to one check interval after it"});
  r.push_back({"ack-watchdog-within-ack-wait", kWarning, "streaming_ack_progress_timeout",
               Op::kLe, "streaming_ack_wait", "the ACK watchdog can never fire"});
  r.push_back({"runner-sync", kError, "runner_sync_timeout", Op::kLe, "max_runner_sync_timeout",
               "the client job start sync would not get a single try"});
  r.push_back({"notify-cp-retry", kWarning, "notify_cp_msg_timeout", Op::kLe,
               "notify_cp_retry_timeout",
               "a client job status message would not get a single full try"});
  r.push_back({"end-run-check-interval", kWarning, "end_run_readiness_check_interval", Op::kLt,
               "end_run_readiness_timeout", "END_RUN readiness is checked at most once"});
  r.push_back({"register-within-session", kWarning, "client_register_interval", Op::kLt,
               "max_reg_duration", "a registration retry would outlive the challenge session"});
  r.push_back({"maint-within-heartbeat-timeout", kWarning, "maint_msg_timeout", Op::kLt,
               "heart_beat_timeout",
               "one slow heartbeat request could outlast the server's dead-client timeout"});
  r.push_back({"reconnect-backoff", kError, "connector_reconnect_initial", Op::kLe,
               "connector_reconnect_max", "the reconnect back-off cap is below its start"});
  r.push_back({"download-retry-backoff", kError, "download_retry_initial_backoff", Op::kLe,
               "download_retry_max_backoff", "the download back-off cap is below its start"});
  r.push_back({"schedule-interval", kError, "min_schedule_interval", Op::kLe,
               "max_schedule_interval", "the job scheduler's interval range is empty"});
  return r;
}

std::string value_text(const EffectiveTimeouts& t, const std::string& name) {
  return format_quantity(t.resolved(name), t.spec(name).unit);
}

void add_where(const EffectiveTimeouts& t, const std::vector<std::string>& names, Finding* f) {
  for (std::string name : names) {
    // A None that falls back reports where the value it falls back to came from.
    while (!t.get(name) && !t.spec(name).fallback.empty()) name = t.spec(name).fallback;
    const std::string& origin = t.origin(name);
    if (origin == "default") continue;
    if (!f->where.empty()) f->where += "; ";
    f->where += name + " from " + origin;
  }
}

void check_positive(const EffectiveTimeouts& t, std::vector<Finding>* out) {
  for (const TimeoutSpec& spec : t.specs()) {
    std::optional<double> v = t.get(spec.name);
    std::string message;
    if (!v) {
      if (spec.none_allowed) continue;
      message = spec.name + " is None: it must be set (" + spec.bounds + ")";
    } else if (*v < 0 || (*v == 0 && !spec.zero_allowed)) {
      message = spec.name + " (" + format_quantity(v, spec.unit) + ") must be > 0";
      if (*v == 0) message += ": 0 does not mean \"none\" for this value";
    } else {
      continue;
    }
    Finding f{Severity::kError, "positive", message, ""};
    add_where(t, {spec.name}, &f);
    out->push_back(std::move(f));
  }
}

void check_special(const EffectiveTimeouts& t, std::vector<Finding>* out) {
  auto push = [&](Severity sev, std::string id, std::string message,
                  std::vector<std::string> names) {
    Finding f{sev, std::move(id), std::move(message), ""};
    add_where(t, names, &f);
    out->push_back(std::move(f));
  };
  if (auto hb = t.get("heartbeat_interval"); hb && *hb > 0 && *hb < 5) {
    push(Severity::kWarning, "sfm-heartbeat-tick",
         "heartbeat_interval (" + value_text(t, "heartbeat_interval") +
             ") is below the 5 s heartbeat monitor tick: pings go out at most every 5 s",
         {"heartbeat_interval"});
  }
  if (!t.get("max_resends")) {
    push(Severity::kWarning, "max-resends-bounded",
         "max_resends (None) is unbounded: each resend of a result may hold another copy of it "
         "in memory; set max_resends (default 3) (FLARE 2.7.2 rule 3)",
         {"max_resends"});
  }
  auto resends = t.get("max_resends");
  auto submit = t.resolved("submit_result_timeout");
  auto ttl = t.resolved("download_complete_timeout");
  if (resends && submit && ttl && *resends >= 0 && *ttl < *submit * (*resends + 1)) {
    push(Severity::kWarning, "result-ttl-covers-resends",
         "download_complete_timeout (" + value_text(t, "download_complete_timeout") +
             ") should be >= submit_result_timeout (" + value_text(t, "submit_result_timeout") +
             ") x (max_resends (" + value_text(t, "max_resends") +
             ") + 1): the trainer may stop serving its result while the client job still "
             "retries",
         {"download_complete_timeout", "submit_result_timeout", "max_resends"});
  }
  auto close = t.get("sfm_close_stalled_connection");
  auto stall = t.get("sfm_send_stall_timeout");
  auto checks = t.get("sfm_send_stall_consecutive_checks");
  auto read = t.get("streaming_read_timeout");
  if (close && *close != 0 && stall && checks && read && *read <= *stall + 5 * *checks) {
    push(Severity::kWarning, "stall-close-window",
         "streaming_read_timeout (" + value_text(t, "streaming_read_timeout") +
             ") should be > the stall close window sfm_send_stall_timeout (" +
             value_text(t, "sfm_send_stall_timeout") +
             ") + 5 s x sfm_send_stall_consecutive_checks (" +
             value_text(t, "sfm_send_stall_consecutive_checks") +
             "): receivers give up before a stalled connection is closed",
         {"streaming_read_timeout", "sfm_send_stall_timeout",
          "sfm_send_stall_consecutive_checks"});
  }
}

}  // namespace

std::vector<TimeoutRule> timeout_rules() {
  using enum Severity;
  std::vector<TimeoutRule> rules;
  rules.push_back({"positive", kError,
                   "every value > 0 (0 only where it means none/disabled; None only where "
                   "allowed)",
                   "a zero or negative timeout fails every request at once"});
  for (const Relation& r : relations()) {
    std::string relation = r.lhs + " " + std::string(op_text(r.op)) + " " + r.rhs;
    if (r.skip_if_lhs_zero) relation += " (unless " + r.lhs + " is 0)";
    rules.push_back({r.id, r.severity, relation, r.why});
  }
  rules.push_back({"sfm-heartbeat-tick", kWarning, "heartbeat_interval >= 5 s",
                   "the heartbeat monitor ticks every 5 s"});
  rules.push_back({"max-resends-bounded", kWarning, "max_resends is set (not None)",
                   "unbounded resends can exhaust memory (FLARE 2.7.2 rule 3)"});
  rules.push_back({"result-ttl-covers-resends", kWarning,
                   "download_complete_timeout >= submit_result_timeout x (max_resends + 1)",
                   "the trainer may stop serving its result while the client job still retries"});
  rules.push_back({"stall-close-window", kWarning,
                   "when sfm_close_stalled_connection: streaming_read_timeout > "
                   "sfm_send_stall_timeout + 5 s x sfm_send_stall_consecutive_checks",
                   "outer timeouts must be larger than the stall close window"});
  rules.push_back({"type", kError, "a job-config value for a timeout is a number (or null where "
                   "None is allowed)",
                   "the value cannot be used"});
  return rules;
}

std::vector<Finding> check(const EffectiveTimeouts& t) {
  std::vector<Finding> out;
  check_positive(t, &out);
  for (const Relation& r : relations()) {
    std::optional<double> a = t.resolved(r.lhs);
    std::optional<double> b = t.resolved(r.rhs);
    if (!a || !b) continue;
    if (r.skip_if_lhs_zero && *a == 0) continue;
    if (holds(*a, r.op, *b)) continue;
    Finding f{r.severity, r.id,
              r.lhs + " (" + value_text(t, r.lhs) + ") must be " + std::string(op_text(r.op)) +
                  " " + r.rhs + " (" + value_text(t, r.rhs) + "): " + r.why,
              ""};
    add_where(t, {r.lhs, r.rhs}, &f);
    out.push_back(std::move(f));
  }
  check_special(t, &out);
  return out;
}

std::vector<Finding> check_job_configs(const Value* server_cfg, const Value* client_cfg) {
  TimeoutRegistry registry = TimeoutRegistry::defaults();
  std::vector<Finding> problems;
  std::vector<EffectiveTimeouts> sets;

  EffectiveTimeouts server = registry.effective();
  if (server_cfg != nullptr) {
    server.apply_overrides(*server_cfg, OverrideSource::kServerJobConfig,
                           "config_fed_server.json", FieldPath(), &problems);
  }

  if (client_cfg == nullptr) {
    sets.push_back(std::move(server));
  } else {
    // Each client set starts from the server's values, so rules that span both sides (a client
    // heartbeat against the server's grace period) see both configs, not one side's defaults.
    // One set per executor: two executors may set different values, and each runs its own.
    std::vector<std::pair<const Value*, FieldPath>> executor_args;
    if (auto ex = client_cfg->find("executors");
        ex != client_cfg->end() && ex->is_array()) {
      for (size_t i = 0; i < ex->size(); ++i) {
        const Value& entry = (*ex)[i];
        if (!entry.is_object() || !entry.contains("executor")) continue;
        const Value& executor = entry["executor"];
        if (!executor.is_object() || !executor.contains("args")) continue;
        executor_args.emplace_back(&executor["args"],
                                   FieldPath().child("executors").index(i).child("executor")
                                       .child("args"));
      }
    }
    if (executor_args.empty()) executor_args.emplace_back(nullptr, FieldPath());
    for (const auto& [args, path] : executor_args) {
      EffectiveTimeouts client = server;
      if (args != nullptr) {
        client.apply_overrides(*args, OverrideSource::kExecutorArgs, "config_fed_client.json",
                               path, &problems);
      }
      // Top-level keys last: EXTERNAL_PRE_INIT_TIMEOUT / PEER_READ_TIMEOUT beat executor args.
      client.apply_overrides(*client_cfg, OverrideSource::kClientJobConfig,
                             "config_fed_client.json", FieldPath(), &problems);
      sets.push_back(std::move(client));
    }
  }

  std::vector<Finding> out;
  std::set<std::string> seen;
  auto add = [&](Finding f) {
    std::string key = f.rule + "\n" + f.message + "\n" + f.where;
    if (seen.insert(key).second) out.push_back(std::move(f));
  };
  // Type problems appear once per set that applied the same field; report each once.
  for (Finding& f : problems) add(std::move(f));
  for (const EffectiveTimeouts& set : sets) {
    for (Finding& f : check(set)) add(std::move(f));
  }
  return out;
}

}  // namespace nvf::config
