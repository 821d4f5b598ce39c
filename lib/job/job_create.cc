#include "job/job_create.h"

#include <system_error>

#include "base/files.h"
#include "config/value.h"
#include "job/job_folder.h"
#include "job/templates.h"

namespace nvf::job {
namespace {

using config::Value;

Status fs_error(const std::error_code& ec, std::string_view what, const fs::path& p) {
  return InternalError(std::string(what) + " " + p.string() + ": " + ec.message());
}

bool looks_like_job_folder(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_empty(dir, ec)) return true;
  if (config::find_config(dir, "meta").ok()) return true;
  return !list_app_dirs(dir).empty();
}

Status check_script_dir(const fs::path& job_folder, const fs::path& script_dir) {
  std::error_code ec;
  if (!fs::is_directory(script_dir, ec)) {
    return NotFoundError("script_dir " + script_dir.string() +
                         " does not exist or is not a directory");
  }
  const fs::path job = fs::weakly_canonical(fs::absolute(job_folder, ec), ec);
  const fs::path scripts = fs::weakly_canonical(fs::absolute(script_dir, ec), ec);
  if (base::is_within(scripts, job)) {
    return InvalidArgumentError("job_folder must not be the same or sub directory of script_dir");
  }
  return Status::OK();
}

Status prepare_job_folder(const CreateJobOptions& o) {
  std::error_code ec;
  if (o.force && fs::exists(o.job_folder, ec)) {
    if (!fs::is_directory(o.job_folder, ec) || !looks_like_job_folder(o.job_folder)) {
      return FailedPreconditionError(
          "refusing to replace " + o.job_folder.string() +
          " with -force: it does not look like a job folder (no meta.json and no "
          "<app>/config/); remove it yourself or choose another -j");
    }
    fs::remove_all(o.job_folder, ec);
    if (ec) return fs_error(ec, "cannot remove", o.job_folder);
  }
  return base::make_dirs(o.job_folder);
}

// Copies the contents of `src` into `dst` recursively, skipping __pycache__.
Status copy_scripts(const fs::path& src, const fs::path& dst) {
  std::error_code ec;
  for (fs::directory_iterator it(src, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename();
    if (name == "__pycache__") continue;
    if (it->is_directory(ec)) {
      NVF_RETURN_IF_ERROR(base::make_dirs(dst / name));
      NVF_RETURN_IF_ERROR(copy_scripts(it->path(), dst / name));
    } else {
      fs::copy_file(it->path(), dst / name, fs::copy_options::overwrite_existing, ec);
      if (ec) return fs_error(ec, "cannot copy", it->path());
    }
  }
  if (ec) return fs_error(ec, "cannot list", src);
  return Status::OK();
}

bool is_template_extra(const std::string& name) {
  return name == kTemplateInfoFile || name == "info.md" || name == "info.conf" ||
         name == "__init__.py" || name == "__pycache__" || name.rfind("meta.", 0) == 0;
}

Status copy_template_configs(const TemplateApp& app, const fs::path& config_dir) {
  std::error_code ec;
  for (fs::directory_iterator it(app.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!it->is_regular_file(ec) || is_template_extra(name)) continue;
    NVF_ASSIGN_OR_RETURN(std::string bytes, base::read_file(it->path()));
    NVF_RETURN_IF_ERROR(base::atomic_write(config_dir / name, bytes));
  }
  if (ec) return fs_error(ec, "cannot list", app.dir);
  return Status::OK();
}

bool has_existing_config(const fs::path& job_folder, const std::vector<std::string>& apps) {
  for (const auto& app : apps) {
    for (auto base : {kServerConfigBase, kClientConfigBase}) {
      auto f = config::find_config(job_folder / app / "config", base);
      if (f.ok() || f.status().code() != StatusCode::kNotFound) return true;
    }
  }
  return false;
}

Status write_meta(const CreateJobOptions& o, const TemplateInfo& t) {
  Value meta;
  auto found = config::find_config(t.dir, "meta");
  if (found.ok()) {
    NVF_ASSIGN_OR_RETURN(meta, config::load_file(*found));
  } else {  // FLARE's built-in default
    meta = Value::object();
    meta["name"] = "sag";
    meta["resource_spec"] = Value::object();
    meta["deploy_map"] = {{"app", {"@ALL"}}};
    meta["min_clients"] = 1;
    meta["mandatory_clients"] = Value::array();
  }
  std::error_code ec;
  meta["name"] = fs::absolute(o.job_folder, ec).lexically_normal().filename().string();
  if (meta["name"].get<std::string>().empty()) {
    meta["name"] =
        fs::absolute(o.job_folder, ec).lexically_normal().parent_path().filename().string();
  }
  // The template's format: a HOCON template gets meta.conf (written as JSON, which HOCON reads).
  const bool hocon = found.ok() && found->extension() == ".conf";
  return base::atomic_write(o.job_folder / (hocon ? "meta.conf" : "meta.json"), config::to_pretty_json(meta));
}

}  // namespace

std::vector<std::string> job_app_names(const fs::path& job_folder) {
  auto apps = list_app_dirs(job_folder);
  if (apps.empty()) apps.push_back("app");
  return apps;
}

Result<CreateJobResult> create_job(const CreateJobOptions& o) {
  NVF_ASSIGN_OR_RETURN(TemplateInfo t, resolve_template(o.templates_root, o.template_name));
  if (o.script_dir) NVF_RETURN_IF_ERROR(check_script_dir(o.job_folder, *o.script_dir));
  CreateJobResult result;
  result.template_name = t.name;
  for (const auto& a : t.apps) result.apps.push_back(a.name);

  NVF_RETURN_IF_ERROR(prepare_job_folder(o));
  for (const auto& app : result.apps) {
    NVF_RETURN_IF_ERROR(base::make_dirs(o.job_folder / app / "config"));
    NVF_RETURN_IF_ERROR(base::make_dirs(o.job_folder / app / "custom"));
    if (o.script_dir)
      NVF_RETURN_IF_ERROR(copy_scripts(*o.script_dir, o.job_folder / app / "custom"));
  }
  if (!o.force && has_existing_config(o.job_folder, result.apps)) {
    result.warning =
        "\nwarning: configuration files:\n\n                    config_fed_server.[json|conf|yml] "
        "already "
        "exists.\n                \nNot generating the config files. If you would like to "
        "overwrite, use "
        "-force option";
    return result;
  }
  for (const auto& app : t.apps) {
    NVF_RETURN_IF_ERROR(copy_template_configs(app, o.job_folder / app.name / "config"));
  }
  if (o.force || !config::find_config(o.job_folder, "meta").ok())
    NVF_RETURN_IF_ERROR(write_meta(o, t));
  NVF_RETURN_IF_ERROR(apply_overrides(o.job_folder, result.apps, o.overrides));
  result.configs_written = true;
  NVF_ASSIGN_OR_RETURN(result.variables, show_variables(o.job_folder));
  return result;
}

}  // namespace nvf::job
