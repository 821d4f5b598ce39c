#include "tools/job_commands.h"

#include <algorithm>
#include <set>

#include "base/files.h"
#include "base/strings.h"
#include "config/substitute.h"
#include "config/timeouts.h"
#include "job/job_folder.h"
#include "runtime/job_app.h"
#include "workflows/controller.h"

namespace nvf::tools {
namespace fs = std::filesystem;

namespace {

job::Finding from_timeout_finding(const config::Finding& f, const std::string& file) {
  job::Finding out;
  out.severity = f.severity == config::Severity::kError ? job::Severity::kError : job::Severity::kWarning;
  out.file = file;
  out.field = f.rule;
  out.message = f.message;
  out.hint = f.where;
  return out;
}

// Resolves {var} references the way a site would before reading timeouts; system variables that
// only exist at run time (SITE_NAME, ...) stay as text, which is fine for numeric timeouts.
Result<config::Value> resolved(const config::Value& cfg, const std::string& source) {
  return config::resolve_config(cfg, {}, config::current_environment(), source);
}

void check_app_timeouts(const job::AppFolder& app, const fs::path& job_dir, std::vector<job::Finding>& out) {
  auto rel = [&](const std::optional<fs::path>& p) {
    return p ? p->lexically_relative(job_dir).string() : app.name + "/config";
  };
  std::optional<config::Value> server, client;
  if (app.server_config && !app.server.is_null()) {
    auto r = resolved(app.server, rel(app.server_config));
    if (r.ok()) server = std::move(*r);
    else out.push_back({job::Severity::kError, rel(app.server_config), "", r.status().message(), ""});
  }
  if (app.client_config && !app.client.is_null()) {
    auto r = resolved(app.client, rel(app.client_config));
    if (r.ok()) client = std::move(*r);
    else out.push_back({job::Severity::kError, rel(app.client_config), "", r.status().message(), ""});
  }
  if (!server && !client) return;
  std::string file = client ? rel(app.client_config) : rel(app.server_config);
  for (const auto& f : config::check_job_configs(server ? &*server : nullptr, client ? &*client : nullptr)) {
    out.push_back(from_timeout_finding(f, file));
  }
}

// The engines' own check, without starting anything: every app's components, workflows and
// executors are built through the registry as a site would build them (types, ranges, references
// between components), in a scratch run folder; then every task a workflow sends must have an
// executor in some client app (a warning for each client app without one).
void dry_run(const job::JobFolder& folder, std::vector<job::Finding>& out) {
  if (!folder.meta) return;
  auto registry = runtime::full_registry();
  if (!registry.ok()) return;
  auto scratch = base::make_temp_dir("nvflare-validate-");
  if (!scratch.ok()) return;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{*scratch};
  std::set<std::string> server_apps, client_apps;
  for (const auto& e : folder.meta->deploy_map) {
    for (const auto& site : e.sites) (site == "server" ? server_apps : client_apps).insert(e.app);
    if (std::any_of(e.sites.begin(), e.sites.end(), [](const std::string& s) { return job::is_all_sites(s); })) {
      server_apps.insert(e.app);
      client_apps.insert(e.app);
    }
  }
  auto finding = [&](job::Severity sev, const std::optional<fs::path>& file, const std::string& app,
                     const std::string& message) {
    job::Finding f;
    f.severity = sev;
    f.file = file ? file->lexically_relative(folder.dir).string() : app + "/config";
    f.message = message;
    out.push_back(std::move(f));
  };
  std::vector<std::pair<std::string, std::vector<std::string>>> tasks;  // workflow id, its task names
  std::vector<std::pair<std::string, runtime::SiteApp>> clients;
  for (const auto& app : folder.apps) {
    if (!app.exists) continue;
    for (bool server : {true, false}) {
      if (!(server ? server_apps : client_apps).count(app.name)) continue;
      if (!(server ? app.server_config : app.client_config)) continue;
      const std::string site = server ? "server" : "site-1";
      fl::BuildEnv env;
      env.run_dir = *scratch / app.name / site;
      env.app_dir = folder.dir / app.name;
      env.site_name = site;
      auto vars = runtime::system_vars(site, *scratch, env.app_dir, "validate", "nvflare", false);
      auto built = runtime::build_site_app(server, vars, *registry, env);
      if (!built.ok()) {
        // A file that exists only where the job runs (an initial checkpoint on the server) is not
        // an error here.
        const bool elsewhere = built.status().code() == StatusCode::kNotFound;
        std::string message = built.status().message();
        const auto* file = server ? &app.server_config : &app.client_config;
        if (*file && message.rfind(file->value().string() + ": ", 0) == 0) {
          message = message.substr(file->value().string().size() + 2);  // the finding names the file
        }
        finding(elsewhere ? job::Severity::kWarning : job::Severity::kError,
                server ? app.server_config : app.client_config, app.name,
                message + (elsewhere ? " (it must exist where the job runs)" : ""));
        continue;
      }
      if (server) {
        const auto ids = built->components.workflow_ids();
        auto wfs = built->components.workflows();
        for (size_t i = 0; i < wfs.size(); ++i) {
          if (auto* c = dynamic_cast<fl::Controller*>(wfs[i])) tasks.emplace_back(ids[i], c->task_names());
        }
      } else {
        clients.emplace_back(app.name, std::move(built).value());
      }
    }
  }
  if (clients.empty()) return;
  for (const auto& [wf, names] : tasks) {
    for (const auto& task : names) {
      std::vector<std::string> without;
      for (const auto& [app, site_app] : clients) {
        if (!site_app.components.executor_for_task(task)) without.push_back(app);
      }
      if (without.empty()) continue;
      const bool none = without.size() == clients.size();
      finding(none ? job::Severity::kError : job::Severity::kWarning, std::nullopt, without.front(),
              "workflow '" + wf + "' sends task '" + task + "' but " +
                  (none ? std::string("no client app has an executor for it")
                        : "client app(s) " + base::join(without, ", ") + " have no executor for it") +
                  "; add it to an executor's \"tasks\" (or use \"*\")");
    }
  }
}

}  // namespace

Result<ValidationReport> validate_job(const fs::path& dir) {
  NVF_ASSIGN_OR_RETURN(job::JobFolder folder, job::load_job_folder(dir));
  ValidationReport report;
  report.job_name = folder.name;
  report.findings = folder.findings;
  std::set<std::string> seen;
  for (const auto& app : folder.apps) {
    if (!app.exists) continue;
    std::vector<job::Finding> found;
    check_app_timeouts(app, folder.dir, found);
    for (auto& f : found) {
      // One job often deploys the same configs twice (@ALL); report a finding once.
      if (seen.insert(f.message).second) report.findings.push_back(std::move(f));
    }
  }
  // Building components only makes sense for a folder whose configs loaded.
  if (job::count_errors(report.findings) == 0) dry_run(folder, report.findings);
  for (const auto& f : report.findings) (f.is_error() ? report.errors : report.warnings)++;
  return report;
}

std::string render_validation(const ValidationReport& report) {
  std::string out;
  for (const auto& f : report.findings) out += job::format_finding(f) + "\n";
  if (report.findings.empty()) {
    out += "job '" + report.job_name + "' is valid\n";
  } else {
    out += "job '" + report.job_name + "': " + std::to_string(report.errors) + " error(s), " +
           std::to_string(report.warnings) + " warning(s)\n";
  }
  return out;
}

}  // namespace nvf::tools
