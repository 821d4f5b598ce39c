// The one value tree every config format loads into: JSON, YAML and TOML become an ordered JSON
// value (keys keep their file order, so rewritten configs read like the originals). Loading is
// stateless; values are plain data (copy freely, share read-only across threads).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace nvf::config {

using Value = nlohmann::ordered_json;

enum class Format { kJson, kYaml, kToml, kHocon };

/// The format implied by a file name: .json, .yml/.yaml, .toml, .conf (HOCON: config/hocon.h),
/// each optionally followed by .default.
Result<Format> format_for_path(const std::filesystem::path& path);

/// Parses text. `source` names the file in errors, which carry line and column where the parser
/// knows them: "config_fed_client.json:12:5: syntax error ...". Errors: INVALID_ARGUMENT.
Result<Value> parse(std::string_view text, Format format, std::string_view source);

/// Reads and parses a file by its extension. Errors: NOT_FOUND, INVALID_ARGUMENT (naming the file).
Result<Value> load_file(const std::filesystem::path& path);

/// Finds `dir/<basename>.<ext>` trying FLARE's order: .json, .conf, .yml, .yaml, .toml, then each
/// with .default.
/// Errors: NOT_FOUND naming the directory and the names tried.
Result<std::filesystem::path> find_config(const std::filesystem::path& dir, std::string_view basename);

/// Python's name for the value's type, as FLARE's messages print it: dict, list, str, bool, int,
/// float, NoneType.
std::string python_type_name(const Value& value);

/// Serializes as pretty JSON (4-space indent, trailing newline) for files we write.
std::string to_pretty_json(const Value& value);

/// A field path for messages: {"components", 2, "args", "num_rounds"} → "components[2].args.num_rounds".
class FieldPath {
 public:
  FieldPath() = default;
  FieldPath child(std::string_view key) const;
  FieldPath index(size_t i) const;
  std::string str() const { return path_.empty() ? "<root>" : path_; }

 private:
  std::string path_;
};

}  // namespace nvf::config
