// JobMeta: a job's meta file (meta.json / meta.yml / meta.yaml / meta.toml) parsed into typed
// fields, and the checks of FLARE 2.7.2's JobMetaValidator with its exact messages. Plain values;
// parsing and validation are stateless and safe from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/value.h"
#include "job/finding.h"

namespace nvf::job {

/// The literal site name of the server in deploy_map, whatever the server's real name.
inline constexpr std::string_view kServerSite = "server";
/// Deploys an app to the server and every client (case-insensitive, must be alone).
inline constexpr std::string_view kAllSites = "@ALL";
/// FLARE's upper bound for min_clients.
inline constexpr int64_t kMaxClients = 1000000;

struct DeployEntry {
  std::string app;
  std::vector<std::string> sites;  ///< as written (list, {"targets": [...]}, {"sites": [...]})
};

struct JobMeta {
  std::string name;
  std::vector<DeployEntry> deploy_map;  ///< in file order
  std::optional<int64_t> min_clients;
  std::vector<std::string> mandatory_clients;
  config::Value resource_spec = config::Value::object();
  config::Value extra = config::Value::object();  ///< every other key, kept as-is
  config::Value raw;                              ///< the whole meta as loaded
  std::string file;                               ///< relative to the job folder: "meta.json"

  /// True when any app is deployed to @ALL (any case).
  bool deploys_to_all() const;
  /// Explicit client sites (not "server", not @ALL), without duplicates, in order of appearance.
  std::vector<std::string> explicit_clients() const;
};

/// True for "@ALL" in any case.
bool is_all_sites(std::string_view site);

/// FLARE's client name rule (`^[A-Za-z0-9-_]+$`, nvflare/apis/utils/format_check.py).
bool is_valid_client_name(std::string_view name);

/// Converts a loaded meta value into JobMeta, adding a finding for each field of the wrong shape
/// (deploy_map not a dict, a site that is not a string, ...). Never fails: a broken field is left
/// empty and reported.
JobMeta parse_job_meta(const config::Value& meta, std::string file, FindingSink& sink);

/// Runs JobMetaValidator's rules on `meta` for job `job_name` (the folder's basename) and adds
/// every finding (FLARE stops at the first; we report them all). App existence is checked by the
/// folder validator, which knows the disk.
void validate_job_meta(const JobMeta& meta, std::string_view job_name, FindingSink& sink);

/// FLARE's message when no meta file exists.
std::string missing_meta_message(std::string_view job_name);

}  // namespace nvf::job
