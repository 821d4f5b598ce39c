// What a site (server or client parent) tells an admin about itself: its resources
// (local/resources.json, else .default), its privacy scopes (local/privacy.json), its environment
// (workspace, kit paths, version, host, pid), a job's extra stored components, and the log
// configuration argument of configure_site_log / configure_job_log. Pure functions of files and
// arguments (and /proc/meminfo); the admin service and the client parent answer with them (spec cli-and-formats §5.2).
#pragma once

#include <spdlog/spdlog.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "config/value.h"

namespace nvf::runtime {

/// The args of the site's `resource_manager` component in local/resources.json (else
/// resources.json.default), e.g. {"num_of_gpus": 0, "mem_per_gpu_in_GiB": 0}; the string
/// "unlimited" (FLARE's answer for the server) when there is no resource manager.
config::Value site_resources(const std::filesystem::path& workspace);

/// The scope names and the default scope of local/privacy.json; none (empty) without the file.
struct ScopeInfo {
  std::vector<std::string> names;
  std::string default_scope;
};
ScopeInfo site_scopes(const std::filesystem::path& workspace);

/// The site's environment: site name, workspace, startup and local folders, the config file, the
/// nvflare version (and the FLARE version it is compatible with), host name and pid.
config::Value site_env(const std::string& site, const std::filesystem::path& workspace,
                       const std::filesystem::path& config_file);

/// The stored components of a job that are not FLARE's system ones (data, meta, workspace,
/// scheduled), e.g. ERRORLOG_site-1, sorted.
std::vector<std::string> extra_job_components(const std::vector<std::string>& stored);

/// A configure_site_log / configure_job_log config argument: a level name (debug, info, warning,
/// error, critical, any case), a level number (10, 20, 30, 40, 50), a mode (concise and default →
/// info; full and verbose → debug) or "reload" (back to the start level, info).
/// Errors: INVALID_ARGUMENT naming the argument; a log config file is refused as not supported.
Result<spdlog::level::level_enum> parse_log_config(std::string_view config);

/// psutil.virtual_memory() on Linux, from /proc/meminfo, in its field order (name, value: bytes,
/// percent used / available): what `sys_info` shows for a site.
std::vector<std::pair<std::string, std::string>> virtual_memory();

/// The last `n` lines of `file` written after byte `offset` (oldest first; empty lines and a line
/// cut by reading at most the last 1 MiB are left out). Nothing when the file is missing or not
/// longer than `offset`. show_errors reads log_error.txt with it.
std::vector<std::string> last_lines_from(const std::filesystem::path& file, uintmax_t offset, size_t n);

/// Python's str() of a JSON value as FLARE's tables print dicts and lists:
/// {'num_of_gpus': 0, 'name': 'x'}, [1, 2], True, None.
std::string python_str(const config::Value& v);

}  // namespace nvf::runtime
