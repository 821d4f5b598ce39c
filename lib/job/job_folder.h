// JobFolder: a job folder on disk (meta file, apps with config/ and custom/), loaded and checked
// with FLARE 2.7.2's rules. Loading reads the disk once and returns plain values; it is
// stateless and safe from any thread (as long as nobody rewrites the folder meanwhile).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/value.h"
#include "job/finding.h"
#include "job/job_meta.h"

namespace nvf::job {

namespace fs = std::filesystem;

inline constexpr std::string_view kServerConfigBase = "config_fed_server";
inline constexpr std::string_view kClientConfigBase = "config_fed_client";

struct AppFolder {
  std::string name;                       ///< the app's directory name
  bool exists = false;                    ///< <job>/<app>/config/ is a directory
  std::optional<fs::path> server_config;  ///< the config file found (any supported format)
  std::optional<fs::path> client_config;
  config::Value server;  ///< loaded server config (null when absent or unreadable)
  config::Value client;
  bool has_custom = false;  ///< <job>/<app>/custom/ exists: the job brings its own code
};

struct JobFolder {
  fs::path dir;
  std::string name;  ///< the folder's basename ("job_folder_name")
  std::optional<JobMeta> meta;
  std::vector<AppFolder> apps;  ///< apps named in deploy_map, then other dirs holding config/
  bool byoc = false;            ///< any deployed app has custom/
  std::vector<Finding> findings;

  bool ok() const { return count_errors(findings) == 0; }
  const AppFolder* app(std::string_view name) const;
};

/// Loads and validates `dir`. Every problem in the folder becomes a Finding (meta and each
/// config file are checked even after an earlier error). Errors: NOT_FOUND when `dir` is not a
/// directory; INTERNAL for a filesystem failure while listing it.
Result<JobFolder> load_job_folder(const fs::path& dir);

/// The app directories of a job folder or template: subdirectories that hold a config/ folder
/// (or, for a template, a config_fed_* file), sorted by name.
std::vector<std::string> list_app_dirs(const fs::path& dir);

}  // namespace nvf::job
