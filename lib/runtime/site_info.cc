#include "runtime/site_info.h"

#include <limits>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "base/strings.h"
#include "base/version.h"

namespace nvf::runtime {
namespace fs = std::filesystem;

config::Value site_resources(const fs::path& workspace) {
  for (const char* name : {"resources.json", "resources.json.default"}) {
    auto v = config::load_file(workspace / "local" / name);
    if (!v.ok() || !v->is_object()) continue;
    if (v->contains("components") && (*v)["components"].is_array()) {
      for (const auto& c : (*v)["components"]) {
        if (c.is_object() && c.value("id", "") == "resource_manager") {
          config::Value args = c.value("args", config::Value::object());
          return args.is_object() ? args : config::Value::object();
        }
      }
    }
    break;  // the first file found is the site's configuration
  }
  return "unlimited";
}

ScopeInfo site_scopes(const fs::path& workspace) {
  ScopeInfo info;
  auto v = config::load_file(workspace / "local" / "privacy.json");
  if (!v.ok() || !v->is_object()) return info;
  if (v->contains("scopes") && (*v)["scopes"].is_array()) {
    for (const auto& s : (*v)["scopes"]) {
      if (s.is_object() && s.contains("name") && s["name"].is_string()) info.names.push_back(s["name"].get<std::string>());
    }
  }
  if (v->contains("default_scope") && (*v)["default_scope"].is_string()) {
    info.default_scope = (*v)["default_scope"].get<std::string>();
  }
  return info;
}

config::Value site_env(const std::string& site, const fs::path& workspace, const fs::path& config_file) {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::error_code ec;
  fs::path ws = fs::weakly_canonical(workspace, ec);
  if (ec) ws = workspace;
  return config::Value{{"site_name", site},
                       {"workspace", ws.string()},
                       {"startup_kit", (ws / "startup").string()},
                       {"local_dir", (ws / "local").string()},
                       {"config_file", config_file.filename().string()},
                       {"nvflare_version", NVF_VERSION},
                       {"flare_compat_version", NVF_FLARE_COMPAT_VERSION},
                       {"host", std::string(host)},
                       {"pid", static_cast<int64_t>(::getpid())}};
}

std::vector<std::string> extra_job_components(const std::vector<std::string>& stored) {
  static const std::set<std::string> system{"workspace", "meta", "scheduled", "data"};
  std::vector<std::string> out;
  for (const auto& s : stored) {
    if (s.empty() || s[0] == '.' || system.count(s)) continue;
    out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<spdlog::level::level_enum> parse_log_config(std::string_view config) {
  std::string c = base::to_lower(base::trim(config));
  if (c.empty()) return InvalidArgumentError("missing log config: use a level name or number, or reload");
  if (std::all_of(c.begin(), c.end(), [](unsigned char ch) { return std::isdigit(ch); })) {
    const int64_t n = base::parse_int(c).value_or(std::numeric_limits<int64_t>::max());  // digits only
    if (n <= 10) return spdlog::level::debug;
    if (n <= 20) return spdlog::level::info;
    if (n <= 30) return spdlog::level::warn;
    if (n <= 40) return spdlog::level::err;
    return spdlog::level::critical;
  }
  if (c == "debug") return spdlog::level::debug;
  if (c == "info") return spdlog::level::info;
  if (c == "warning" || c == "warn") return spdlog::level::warn;
  if (c == "error") return spdlog::level::err;
  if (c == "critical" || c == "fatal") return spdlog::level::critical;
  // FLARE's modes: concise and default show INFO and up; full and verbose show DEBUG.
  if (c == "concise" || c == "default" || c == "reload") return spdlog::level::info;
  if (c == "full" || c == "verbose") return spdlog::level::debug;
  if (c.find('/') != std::string::npos || (c.size() > 5 && c.substr(c.size() - 5) == ".json")) {
    return InvalidArgumentError("log config files are not supported in this build: use a level name (debug, info, "
                                "warning, error, critical), a level number or a mode (concise, verbose, reload)");
  }
  return InvalidArgumentError("invalid log config '" + std::string(config) +
                              "': use a level name (debug, info, warning, error, critical), a level number, a "
                              "mode (concise, full, verbose, default) or reload");
}

std::string python_str(const config::Value& v) {
  auto quote = [](const std::string& s) {
    // Python's repr: double quotes when the text has a ' and no ".
    if (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) return "\"" + s + "\"";
    std::string out = "'";
    for (char ch : s) {
      if (ch == '\\' || ch == '\'') out += '\\';
      out += ch;
    }
    return out + "'";
  };
  if (v.is_null()) return "None";
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
    std::string s = buf;
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
  }
  auto inner = [&](const config::Value& x) { return x.is_string() ? quote(x.get<std::string>()) : python_str(x); };
  std::string out;
  if (v.is_array()) {
    for (const auto& x : v) out += (out.empty() ? "" : ", ") + inner(x);
    return "[" + out + "]";
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    out += (out.empty() ? "" : ", ") + quote(it.key()) + ": " + inner(it.value());
  }
  return "{" + out + "}";
}

std::vector<std::pair<std::string, std::string>> virtual_memory() {
  std::map<std::string, long long> kb;
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    kb[line.substr(0, colon)] = std::atoll(line.c_str() + colon + 1);
  }
  auto b = [&](const char* k) { return kb.count(k) ? kb[k] * 1024 : 0LL; };
  const long long total = b("MemTotal"), free = b("MemFree"), buffers = b("Buffers");
  const long long cached = b("Cached") + b("SReclaimable");
  const long long available = kb.count("MemAvailable") ? b("MemAvailable") : free + buffers + cached;
  long long used = total - free - cached - buffers;
  if (used < 0) used = total - free;
  char percent[32];
  std::snprintf(percent, sizeof percent, "%.1f", total > 0 ? (total - available) * 100.0 / total : 0.0);
  char avail_percent[32];
  std::snprintf(avail_percent, sizeof avail_percent, "%.1f", total > 0 ? available * 100.0 / total : 0.0);
  return {{"total", std::to_string(total)},           {"available", std::to_string(available)},
          {"percent", percent},                       {"used", std::to_string(used)},
          {"free", std::to_string(free)},             {"active", std::to_string(b("Active"))},
          {"inactive", std::to_string(b("Inactive"))}, {"buffers", std::to_string(buffers)},
          {"cached", std::to_string(cached)},         {"shared", std::to_string(b("Shmem"))},
          {"slab", std::to_string(b("Slab"))},        {"available_percent", avail_percent}};
}

std::vector<std::string> last_lines_from(const fs::path& file, uintmax_t offset, size_t n) {
  constexpr uintmax_t kMaxRead = 1 << 20;
  std::error_code ec;
  const uintmax_t size = fs::file_size(file, ec);
  if (ec || size <= offset || n == 0) return {};
  uintmax_t from = std::max(offset, size > kMaxRead ? size - kMaxRead : uintmax_t{0});
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(static_cast<size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  size_t start = 0;
  if (from > offset) {  // began inside a line: skip to the next one
    const size_t nl = text.find('\n');
    start = nl == std::string::npos ? text.size() : nl + 1;
  }
  std::vector<std::string> lines;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(n));
  return lines;
}

}  // namespace nvf::runtime
