// FLARE's variable substitution (see substitute.h for the rules and where they come from).
#include "config/substitute.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

extern char** environ;  // NOLINT: POSIX

namespace nvf::config {
namespace {

// An invocation of a definition resolves the definition with its own rounds; a definition that
// invokes itself would otherwise recurse without end.
constexpr int kMaxDefinitionDepth = 20;
// No resolved string is longer than this.
constexpr size_t kMaxResolvedBytes = size_t{1} << 20;

std::string_view py_strip(std::string_view s) {
  constexpr std::string_view kBlank = " \t\n\r\v\f";
  size_t b = s.find_first_not_of(kBlank);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kBlank);
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_on(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// argument_utils.parse_vars: "k=v" → v typed int, then float, then bool (yes/true/t/y/1,
// no/false/f/n/0), else the string.
Value typed_local(std::string_view text) {
  std::string_view t = py_strip(text);
  if (!t.empty()) {
    std::string_view digits = t.front() == '+' ? t.substr(1) : t;
    int64_t i = 0;
    auto [ip, iec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
    if (iec == std::errc() && ip == digits.data() + digits.size()) return i;
    double d = 0;
    auto [dp, dec] = std::from_chars(digits.data(), digits.data() + digits.size(), d);
    if (dec == std::errc() && dp == digits.data() + digits.size()) return d;
  }
  std::string l = lower(text);
  if (l == "yes" || l == "true" || l == "t" || l == "y" || l == "1") return true;
  if (l == "no" || l == "false" || l == "f" || l == "n" || l == "0") return false;
  return std::string(text);
}

std::string python_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, ec == std::errc() ? end : buf);
  // sci: [-]D[.DDD]e[+-]XX
  bool negative = !sci.empty() && sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out = negative ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exp) + 1) + "." +
             digits.substr(static_cast<size_t>(exp) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  std::string exp_digits = std::to_string(std::abs(exp));
  if (exp_digits.size() < 2) exp_digits.insert(0, "0");
  out += std::string("e") + (exp < 0 ? "-" : "+") + exp_digits;
  return out;
}

std::string python_repr_string(const std::string& s) {
  char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c == static_cast<unsigned char>(quote)) {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += quote;
  return out;
}

std::string python_repr(const Value& v) {
  if (v.is_string()) return python_repr_string(v.get<std::string>());
  if (v.is_object()) {
    std::string out = "{";
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!first) out += ", ";
      first = false;
      out += python_repr_string(it.key()) + ": " + python_repr(it.value());
    }
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + python_repr(v[i]);
    return out + "]";
  }
  return python_str(v);
}

// Python str.format(**pool) restricted to plain names: returns nullopt on anything Python would
// raise for here (unknown name, "{}"/"{0}", lone braces) and, deliberately, on format specs,
// conversions and attribute/index access, which FLARE configs do not use.
std::optional<std::string> py_format(std::string_view s, const VarMap& pool) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '{') {
      if (i + 1 < s.size() && s[i + 1] == '{') {
        out += '{';
        i += 2;
        continue;
      }
      size_t j = s.find('}', i + 1);
      if (j == std::string_view::npos) return std::nullopt;
      std::string_view field = s.substr(i + 1, j - i - 1);
      if (field.empty() || field.find_first_of("{!:.[") != std::string_view::npos) {
        return std::nullopt;
      }
      if (field.find_first_not_of("0123456789") == std::string_view::npos) return std::nullopt;
      auto it = pool.find(field);
      if (it == pool.end()) return std::nullopt;
      out += python_str(it->second);
      i = j + 1;
    } else if (c == '}') {
      if (i + 1 < s.size() && s[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      return std::nullopt;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}


// Python truthiness, for FLARE's `if item:` on a definition.
bool truthy(const Value& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0.0;
  if (v.is_string() || v.is_object() || v.is_array()) return !v.empty();
  return true;
}

class Resolver {
 public:
  Resolver(std::string_view source, int depth) : source_(source), depth_(depth) {}

  Status resolve(Value& tree, const VarMap& pool, const FieldPath& path) {
    int rounds = 0;
    while (true) {
      changes_ = 0;
      first_changed_.clear();
      NVF_RETURN_IF_ERROR(visit(tree, pool, path));
      ++rounds;
      if (changes_ == 0) return Status::OK();
      if (rounds > kMaxDerefRounds) {
        return error(first_changed_, "item de-ref exceeds " + std::to_string(kMaxDerefRounds) +
                                         " rounds - cyclic refs or ref level too deep");
      }
    }
  }

 private:
  Status error(const std::string& where, const std::string& what) const {
    return InvalidArgumentError(std::string(source_) + ": " + where + ": " + what);
  }

  Status visit(Value& node, const VarMap& pool, const FieldPath& path) {
    if (node.is_string()) {
      NVF_ASSIGN_OR_RETURN(std::optional<Value> replaced,
                           substitute(node.get_ref<const std::string&>(), pool, path));
      if (replaced && *replaced != node) {
        // A string that refers to itself grows with every round (2^20 times over 20 rounds):
        // stop it long before it eats the memory.
        if (replaced->is_string() && replaced->get_ref<const std::string&>().size() > kMaxResolvedBytes) {
          return error(path.str(), "grows past " + std::to_string(kMaxResolvedBytes >> 20) +
                                       " MiB while its {variables} are resolved - a variable refers to itself");
        }
        node = std::move(*replaced);
        if (changes_++ == 0) first_changed_ = path.str();
      }
    } else if (node.is_object()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        NVF_RETURN_IF_ERROR(visit(it.value(), pool, path.child(it.key())));
      }
    } else if (node.is_array()) {
      for (size_t i = 0; i < node.size(); ++i) {
        NVF_RETURN_IF_ERROR(visit(node[i], pool, path.index(i)));
      }
    }
    return Status::OK();
  }

  // nullopt: leave the string as it is.
  Result<std::optional<Value>> substitute(const std::string& element, const VarMap& pool,
                                          const FieldPath& path) {
    std::string_view exp = py_strip(element);
    bool whole_ref = false;
    if (exp.size() >= 3 && exp.substr(0, 2) == "{@" && exp.back() == '}') {
      whole_ref = true;
      exp = exp.substr(1, exp.size() - 2);
    } else if (exp.size() >= 2 && exp.front() == '{' && exp.back() == '}' &&
               exp.substr(1, exp.size() - 2).find_first_of("{}") == std::string_view::npos) {
      whole_ref = true;
      exp = exp.substr(1, exp.size() - 2);
    }
    if (!whole_ref) {
      std::optional<std::string> formatted = py_format(element, pool);
      if (!formatted) return std::optional<Value>();
      return std::optional<Value>(Value(std::move(*formatted)));
    }
    std::vector<std::string> parts = split_on(exp, ':');
    const std::string& name = parts[0];
    auto it = pool.find(name);
    if (parts.size() == 1) {
      if (it == pool.end()) return std::optional<Value>();
      return std::optional<Value>(it->second);
    }
    return invoke_definition(element, name, parts, pool, path);
  }

  Result<std::optional<Value>> invoke_definition(const std::string& element,
                                                 const std::string& name,
                                                 const std::vector<std::string>& parts,
                                                 const VarMap& pool, const FieldPath& path) {
    auto it = pool.find(name);
    if (it == pool.end() || !truthy(it->second)) {
      return error(path.str(), "bad parameterized expression '" + element + "': " + name +
                                   " is not defined");
    }
    if (!it->second.is_object()) {
      return error(path.str(), "bad parameterized expression '" + element + "': " + name +
                                   " must be dict but got " + config::python_type_name(it->second));
    }
    if (depth_ >= kMaxDefinitionDepth) {
      return error(path.str(), "definition invocations nested deeper than " +
                                   std::to_string(kMaxDefinitionDepth) + " in '" + element +
                                   "' - cyclic definitions");
    }
    VarMap local_pool = pool;
    for (size_t i = 1; i < parts.size(); ++i) {
      size_t eq = parts[i].find('=');
      std::string key(py_strip(std::string_view(parts[i]).substr(0, eq)));
      std::string value = eq == std::string::npos ? "" : parts[i].substr(eq + 1);
      local_pool[key] = typed_local(value);
    }
    Value item = it->second;
    Resolver inner(source_, depth_ + 1);
    NVF_RETURN_IF_ERROR(inner.resolve(item, local_pool, path));
    return std::optional<Value>(std::move(item));
  }

  std::string_view source_;
  int depth_;
  int changes_ = 0;
  std::string first_changed_;
};

}  // namespace

std::string python_str(const Value& value) {
  if (value.is_null()) return "None";
  if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
  if (value.is_number_integer()) return value.dump();
  if (value.is_number_float()) return python_float(value.get<double>());
  if (value.is_string()) return value.get<std::string>();
  return python_repr(value);
}

EnvMap current_environment() {
  EnvMap env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

VarMap build_var_pool(const Value& cfg, const VarMap& system_vars, const EnvMap& env) {
  VarMap pool;
  for (const auto& [name, value] : env) pool["$" + name] = value;
  if (cfg.is_object()) {
    for (auto it = cfg.begin(); it != cfg.end(); ++it) pool[it.key()] = it.value();
  }
  for (const auto& [name, value] : system_vars) pool[name] = value;
  return pool;
}

Result<Value> resolve_with_pool(const Value& value, const VarMap& pool, std::string_view source,
                                const FieldPath& path) {
  Value tree = value;
  Resolver resolver(source, 0);
  NVF_RETURN_IF_ERROR(resolver.resolve(tree, pool, path));
  return tree;
}

Result<Value> resolve_config(const Value& cfg, const VarMap& system_vars, const EnvMap& env,
                             std::string_view source) {
  VarMap pool = build_var_pool(cfg, system_vars, env);
  // Definitions are templates: they are resolved only when invoked, with their local vars.
  Value tree = Value::object();
  if (cfg.is_object()) {
    for (auto it = cfg.begin(); it != cfg.end(); ++it) {
      if (!it.key().starts_with("@")) tree[it.key()] = it.value();
    }
  } else {
    tree = cfg;
  }
  return resolve_with_pool(tree, pool, source);
}

Result<Value> load_resolved(const std::filesystem::path& path, const VarMap& system_vars,
                            const EnvMap& env) {
  NVF_ASSIGN_OR_RETURN(Value cfg, load_file(path));
  return resolve_config(cfg, system_vars, env, path.string());
}

}  // namespace nvf::config
