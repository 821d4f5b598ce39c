#include "tools/poc.h"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <system_error>
#include <thread>

#include "base/files.h"
#include "base/process.h"
#include "base/strings.h"
#include "config/value.h"
#include "runtime/startup_kit.h"
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

// FLARE's POC keeps its job store in the workspace when the workspace is not the default one; we
// always do, so that `poc clean` removes it and two POC workspaces never share a store.
Status write_server_resources(const fs::path& prod, const fs::path& ws) {
  std::error_code ec;
  for (const auto& part : fs::directory_iterator(prod, ec)) {
    const fs::path dflt = part.path() / "local" / "resources.json.default";
    if (!fs::exists(part.path() / "startup" / "fed_server.json", ec) || !fs::exists(dflt, ec)) continue;
    NVF_ASSIGN_OR_RETURN(std::string text, base::read_file(dflt));
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"/tmp/nvflare/jobs-storage", (ws / "jobs-storage").string()},
                                   {"/tmp/nvflare/snapshot-storage", (ws / "snapshot-storage").string()}}) {
      for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
      }
    }
    NVF_RETURN_IF_ERROR(base::atomic_write(part.path() / "local" / "resources.json", text));
  }
  return Status::OK();
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
  NVF_RETURN_IF_ERROR(write_server_resources(prod, ws));
  if (!o.user_config.empty()) NVF_RETURN_IF_ERROR(save_paths(o.user_config, prod, ws));
  return std::optional<fs::path>(prod);
}

Result<std::vector<PocParticipant>> poc_participants(const fs::path& workspace) {
  fs::path ws = fs::absolute(workspace).lexically_normal();
  std::error_code ec;
  const fs::path project_file = ws / "project.yml";
  if (!fs::exists(project_file, ec)) {
    return FailedPreconditionError(project_file.string() +
                                   " is missing, make sure you have first run 'nvflare poc prepare'");
  }
  NVF_ASSIGN_OR_RETURN(config::Value project, config::load_file(project_file));
  std::string name = project.value("name", "");
  const fs::path prod = ws / name / "prod_00";
  if (name.empty() || !fs::is_directory(prod, ec) || !fs::exists(ws / kPocMarker, ec)) {
    return FailedPreconditionError("workspace " + ws.string() +
                                   " is not ready, please use poc prepare to prepare poc workspace");
  }
  std::vector<PocParticipant> out;
  for (const auto& p : project.value("participants", config::Value::array())) {
    PocParticipant part;
    part.name = p.value("name", "");
    part.type = p.value("type", "");
    part.dir = prod / part.name;
    if (part.name.empty() || !fs::is_directory(part.dir, ec)) continue;
    if (part.type == "relay") {
      auto kit = runtime::load_relay_kit(part.dir, "fed_relay.json");
      if (!kit.ok()) return kit.status();
      part.depth = runtime::relay_depth(*kit);
      part.listen_port = kit->listen.port;
    }
    out.push_back(part);
  }
  // The server first, then the relays (parents before children), then the clients; admins last.
  std::stable_sort(out.begin(), out.end(), [](const PocParticipant& a, const PocParticipant& b) {
    auto rank = [](const std::string& t) { return t == "server" ? 0 : t == "relay" ? 1 : t == "client" ? 2 : 3; };
    return std::make_pair(rank(a.type), a.depth) < std::make_pair(rank(b.type), b.depth);
  });
  return out;
}

namespace {

bool selected(const PocParticipant& p, const std::string& only, const std::string& exclude) {
  if (!only.empty() && p.name != only) return false;
  return exclude.empty() || p.name != exclude;
}

}  // namespace

Status poc_start(const PocServiceOptions& o) {
  NVF_ASSIGN_OR_RETURN(auto parts, poc_participants(o.workspace));
  if (!o.only.empty() && std::none_of(parts.begin(), parts.end(), [&](const auto& p) { return p.name == o.only; })) {
    return InvalidArgumentError("no participant '" + o.only + "' in the POC project");
  }
  std::optional<fs::path> admin_kit;  // admin@nvidia.com when there, else the first admin
  for (const auto& p : parts) {
    if (!selected(p, o.only, o.exclude)) continue;
    if (p.type == "admin") {
      if (!admin_kit || p.name == "admin@nvidia.com") admin_kit = p.dir;
      continue;
    }
    if (p.type != "server" && p.type != "client" && p.type != "relay") continue;
    auto pid = base::read_pid_file(p.dir / "daemon_pid.fl");
    if (pid && base::process_running(*pid)) {
      if (o.print) o.print(p.name + " is already running (pid " + std::to_string(*pid) + ")");
      continue;
    }
    if (o.print) o.print("start: " + p.name);
    base::SpawnOptions so;
    so.argv = {"bash", (p.dir / "startup" / "start.sh").string()};
    so.new_session = true;  // the daemons outlive this command and its terminal's Ctrl-C
    so.working_dir = p.dir;
    so.stdout_path = p.dir / "log_console.txt";
    so.stderr_path = p.dir / "log_console.txt";
    if (!o.nvflare_bin.empty()) so.env_set["NVFLARE_BIN"] = o.nvflare_bin;
    NVF_ASSIGN_OR_RETURN(base::ChildProcess child, base::spawn(so));
    auto exit = child.wait(std::chrono::seconds(30));  // start.sh returns once its watchdog runs
    if (!exit.ok()) return exit.status();
    if (exit->exit_code != 0) {
      return InternalError(p.name + ": start.sh failed (exit " + std::to_string(exit->shell_code()) + "); see " +
                           (p.dir / "log_console.txt").string());
    }
    // start.sh returns at once; the watchdog records its pid and the daemon's soon after.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      auto watchdog = base::read_pid_file(p.dir / "daemon_pid.fl");
      auto daemon = base::read_pid_file(p.dir / "pid.fl");
      if (watchdog && daemon && base::process_running(*daemon)) break;
      if (std::chrono::steady_clock::now() > deadline) {
        return InternalError(p.name + " did not start within 10 s; see " + (p.dir / "log_console.txt").string());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // The server is started when it accepts connections: admin commands right after work.
    if (p.type == "server") {
      auto kit = runtime::load_server_kit(p.dir, "fed_server.json");
      if (!kit.ok()) return kit.status();
      while (!(base::local_port_accepts(kit->fl_port) && base::local_port_accepts(kit->admin_port))) {
        if (std::chrono::steady_clock::now() > deadline + std::chrono::seconds(20)) {
          return InternalError("the server did not accept connections on ports " + std::to_string(kit->fl_port) +
                               " and " + std::to_string(kit->admin_port) + " within 30 s; see " +
                               (p.dir / "log.txt").string());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    // A relay is started when its children can connect.
    if (p.type == "relay") {
      while (!base::local_port_accepts(p.listen_port)) {
        if (std::chrono::steady_clock::now() > deadline + std::chrono::seconds(20)) {
          return InternalError("relay " + p.name + " did not accept connections on port " +
                               std::to_string(p.listen_port) + " within 30 s; see " +
                               (p.dir / "log.txt").string());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
  if (admin_kit && o.console) return o.console(*admin_kit);
  return Status::OK();
}

Status poc_prepare_jobs_dir(const fs::path& workspace, const fs::path& jobs_dir,
                            const std::function<bool(const std::string& prompt)>& confirm,
                            const std::function<void(const std::string&)>& print) {
  NVF_ASSIGN_OR_RETURN(auto parts, poc_participants(workspace));
  std::error_code ec;
  if (jobs_dir.empty() || !fs::is_directory(jobs_dir, ec)) {
    return InvalidArgumentError("jobs directory '" + jobs_dir.string() + "' does not exist or is not a folder (-j)");
  }
  const fs::path target = fs::absolute(jobs_dir).lexically_normal();
  std::optional<fs::path> admin;
  for (const auto& p : parts) {
    if (p.type == "admin" && (!admin || p.name == "admin@nvidia.com")) admin = p.dir;
  }
  if (!admin) return FailedPreconditionError("the POC project has no admin participant");
  NVF_ASSIGN_OR_RETURN(runtime::AdminKit kit, runtime::load_admin_kit(*admin, "fed_admin.json"));
  const fs::path transfer = kit.upload_dir;
  if (fs::is_symlink(transfer, ec)) {
    fs::remove(transfer, ec);
  } else if (fs::exists(transfer, ec)) {
    if (!fs::is_empty(transfer, ec)) {
      std::string prompt = "job directory '" + transfer.string() + "' is not empty, replace with new one ? (y/N) ";
      if (!confirm || !confirm(prompt)) {
        if (print) print("'" + transfer.string() + "' is left unchanged.");
        return Status::OK();
      }
    }
    fs::remove_all(transfer, ec);
    if (ec) return base::errno_status(ec.value(), "cannot remove", transfer);
  }
  fs::create_directory_symlink(target, transfer, ec);
  if (ec) return base::errno_status(ec.value(), "cannot link " + target.string() + " as", transfer);
  if (print) print("link job directory from " + target.string() + " to " + transfer.string());
  return Status::OK();
}

Status poc_stop(const PocServiceOptions& o) {
  NVF_ASSIGN_OR_RETURN(auto parts, poc_participants(o.workspace));
  // Clients first, then relays (children first), the server last.
  std::reverse(parts.begin(), parts.end());
  struct Stopping {
    std::string name;
    fs::path dir;
    std::optional<pid_t> watchdog, daemon;
  };
  std::vector<Stopping> stopping;
  for (const auto& p : parts) {
    if (!selected(p, o.only, o.exclude) || (p.type != "server" && p.type != "client" && p.type != "relay")) continue;
    Stopping s{p.name, p.dir, base::read_pid_file(p.dir / "daemon_pid.fl"), base::read_pid_file(p.dir / "pid.fl")};
    if (!(s.watchdog && base::process_running(*s.watchdog)) && !(s.daemon && base::process_running(*s.daemon))) {
      if (o.print) o.print(p.name + " is not running");
      continue;
    }
    if (o.print) o.print("stop: " + p.name);
    // The watchdog stops once the process exits and shutdown.fl exists; the daemon stops its jobs on SIGTERM.
    base::atomic_write(p.dir / "shutdown.fl", "shutdown\n").ignore();
    if (s.daemon && base::process_running(*s.daemon)) ::kill(*s.daemon, SIGTERM);
    stopping.push_back(s);
  }
  // Wait (bounded) for every watchdog and daemon to go; what remains is killed.
  const auto deadline = std::chrono::steady_clock::now() + o.grace;
  std::vector<std::string> killed;
  for (const auto& s : stopping) {
    for (std::optional<pid_t> pid : {s.daemon, s.watchdog}) {
      if (!pid) continue;
      if (!base::wait_for_exit(*pid, deadline) && base::process_running(*pid)) {
        ::kill(*pid, SIGKILL);
        killed.push_back(s.name + " (pid " + std::to_string(*pid) + ")");
      }
    }
    std::error_code ec;
    for (const char* f : {"pid.fl", "daemon_pid.fl"}) fs::remove(s.dir / f, ec);
  }
  if (!killed.empty() && o.warn) o.warn("killed after " + std::to_string(o.grace.count() / 1000) + " s: " + base::join(killed, ", "));
  return Status::OK();
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
