// `nvflare job create`: a job folder from a template (FLARE 2.7.2 §2.4, writing JSON). Stateless;
// safe from any thread as long as no two calls write the same job folder.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "job/config_override.h"
#include "job/job_variables.h"

namespace nvf::job {

namespace fs = std::filesystem;

struct CreateJobOptions {
  fs::path job_folder = "./current_job";  ///< -j
  std::string template_name = "sag_pt";   ///< -w: a template name, an alias, or a folder
  fs::path templates_root;                ///< where names are looked up
  std::optional<fs::path> script_dir;     ///< -sd: its contents go into every <app>/custom/
  std::vector<ConfigOverride> overrides;  ///< -f FILE k=v ...
  bool force = false;                     ///< -force
};

struct CreateJobResult {
  bool configs_written = false;  ///< false when configs existed and -force was not given
  std::string warning;           ///< FLARE's "already exists ... use -force option" text
  std::string template_name;     ///< the template actually used (an alias resolves to it)
  std::vector<std::string> apps;
  std::vector<VariableRow> variables;  ///< show_variables of the new folder
};

/// Creates or updates `options.job_folder` from the template:
/// J/<app>/{config,custom}; -sd contents copied into custom/ (no __pycache__); the template's
/// config files copied (not info.toml, info.md, meta.*, __init__.py); J/meta.json with name =
/// basename(J); then the -f overrides (atomic writes). With -force an existing J is replaced, but
/// only when it looks like a job folder (it has meta.* or <app>/config/) or is empty.
/// Errors: INVALID_ARGUMENT (unknown template "Invalid template name X, ...", "job_folder must
/// not be the same or sub directory of script_dir", bad -f), NOT_FOUND (script dir missing),
/// FAILED_PRECONDITION (-force on a folder that is not a job folder), INTERNAL (I/O).
Result<CreateJobResult> create_job(const CreateJobOptions& options);

/// The app names a job folder has (subfolders holding config/), or ["app"] when none.
std::vector<std::string> job_app_names(const fs::path& job_folder);

}  // namespace nvf::job
