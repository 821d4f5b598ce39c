#include "config/timeouts.h"

#include <set>

#include <gtest/gtest.h>

#include "base/files.h"

namespace nvf::config {
namespace {

std::string describe(const std::vector<Finding>& findings) {
  std::string out;
  for (const Finding& f : findings) {
    out += std::string(severity_name(f.severity)) + " [" + f.rule + "] " + f.message;
    if (!f.where.empty()) out += " {" + f.where + "}";
    out += "\n";
  }
  return out;
}

const Finding* find_rule(const std::vector<Finding>& findings, std::string_view rule) {
  for (const Finding& f : findings) {
    if (f.rule == rule) return &f;
  }
  return nullptr;
}

TEST(TimeoutRegistry, HasAboutAHundredUniqueDocumentedEntries) {
  TimeoutRegistry registry = TimeoutRegistry::defaults();
  EXPECT_GE(registry.specs().size(), 95u);
  std::set<std::string> names;
  for (const TimeoutSpec& spec : registry.specs()) {
    EXPECT_TRUE(names.insert(spec.name).second) << "duplicate " << spec.name;
    EXPECT_FALSE(spec.bounds.empty()) << spec.name;
    EXPECT_TRUE(spec.unit == "s" || spec.unit == "bytes" || spec.unit == "count" ||
                spec.unit == "bool")
        << spec.name;
    if (!spec.fallback.empty()) {
      EXPECT_NE(registry.find(spec.fallback), nullptr) << spec.name;
    }
  }
  ASSERT_NE(registry.find("streaming_chunk_size"), nullptr);
  EXPECT_EQ(*registry.find("streaming_chunk_size")->default_value, 1048576.0);
  EXPECT_EQ(registry.find("no_such_timeout"), nullptr);
}

TEST(TimeoutRegistry, OurDownloadTtlDiffersFromFlareAndKeepsFlaresValue) {
  TimeoutRegistry registry = TimeoutRegistry::defaults();
  for (const char* name : {"tensor_min_download_timeout", "np_min_download_timeout"}) {
    const TimeoutSpec* spec = registry.find(name);
    ASSERT_NE(spec, nullptr);
    EXPECT_EQ(*spec->default_value, 900.0);
    EXPECT_TRUE(spec->differs_from_flare);
    EXPECT_EQ(*spec->flare_default, 300.0);
  }
  EXPECT_EQ(*registry.find("tensor_streaming_per_request_timeout")->flare_value(), 600.0);
  EXPECT_FALSE(registry.find("submit_result_timeout")->differs_from_flare);
}

TEST(TimeoutRules, DefaultsHaveZeroFindings) {
  std::vector<Finding> findings = check(TimeoutRegistry::defaults().effective());
  EXPECT_TRUE(findings.empty()) << describe(findings);
}

TEST(TimeoutRules, FlareDefaultsWarnDownloadTtlBelowPerRequestTimeout) {
  std::vector<Finding> findings = check(TimeoutRegistry::defaults().flare_effective());
  std::vector<std::string> messages;
  for (const Finding& f : findings) {
    if (f.rule == "download-ttl-covers-request") {
      EXPECT_EQ(f.severity, Severity::kWarning);
      messages.push_back(f.message);
    }
  }
  EXPECT_EQ(messages,
            (std::vector<std::string>{
                "np_min_download_timeout (300 s) must be >= np_streaming_per_request_timeout "
                "(600 s): the download transaction may expire mid-download (FLARE 2.7.2 rule 1)",
                "tensor_min_download_timeout (300 s) must be >= "
                "tensor_streaming_per_request_timeout (600 s): the download transaction may "
                "expire mid-download (FLARE 2.7.2 rule 1)"}))
      << describe(findings);
  for (const Finding& f : findings) EXPECT_NE(f.severity, Severity::kError) << describe(findings);
}

struct RuleCase {
  std::vector<std::pair<std::string, std::optional<double>>> set;
  std::string rule;
  Severity severity;
  std::vector<std::string> mentions;
};

TEST(TimeoutRules, EachRuleFiresNamingBothParametersAndValues) {
  constexpr double kMiB = 1048576;
  const std::vector<RuleCase> cases = {
      {{{"tensor_min_download_timeout", 100}}, "download-ttl-covers-request", Severity::kWarning,
       {"tensor_min_download_timeout (100 s)", "tensor_streaming_per_request_timeout (600 s)"}},
      {{{"submit_result_timeout", 1000}, {"download_complete_timeout", 5000}},
       "submit-within-download-ttl", Severity::kWarning,
       {"submit_result_timeout (1000 s)", "np_min_download_timeout (900 s)"}},
      {{{"pipe_heartbeat_timeout", 5}, {"pipe_heartbeat_interval", 5}}, "pipe-heartbeat",
       Severity::kError, {"pipe_heartbeat_timeout (5 s)", "pipe_heartbeat_interval (5 s)"}},
      {{{"heart_beat_interval", 600}}, "client-heartbeat", Severity::kError,
       {"heart_beat_interval (600 s)", "heart_beat_timeout (600 s)"}},
      {{{"job_heartbeat_interval", 60}}, "job-heartbeat-grace", Severity::kError,
       {"job_heartbeat_interval (60 s)", "dead_client_grace_period (60 s)"}},
      {{{"dead_client_check_lead_time", 90}}, "dead-client-lead-time", Severity::kWarning,
       {"dead_client_check_lead_time (90 s)", "dead_client_grace_period (60 s)"}},
      {{{"submit_task_result_timeout", 100}}, "submit-covers-trainer-submit", Severity::kWarning,
       {"submit_task_result_timeout (100 s)", "submit_result_timeout (300 s)"}},
      {{{"communication_timeout", 120}}, "submit-covers-trainer-submit", Severity::kWarning,
       {"submit_task_result_timeout (120 s)", "submit_result_timeout (300 s)"}},
      {{{"streaming_ack_interval", 32 * kMiB}}, "ack-interval-within-window", Severity::kError,
       {"streaming_ack_interval (33554432 bytes)", "streaming_window_size (16777216 bytes)"}},
      {{{"streaming_chunk_size", 32 * kMiB}}, "chunk-within-window", Severity::kError,
       {"streaming_chunk_size (33554432 bytes)", "streaming_window_size (16777216 bytes)"}},
      {{{"max_message_size", 0.5 * kMiB}}, "chunk-within-message-size", Severity::kError,
       {"streaming_chunk_size (1048576 bytes)", "max_message_size (524288 bytes)"}},
      {{{"max_message_size", 0.5 * kMiB}}, "download-chunk-within-message-size",
       Severity::kError, {"np_download_chunk_size (2097152 bytes)", "max_message_size"}},
      {{{"streaming_send_timeout", 60}}, "send-deadline-before-ack-watchdog", Severity::kWarning,
       {"streaming_send_timeout (60 s)", "streaming_ack_progress_timeout (60 s)"}},
      {{{"streaming_ack_progress_check_interval", 60}}, "ack-check-within-ack-timeout",
       Severity::kWarning,
       {"streaming_ack_progress_check_interval (60 s)", "streaming_ack_progress_timeout (60 s)"}},
      {{{"streaming_ack_progress_timeout", 400}}, "ack-watchdog-within-ack-wait",
       Severity::kWarning,
       {"streaming_ack_progress_timeout (400 s)", "streaming_ack_wait (300 s)"}},
      {{{"runner_sync_timeout", 90}}, "runner-sync", Severity::kError,
       {"runner_sync_timeout (90 s)", "max_runner_sync_timeout (60 s)"}},
      {{{"notify_cp_msg_timeout", 20}}, "notify-cp-retry", Severity::kWarning,
       {"notify_cp_msg_timeout (20 s)", "notify_cp_retry_timeout (15 s)"}},
      {{{"end_run_readiness_check_interval", 5}}, "end-run-check-interval", Severity::kWarning,
       {"end_run_readiness_check_interval (5 s)", "end_run_readiness_timeout (5 s)"}},
      {{{"client_register_interval", 60}}, "register-within-session", Severity::kWarning,
       {"client_register_interval (60 s)", "max_reg_duration (60 s)"}},
      {{{"maint_msg_timeout", 600}}, "maint-within-heartbeat-timeout", Severity::kWarning,
       {"maint_msg_timeout (600 s)", "heart_beat_timeout (600 s)"}},
      {{{"connector_reconnect_initial", 20}}, "reconnect-backoff", Severity::kError,
       {"connector_reconnect_initial (20 s)", "connector_reconnect_max (10 s)"}},
      {{{"download_retry_initial_backoff", 90}}, "download-retry-backoff", Severity::kError,
       {"download_retry_initial_backoff (90 s)", "download_retry_max_backoff (60 s)"}},
      {{{"min_schedule_interval", 700}}, "schedule-interval", Severity::kError,
       {"min_schedule_interval (700 s)", "max_schedule_interval (600 s)"}},
      {{{"external_pre_init_timeout", 0}}, "positive", Severity::kError,
       {"external_pre_init_timeout (0 s) must be > 0"}},
      {{{"peer_read_timeout", -1}}, "positive", Severity::kError,
       {"peer_read_timeout (-1 s) must be > 0"}},
      {{{"task_check_timeout", 0}}, "positive", Severity::kError,
       {"task_check_timeout (0 s) must be > 0"}},
      {{{"communication_timeout", std::nullopt}}, "positive", Severity::kError,
       {"communication_timeout is None"}},
      {{{"heartbeat_interval", 2}}, "sfm-heartbeat-tick", Severity::kWarning,
       {"heartbeat_interval (2 s)", "5 s"}},
      {{{"max_resends", std::nullopt}}, "max-resends-bounded", Severity::kWarning,
       {"max_resends (None)"}},
      {{{"download_complete_timeout", 600}}, "result-ttl-covers-resends", Severity::kWarning,
       {"download_complete_timeout (600 s)", "submit_result_timeout (300 s)", "max_resends (3)"}},
      {{{"sfm_close_stalled_connection", 1}, {"streaming_read_timeout", 50}},
       "stall-close-window", Severity::kWarning,
       {"streaming_read_timeout (50 s)", "sfm_send_stall_timeout (45 s)",
        "sfm_send_stall_consecutive_checks (3)"}},
  };
  TimeoutRegistry registry = TimeoutRegistry::defaults();
  for (const RuleCase& c : cases) {
    EffectiveTimeouts t = registry.effective();
    for (const auto& [name, value] : c.set) t.set(name, value, "test");
    std::vector<Finding> findings = check(t);
    const Finding* f = find_rule(findings, c.rule);
    ASSERT_NE(f, nullptr) << c.rule << " did not fire:\n" << describe(findings);
    EXPECT_EQ(f->severity, c.severity) << c.rule;
    for (const std::string& m : c.mentions) {
      EXPECT_NE(f->message.find(m), std::string::npos) << c.rule << ": " << f->message;
    }
    EXPECT_NE(f->where.find("from test"), std::string::npos) << f->where;
  }
}

TEST(TimeoutRules, ZeroThatMeansNoneDoesNotFire) {
  EffectiveTimeouts t = TimeoutRegistry::defaults().effective();
  t.set("pipe_heartbeat_timeout", 0, "test");
  t.set("tensor_download_chunk_size", 0, "test");
  t.set("shutdown_timeout", 0, "test");
  t.set("launch_timeout", std::nullopt, "test");
  std::vector<Finding> findings = check(t);
  EXPECT_TRUE(findings.empty()) << describe(findings);
}

TEST(TimeoutRules, RulesListCoversEveryRuleId) {
  std::set<std::string> ids;
  for (const TimeoutRule& r : timeout_rules()) ids.insert(r.id);
  for (const char* id : {"positive", "download-ttl-covers-request", "submit-within-download-ttl",
                         "max-resends-bounded", "pipe-heartbeat", "client-heartbeat",
                         "sfm-heartbeat-tick", "ack-interval-within-window", "type"}) {
    EXPECT_EQ(ids.count(id), 1u) << id;
  }
}

Value json(const char* text) { return Value::parse(text); }

TEST(CheckJobConfigs, CleanJobHasNoFindings) {
  Value server = json(R"({"format_version": 2, "num_rounds": 5, "workflows": []})");
  Value client = json(R"({"format_version": 2, "executors": [{"tasks": ["train"],
      "executor": {"path": "x.Y", "args": {"launcher_id": "launcher"}}}]})");
  std::vector<Finding> findings = check_job_configs(&server, &client);
  EXPECT_TRUE(findings.empty()) << describe(findings);
  EXPECT_TRUE(check_job_configs(nullptr, nullptr).empty());
}

TEST(CheckJobConfigs, RulesAcrossServerAndClientSeeBothConfigs) {
  // A short grace on the server with a shorter client heartbeat is consistent...
  Value server = json(R"({"dead_client_grace_period": 3})");
  Value client = json(R"({"job_heartbeat_interval": 1})");
  std::vector<Finding> consistent = check_job_configs(&server, &client);
  EXPECT_EQ(find_rule(consistent, "job-heartbeat-grace"), nullptr) << describe(consistent);
  // ...and the same grace with the default 10 s heartbeat is not.
  Value plain_client = json(R"({"format_version": 2})");
  std::vector<Finding> findings = check_job_configs(&server, &plain_client);
  const Finding* f = find_rule(findings, "job-heartbeat-grace");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->message.find("job_heartbeat_interval (10 s) must be < dead_client_grace_period (3 s)"),
            std::string::npos)
      << f->message;
}

TEST(CheckJobConfigs, TopLevelKeysOverrideDefaults) {
  Value client = json(R"({"format_version": 2, "tensor_min_download_timeout": 300,
                          "streaming_chunk_size": 1e12})");
  std::vector<Finding> findings = check_job_configs(nullptr, &client);
  ASSERT_EQ(findings.size(), 1u) << describe(findings);
  EXPECT_EQ(findings[0].rule, "download-ttl-covers-request");
  EXPECT_EQ(findings[0].message,
            "tensor_min_download_timeout (300 s) must be >= tensor_streaming_per_request_timeout "
            "(600 s): the download transaction may expire mid-download (FLARE 2.7.2 rule 1)");
  EXPECT_EQ(findings[0].where,
            "tensor_min_download_timeout from config_fed_client.json: tensor_min_download_timeout");
}

TEST(CheckJobConfigs, ServerKeysIncludingNestedOnesOverride) {
  Value server = json(R"({"dead_client_check_lead_time": 120, "server": {"heart_beat_timeout": 0}})");
  std::vector<Finding> findings = check_job_configs(&server, nullptr);
  const Finding* lead = find_rule(findings, "dead-client-lead-time");
  ASSERT_NE(lead, nullptr) << describe(findings);
  EXPECT_NE(lead->message.find("dead_client_check_lead_time (120 s)"), std::string::npos);
  const Finding* positive = find_rule(findings, "positive");
  ASSERT_NE(positive, nullptr) << describe(findings);
  EXPECT_EQ(positive->message.rfind("sj_heart_beat_timeout (0 s) must be > 0", 0), 0u);
  EXPECT_EQ(positive->where,
            "sj_heart_beat_timeout from config_fed_server.json: server.heart_beat_timeout");
}

TEST(CheckJobConfigs, ExecutorArgsOverrideDefaults) {
  Value client = json(R"({"format_version": 2, "executors": [
      {"tasks": ["validate"], "executor": {"path": "a.B", "args": {}}},
      {"tasks": ["train"], "executor": {"path": "x.Y", "args": {
          "submit_result_timeout": 1200, "heartbeat_interval": 10, "heartbeat_timeout": 5,
          "max_resends": null}}}]})");
  std::vector<Finding> findings = check_job_configs(nullptr, &client);
  const Finding* submit = find_rule(findings, "submit-within-download-ttl");
  ASSERT_NE(submit, nullptr) << describe(findings);
  EXPECT_NE(submit->message.find("submit_result_timeout (1200 s)"), std::string::npos);
  EXPECT_NE(submit->where.find(
                "config_fed_client.json: executors[1].executor.args.submit_result_timeout"),
            std::string::npos)
      << submit->where;
  const Finding* pipe = find_rule(findings, "pipe-heartbeat");
  ASSERT_NE(pipe, nullptr) << describe(findings);
  EXPECT_EQ(pipe->severity, Severity::kError);
  EXPECT_NE(pipe->message.find("pipe_heartbeat_timeout (5 s) must be > pipe_heartbeat_interval "
                               "(10 s)"),
            std::string::npos)
      << pipe->message;
  EXPECT_NE(find_rule(findings, "max-resends-bounded"), nullptr) << describe(findings);
}

TEST(CheckJobConfigs, JobKeysOverrideExecutorArgs) {
  Value client = json(R"({"PEER_READ_TIMEOUT": 0, "EXTERNAL_PRE_INIT_TIMEOUT": 30,
      "executors": [{"tasks": ["*"], "executor": {"path": "x.Y",
                     "args": {"peer_read_timeout": 100, "external_pre_init_timeout": 0}}}]})");
  std::vector<Finding> findings = check_job_configs(nullptr, &client);
  ASSERT_EQ(findings.size(), 1u) << describe(findings);
  EXPECT_EQ(findings[0].rule, "positive");
  EXPECT_NE(findings[0].message.find("peer_read_timeout (0 s) must be > 0"), std::string::npos);
  EXPECT_EQ(findings[0].where, "peer_read_timeout from config_fed_client.json: PEER_READ_TIMEOUT");
}

TEST(CheckJobConfigs, WrongTypeIsAnErrorNamingTheField) {
  Value client = json(R"({"get_task_timeout": "soon", "executors": [{"tasks": ["train"],
      "executor": {"path": "x.Y", "args": {"submit_result_timeout": "abc"}}}]})");
  std::vector<Finding> findings = check_job_configs(nullptr, &client);
  std::vector<std::string> type_messages;
  for (const Finding& f : findings) {
    if (f.rule == "type") {
      EXPECT_EQ(f.severity, Severity::kError);
      type_messages.push_back(f.message);
    }
  }
  EXPECT_EQ(type_messages,
            (std::vector<std::string>{
                "config_fed_client.json: executors[0].executor.args.submit_result_timeout: "
                "submit_result_timeout must be a number of seconds, got string \"abc\"",
                "config_fed_client.json: get_task_timeout: get_task_timeout must be a number of "
                "seconds or null, got string \"soon\""}))
      << describe(findings);
}

TEST(TimeoutRender, TableJsonAndMarkdownCarryEveryEntry) {
  TimeoutRegistry registry = TimeoutRegistry::defaults();
  std::string table = render_timeouts_table(registry);
  EXPECT_EQ(table.rfind("NAME", 0), 0u);
  EXPECT_NE(table.find("900 (FLARE 300)"), std::string::npos);
  Value array = Value::parse(render_timeouts_json(registry));
  ASSERT_TRUE(array.is_array());
  ASSERT_EQ(array.size(), registry.specs().size());
  bool seen = false;
  for (const Value& o : array) {
    if (o["name"] == "tensor_min_download_timeout") {
      seen = true;
      EXPECT_EQ(o["default"], 900.0);
      EXPECT_EQ(o["flare_default"], 300.0);
      EXPECT_EQ(o["set_in"], "job config");
    }
  }
  EXPECT_TRUE(seen);
  std::string md = render_timeouts_markdown(registry);
  for (const TimeoutSpec& spec : registry.specs()) {
    EXPECT_NE(md.find("| `" + spec.name + "` |"), std::string::npos) << spec.name;
  }
  EXPECT_NE(md.find("- **warning** `download-ttl-covers-request`"), std::string::npos);
}

TEST(TimeoutRender, DocsTimeoutsMdIsCurrent) {
  auto on_disk = base::read_file(NVF_SOURCE_DIR "/docs/timeouts.md");
  ASSERT_TRUE(on_disk.ok()) << on_disk.status().to_string()
                            << "\nrun: build/lib/config/nvf_gen_timeouts_doc > docs/timeouts.md";
  EXPECT_TRUE(*on_disk == render_timeouts_markdown(TimeoutRegistry::defaults()))
      << "docs/timeouts.md is out of date with the timeout registry; "
         "run: build/lib/config/nvf_gen_timeouts_doc > docs/timeouts.md";
}

}  // namespace
}  // namespace nvf::config
