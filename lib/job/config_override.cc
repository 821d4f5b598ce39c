#include "job/config_override.h"

#include <limits>
#include <cctype>
#include <cstdlib>
#include <map>

#include "base/files.h"
#include "base/strings.h"
#include "job/finding.h"

namespace nvf::job {
namespace {

using config::Value;

void collect(const Value& v, KeyPath* path, std::vector<std::pair<KeyPath, const Value*>>* out) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.items()) {
      path->push_back(k);
      out->emplace_back(*path, &child);
      collect(child, path, out);
      path->pop_back();
    }
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) {
      path->push_back(i);
      out->emplace_back(*path, &v[i]);
      collect(v[i], path, out);
      path->pop_back();
    }
  }
}

bool ends_with(const KeyPath& full, const KeyPath& suffix) {
  if (suffix.size() > full.size()) return false;
  return std::equal(suffix.rbegin(), suffix.rend(), full.rbegin());
}

Value* find_exact(Value* root, const KeyPath& path) {
  Value* cur = root;
  for (const auto& t : path) {
    if (const auto* key = std::get_if<std::string>(&t)) {
      if (!cur->is_object() || !cur->contains(*key)) return nullptr;
      cur = &(*cur)[*key];
    } else {
      const size_t i = std::get<size_t>(t);
      if (!cur->is_array() || i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    }
  }
  return cur;
}

// The full path of `key`: exact from the root, else the one node whose path ends with it.
Result<KeyPath> locate(const Value& root, const KeyPath& key, std::string_view key_text,
                       std::string_view file) {
  if (find_exact(const_cast<Value*>(&root), key)) return key;
  std::vector<KeyPath> matches;
  for (const auto& [path, node] : collect_nodes(root)) {
    if (ends_with(path, key)) matches.push_back(path);
  }
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) {
    return InvalidArgumentError("Invalid config key: '" + std::string(key_text) + "' for file '" +
                                std::string(file) +
                                "' (see `nvflare job show_variables` for the keys you can set)");
  }
  std::vector<std::string> names;
  for (const auto& m : matches) names.push_back(key_path_str(m));
  return InvalidArgumentError("config key '" + std::string(key_text) +
                              "' matches several fields in '" + std::string(file) +
                              "': " + base::join(names, ", ") + "; use a longer path");
}

Value auto_cast(const std::string& s) {
  const std::string t{base::trim(s)};
  if (!t.empty()) {
    char* end = nullptr;
    errno = 0;
    long long i = std::strtoll(t.c_str(), &end, 10);
    if (*end == '\0' && errno == 0) return Value(static_cast<int64_t>(i));
    end = nullptr;
    double d = std::strtod(t.c_str(), &end);
    const bool has_digit = t.find_first_of("0123456789") != std::string::npos;
    if (*end == '\0' && has_digit) return Value(d);
    const std::string l = base::to_lower(t);
    if (l == "true") return Value(true);
    if (l == "false") return Value(false);
  }
  return Value(s);
}

Result<Value> cast_like(const Value& existing, const std::string& raw, std::string_view key,
                        std::string_view file) {
  const Value v = auto_cast(raw);
  auto bad = [&](std::string_view type) {
    return InvalidArgumentError("value '" + raw + "' for '" + std::string(key) + "' in '" +
                                std::string(file) + "' must be " + std::string(type) +
                                " (the current value is " + existing.dump() + ")");
  };
  if (existing.is_string()) return Value(raw);
  if (existing.is_boolean()) {
    const std::string l = base::to_lower(base::trim(raw));
    if (l == "true" || l == "1" || l == "yes") return Value(true);
    if (l == "false" || l == "0" || l == "no") return Value(false);
    return bad("true or false");
  }
  if (existing.is_number_integer() || existing.is_number_unsigned()) {
    if (v.is_number_integer()) return v;
    return bad("an int");
  }
  if (existing.is_number_float()) {
    if (v.is_number()) return Value(v.get<double>());
    return bad("a number");
  }
  if (existing.is_array() || existing.is_object()) {
    Value parsed = Value::parse(raw, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || parsed.type() != existing.type()) {
      return bad(existing.is_array() ? "a JSON list" : "a JSON object");
    }
    return parsed;
  }
  return v;  // null: keep the auto-cast value
}

Status erase_at(Value* root, const KeyPath& path) {
  KeyPath parent_path(path.begin(), path.end() - 1);
  Value* parent = find_exact(root, parent_path);
  if (const auto* key = std::get_if<std::string>(&path.back())) {
    parent->erase(*key);
  } else {
    parent->erase(std::get<size_t>(path.back()));
  }
  return Status::OK();
}

}  // namespace

Result<KeyPath> parse_key_path(std::string_view key) {
  KeyPath out;
  auto bad = [&] {
    return InvalidArgumentError("bad config key '" + std::string(key) +
                                "': write a.b.c or list[0].key");
  };
  if (base::trim(key).empty()) return bad();
  for (const auto& seg : base::split(key, '.')) {
    size_t pos = seg.find('[');
    std::string name = seg.substr(0, pos);
    if (!name.empty())
      out.push_back(name);
    else if (pos == 0 && out.empty())
      return bad();
    else if (pos == std::string::npos)
      return bad();
    while (pos != std::string::npos && pos < seg.size()) {
      if (seg[pos] != '[') return bad();
      const size_t close = seg.find(']', pos);
      if (close == std::string::npos || close == pos + 1) return bad();
      const std::string digits = seg.substr(pos + 1, close - pos - 1);
      for (char c : digits) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return bad();
      }
      auto index = base::parse_int(digits, 0, std::numeric_limits<int32_t>::max());
      if (!index) return bad();
      out.push_back(static_cast<size_t>(*index));
      pos = close + 1;
    }
  }
  return out;
}

std::string key_path_str(const KeyPath& path) {
  std::string out;
  for (const auto& t : path) {
    if (const auto* key = std::get_if<std::string>(&t))
      out += (out.empty() ? "" : ".") + *key;
    else
      out += "[" + std::to_string(std::get<size_t>(t)) + "]";
  }
  return out;
}

std::vector<std::pair<KeyPath, const Value*>> collect_nodes(const Value& root) {
  std::vector<std::pair<KeyPath, const Value*>> out;
  KeyPath path;
  collect(root, &path, &out);
  return out;
}

Status apply_assignment(Value* root, std::string_view assignment, std::string_view file) {
  const std::string text(assignment);
  const size_t eq = text.find('=');
  std::string key = eq == std::string::npos ? text : text.substr(0, eq);
  const bool erase = !key.empty() && key.back() == '-';
  if (erase) key.pop_back();
  if (eq == std::string::npos && !erase)
    return InvalidArgumentError("Invalid config data: " + text);
  NVF_ASSIGN_OR_RETURN(KeyPath wanted, parse_key_path(key));
  NVF_ASSIGN_OR_RETURN(KeyPath path, locate(*root, wanted, key, file));
  if (erase) return erase_at(root, path);
  Value* slot = find_exact(root, path);
  NVF_ASSIGN_OR_RETURN(*slot, cast_like(*slot, text.substr(eq + 1), key, file));
  return Status::OK();
}

Result<fs::path> resolve_override_file(const fs::path& job_folder,
                                       const std::vector<std::string>& app_names,
                                       std::string_view spec) {
  const auto parts = base::split(spec, '/', /*skip_empty=*/true);
  if (parts.empty() || parts.size() > 3 ||
      (parts.size() == 3 && parts[1] != "config" && parts[1] != "custom")) {
    return InvalidArgumentError("Expecting <app_name>/<config file>, but '" + std::string(spec) +
                                "' is given.");
  }
  std::string base = parts.back();
  std::string stem = base;
  for (const char* ext : {".conf", ".json", ".yml", ".yaml", ".toml"}) {
    const std::string e(ext);
    if (base.size() > e.size() && base.compare(base.size() - e.size(), e.size(), e) == 0) {
      if (e != ".conf" && e != ".json") {
        return InvalidArgumentError("-f " + std::string(spec) +
                                    ": only JSON files are rewritten; convert it to JSON");
      }
      stem = base.substr(0, base.size() - e.size());
    }
  }
  // The file as the job has it: JSON, or HOCON (a .conf from FLARE's templates). A rewritten .conf
  // holds JSON, which is HOCON too.
  std::string file = stem + ".json";
  auto pick = [&](const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_regular_file(dir / (stem + ".json"), ec) && fs::is_regular_file(dir / (stem + ".conf"), ec)) {
      file = stem + ".conf";
    }
  };
  fs::path rel;
  if (parts.size() == 1 && stem == "meta") {
    pick(job_folder);
    rel = file;
  } else {
    const std::string app = parts.size() == 1 ? "app" : parts[0];
    if (std::find(app_names.begin(), app_names.end(), app) == app_names.end()) {
      if (parts.size() == 1) {
        return InvalidArgumentError("Please specify one of the app names " +
                                    py_list_repr(app_names) +
                                    ". For example '<app_name>/xxx.conf k1=v1 k2=v2...'");
      }
      return InvalidArgumentError("unknown application name '" + app +
                                  "'. Expected app names are " + py_list_repr(app_names) + " ");
    }
    const fs::path sub = fs::path(app) / (parts.size() == 3 ? parts[1] : "config");
    pick(job_folder / sub);
    rel = sub / file;
  }
  std::error_code ec;
  if (!fs::is_regular_file(job_folder / rel, ec)) {
    return NotFoundError("-f " + std::string(spec) + ": " + rel.generic_string() +
                         " does not exist in job folder " + job_folder.string());
  }
  return rel;
}

Status apply_overrides(const fs::path& job_folder, const std::vector<std::string>& app_names,
                       const std::vector<ConfigOverride>& overrides) {
  std::map<fs::path, Value> docs;  // every file is changed in memory first, then written
  std::vector<fs::path> order;
  for (const auto& o : overrides) {
    NVF_ASSIGN_OR_RETURN(fs::path rel, resolve_override_file(job_folder, app_names, o.file));
    if (!docs.count(rel)) {
      NVF_ASSIGN_OR_RETURN(Value doc, config::load_file(job_folder / rel));
      docs.emplace(rel, std::move(doc));
      order.push_back(rel);
    }
    for (const auto& a : o.assignments) {
      NVF_RETURN_IF_ERROR(apply_assignment(&docs[rel], a, rel.generic_string()));
    }
  }
  for (const auto& rel : order) {
    NVF_RETURN_IF_ERROR(base::atomic_write(job_folder / rel, config::to_pretty_json(docs[rel])));
  }
  return Status::OK();
}

}  // namespace nvf::job
