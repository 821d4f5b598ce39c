// The `-f FILE key=value ...` overrides of `nvflare job create` / `job submit`: which file a spec
// names, how a key path ("executors[0].executor.args.launch_once", or a unique suffix such as
// "launch_once") finds its field, and how a value is cast (auto-cast to int/float/bool, then to
// the type of the value it replaces). `key-` deletes. Stateless; safe from any thread.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"
#include "config/value.h"

namespace nvf::job {

namespace fs = std::filesystem;

/// One `-f FILE k=v ...` group as given on the command line.
struct ConfigOverride {
  std::string file;
  std::vector<std::string> assignments;
};

/// A key path: object keys and list indices, in order.
using PathToken = std::variant<std::string, size_t>;
using KeyPath = std::vector<PathToken>;

/// Parses "a.b[0].c". Errors: INVALID_ARGUMENT naming the key.
Result<KeyPath> parse_key_path(std::string_view key);

/// "a.b[0].c".
std::string key_path_str(const KeyPath& path);

/// Every node below the root (containers and primitives) with its path, in document order.
std::vector<std::pair<KeyPath, const config::Value*>> collect_nodes(const config::Value& root);

/// Applies one "k=v" / "k-" / "k-=..." to `root`. `file_label` names the file in errors.
/// Errors: INVALID_ARGUMENT (FLARE's "Invalid config data: X", "Invalid config key: 'k' for file
/// 'F'", an ambiguous suffix, a value that does not fit the existing type).
Status apply_assignment(config::Value* root, std::string_view assignment,
                        std::string_view file_label);

/// The file (relative to the job folder) that an -f spec names: "config_fed_client.conf" →
/// "app/config/config_fed_client.json", "<app>/<file>", "<app>/config/<file>",
/// "<app>/custom/<file>", "meta.conf"/"meta.json" → "meta.json". Errors: INVALID_ARGUMENT with
/// FLARE's "Please specify one of the app names [...]..." / "unknown application name ..." texts;
/// NOT_FOUND when the file does not exist in the job folder.
Result<fs::path> resolve_override_file(const fs::path& job_folder,
                                       const std::vector<std::string>& app_names,
                                       std::string_view spec);

/// Applies every override group to the JSON files of `job_folder` (each file written atomically
/// once, after all its assignments succeeded; nothing is written if any group fails to resolve).
Status apply_overrides(const fs::path& job_folder, const std::vector<std::string>& app_names,
                       const std::vector<ConfigOverride>& overrides);

}  // namespace nvf::job
