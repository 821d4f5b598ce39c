// The registry's entries (runtime.md §8.1–8.3) and the effective-value set.
#include "config/timeouts.h"

#include <charconv>
#include <cmath>

namespace nvf::config {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr std::optional<double> kNone = std::nullopt;

class SpecList {
 public:
  explicit SpecList(TimeoutGroup group) : group_(group) {}
  void group(TimeoutGroup g) { group_ = g; }

  TimeoutSpec& add(std::string name, std::optional<double> value, std::string unit, SetIn set_in,
                   std::string bounds) {
    TimeoutSpec spec;
    spec.name = std::move(name);
    spec.default_value = value;
    spec.unit = std::move(unit);
    spec.set_in = set_in;
    spec.group = group_;
    spec.bounds = std::move(bounds);
    specs_.push_back(std::move(spec));
    return specs_.back();
  }
  std::vector<TimeoutSpec> take() { return std::move(specs_); }

 private:
  TimeoutGroup group_;
  std::vector<TimeoutSpec> specs_;
};

void differs(TimeoutSpec& spec, std::optional<double> flare) {
  spec.differs_from_flare = true;
  spec.flare_default = flare;
}

void add_transport(SpecList& l) {
  using S = SetIn;
  l.add("max_message_size", 2144337904, "bytes", S::kCommConfig,
        "encoded (and encrypted) payload of one direct message or one stream chunk");
  l.add("heartbeat_interval", 60, "s", S::kCommConfig,
        "SFM PING after this much receive-silence on a connection; checked on a 5 s tick");
  l.add("sfm_send_stall_timeout", 45, "s", S::kCommConfig,
        "a send blocked longer than this marks the connection stalled (HOL guard)");
  l.add("sfm_send_stall_consecutive_checks", 3, "count", S::kCommConfig,
        "stalled 5 s ticks in a row before the guard acts");
  l.add("sfm_close_stalled_connection", 0, "bool", S::kCommConfig,
        "close a stalled connection (true) or only warn (false)")
      .zero_allowed = true;
  l.add("streaming_send_timeout", 30, "s", S::kCommConfig,
        "one blocking frame write; on expiry the connection is closed");
  l.add("streaming_chunk_size", 1 * kMiB, "bytes", S::kCommConfig, "stream chunk size");
  l.add("streaming_window_size", 16 * kMiB, "bytes", S::kCommConfig,
        "unacknowledged stream bytes in flight per stream");
  l.add("streaming_ack_interval", 4 * kMiB, "bytes", S::kCommConfig,
        "the receiver ACKs after this many bytes");
  l.add("streaming_ack_wait", 300, "s", S::kCommConfig,
        "total sender wait in one window-full episode");
  l.add("streaming_ack_progress_timeout", 60, "s", S::kCommConfig,
        "ACK watchdog: the stream fails when the ACK offset does not advance for this long");
  l.add("streaming_ack_progress_check_interval", 5, "s", S::kCommConfig,
        "wait slice of the ACK watchdog");
  l.add("streaming_max_out_seq_chunks", 16, "count", S::kCommConfig,
        "out-of-order chunks buffered by a receiver");
  l.add("streaming_read_timeout", 300, "s", S::kCommConfig,
        "receiver blocked waiting for the next chunk");
  l.add("subnet_heartbeat_interval", 5, "s", S::kCommConfig, "NetAgent subnet heartbeat");
  l.add("backbone_conn_gen", 2, "count", S::kCommConfig,
        "which cell generations connect to the server");
  {
    TimeoutSpec& relay_cache = l.add(
        "relay_cache_max_bytes", 32 * kMiB, "bytes", S::kCode,
        "download chunks a relay holds for its children (`nvflare relay --set relay_cache_max_bytes=N`; 0 = no "
        "cache); None = no bound: FLARE's relay keeps cached items until every receiver took them");
    relay_cache.zero_allowed = true;
    relay_cache.none_allowed = true;
    differs(relay_cache, std::nullopt);
  }
  l.add("grpc_max_workers", 100, "count", S::kCommConfig, "gRPC server worker threads")
      .key = "grpc.max_workers";
  l.add("connector_reconnect_initial", 1, "s", S::kCode,
        "first reconnect back-off of a connector (doubles each try)");
  l.add("connector_reconnect_max", 10, "s", S::kCode, "reconnect back-off cap");
  l.add("cell_max_timeout", 3600, "s", S::kComponentArgs,
        "CoreCell request timeout when a caller passes 0/None");
  l.add("cell_bulk_check_interval", 0.5, "s", S::kCode, "CoreCell queued-message check");
  l.add("cell_bulk_process_interval", 0.5, "s", S::kCode, "CoreCell queued-message processing");
  l.add("cell_max_bulk_size", 100, "count", S::kCode, "messages per bulk send");
  l.add("cell_stream_request_timeout", 10, "s", S::kCode,
        "each of the 3 phases of a stream request (send, remote processing, reply)");
  l.add("cell_bye_timeout", 0.5, "s", S::kCode, "goodbye broadcast when a cell stops");
  for (std::string p : {"np_", "tensor_"}) {
    l.add(p + "streaming_per_request_timeout", 600, "s", S::kJobAny,
          "one download request (one batch of chunks) from a receiver to the sender");
    differs(l.add(p + "min_download_timeout", 900, "s", S::kJobAny,
                  "idle TTL of a download transaction; ours is 900 s so that it covers one "
                  "timed-out request (600 s) plus its retry back-off — FLARE's 300 s can expire "
                  "a transaction mid-download"),
            300);
    l.add(p + "download_chunk_size", 2 * kMiB, "bytes", S::kJobAny,
          "batch size of one download reply (0 = send natively, no download)")
        .zero_allowed = true;
  }
  l.add("download_retry_max_tries", 3, "count", S::kCode,
        "tries of a download request that timed out");
  l.add("download_retry_initial_backoff", 2, "s", S::kCode,
        "first retry back-off of a download request (2/4/8 s)");
  l.add("download_retry_max_backoff", 60, "s", S::kCode, "download retry back-off cap");
  l.add("download_monitor_interval", 5, "s", S::kCode,
        "DownloadService monitor: latency of FINISHED/TIMEOUT detection");
  l.add("datum_threshold", 10 * kMiB, "bytes", S::kCode,
        "bytes/str larger than this are externalized as a download");
  l.add("cell_wait_timeout", 5, "s", S::kJobAny, "aux send waits this long for the cell");
  l.add("rm_max_request_workers", 20, "count", S::kJobAny, "ReliableMessage request workers");
  l.add("rm_query_interval", 2, "s", S::kJobAny, "ReliableMessage result query interval");
}

void add_runtime(SpecList& l) {
  using S = SetIn;
  l.add("heart_beat_timeout", 600, "s", S::kFedServer,
        "SP removes a client silent this long (servers[0]; 5 s sweep)");
  l.add("admin_timeout", 10, "s", S::kFedServer, "deploy messages and admin commands");
  l.add("max_reg_duration", 60, "s", S::kResources, "challenge → register session");
  l.add("start_client_job_timeout", 20, "s", S::kCode, "SP → CP start_client_job request");
  l.add("check_resource_timeout", 15, "s", S::kCode, "SP → CP check_resource request");
  l.add("cancel_resource_timeout", 10, "s", S::kCode, "SP → CP cancel_resource request");
  l.add("abort_job_timeout", 2, "s", S::kCode, "SP → CP abort request");
  l.add("server_abort_timeout", 1, "s", S::kCode, "SP → SJ abort request");
  l.add("sj_get_clients_try_timeout", 5, "s", S::kCode, "one SJ → SP get_clients try at start");
  l.add("sj_get_clients_total_timeout", 30, "s", S::kCode, "all SJ → SP get_clients tries");
  l.add("check_engine_frequency", 3, "s", S::kCode, "SJ → SP heartbeat");
  l.add("sj_exit_status_wait", 2, "s", S::kCode, "SP waits for the SJ status after it exits");
  l.add("sj_heart_beat_timeout", 60, "s", S::kJobServer,
        "copied onto the SJ server object; the SJ runs no dead-client sweep (unused)")
      .key = "server.heart_beat_timeout";
  l.add("task_request_interval", 2, "s", S::kJobServer,
        "__wait_time__ in TRY_AGAIN/task replies (our get_task waits on the server instead)")
      .key = "server.task_request_interval";
  l.add("strict_start_job_reply_check", 0, "bool", S::kJobServer,
        "a missing start-job reply fails the site (true) or is tolerated")
      .zero_allowed = true;
  l.add("sync_client_jobs_require_previous_report", 1, "bool", S::kJobServer,
        "dead-job detection only after a client job has reported once")
      .zero_allowed = true;
  l.add("dead_client_grace_period", 60, "s", S::kJobServer,
        "a client job missing from heartbeats this long after a report is disconnected");
  l.add("dead_client_check_lead_time", 30, "s", S::kJobServer,
        "minimum task age before a missing client is reported CLIENT_DEAD");
  l.add("end_run_readiness_timeout", 5, "s", S::kJobAny, "END_RUN readiness wait");
  l.add("end_run_readiness_check_interval", 0.5, "s", S::kJobAny, "END_RUN readiness polling");
  l.add("wf_task_check_period", 0.2, "s", S::kComponentArgs, "SJ task monitor of a controller");
  l.add("communication_timeout", 300, "s", S::kFedClient,
        "default get_task / submit_task_result timeout (fed_client.json `client`)");
  l.add("maint_msg_timeout", 30, "s", S::kFedClient, "challenge/register/heartbeat/quit requests");
  l.add("client_register_interval", 2, "s", S::kFedClient, "registration retry interval");
  l.add("engine_create_timeout", 30, "s", S::kFedClient,
        "wait for the engine/client runner after the cell is created");
  l.add("heart_beat_interval", 10, "s", S::kStartOption, "CP → SP heartbeat interval");
  l.add("retry_timeout", 30, "s", S::kFedClient, "stored by FLARE, no active use");
  {
    auto& e = l.add("get_task_timeout", kNone, "s", S::kJobClient,
                    "CJ get_task request (phase 2 covers the task's download); None = "
                    "communication_timeout");
    e.none_allowed = true;
    e.fallback = "communication_timeout";
  }
  {
    auto& e = l.add("submit_task_result_timeout", kNone, "s", S::kJobClient,
                    "CJ submit request, incl. the server's download of the result; None = "
                    "communication_timeout");
    e.none_allowed = true;
    e.fallback = "communication_timeout";
  }
  l.add("task_check_timeout", 5, "s", S::kJobClient, "pre-submit task check request");
  l.add("task_check_interval", 5, "s", S::kJobClient, "pre-submit task check retry interval");
  l.add("job_heartbeat_interval", 10, "s", S::kJobClient, "CJ → SJ heartbeat interval");
  l.add("runner_sync_timeout", 2, "s", S::kJobClient, "one CJ start sync request");
  l.add("max_runner_sync_timeout", 60, "s", S::kJobClient, "all CJ start sync requests");
  l.add("notify_cp_msg_timeout", 5, "s", S::kJobClient, "one CJ status message to the CP");
  l.add("notify_cp_retry_timeout", 15, "s", S::kJobClient, "all tries of a CJ status message");
  l.add("job_query_timeout", 5, "s", S::kJobClient, "CP → CJ queries");
  l.add("app_runner_timeout", 60, "s", S::kStartOption, "CJ app runner start");
  l.add("cp_abort_wait", 10, "s", S::kCode,
        "CP waits for the CJ to exit after abort, then kills its process group");
  l.add("max_task_timeout", 3600, "s", S::kComponentArgs,
        "client-side task timeout when task.timeout is 0 (WFCommClient)");
  // Workflow-level defaults (component args of the named workflow).
  l.add("fedavg_timeout", 0, "s", S::kComponentArgs,
        "FedAvg/ModelController task timeout (0 = none)")
      .zero_allowed = true;
  l.add("sag_train_timeout", 0, "s", S::kComponentArgs,
        "ScatterAndGather train task timeout (0 = none)")
      .zero_allowed = true;
  l.add("sag_wait_time_after_min_received", 10, "s", S::kComponentArgs,
        "ScatterAndGather wait for more results after min_clients")
      .zero_allowed = true;
  l.add("cse_submit_model_timeout", 600, "s", S::kComponentArgs,
        "CrossSiteModelEval submit_model task");
  l.add("cse_validation_timeout", 6000, "s", S::kComponentArgs,
        "CrossSiteModelEval validate task");
  l.add("cse_wait_for_clients_timeout", 300, "s", S::kComponentArgs,
        "CrossSiteModelEval wait for clients");
  l.add("ccwf_configure_task_timeout", 300, "s", S::kComponentArgs, "CCWF configure task");
  l.add("ccwf_start_task_timeout", 10, "s", S::kComponentArgs, "CCWF start task");
  l.add("ccwf_progress_timeout", 3600, "s", S::kComponentArgs,
        "CCWF: no progress for this long ends the workflow");
  l.add("swarm_round_timeout", 3600, "s", S::kComponentArgs,
        "Swarm round (ACK budgets and MSG_ROOT_TTL of a scatter)");
  l.add("min_schedule_interval", 10, "s", S::kComponentArgs, "job scheduler minimum interval");
  l.add("max_schedule_interval", 600, "s", S::kComponentArgs, "job scheduler maximum interval");
}

void add_executor(SpecList& l) {
  using S = SetIn;
  {
    auto& e = l.add("launch_timeout", kNone, "s", S::kExecutorArgs,
                    "each launcher call (initialize/launch/stop/check); None = no limit");
    e.none_allowed = true;
  }
  {
    auto& e = l.add("task_wait_timeout", kNone, "s", S::kExecutorArgs,
                    "wait for a task result from the trainer; None = no limit");
    e.none_allowed = true;
  }
  l.add("last_result_transfer_timeout", 300, "s", S::kExecutorArgs,
        "result transfer after the launcher finished");
  l.add("external_pre_init_timeout", 300, "s", S::kExecutorArgs,
        "trainer start → its first pipe message (flare.init); must be > 0")
      .job_key = "EXTERNAL_PRE_INIT_TIMEOUT";
  l.add("peer_read_timeout", 300, "s", S::kExecutorArgs,
        "a task handed to the trainer, incl. the trainer's full download; must be > 0")
      .job_key = "PEER_READ_TIMEOUT";
  l.add("pipe_heartbeat_interval", 5, "s", S::kExecutorArgs, "pipe liveness heartbeat interval")
      .key = "heartbeat_interval";
  {
    auto& e = l.add("pipe_heartbeat_timeout", 300, "s", S::kExecutorArgs,
                    "pipe peer declared gone after this much silence (0 = no detection)");
    e.key = "heartbeat_timeout";
    e.zero_allowed = true;
  }
  l.add("monitor_interval", 0.01, "s", S::kExecutorArgs, "launcher/trainer status polling");
  l.add("read_interval", 0.5, "s", S::kExecutorArgs, "pipe read polling");
  l.add("resend_interval", 2, "s", S::kExecutorArgs, "CJ-side pipe re-send interval");
  {
    auto& e = l.add("max_resends", 3, "count", S::kExecutorArgs,
                    "trainer result send retries (None = unbounded: each retry may hold "
                    "another copy of the result)");
    e.none_allowed = true;
    e.zero_allowed = true;
  }
  l.add("result_poll_interval", 0.5, "s", S::kExecutorArgs, "CJ polls for the trainer's result");
  l.add("submit_result_timeout", 300, "s", S::kExecutorArgs,
        "trainer waits for the CJ's ACK per send attempt (FLARE docs say 60; code 300)");
  l.add("download_complete_timeout", 1800, "s", S::kExecutorArgs,
        "trainer keeps its result downloadable this long (TTL and exit gate)");
  l.add("memory_gc_rounds", 0, "count", S::kExecutorArgs,
        "trainer memory cleanup every N sends (0 = never)")
      .zero_allowed = true;
  l.add("heartbeat_send_timeout", 600, "s", S::kCode, "one pipe heartbeat send");
  l.add("pipe_end_notify_timeout", 0.1, "s", S::kCode, "END/ABORT notification on a pipe");
  l.add("file_check_interval", 0.1, "s", S::kComponentArgs, "FilePipe polling");
  l.add("shutdown_timeout", 0, "s", S::kComponentArgs,
        "SubprocessLauncher wait before SIGTERM (0 = at once)")
      .zero_allowed = true;
  l.add("result_pull_interval", 0.5, "s", S::kExecutorArgs,
        "in-process executor result polling");
  l.add("pipe_default_request_timeout", 5, "s", S::kCode, "PipeHandler default request");
}

std::string number_text(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

std::string type_text(const Value& v) {
  if (v.is_string()) return "string \"" + v.get<std::string>() + "\"";
  if (v.is_object()) return "an object";
  if (v.is_array()) return "a list";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

// Dotted keys name nested fields: "server.heart_beat_timeout".
const Value* lookup(const Value& object, std::string_view key, FieldPath* path) {
  const Value* node = &object;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string part(key.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (!node->is_object()) return nullptr;
    auto it = node->find(part);
    if (it == node->end()) return nullptr;
    node = &*it;
    *path = path->child(part);
    if (dot == std::string_view::npos) return node;
    start = dot + 1;
  }
}

bool settable_from(const TimeoutSpec& spec, OverrideSource kind) {
  switch (kind) {
    case OverrideSource::kServerJobConfig:
      return spec.set_in == SetIn::kJobServer || spec.set_in == SetIn::kJobAny;
    case OverrideSource::kClientJobConfig:
      return spec.set_in == SetIn::kJobClient || spec.set_in == SetIn::kJobAny;
    case OverrideSource::kExecutorArgs:
      return spec.set_in == SetIn::kExecutorArgs;
  }
  return false;
}

}  // namespace

std::string_view set_in_name(SetIn set_in) {
  switch (set_in) {
    case SetIn::kCommConfig: return "comm_config.json";
    case SetIn::kFedServer: return "fed_server.json";
    case SetIn::kFedClient: return "fed_client.json";
    case SetIn::kResources: return "resources.json";
    case SetIn::kStartOption: return "--set at start";
    case SetIn::kJobServer: return "job config (server)";
    case SetIn::kJobClient: return "job config (client)";
    case SetIn::kJobAny: return "job config";
    case SetIn::kExecutorArgs: return "executor args";
    case SetIn::kComponentArgs: return "component args";
    case SetIn::kCode: return "code";
  }
  return "code";
}

std::string_view group_title(TimeoutGroup group) {
  switch (group) {
    case TimeoutGroup::kTransport: return "8.1 Transport / CellNet / streaming / download";
    case TimeoutGroup::kRuntime: return "8.2 Server / client / job runtime";
    case TimeoutGroup::kExecutor: return "8.3 Executor / Client API / pipes";
  }
  return "";
}

std::string_view severity_name(Severity severity) {
  return severity == Severity::kError ? "error" : "warning";
}

std::string format_quantity(const std::optional<double>& value, std::string_view unit) {
  if (!value) return "None";
  if (unit == "bool") return *value != 0 ? "true" : "false";
  std::string out = number_text(*value);
  if (unit == "s" || unit == "bytes") out += " " + std::string(unit);
  return out;
}

TimeoutRegistry TimeoutRegistry::defaults() {
  SpecList list(TimeoutGroup::kTransport);
  add_transport(list);
  list.group(TimeoutGroup::kRuntime);
  add_runtime(list);
  list.group(TimeoutGroup::kExecutor);
  add_executor(list);
  return TimeoutRegistry(std::make_shared<const std::vector<TimeoutSpec>>(list.take()));
}

const TimeoutSpec* TimeoutRegistry::find(std::string_view name) const {
  for (const auto& spec : *specs_) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

EffectiveTimeouts TimeoutRegistry::effective() const { return EffectiveTimeouts(specs_, false); }
EffectiveTimeouts TimeoutRegistry::flare_effective() const {
  return EffectiveTimeouts(specs_, true);
}

EffectiveTimeouts::EffectiveTimeouts(std::shared_ptr<const std::vector<TimeoutSpec>> specs,
                                     bool flare)
    : specs_(std::move(specs)) {
  for (size_t i = 0; i < specs_->size(); ++i) {
    const TimeoutSpec& spec = (*specs_)[i];
    index_[spec.name] = i;
    entries_[spec.name] = Entry{flare ? spec.flare_value() : spec.default_value,
                                flare ? "FLARE 2.7.2 default" : "default"};
  }
}

const TimeoutSpec& EffectiveTimeouts::spec(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) check_failed(__FILE__, __LINE__, "known timeout", name);
  return (*specs_)[it->second];
}

std::optional<double> EffectiveTimeouts::get(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) check_failed(__FILE__, __LINE__, "known timeout", name);
  return it->second.value;
}

std::optional<double> EffectiveTimeouts::resolved(std::string_view name) const {
  std::optional<double> v = get(name);
  const TimeoutSpec& s = spec(name);
  if (!v && !s.fallback.empty()) return resolved(s.fallback);
  return v;
}

const std::string& EffectiveTimeouts::origin(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) check_failed(__FILE__, __LINE__, "known timeout", name);
  return it->second.origin;
}

void EffectiveTimeouts::set(std::string_view name, std::optional<double> value,
                            std::string origin) {
  auto it = entries_.find(name);
  if (it == entries_.end()) check_failed(__FILE__, __LINE__, "known timeout", name);
  it->second = Entry{value, std::move(origin)};
}

void EffectiveTimeouts::apply_overrides(const Value& object, OverrideSource kind,
                                        std::string_view source, const FieldPath& path,
                                        std::vector<Finding>* problems) {
  if (!object.is_object()) return;
  for (const TimeoutSpec& spec : *specs_) {
    std::vector<std::string> keys;
    if (settable_from(spec, kind)) keys.push_back(spec.file_key());
    if (kind == OverrideSource::kClientJobConfig && !spec.job_key.empty()) {
      keys.push_back(spec.job_key);
    }
    for (const std::string& key : keys) {
      FieldPath field = path;
      const Value* v = lookup(object, key, &field);
      if (v == nullptr) continue;
      std::string where = std::string(source) + ": " + field.str();
      if (v->is_number()) {
        set(spec.name, v->get<double>(), where);
      } else if (v->is_boolean() && spec.unit == "bool") {
        set(spec.name, v->get<bool>() ? 1.0 : 0.0, where);
      } else if (v->is_null() && spec.none_allowed) {
        set(spec.name, std::nullopt, where);
      } else {
        std::string expected = spec.unit == "bool" ? "true or false"
                               : spec.unit == "s"  ? "a number of seconds"
                               : spec.unit == "bytes" ? "a number of bytes"
                                                      : "a number";
        if (spec.none_allowed) expected += " or null";
        problems->push_back(Finding{Severity::kError, "type",
                                    where + ": " + spec.name + " must be " + expected +
                                        ", got " + type_text(*v),
                                    ""});
      }
    }
  }
}

}  // namespace nvf::config
