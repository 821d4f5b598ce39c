#include "tools/poc.h"

#include <cstdlib>
#include <system_error>

#include "base/files.h"
#include "tools/provision.h"
#include "tools/provision_internal.h"

namespace nvf::tools {
namespace {

namespace fs = std::filesystem;

Status fs_error(const std::string& what, const fs::path& p, const std::error_code& ec) {
  return UnknownError("cannot " + what + " " + p.string() + ": " + ec.message());
}

// Refuses a folder that this tool did not create.
Status check_marker(const fs::path& ws) {
  std::error_code ec;
  if (fs::exists(ws / kPocMarker, ec)) return Status::OK();
  return FailedPreconditionError("'" + ws.string() + "' is not a POC workspace (no " + kPocMarker +
                                 " marker); it was left untouched. Set NVFLARE_POC_WORKSPACE or "
                                 "poc_workspace.path to another folder, or remove it yourself.");
}

// True when some participant of a project in the workspace with a fed_server.json has pid.fl.
bool server_running(const fs::path& ws) {
  std::error_code ec;
  for (const auto& project : fs::directory_iterator(ws, ec)) {
    if (!project.is_directory(ec)) continue;
    for (const auto& prod : fs::directory_iterator(project.path(), ec)) {
      if (!prod.is_directory(ec) || prod.path().filename().string().rfind("prod_", 0) != 0) continue;
      for (const auto& part : fs::directory_iterator(prod.path(), ec)) {
        if (fs::exists(part.path() / "startup" / "fed_server.json", ec) &&
            fs::exists(part.path() / "pid.fl", ec))
          return true;
      }
    }
  }
  return false;
}

Status save_paths(const fs::path& config_path, const fs::path& prod, const fs::path& ws) {
  NVF_ASSIGN_OR_RETURN(UserConfig config, load_user_config(config_path));
  config.startup_kit = prod;
  config.poc_workspace = ws;
  return save_user_config(config_path, config);
}

}  // namespace

fs::path poc_workspace(const UserConfig& config) {
  const char* env = std::getenv("NVFLARE_POC_WORKSPACE");
  fs::path ws;
  if (env != nullptr && *env != '\0') {
    ws = env;
  } else if (config.poc_workspace && !config.poc_workspace->empty()) {
    ws = *config.poc_workspace;
  } else {
    ws = kDefaultPocWorkspace;
  }
  return fs::absolute(ws).lexically_normal();
}

std::string poc_project_yml(const std::vector<std::string>& clients) {
  std::string yml = R"(api_version: 3
name: example_project
description: NVIDIA FLARE sample project yaml file

participants:
  - name: server
    type: server
    org: nvidia
    fed_learn_port: 8002
    admin_port: 8003
    default_host: localhost
)";
  for (const auto& c : clients) yml += "  - name: " + c + "\n    type: client\n    org: nvidia\n";
  yml += "  - name: admin@nvidia.com\n    type: admin\n    org: nvidia\n    role: project_admin\n";
  // FLARE's POC project is its sample project with other participants: same builders.
  std::string sample = provision::sample_project_yml();
  yml += sample.substr(sample.find("\n# The same methods in all builders"));
  return yml;
}

Result<std::optional<fs::path>> poc_prepare(const PocPrepareOptions& o) {
  fs::path ws = fs::absolute(o.workspace).lexically_normal();
  std::vector<std::string> clients = o.clients;
  if (o.project_input.empty() && clients.empty()) {
    if (o.number_of_clients < 1)
      return InvalidArgumentError("number of clients must be at least 1, got " +
                                  std::to_string(o.number_of_clients));
    for (int i = 1; i <= o.number_of_clients; ++i) clients.push_back("site-" + std::to_string(i));
  }
  std::string project_text;
  if (!o.project_input.empty()) {
    NVF_ASSIGN_OR_RETURN(project_text, base::read_file(o.project_input));
  } else {
    project_text = poc_project_yml(clients);
  }

  std::error_code ec;
  if (fs::exists(ws, ec)) {
    if (!fs::is_directory(ws, ec))
      return FailedPreconditionError("'" + ws.string() + "' exists and is not a directory");
    NVF_RETURN_IF_ERROR(check_marker(ws));
    std::string prompt = "This will delete poc workspace directory: '" + ws.string() +
                         "' and create a new one. Is it OK to proceed? (y/N) ";
    if (!o.confirm || !o.confirm(prompt)) {
      if (o.print) o.print("poc workspace directory '" + ws.string() + "' is left unchanged.");
      return std::optional<fs::path>();
    }
    fs::remove_all(ws, ec);
    if (ec) return fs_error("remove", ws, ec);
  }
  NVF_RETURN_IF_ERROR(base::make_dirs(ws));
  NVF_RETURN_IF_ERROR(base::atomic_write(ws / kPocMarker, "nvflare poc workspace\n"));
  NVF_RETURN_IF_ERROR(base::make_dirs(ws / "data"));
  fs::path project_file = ws / "project.yml";
  NVF_RETURN_IF_ERROR(base::atomic_write(project_file, project_text));

  ProvisionOptions p;
  p.project_file = project_file;
  p.workspace = ws;
  p.nvflare_bin = o.nvflare_bin;
  p.poc = true;
  p.print = o.print;
  p.warn = o.warn;
  NVF_ASSIGN_OR_RETURN(fs::path prod, run_provision(p));
  if (!o.user_config.empty()) NVF_RETURN_IF_ERROR(save_paths(o.user_config, prod, ws));
  return std::optional<fs::path>(prod);
}

Status poc_clean(const fs::path& workspace, const std::function<void(const std::string&)>& print) {
  fs::path ws = fs::absolute(workspace).lexically_normal();
  std::error_code ec;
  if (!fs::is_directory(ws, ec))
    return FailedPreconditionError("workspace " + ws.string() +
                                   " is not ready, please use poc prepare to prepare poc workspace");
  NVF_RETURN_IF_ERROR(check_marker(ws));
  if (server_running(ws))
    return FailedPreconditionError("system is still running, please stop the system first.");
  fs::remove_all(ws, ec);
  if (ec) return fs_error("remove", ws, ec);
  if (print) print(ws.string() + " is removed");
  return Status::OK();
}

}  // namespace nvf::tools
