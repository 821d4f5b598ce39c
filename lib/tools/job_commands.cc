#include "tools/job_commands.h"

#include <set>

#include "config/substitute.h"
#include "config/timeouts.h"
#include "job/job_folder.h"

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
