#include "job/templates.h"

#include <algorithm>
#include <system_error>

#include "job/job_folder.h"

namespace nvf::job {
namespace {

using config::Value;

Result<std::string> string_field(const Value& info, const char* key, const fs::path& file) {
  if (!info.contains(key)) return std::string();
  if (!info[key].is_string()) {
    return InvalidArgumentError(file.string() + ": " + key + " must be a string");
  }
  return info[key].get<std::string>();
}

Status read_variables(const Value& info, const fs::path& file, TemplateInfo* out) {
  if (!info.contains("variables")) return Status::OK();
  const Value& vars = info["variables"];
  if (!vars.is_object()) return InvalidArgumentError(file.string() + ": variables must be a table");
  for (const auto& [name, v] : vars.items()) {
    const std::string field = file.string() + ": variables." + name;
    if (!v.is_object())
      return InvalidArgumentError(field + " must be a table with type, default, doc");
    TemplateVariable var;
    var.name = name;
    if (!v.contains("type") || !v["type"].is_string())
      return InvalidArgumentError(field + ".type must be a string");
    var.type = v["type"].get<std::string>();
    if (!v.contains("default")) return InvalidArgumentError(field + ".default is missing");
    var.default_value = v["default"];
    if (v.contains("doc") && v["doc"].is_string()) var.doc = v["doc"].get<std::string>();
    if (v.contains("file") && v["file"].is_string()) var.file = v["file"].get<std::string>();
    out->variables.push_back(std::move(var));
  }
  return Status::OK();
}

bool has_config_file(const fs::path& dir) {
  for (auto base : {kServerConfigBase, kClientConfigBase}) {
    auto found = config::find_config(dir, base);
    if (found.ok() || found.status().code() != StatusCode::kNotFound) return true;
  }
  return false;
}

void find_apps(TemplateInfo* t) {
  if (has_config_file(t->dir)) {
    t->apps.push_back({"app", t->dir});
    return;
  }
  for (const auto& name : list_app_dirs(t->dir)) t->apps.push_back({name, t->dir / name});
}

}  // namespace

std::string fixed_width(std::string_view s, size_t n) {
  std::string out(s.substr(0, std::min(n, s.size())));
  out.resize(n, ' ');
  return out;
}

// A folder with info.toml, or FLARE's info.conf.
static bool is_template_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kTemplateInfoFile, ec) || fs::is_regular_file(dir / "info.conf", ec);
}

Result<TemplateInfo> load_template(const fs::path& dir) {
  // Ours are info.toml; FLARE's templates have info.conf (HOCON).
  fs::path file = dir / kTemplateInfoFile;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec) && fs::is_regular_file(dir / "info.conf", ec)) file = dir / "info.conf";
  if (!fs::is_regular_file(file, ec))
    return NotFoundError("template " + dir.string() + " has no info.toml (or FLARE's info.conf)");
  NVF_ASSIGN_OR_RETURN(Value info, config::load_file(file));
  if (!info.is_object()) return InvalidArgumentError(file.string() + ": expected a table");
  TemplateInfo t;
  t.dir = dir;
  t.name = fs::absolute(dir, ec).lexically_normal().filename().string();
  NVF_ASSIGN_OR_RETURN(t.description, string_field(info, "description", file));
  NVF_ASSIGN_OR_RETURN(t.controller_type, string_field(info, "controller_type", file));
  NVF_ASSIGN_OR_RETURN(t.execution_api_type, string_field(info, "execution_api_type", file));
  if (info.contains("aliases")) {
    if (!info["aliases"].is_array())
      return InvalidArgumentError(file.string() + ": aliases must be a list of names");
    for (const auto& a : info["aliases"]) {
      if (!a.is_string())
        return InvalidArgumentError(file.string() + ": aliases must be a list of names");
      t.aliases.push_back(a.get<std::string>());
    }
  }
  NVF_RETURN_IF_ERROR(read_variables(info, file, &t));
  find_apps(&t);
  if (t.apps.empty()) {
    return InvalidArgumentError("template " + dir.string() +
                                " has no config_fed_server.json or config_fed_client.json");
  }
  return t;
}

Result<std::vector<TemplateInfo>> list_templates(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    return NotFoundError("job templates folder " + root.string() + " does not exist");
  std::vector<TemplateInfo> out;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory(ec) || !is_template_dir(it->path())) continue;
    NVF_ASSIGN_OR_RETURN(auto t, load_template(it->path()));
    out.push_back(std::move(t));
  }
  if (ec) return InternalError("cannot list " + root.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Result<TemplateInfo> resolve_template(const fs::path& root, std::string_view name_or_path) {
  std::error_code ec;
  const fs::path as_path(name_or_path);
  if (is_template_dir(as_path)) return load_template(as_path);
  const std::string name(name_or_path);
  const Status invalid = InvalidArgumentError(
      "Invalid template name " + name +
      ", please check the available templates using nvflare job list_templates");
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return invalid;
  auto all = list_templates(root);
  if (!all.ok()) return all.status().code() == StatusCode::kNotFound ? invalid : all.status();
  for (const auto& t : *all) {
    if (t.name == name) return t;
  }
  for (const auto& t : *all) {
    if (std::find(t.aliases.begin(), t.aliases.end(), name) != t.aliases.end()) return t;
  }
  return invalid;
}

std::string render_templates_table(const std::vector<TemplateInfo>& templates) {
  const std::string rule(120, '-');
  auto row = [](std::string_view a, std::string_view b, std::string_view c, std::string_view d) {
    return "  " + fixed_width(a, 20) + " " + fixed_width(b, 60) + " " + fixed_width(c, 20) + " " +
           fixed_width(d, 20) + "\n";
  };
  std::string out = "\nThe following job templates are available: \n\n" + rule + "\n";
  out += row("name", "Description", "Controller Type", "Execution API Type");
  out += rule + "\n";
  for (const auto& t : templates) {
    out += row(t.name, t.description, t.controller_type, t.execution_api_type);
  }
  out += rule + "\n";
  return out;
}

fs::path find_templates_root(const fs::path& exe_dir) {
  std::error_code ec;
  const fs::path installed = exe_dir / ".." / "share" / "nvflare" / "templates";
  if (fs::is_directory(installed, ec)) return installed.lexically_normal();
  for (fs::path p = fs::absolute(exe_dir, ec); !p.empty(); p = p.parent_path()) {
    if (fs::is_directory(p / "jobs" / "templates", ec)) return p / "jobs" / "templates";
    if (p == p.parent_path()) break;
  }
  return {};
}

}  // namespace nvf::job
