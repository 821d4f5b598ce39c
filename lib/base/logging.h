// Logging on spdlog. A Logger is made per site (the simulator has many in one process), writing
// to the console and, when a directory is given, to log.txt (everything at or above the level)
// and log_error.txt (errors only), as FLARE lays them out. Loggers are thread-safe; they are not
// registered in spdlog's global registry, so nothing here is a process-wide singleton.
#pragma once

#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace nvf::base {

using Logger = std::shared_ptr<spdlog::logger>;

struct LogOptions {
  std::string name = "nvflare";
  spdlog::level::level_enum level = spdlog::level::info;
  bool console = true;
  std::filesystem::path dir;  // empty: console only
};

/// Makes a logger. Errors: the log directory cannot be created or written (names it).
Result<Logger> make_logger(const LogOptions& options);

/// A logger that drops everything (for tests and library defaults).
Logger null_logger();

/// "debug", "info", "warning"/"warn", "error", "critical", "off" (case-insensitive).
Result<spdlog::level::level_enum> parse_log_level(std::string_view name);

/// The level for -v counts: 0 → info, 1 → debug, 2+ → trace.
spdlog::level::level_enum level_for_verbosity(int verbose);

}  // namespace nvf::base
