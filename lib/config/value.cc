// Loaders for JSON (nlohmann), YAML (yaml-cpp) and TOML (toml++). Every library exception is
// caught here and becomes an INVALID_ARGUMENT naming the file, line and column.
#include "config/value.h"

#include "config/hocon.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include <toml++/toml.h>

#include "base/files.h"
#include "base/strings.h"

namespace nvf::config {
namespace {

namespace fs = std::filesystem;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// ---------------------------------------------------------------------------------------------
// JSON

// nlohmann reports a byte offset (1-based, the last byte read); messages want line:column.
std::pair<size_t, size_t> line_column(std::string_view text, size_t byte) {
  size_t end = std::min(byte == 0 ? 0 : byte - 1, text.size());
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, end - line_start + 1};
}

// "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..." → the part
// after the location, which is what a person needs next to our own FILE:LINE:COL.
std::string json_what(std::string_view what) {
  size_t pos = what.find("column ");
  if (pos != std::string_view::npos) {
    size_t colon = what.find(": ", pos);
    if (colon != std::string_view::npos) return std::string(what.substr(colon + 2));
  }
  if (!what.empty() && what.front() == '[') {
    size_t close = what.find("] ");
    if (close != std::string_view::npos) return std::string(what.substr(close + 2));
  }
  return std::string(what);
}

Result<Value> parse_json(std::string_view text, std::string_view source) {
  try {
    return Value::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    auto [line, col] = line_column(text, e.byte);
    return InvalidArgumentError(std::string(source) + ":" + std::to_string(line) + ":" +
                                std::to_string(col) + ": " + json_what(e.what()));
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string(source) + ": " + json_what(e.what()));
  }
}

// ---------------------------------------------------------------------------------------------
// YAML

bool is_any_of(std::string_view s, std::initializer_list<std::string_view> options) {
  return std::find(options.begin(), options.end(), s) != options.end();
}

bool looks_like_int(std::string_view s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size()) return false;
  return std::all_of(s.begin() + i, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool looks_like_float(std::string_view s) {
  // [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE][-+]?[0-9]+ )?
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// Plain (unquoted) scalars are typed as YAML's core schema does: null, bool, int, float, else
// string. yes/no/on/off stay strings (YAML 1.2), which avoids surprises such as a country "NO".
Value yaml_scalar(const std::string& s) {
  if (is_any_of(s, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (is_any_of(s, {"true", "True", "TRUE"})) return true;
  if (is_any_of(s, {"false", "False", "FALSE"})) return false;
  if (looks_like_int(s)) {
    std::string_view digits = s;
    if (digits.front() == '+') digits.remove_prefix(1);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc() && ptr == digits.data() + digits.size()) return v;
    uint64_t u = 0;
    auto [uptr, uec] = std::from_chars(digits.data(), digits.data() + digits.size(), u);
    if (uec == std::errc() && uptr == digits.data() + digits.size()) return u;
    return std::stod(s);
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    int base = s[1] == 'x' ? 16 : 8;
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), v, base);
    if (ec == std::errc() && ptr == s.data() + s.size()) return v;
  }
  if (looks_like_float(s)) return std::stod(s);
  if (is_any_of(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    return std::numeric_limits<double>::infinity();
  }
  if (is_any_of(s, {"-.inf", "-.Inf", "-.INF"})) return -std::numeric_limits<double>::infinity();
  if (is_any_of(s, {".nan", ".NaN", ".NAN"})) return std::numeric_limits<double>::quiet_NaN();
  return s;
}

// yaml-cpp's escapes ("\xA0" in a quoted scalar) can make strings that are not UTF-8 even from a
// UTF-8 file; such a string would make every later JSON output of the config throw.
const std::string& utf8_checked(const std::string& s, const YAML::Mark& mark) {
  if (base::invalid_utf8_at(s) != std::string_view::npos) {
    throw YAML::Exception(mark, "a string is not valid UTF-8 once its escapes are read");
  }
  return s;
}

Value from_yaml(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted scalars "!" and plain ones "?": only plain scalars are typed.
      if (node.Tag() == "!") return utf8_checked(node.Scalar(), node.Mark());
      return yaml_scalar(utf8_checked(node.Scalar(), node.Mark()));
    case YAML::NodeType::Sequence: {
      Value out = Value::array();
      for (const auto& item : node) out.push_back(from_yaml(item));
      return out;
    }
    case YAML::NodeType::Map: {
      Value out = Value::object();
      for (const auto& kv : node) {
        std::string key = kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first);
        out[utf8_checked(key, kv.first.Mark())] = from_yaml(kv.second);
      }
      return out;
    }
  }
  return nullptr;
}

Result<Value> parse_yaml(std::string_view text, std::string_view source) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return from_yaml(root);
  } catch (const YAML::Exception& e) {
    std::string where(source);
    if (!e.mark.is_null()) {
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    return InvalidArgumentError(where + ": " + e.msg);
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string(source) + ": " + e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// TOML

Value from_toml(const toml::node& node);

template <typename T>
std::string stream_string(const T& v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

Value from_toml_table(const toml::table& table) {
  // toml++ keeps keys sorted; order them by their position in the file so a rewritten config
  // reads like the original.
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (const auto& [key, node] : table) entries.emplace_back(&key, &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.first->source().begin;
    const auto& pb = b.first->source().begin;
    return std::pair(pa.line, pa.column) < std::pair(pb.line, pb.column);
  });
  Value out = Value::object();
  for (const auto& [key, node] : entries) out[std::string(key->str())] = from_toml(*node);
  return out;
}

Value from_toml(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return from_toml_table(*node.as_table());
    case toml::node_type::array: {
      Value out = Value::array();
      for (const auto& item : *node.as_array()) out.push_back(from_toml(item));
      return out;
    }
    case toml::node_type::string:
      return node.as_string()->get();
    case toml::node_type::integer:
      return node.as_integer()->get();
    case toml::node_type::floating_point:
      return node.as_floating_point()->get();
    case toml::node_type::boolean:
      return node.as_boolean()->get();
    case toml::node_type::date:
      return stream_string(node.as_date()->get());
    case toml::node_type::time:
      return stream_string(node.as_time()->get());
    case toml::node_type::date_time:
      return stream_string(node.as_date_time()->get());
    case toml::node_type::none:
      break;
  }
  return nullptr;
}

Result<Value> parse_toml(std::string_view text, std::string_view source) {
  try {
    toml::table table = toml::parse(text, source);
    return from_toml_table(table);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    return InvalidArgumentError(std::string(source) + ":" + std::to_string(begin.line) + ":" +
                                std::to_string(begin.column) + ": " +
                                std::string(e.description()));
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string(source) + ": " + e.what());
  }
}

}  // namespace

Result<Format> format_for_path(const fs::path& path) {
  std::string name = path.filename().string();
  if (ends_with(name, ".default")) name.resize(name.size() - std::string_view(".default").size());
  if (ends_with(name, ".json")) return Format::kJson;
  if (ends_with(name, ".yml") || ends_with(name, ".yaml")) return Format::kYaml;
  if (ends_with(name, ".toml")) return Format::kToml;
  if (ends_with(name, ".conf")) return Format::kHocon;
  return InvalidArgumentError(path.string() +
                              ": unknown config format; use .json, .conf, .yml, .yaml or .toml");
}

Result<Value> parse(std::string_view text, Format format, std::string_view source) {
  // Every string of a config must be valid UTF-8 (JSON output of it would throw otherwise); the
  // YAML library does not check.
  if (const size_t bad = base::invalid_utf8_at(text); bad != std::string_view::npos) {
    return InvalidArgumentError(std::string(source) + ": is not valid UTF-8 (at byte offset " + std::to_string(bad) +
                                "); save the file as UTF-8");
  }
  switch (format) {
    case Format::kJson:
      return parse_json(text, source);
    case Format::kYaml:
      return parse_yaml(text, source);
    case Format::kToml:
      return parse_toml(text, source);
    case Format::kHocon:
      return parse_hocon(text, source);
  }
  return InvalidArgumentError(std::string(source) + ": unknown format");
}

Result<Value> load_file(const fs::path& path) {
  NVF_ASSIGN_OR_RETURN(Format format, format_for_path(path));
  NVF_ASSIGN_OR_RETURN(std::string text, base::read_file(path));
  return parse(text, format, path.string());
}

Result<fs::path> find_config(const fs::path& dir, std::string_view basename) {
  static constexpr std::array<std::string_view, 5> kExts = {".json", ".conf", ".yml", ".yaml", ".toml"};
  std::vector<std::string> tried;
  for (std::string_view suffix : {std::string_view(), std::string_view(".default")}) {
    for (std::string_view ext : kExts) {
      std::string name = std::string(basename) + std::string(ext) + std::string(suffix);
      tried.push_back(name);
      std::error_code ec;
      if (fs::is_regular_file(dir / name, ec)) return dir / name;
    }
  }
  std::string names;
  for (const auto& n : tried) names += (names.empty() ? "" : ", ") + n;
  return NotFoundError("no config '" + std::string(basename) + "' in " + dir.string() +
                       " (tried " + names + ")");
}

std::string to_pretty_json(const Value& value) {
  return value.dump(4, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

FieldPath FieldPath::child(std::string_view key) const {
  FieldPath out;
  out.path_ = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  return out;
}

FieldPath FieldPath::index(size_t i) const {
  FieldPath out;
  out.path_ = path_ + "[" + std::to_string(i) + "]";
  return out;
}

std::string python_type_name(const Value& v) {
  if (v.is_object()) return "dict";
  if (v.is_array()) return "list";
  if (v.is_string()) return "str";
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_number_float()) return "float";
  return "NoneType";
}

}  // namespace nvf::config
