// The timeout registry: every timeout (and the size/count knobs the rules need) of FLARE 2.7.2's
// runtime (spec runtime.md §8.1–8.3) as data — name, our default, FLARE's default where we
// differ, unit, where it is set and what it bounds — plus the consistency rules over them.
//
// A TimeoutRegistry is an immutable value built by TimeoutRegistry::defaults() (there is no
// global); EffectiveTimeouts is one set of values (defaults + overrides) for checking. Both are
// plain values: copy freely, share read-only across threads; mutate an EffectiveTimeouts from one
// thread at a time.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/value.h"

namespace nvf::config {

/// Where a value is set. Only kJob*, kExecutorArgs (and job keys) are read from a job config.
enum class SetIn {
  kCommConfig,     // startup kit local/comm_config.json (or env NVFLARE_<NAME>)
  kFedServer,      // startup kit fed_server.json
  kFedClient,      // startup kit fed_client.json
  kResources,      // startup kit local/resources.json
  kStartOption,    // `--set name=value` when starting the parent process
  kJobServer,      // top-level key of config_fed_server.json
  kJobClient,      // top-level key of config_fed_client.json
  kJobAny,         // top-level key of either job config (read by the process that runs it)
  kExecutorArgs,   // args of a client executor
  kComponentArgs,  // args of another component (workflow, pipe, launcher, cell)
  kCode,           // a constant in the code
};

/// "comm_config.json", "job config (client)", ...
std::string_view set_in_name(SetIn set_in);

/// The §8 table a spec belongs to.
enum class TimeoutGroup { kTransport, kRuntime, kExecutor };
std::string_view group_title(TimeoutGroup group);

/// One registry entry.
struct TimeoutSpec {
  std::string name;                     // unique registry name (FLARE's name where it has one)
  std::optional<double> default_value;  // ours; nullopt = None (no limit, or see `fallback`)
  std::string unit;                     // "s", "bytes", "count", "bool"
  SetIn set_in = SetIn::kCode;
  TimeoutGroup group = TimeoutGroup::kTransport;
  std::string bounds;                   // what it bounds, one line
  std::string key;                      // the key in the file when it differs from `name`
                                        // ("heartbeat_interval" for pipe_heartbeat_interval;
                                        // dotted = nested: "server.heart_beat_timeout")
  std::string job_key;                  // a top-level job-config key that overrides an executor
                                        // arg (EXTERNAL_PRE_INIT_TIMEOUT)
  bool zero_allowed = false;            // 0 means "none"/"disabled" for this entry
  bool none_allowed = false;            // null (None) is allowed
  std::string fallback;                 // None falls back to this entry's value
  bool differs_from_flare = false;
  std::optional<double> flare_default;  // FLARE 2.7.2's default when differs_from_flare

  const std::string& file_key() const { return key.empty() ? name : key; }
  std::optional<double> flare_value() const {
    return differs_from_flare ? flare_default : default_value;
  }
};

/// Formats a value with its unit for messages and tables: "300 s", "16777216 bytes", "3",
/// "None", "true".
std::string format_quantity(const std::optional<double>& value, std::string_view unit);

class EffectiveTimeouts;

/// All timeout specs, in §8 order. Immutable once built.
class TimeoutRegistry {
 public:
  /// The registry with our defaults (every rule passes) and FLARE's where they differ.
  static TimeoutRegistry defaults();

  const std::vector<TimeoutSpec>& specs() const { return *specs_; }
  /// The spec by registry name; nullptr when unknown.
  const TimeoutSpec* find(std::string_view name) const;

  /// Our defaults as an effective set.
  EffectiveTimeouts effective() const;
  /// FLARE 2.7.2's defaults as an effective set (they do not pass every rule).
  EffectiveTimeouts flare_effective() const;

 private:
  explicit TimeoutRegistry(std::shared_ptr<const std::vector<TimeoutSpec>> specs)
      : specs_(std::move(specs)) {}
  std::shared_ptr<const std::vector<TimeoutSpec>> specs_;
};

enum class Severity { kError, kWarning };
std::string_view severity_name(Severity severity);  // "error" / "warning"

/// One result of a check: a broken rule, a bad value or a value of the wrong type.
struct Finding {
  Severity severity = Severity::kError;
  std::string rule;     // rule id, e.g. "download-ttl-covers-request"
  std::string message;  // names both parameters and their values (and the field for type errors)
  std::string where;    // where non-default values came from ("config_fed_client.json: x"), or ""
};

/// Where an override comes from; decides which entries it may set.
enum class OverrideSource { kServerJobConfig, kClientJobConfig, kExecutorArgs };

/// One set of values: the registry's defaults plus overrides, each with its origin.
class EffectiveTimeouts {
 public:
  struct Entry {
    std::optional<double> value;
    std::string origin;  // "default" or "config_fed_client.json: executors[0].executor.args.x"
  };

  const std::vector<TimeoutSpec>& specs() const { return *specs_; }
  const TimeoutSpec& spec(std::string_view name) const;  // a bug (abort) when unknown
  bool contains(std::string_view name) const { return entries_.count(std::string(name)) > 0; }

  /// The value as set (nullopt = None). Unknown names are a bug (abort).
  std::optional<double> get(std::string_view name) const;
  /// The value after following `fallback` for None (get_task_timeout → communication_timeout).
  std::optional<double> resolved(std::string_view name) const;
  const std::string& origin(std::string_view name) const;

  /// Sets a value. Unknown names are a bug (abort).
  void set(std::string_view name, std::optional<double> value, std::string origin);

  /// Applies the keys of `object` that name an entry settable from `kind` (other keys are
  /// ignored: they are the config's own variables). A value of the wrong type (a string where a
  /// number is expected) adds an error Finding naming `source` and the field; the default stays.
  void apply_overrides(const Value& object, OverrideSource kind, std::string_view source,
                       const FieldPath& path, std::vector<Finding>* problems);

 private:
  friend class TimeoutRegistry;
  explicit EffectiveTimeouts(std::shared_ptr<const std::vector<TimeoutSpec>> specs, bool flare);

  std::shared_ptr<const std::vector<TimeoutSpec>> specs_;
  std::map<std::string, size_t, std::less<>> index_;  // name → position in specs_
  std::map<std::string, Entry, std::less<>> entries_;
};

/// A rule as documented: id, severity, and the relation in words.
struct TimeoutRule {
  std::string id;
  Severity severity = Severity::kError;
  std::string relation;  // "tensor_min_download_timeout >= tensor_streaming_per_request_timeout"
  std::string why;       // what goes wrong otherwise
};

/// Every rule `check` applies, in order (for the docs and `nvflare timeouts`).
std::vector<TimeoutRule> timeout_rules();

/// Checks one effective set against every rule. Empty = consistent.
std::vector<Finding> check(const EffectiveTimeouts& timeouts);

/// Checks a job's resolved configs (either may be null): the server job config's top-level keys
/// override the defaults for the server set; the client job config's top-level keys and its
/// executors' args (executors[i].executor.args) for the client set. Each set is checked; a
/// finding that both sets produce is reported once. Type errors name the file and field.
std::vector<Finding> check_job_configs(const Value* server_cfg, const Value* client_cfg);

/// A plain-text aligned table for the terminal: name, default, unit, set in, bounds.
std::string render_timeouts_table(const TimeoutRegistry& registry);
/// A JSON array of objects: name, default, flare_default, unit, set_in, group, bounds, ...
std::string render_timeouts_json(const TimeoutRegistry& registry);
/// The reference page (docs/timeouts.md): intro, one table per group, then the rules.
std::string render_timeouts_markdown(const TimeoutRegistry& registry);

}  // namespace nvf::config
