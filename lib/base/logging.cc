#include "base/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <vector>

#include "base/files.h"

namespace nvf::base {

Result<Logger> make_logger(const LogOptions& o) {
  std::vector<spdlog::sink_ptr> sinks;
  try {
    if (o.console) {
      auto s = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
      s->set_pattern("%Y-%m-%d %H:%M:%S,%e - %n - %^%l%$ - %v");
      sinks.push_back(s);
    }
    if (!o.dir.empty()) {
      NVF_RETURN_IF_ERROR(make_dirs(o.dir));
      auto all = std::make_shared<spdlog::sinks::basic_file_sink_mt>((o.dir / "log.txt").string());
      all->set_pattern("%Y-%m-%d %H:%M:%S,%e - %n - %l - %v");
      sinks.push_back(all);
      auto err = std::make_shared<spdlog::sinks::basic_file_sink_mt>((o.dir / "log_error.txt").string());
      err->set_level(spdlog::level::err);
      err->set_pattern("%Y-%m-%d %H:%M:%S,%e - %n - %l - %v");
      sinks.push_back(err);
    }
  } catch (const spdlog::spdlog_ex& e) {
    return PermissionDeniedError("cannot open log files in " + o.dir.string() + ": " + e.what());
  }
  auto logger = std::make_shared<spdlog::logger>(o.name, sinks.begin(), sinks.end());
  logger->set_level(o.level);
  logger->flush_on(spdlog::level::info);
  return logger;
}

Logger null_logger() {
  return std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>());
}

Result<spdlog::level::level_enum> parse_log_level(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "trace") return spdlog::level::trace;
  if (n == "debug") return spdlog::level::debug;
  if (n == "info") return spdlog::level::info;
  if (n == "warning" || n == "warn") return spdlog::level::warn;
  if (n == "error") return spdlog::level::err;
  if (n == "critical") return spdlog::level::critical;
  if (n == "off") return spdlog::level::off;
  return InvalidArgumentError("unknown log level '" + std::string(name) +
                              "'; use one of trace, debug, info, warning, error, critical, off");
}

spdlog::level::level_enum level_for_verbosity(int verbose) {
  if (verbose <= 0) return spdlog::level::info;
  if (verbose == 1) return spdlog::level::debug;
  return spdlog::level::trace;
}

}  // namespace nvf::base
