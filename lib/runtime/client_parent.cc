#include "runtime/client_parent.h"

#include <signal.h>
#include <stdlib.h>

#include "base/files.h"
#include "base/process.h"
#include "base/strings.h"
#include "cellnet/socket_driver.h"
#include "config/value.h"
#include "runtime/deploy_protocol.h"
#include "runtime/job_transfer.h"
#include "runtime/site_info.h"
#include "runtime/workspace_shell.h"
#include "security/job_signature.h"
#include "security/pki.h"

namespace nvf::runtime {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

ClientParent::ClientParent(ClientParentOptions options) : opt_(std::move(options)), log_(opt_.logger) {
  if (!log_) log_ = base::null_logger();
}

ClientParent::~ClientParent() { stop(); }

Status ClientParent::start() {
  const ClientKit& kit = opt_.kit;
  if (opt_.secure) NVF_RETURN_IF_ERROR(verify_kit_signatures(kit.root));
  NVF_ASSIGN_OR_RETURN(root_ca_pem_, read_text(kit.root_ca));
  NVF_ASSIGN_OR_RETURN(std::string cert, read_text(kit.cert));
  NVF_ASSIGN_OR_RETURN(auto info, security::describe_certificate(cert));
  org_ = info.org;
  NVF_ASSIGN_OR_RETURN(policy_, load_site_policy(kit.root));
  for (const auto& d : base::remove_stale_temp_dirs())
    log_->info("removed {}, left by a process that ended without cleaning up", d.string());
  NVF_ASSIGN_OR_RETURN(runtime_dir_, base::make_owned_temp_dir("nvflare-cp"));
  // Behind a relay the cell is "<relay fqcn>.<name>" and the connection goes to the relay.
  cellnet::DriverOptions external;
  external.tls = kit.relay ? tls_config_for_relay(kit, *kit.relay) : tls_config(kit, true);
  const std::string fqcn = kit.relay ? kit.relay->fqcn + "." + kit.name : kit.name;
  parent_cell_ = kit.relay ? kit.relay->fqcn : "server";
  const std::string parent_url = kit.relay ? relay_url(*kit.relay) : server_url(kit, kit.server);
  NVF_ASSIGN_OR_RETURN(DaemonCell dc, make_daemon_cell(fqcn, external, opt_.external_driver, log_));
  drivers_ = std::move(dc.drivers);
  cell_ = std::move(dc.cell);
  auto sync = [this](Result<cellnet::Message> (ClientParent::*fn)(const cellnet::Message&)) {
    return [this, fn](const cellnet::Message& m) { return (this->*fn)(m); };
  };
  const std::string admin(deploy::kChannelAdmin);
  cell_->register_request_handler(admin, std::string(deploy::kTopicDeploy), sync(&ClientParent::handle_deploy));
  cell_->register_request_handler(admin, std::string(deploy::kTopicStartJob), sync(&ClientParent::handle_start));
  cell_->register_request_handler(admin, std::string(deploy::kTopicAbortJob), sync(&ClientParent::handle_abort));
  // restart: the answer is sent before the restart is requested, so that it is on its way before
  // the owner's stop() closes the cell.
  cell_->register_async_request_handler(admin, std::string(deploy::kTopicRestart),
                                        [this](const cellnet::Message& m, cellnet::Responder respond) {
                                          auto r = handle_restart(m);
                                          const bool ok = r.ok();
                                          respond(std::move(r));
                                          if (ok) request_restart("the server ordered a restart");
                                        });
  cell_->register_request_handler(admin, std::string(deploy::kTopicReportResources),
                                  sync(&ClientParent::handle_report_resources));
  cell_->register_request_handler(admin, std::string(deploy::kTopicReportEnv), sync(&ClientParent::handle_report_env));
  cell_->register_request_handler(admin, std::string(deploy::kTopicGetScopes), sync(&ClientParent::handle_get_scopes));
  cell_->register_request_handler(admin, std::string(deploy::kTopicConfigureSiteLog),
                                  sync(&ClientParent::handle_configure_site_log));
  cell_->register_request_handler(admin, std::string(deploy::kTopicConfigureJobLog),
                                  sync(&ClientParent::handle_configure_job_log));
  cell_->register_request_handler(admin, std::string(deploy::kTopicShell), sync(&ClientParent::handle_shell));
  cell_->register_request_handler(admin, std::string(deploy::kTopicSysInfo), sync(&ClientParent::handle_sys_info));
  for (std::string_view topic : {deploy::kTopicShowStats, deploy::kTopicShowErrors, deploy::kTopicResetErrors}) {
    cell_->register_request_handler(admin, std::string(topic),
                                    [this, topic](const cellnet::Message& m) {
                                      return order_job(m.headers.get_or(deploy::kHdrJobId, ""), topic, cellnet::Message{});
                                    });
  }
  cell_->register_request_handler(admin, std::string(deploy::kTopicShutdown), [this](const cellnet::Message&) {
    request_shutdown("the server ordered a shutdown");
    return Result<cellnet::Message>(cellnet::Message{});
  });
  cell_->register_message_handler(admin, std::string(deploy::kTopicShutdown), [this](const cellnet::Message&) {
    request_shutdown("the server is shutting down");
  });
  NVF_ASSIGN_OR_RETURN(internal_url_, cell_->listen("uds://" + (runtime_dir_ / "cp.sock").string()));
  NVF_RETURN_IF_ERROR(cell_->connect(parent_url));
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;
  }
  maintenance_ = std::thread([this] { run_maintenance(); });
  log_->info("client '{}' of project '{}' connecting to {}{}", kit.name, kit.project, parent_url,
             kit.relay ? " (relay " + kit.relay->fqcn + ")" : std::string());
  return Status::OK();
}

void ClientParent::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return shutdown_requested_ || stopping_; });
}

void ClientParent::request_shutdown(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_requested_) return;
    shutdown_requested_ = true;
  }
  log_->info("shutting down: {}", reason);
  cv_.notify_all();
}

void ClientParent::request_restart(const std::string& reason) {
  restart_requested_ = true;
  request_shutdown("restarting: " + reason);
}

// Tells the server this client is leaving, so that it stops listing it and placing jobs on it.
// Best effort: a server that does not answer within a few seconds forgets the client later (its
// heartbeat timeout).
void ClientParent::quit() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!registered_) return;
  }
  auto r = cell_->request("server", std::string(deploy::kChannelTask), std::string(deploy::kTopicQuit),
                          cellnet::Message{}, std::min(opt_.request_timeout, std::chrono::milliseconds(3000)));
  if (r.ok()) {
    log_->info("told the server that {} is leaving", opt_.kit.name);
  } else {
    log_->warn("could not tell the server that {} is leaving: {}", opt_.kit.name, r.status().message());
  }
}

void ClientParent::stop() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    for (const auto& [id, j] : jobs_) ids.push_back(id);
  }
  cv_.notify_all();
  for (const auto& id : ids) abort_job(id, "the client is shutting down");
  quit();
  // Stopping the cell fails a registration or heartbeat in flight, so the maintenance thread ends.
  cell_->stop();
  if (maintenance_.joinable()) maintenance_.join();
  for (;;) {
    std::thread t;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, j] : jobs_) {
        if (j->waiter.joinable()) {
          t = std::move(j->waiter);
          break;
        }
      }
    }
    if (!t.joinable()) break;
    t.join();
  }
  drivers_->stop_all();
  std::error_code ec;
  fs::remove_all(runtime_dir_, ec);
}

// ---- registration and heartbeats -------------------------------------------------------------

bool ClientParent::register_once() {
  if (!cell_->wait_for_peer(parent_cell_, opt_.register_interval).ok()) return false;
  auto creds = register_with_server(*cell_, opt_.kit, "client", opt_.request_timeout);
  if (!creds.ok()) {
    log_->warn("registration with the server failed: {}", creds.status().message());
    return false;
  }
  cell_->set_auth_headers(auth_headers(*creds));
  log_->info("Successfully registered client:{} for project {}.", opt_.kit.name, opt_.kit.project);
  return true;
}

void ClientParent::heartbeat_once() {
  // Running jobs, and the jobs whose client job ended well since the server last heard of it (so
  // that the server does not take their end for a loss).
  config::Value jobs = config::Value::array(), finished = config::Value::array();
  std::vector<std::string> finished_ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, j] : jobs_) {
      if (!j->exited) jobs.push_back(id);
      if (j->finished && !j->finish_reported) {
        finished.push_back(id);
        finished_ids.push_back(id);
      }
    }
  }
  auto r = cell_->request("server", std::string(deploy::kChannelTask), std::string(deploy::kTopicHeartbeat),
                          cellnet::Message::of(config::Value{{"jobs", jobs}, {"finished", finished}}.dump()),
                          opt_.request_timeout);
  if (r.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& id : finished_ids) {
      auto it = jobs_.find(id);
      if (it != jobs_.end()) it->second->finish_reported = true;
    }
  }
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kUnauthenticated) {
      log_->warn("the server no longer knows this client ({}): registering again", r.status().message());
      std::lock_guard<std::mutex> lock(mu_);
      registered_ = false;
    } else {
      log_->warn("heartbeat failed: {}", r.status().message());
    }
    return;
  }
  try {
    auto body = config::Value::parse(r->payload.to_string());
    for (const auto& j : body.value("abort_jobs", config::Value::array())) {
      if (j.is_string()) abort_job(j.get<std::string>(), "the server does not run it");
    }
  } catch (const std::exception&) {
  }
}

void ClientParent::run_maintenance() {
  RegistrationLoop{mu_,
                   cv_,
                   registered_,
                   [this] { return stopping_ || shutdown_requested_; },
                   [this] { return register_once(); },
                   [this] { heartbeat_once(); },
                   opt_.register_interval,
                   opt_.heart_beat_interval}
      .run();
}

// ---- orders from the server ------------------------------------------------------------------

Result<cellnet::Message> ClientParent::handle_deploy(const cellnet::Message& request) {
  const std::string id = request.headers.get_or(deploy::kHdrJobId, "");
  const std::string app = request.headers.get_or(deploy::kHdrAppName, "");
  const std::string folder = request.headers.get_or(deploy::kHdrJobFolderName, "");
  if (id.empty() || app.empty() || folder.empty() || folder.find('/') != std::string::npos ||
      app.find('/') != std::string::npos || id.find('/') != std::string::npos || id == ".." || folder == ".." ||
      app == "..") {
    return InvalidArgumentError("deploy order without a valid job id, app or folder name");
  }
  security::Person submitter{request.headers.get_or(deploy::kHdrSubmitterName, ""),
                             request.headers.get_or(deploy::kHdrSubmitterOrg, ""),
                             request.headers.get_or(deploy::kHdrSubmitterRole, "")};
  if (opt_.secure) NVF_RETURN_IF_ERROR(policy_.authorize("submit_job", submitter, org_, &submitter));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it != jobs_.end() && !it->second->exited) return FailedPreconditionError("job " + id + " is already running");
  }
  const fs::path run_dir = opt_.kit.root / id;
  const fs::path staging = opt_.kit.root / (id + ".deploy");
  std::error_code ec;
  fs::remove_all(staging, ec);
  base::ScopedRemove cleanup(staging);
  // Pull the zip from the server, extracting it into staging as it arrives (the zip itself is
  // never written), verify, then activate (FLARE checks before extracting, vacuously).
  NVF_RETURN_IF_ERROR(receive_and_unpack_job_zip(*cell_, request, "server", staging, kMaxJobZipBytes));
  const fs::path job_dir = staging / folder;
  if (!fs::is_directory(job_dir / app, ec)) return InvalidArgumentError("the job has no app '" + app + "'");
  if (opt_.secure) {
    auto signer = security::verify_job_folder(job_dir, root_ca_pem_);
    if (!signer.ok()) return signer.status();
    if (fs::is_directory(job_dir / app / "custom", ec) && !fs::is_empty(job_dir / app / "custom", ec)) {
      NVF_RETURN_IF_ERROR(policy_.authorize("byoc", submitter, org_, &submitter));
    }
  }
  fs::remove_all(run_dir, ec);
  fs::create_directories(run_dir, ec);
  fs::rename(job_dir / app, run_dir / ("app_" + opt_.kit.name), ec);
  if (ec) return base::errno_status(ec.value(), "cannot place the app in", run_dir);
  if (auto meta = config::find_config(job_dir, "meta"); meta.ok()) {
    fs::copy_file(*meta, run_dir / meta->filename(), fs::copy_options::overwrite_existing, ec);
  }
  log_->info("job {} deployed (app {}, submitted by {})", id, app, submitter.name);
  return cellnet::Message::of("OK");
}

Result<cellnet::Message> ClientParent::handle_start(const cellnet::Message& request) {
  const std::string id = request.headers.get_or(deploy::kHdrJobId, "");
  const fs::path run_dir = opt_.kit.root / id;
  std::error_code ec;
  if (id.empty() || !fs::is_directory(run_dir / ("app_" + opt_.kit.name), ec)) {
    return FailedPreconditionError("job " + id + " was not deployed here");
  }
  base::SpawnOptions so;
  so.argv = {opt_.nvflare_bin, "_client_job", "--workspace", opt_.kit.root.string(), "--site", opt_.kit.name,
             "--job-id",       id,           "--parent",    internal_url_,        "--parent-fqcn", cell_->fqcn()};
  if (!opt_.secure) so.argv.push_back("--insecure");
  so.new_session = true;
  so.lifeline = true;
  so.working_dir = run_dir;
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || shutdown_requested_) return UnavailableError("the client is shutting down");
  auto it = jobs_.find(id);
  if (it != jobs_.end()) {
    if (!it->second->exited) return FailedPreconditionError("job " + id + " is already running");
    if (it->second->waiter.joinable()) it->second->waiter.join();
    jobs_.erase(it);
  }
  NVF_ASSIGN_OR_RETURN(base::ChildProcess child, base::spawn(so));
  auto job = std::make_unique<ClientJob>();
  job->id = id;
  job->pgid = child.pgid();
  job->process = std::move(child);
  ClientJob* raw = job.get();
  jobs_[id] = std::move(job);
  raw->waiter = std::thread([this, raw] { wait_job(raw); });
  log_->info("job {}: client job started (pid {})", id, raw->pgid);
  return cellnet::Message::of("OK");
}

void ClientParent::wait_job(ClientJob* job) {
  Result<base::ExitInfo> exit = DeadlineExceededError("");
  for (;;) {
    exit = job->process.wait(std::chrono::milliseconds(1000));
    if (exit.ok() || exit.status().code() != StatusCode::kDeadlineExceeded) break;
    bool kill = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      kill = job->kill_at && Clock::now() >= *job->kill_at;
    }
    if (kill) {  // without mu_: the kill and the wait for the group must not hold up the handlers
      log_->warn("job {}: the client job did not stop within the grace: killing its process group", job->id);
      exit = job->process.terminate(std::chrono::milliseconds(0));
      break;
    }
  }
  // A client job that was killed cannot stop its trainers (each in a session of its own, found
  // by the job and site their launcher put in their environment) nor what it started in its own
  // group, and leaves its socket folder: do it for it.
  for (pid_t p : base::processes_with_env({{"NVFLARE_JOB_ID", job->id}, {"NVFLARE_SITE_NAME", opt_.kit.name}})) {
    log_->warn("job {}: process {} of the job outlived its client job: stopping its group", job->id, p);
    base::kill_group_of(p, SIGKILL);
  }
  if (job->pgid > 0) ::kill(-job->pgid, SIGKILL);
  base::remove_stale_temp_dirs();
  std::lock_guard<std::mutex> lock(mu_);
  job->exited = true;
  job->finished = !job->kill_at && exit.ok() && exit->shell_code() == 0;
  log_->info("job {}: client job ended ({})", job->id,
             exit.ok() ? "exit " + std::to_string(exit->shell_code()) : exit.status().message());
  cv_.notify_all();
}

Result<cellnet::Message> ClientParent::handle_abort(const cellnet::Message& request) {
  abort_job(request.headers.get_or(deploy::kHdrJobId, ""), "the server aborted it");
  return cellnet::Message::of("OK");
}

void ClientParent::abort_job(const std::string& id, const std::string& reason) {
  pid_t pgid = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->exited) return;
    if (!it->second->kill_at) it->second->kill_at = Clock::now() + opt_.abort_grace;
    pgid = it->second->pgid;
  }
  log_->info("job {}: aborting the client job: {}", id, reason);
  cell_->fire(cell_->fqcn() + "." + id, std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicAbort),
              cellnet::Message{})
      .ignore();
  if (pgid > 0) ::kill(-pgid, SIGTERM);  // trainers included; SIGKILL follows after the grace
}

// ---- admin commands forwarded by the server -------------------------------------------------------

Result<cellnet::Message> ClientParent::handle_restart(const cellnet::Message&) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, j] : jobs_) {
      if (!j->exited) return FailedPreconditionError("job " + id + " is still running here");
    }
  }
  return cellnet::Message::of("restarting");
}

Result<cellnet::Message> ClientParent::handle_report_resources(const cellnet::Message&) {
  return cellnet::Message::of(site_resources(opt_.kit.root).dump());
}

Result<cellnet::Message> ClientParent::handle_report_env(const cellnet::Message&) {
  return cellnet::Message::of(site_env(opt_.kit.name, opt_.kit.root, opt_.kit.config_file).dump());
}

Status ClientParent::authorize_admin(const std::string& right, const cellnet::Message& request) const {
  if (!opt_.secure) return Status::OK();
  security::Person user{request.headers.get_or(deploy::kHdrUserName, ""),
                        request.headers.get_or(deploy::kHdrUserOrg, ""),
                        request.headers.get_or(deploy::kHdrUserRole, "")};
  return policy_.authorize(right, user, org_, nullptr);
}

Result<cellnet::Message> ClientParent::handle_shell(const cellnet::Message& request) {
  NVF_ASSIGN_OR_RETURN(ShellCommand command, WorkspaceShell::parse_order(request.payload.to_string()));
  NVF_RETURN_IF_ERROR(authorize_admin(command.name, request));
  auto out = WorkspaceShell(opt_.kit.root).run(command);
  // A path that leaves the workspace is a bad argument here, not a refusal of the admin.
  if (!out.ok()) return InvalidArgumentError(out.status().message());
  log_->info("admin {}: {} in the workspace", request.headers.get_or(deploy::kHdrUserName, "?"), command.name);
  return cellnet::Message::of(std::move(*out));
}

Result<cellnet::Message> ClientParent::handle_sys_info(const cellnet::Message& request) {
  NVF_RETURN_IF_ERROR(authorize_admin("sys_info", request));
  config::Value rows = config::Value::array();
  for (const auto& [k, v] : virtual_memory()) rows.push_back(config::Value::array({k, v}));
  return cellnet::Message::of(rows.dump());
}

Result<cellnet::Message> ClientParent::handle_get_scopes(const cellnet::Message&) {
  ScopeInfo scopes = site_scopes(opt_.kit.root);
  config::Value names = config::Value::array();
  for (const auto& n : scopes.names) names.push_back(n);
  return cellnet::Message::of(config::Value{{"scope_names", names}, {"default_scope", scopes.default_scope}}.dump());
}

Result<cellnet::Message> ClientParent::handle_configure_site_log(const cellnet::Message& request) {
  const std::string config = request.payload.to_string();
  NVF_ASSIGN_OR_RETURN(auto level, parse_log_config(config));
  log_->set_level(level);
  log_->info("site log level set to {}", config);
  return cellnet::Message::of("successfully configured " + opt_.kit.name + " site log");
}

Result<cellnet::Message> ClientParent::handle_configure_job_log(const cellnet::Message& request) {
  const std::string id = request.headers.get_or(deploy::kHdrJobId, "");
  const std::string config = request.payload.to_string();
  NVF_RETURN_IF_ERROR(parse_log_config(config).status());
  NVF_RETURN_IF_ERROR(order_job(id, deploy::kTopicConfigureLog, cellnet::Message::of(config)).status());
  return cellnet::Message::of("successfully configured " + opt_.kit.name + " job " + id + " log");
}

Result<cellnet::Message> ClientParent::order_job(const std::string& id, std::string_view topic,
                                                 cellnet::Message order) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->exited) return FailedPreconditionError("job " + id + " is not running here");
  }
  return cell_->request(cell_->fqcn() + "." + id, std::string(deploy::kChannelJobCommand), std::string(topic),
                        std::move(order), std::chrono::milliseconds(5000));
}

}  // namespace nvf::runtime
