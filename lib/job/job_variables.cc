#include "job/job_variables.h"

#include <algorithm>
#include <map>
#include <set>
#include <system_error>

#include "config/value.h"
#include "job/app_config_check.h"
#include "job/config_override.h"
#include "job/job_folder.h"
#include "job/templates.h"

namespace nvf::job {
namespace {

using config::Value;

bool is_excluded_key(const std::string& key) {
  static const std::set<std::string> kExcluded = {
      "id", "path", "class_path", "format_version", "config_type", "disabled", "tasks"};
  return kExcluded.count(key) > 0;
}

std::string value_text(const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The class name of the innermost component object on `path`, if any.
std::string enclosing_component(const Value& root, const KeyPath& path) {
  std::string name;
  const Value* cur = &root;
  for (const auto& t : path) {
    // The root is a file, never a component (meta.json has a "name" of its own).
    if (cur != &root && is_component_object(*cur)) name = component_class_name(*cur);
    if (const auto* k = std::get_if<std::string>(&t))
      cur = &(*cur)[*k];
    else
      cur = &(*cur)[std::get<size_t>(t)];
  }
  return name;
}

bool excluded(const Value& root, const KeyPath& path) {
  const Value* cur = &root;
  for (const auto& t : path) {
    if (const auto* k = std::get_if<std::string>(&t)) {
      // "name" is a class name inside a component object, a variable elsewhere (meta name).
      if (is_excluded_key(*k) || (*k == "name" && cur != &root && is_component_object(*cur)))
        return true;
      cur = &(*cur)[*k];
    } else {
      cur = &(*cur)[std::get<size_t>(t)];
    }
  }
  return false;
}

// Shortest suffix of `path` that no other node's path ends with.
std::string shortest_unique(const KeyPath& path, const std::vector<KeyPath>& all) {
  for (size_t n = 1; n <= path.size(); ++n) {
    KeyPath suffix(path.end() - static_cast<std::ptrdiff_t>(n), path.end());
    if (std::holds_alternative<size_t>(suffix.front()) && n < path.size())
      continue;  // "x[0]" not "[0]"
    size_t hits = 0;
    for (const auto& p : all) {
      if (p.size() >= n && std::equal(suffix.rbegin(), suffix.rend(), p.rbegin())) ++hits;
    }
    if (hits == 1) return key_path_str(suffix);
  }
  return key_path_str(path);
}

void rows_for_file(const std::string& app, const fs::path& file, const Value& doc,
                   std::vector<VariableRow>* out) {
  const auto nodes = collect_nodes(doc);
  std::vector<KeyPath> all;
  for (const auto& [p, v] : nodes) all.push_back(p);
  std::map<std::string, VariableRow> sorted;
  for (const auto& [p, v] : nodes) {
    if (v->is_object() || v->is_array() || excluded(doc, p)) continue;
    VariableRow row{app, file.filename().string(), shortest_unique(p, all), value_text(*v),
                    enclosing_component(doc, p)};
    sorted.emplace(row.var_name, row);
  }
  for (auto& [k, row] : sorted) out->push_back(std::move(row));
}

}  // namespace

Result<std::vector<VariableRow>> show_variables(const fs::path& job_folder) {
  std::error_code ec;
  if (!fs::is_directory(job_folder, ec))
    return NotFoundError("required job folder is not specified.");
  std::vector<VariableRow> rows;
  auto meta = config::find_config(job_folder, "meta");
  if (meta.ok()) {
    NVF_ASSIGN_OR_RETURN(Value doc, config::load_file(*meta));
    rows_for_file("app", *meta, doc, &rows);
  }
  for (const auto& app : list_app_dirs(job_folder)) {
    std::vector<fs::path> files;
    for (auto base : {kClientConfigBase, kServerConfigBase}) {  // sorted: client before server
      auto f = config::find_config(job_folder / app / "config", base);
      if (f.ok()) files.push_back(*f);
    }
    for (const auto& f : files) {
      NVF_ASSIGN_OR_RETURN(Value doc, config::load_file(f));
      rows_for_file(app, f, doc, &rows);
    }
  }
  return rows;
}

std::string render_variables_table(const fs::path& job_folder,
                                   const std::vector<VariableRow>& rows) {
  const size_t total = 135;
  const std::string rule(total, '-');
  const std::string blank(total, ' ');
  std::string out = "\nThe following are the variables you can change in the template\n\n";
  out += rule + "\n" + blank + "\n";
  out += "  " + fixed_width("job folder: " + job_folder.string(), total) + "\n";
  out += blank + "\n" + rule + "\n";
  auto line = [](const std::string& a, const std::string& b, const std::string& c,
                 const std::string& d) {
    return "  " + fixed_width(a, 30) + " " + fixed_width(b, 30) + " " + fixed_width(c, 35) + " " +
           fixed_width(d, 35) + "\n";
  };
  out += line("file_name", "var_name", "value", "component");
  out += rule + "\n";
  std::string app, file;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (i > 0 && (r.app != app || r.file_name != file)) out += "\n";
    if (r.app != app && r.app != "app")
      out += "  " + fixed_width("app: " + r.app, total) + "\n" + blank + "\n";
    app = r.app;
    file = r.file_name;
    out += line(r.file_name, r.var_name, r.value, r.component.empty() ? " " : r.component);
  }
  if (!rows.empty()) out += "\n";
  out += rule + "\n";
  return out;
}

}  // namespace nvf::job
