#include "job/job_folder.h"

#include <algorithm>
#include <system_error>

#include "job/app_config_check.h"

namespace nvf::job {
namespace {

std::string rel(const fs::path& p, const fs::path& root) {
  std::error_code ec;
  auto r = fs::relative(p, root, ec);
  return ec ? p.string() : r.generic_string();
}

// Loads one config of an app into `slot`; missing is not an error here (the deploy rules decide).
void load_app_config(const fs::path& job_dir, const fs::path& config_dir, std::string_view base,
                     AppConfigKind kind, std::optional<fs::path>* found, config::Value* slot,
                     std::vector<Finding>* findings) {
  auto path = config::find_config(config_dir, base);
  if (!path.ok()) {
    if (path.status().code() != StatusCode::kNotFound) {
      FindingSink sink(findings, rel(config_dir, job_dir) + "/" + std::string(base) + ".conf");
      sink.error("", path.status().message(), "convert the file to JSON");
    }
    return;
  }
  *found = *path;
  FindingSink sink(findings, rel(*path, job_dir));
  auto value = config::load_file(*path);
  if (!value.ok()) {
    sink.error("", value.status().message(), "fix the syntax");
    return;
  }
  *slot = *value;
  check_app_config(*slot, kind, sink);
}

AppFolder load_app(const fs::path& job_dir, const std::string& name,
                   std::vector<Finding>* findings) {
  AppFolder app;
  app.name = name;
  const fs::path config_dir = job_dir / name / "config";
  std::error_code ec;
  app.exists = fs::is_directory(config_dir, ec);
  app.has_custom = fs::is_directory(job_dir / name / "custom", ec);
  if (!app.exists) return app;
  load_app_config(job_dir, config_dir, kServerConfigBase, AppConfigKind::kServer,
                  &app.server_config, &app.server, findings);
  load_app_config(job_dir, config_dir, kClientConfigBase, AppConfigKind::kClient,
                  &app.client_config, &app.client, findings);
  return app;
}

void load_meta(JobFolder* job) {
  FindingSink missing(&job->findings, "meta.json");
  auto path = config::find_config(job->dir, "meta");
  if (!path.ok()) {
    if (path.status().code() == StatusCode::kNotFound) {
      missing.error("", missing_meta_message(job->name),
                    "add meta.json with name, deploy_map and min_clients");
    } else {
      FindingSink sink(&job->findings, "meta.conf");
      sink.error("", path.status().message(), "write the meta as meta.json");
    }
    return;
  }
  FindingSink sink(&job->findings, rel(*path, job->dir));
  auto value = config::load_file(*path);
  if (!value.ok()) {
    sink.error("", value.status().message(), "fix the syntax");
    return;
  }
  job->meta = parse_job_meta(*value, sink.file(), sink);
  validate_job_meta(*job->meta, job->name, sink);
}

// FLARE's _validate_app: each deployed app needs config/ and the configs its sites need.
void check_deployed_apps(JobFolder* job) {
  FindingSink sink(&job->findings, job->meta->file);
  for (const auto& entry : job->meta->deploy_map) {
    const AppFolder* app = job->app(entry.app);
    if (!app || !app->exists) {
      sink.error("deploy_map." + entry.app,
                 "App '" + entry.app + "' in deploy_map doesn't exist for job " + job->name,
                 "create " + entry.app + "/config/ or fix the app name in deploy_map");
      continue;
    }
    bool all = false, server = false, client = false;
    for (const auto& s : entry.sites) {
      if (is_all_sites(s))
        all = true;
      else if (s == kServerSite)
        server = true;
      else
        client = true;
    }
    if ((all || server) && !app->server_config) {
      sink.error("deploy_map." + entry.app,
                 "App '" + entry.app + "' will be deployed to server but server config is missing",
                 "add " + entry.app + "/config/config_fed_server.json");
    }
    if ((all || client) && !app->client_config) {
      sink.error("deploy_map." + entry.app,
                 "App '" + entry.app + "' will be deployed to client but client config is missing",
                 "add " + entry.app + "/config/config_fed_client.json");
    }
    if (app->has_custom) job->byoc = true;
  }
}

}  // namespace

const AppFolder* JobFolder::app(std::string_view app_name) const {
  for (const auto& a : apps) {
    if (a.name == app_name) return &a;
  }
  return nullptr;
}

std::vector<std::string> list_app_dirs(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory(ec)) continue;
    const fs::path p = it->path();
    bool is_app = fs::is_directory(p / "config", ec);
    if (!is_app) {
      for (fs::directory_iterator f(p, ec); !ec && f != end; f.increment(ec)) {
        const std::string n = f->path().filename().string();
        if (n.rfind(kServerConfigBase, 0) == 0 || n.rfind(kClientConfigBase, 0) == 0) is_app = true;
      }
      ec.clear();
    }
    if (is_app) out.push_back(p.filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<JobFolder> load_job_folder(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NotFoundError("job folder " + dir.string() + " does not exist or is not a directory");
  }
  JobFolder job;
  job.dir = dir;
  job.name = fs::absolute(dir, ec).lexically_normal().filename().string();
  if (job.name.empty())
    job.name = fs::absolute(dir, ec).lexically_normal().parent_path().filename().string();
  load_meta(&job);

  std::vector<std::string> names;
  if (job.meta) {
    for (const auto& e : job.meta->deploy_map) names.push_back(e.app);
  }
  for (const auto& d : list_app_dirs(dir)) {
    if (std::find(names.begin(), names.end(), d) == names.end()) {
      names.push_back(d);
      if (job.meta) {
        FindingSink(&job.findings, d)
            .warning("", "app folder '" + d + "' is not in deploy_map; it will not be deployed",
                     "add it to deploy_map in " + job.meta->file + " or remove it");
      }
    }
  }
  for (const auto& n : names) {
    if (n.empty() || n == "." || n == ".." || n.find('/') != std::string::npos ||
        n.find('\\') != std::string::npos) {
      FindingSink(&job.findings, job.meta ? job.meta->file : "meta.json")
          .error("deploy_map", "app name '" + n + "' must be a plain folder name",
                 "name the app after a folder directly inside the job folder");
      continue;
    }
    job.apps.push_back(load_app(dir, n, &job.findings));
  }
  if (job.meta) check_deployed_apps(&job);
  return job;
}

}  // namespace nvf::job
