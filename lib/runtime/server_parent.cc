#include "runtime/server_parent.h"

#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <optional>

#include "base/files.h"
#include "base/strings.h"
#include "cellnet/socket_driver.h"
#include "job/archive.h"
#include "job/job_meta.h"
#include "runtime/deploy_protocol.h"
#include "runtime/scheduler.h"
#include "security/job_signature.h"
#include "security/pki.h"

namespace nvf::runtime {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string str_of(const config::Value& v, const char* key) {
  return v.is_object() && v.contains(key) && v[key].is_string() ? v[key].get<std::string>() : std::string();
}

}  // namespace

ServerResources read_server_resources(const fs::path& workspace) {
  ServerResources r;
  r.job_store_root = workspace / "jobs-storage";
  for (const char* name : {"resources.json", "resources.json.default"}) {
    auto v = config::load_file(workspace / "local" / name);
    if (!v.ok() || !v->is_object()) continue;
    if (v->contains("components") && (*v)["components"].is_array()) {
      for (const auto& c : (*v)["components"]) {
        const auto args = c.value("args", config::Value::object());
        if (c.value("id", "") == "job_manager" && args.contains("uri_root") && args["uri_root"].is_string()) {
          r.job_store_root = args["uri_root"].get<std::string>();
        }
        if (c.value("id", "") == "job_scheduler" && args.contains("max_jobs") && args["max_jobs"].is_number_integer()) {
          r.max_jobs = std::max(1, args["max_jobs"].get<int>());
        }
      }
    }
    break;
  }
  return r;
}

ServerParent::ServerParent(ServerParentOptions options) : opt_(std::move(options)), log_(opt_.logger) {
  if (!log_) log_ = base::null_logger();
}

ServerParent::~ServerParent() { stop(); }

Status ServerParent::start() {
  const ServerKit& kit = opt_.kit;
  if (opt_.secure) NVF_RETURN_IF_ERROR(verify_kit_signatures(kit.root));
  Registrar::Identity id;
  id.name = kit.name;
  id.project = kit.project;
  NVF_ASSIGN_OR_RETURN(id.cert_pem, read_text(kit.cert));
  NVF_ASSIGN_OR_RETURN(id.key_pem, read_text(kit.key));
  NVF_ASSIGN_OR_RETURN(id.root_pem, read_text(kit.root_ca));
  root_ca_pem_ = id.root_pem;
  NVF_ASSIGN_OR_RETURN(auto info, security::describe_certificate(id.cert_pem));
  org_ = info.org;
  registrar_ = std::make_unique<Registrar>(id);

  NVF_ASSIGN_OR_RETURN(policy_, load_site_policy(kit.root));

  ServerResources res = read_server_resources(kit.root);
  if (opt_.job_store_root.empty()) opt_.job_store_root = res.job_store_root;
  opt_.max_jobs = res.max_jobs;
  std::vector<std::string> abandoned, warnings;
  NVF_ASSIGN_OR_RETURN(store_, job::JobStore::open(opt_.job_store_root, &abandoned, &warnings));
  for (const auto& w : warnings) log_->warn("job store: {}", w);
  for (const auto& j : abandoned) log_->warn("job {} was left running by a previous server: FINISHED:ABANDONED", j);

  NVF_RETURN_IF_ERROR(register_admin_commands());
  NVF_ASSIGN_OR_RETURN(runtime_dir_, base::make_temp_dir("nvflare-sp"));
  NVF_ASSIGN_OR_RETURN(DaemonCell dc, make_daemon_cell("server", kit, false, opt_.external_driver, log_));
  drivers_ = std::move(dc.drivers);
  cell_ = std::move(dc.cell);

  using namespace std::placeholders;
  Registrar* reg = registrar_.get();
  cell_->register_async_request_handler(std::string(deploy::kChannelTask), std::string(deploy::kTopicChallenge),
                                        [reg](const cellnet::Message& m, cellnet::Responder r) {
                                          reg->handle_challenge(m, std::move(r));
                                        });
  cell_->register_async_request_handler(std::string(deploy::kChannelTask), std::string(deploy::kTopicRegister),
                                        [reg](const cellnet::Message& m, cellnet::Responder r) {
                                          reg->handle_register(m, std::move(r));
                                        });
  registrar_->on_registered([this](const Principal& p) {
    log_->info("{} '{}' registered (org {}, role {})", p.kind, p.name, p.person.org,
               p.person.role.empty() ? "-" : p.person.role);
    if (p.kind == "client") cv_.notify_all();  // the scheduler may now place a job
  });
  cell_->register_async_request_handler(std::string(deploy::kChannelTask), std::string(deploy::kTopicHeartbeat),
                                        [this](const cellnet::Message& m, cellnet::Responder r) {
                                          handle_heartbeat(m, std::move(r));
                                        });
  cell_->register_async_request_handler(std::string(deploy::kChannelTask), std::string(deploy::kTopicQuit),
                                        [this](const cellnet::Message& m, cellnet::Responder r) {
                                          handle_quit(m, std::move(r));
                                        });
  cell_->register_async_request_handler(std::string(deploy::kChannelAdmin), std::string(deploy::kTopicCommand),
                                        [this](const cellnet::Message& m, cellnet::Responder r) {
                                          handle_admin_command(m, std::move(r));
                                        });
  cell_->register_async_request_handler(std::string(deploy::kChannelAdmin), std::string(deploy::kTopicSubmitJob),
                                        [this](const cellnet::Message& m, cellnet::Responder r) {
                                          handle_submit(m, std::move(r));
                                        });
  cell_->register_async_request_handler(std::string(deploy::kChannelAdmin), std::string(deploy::kTopicDownloadJob),
                                        [this](const cellnet::Message& m, cellnet::Responder r) {
                                          handle_download(m, std::move(r));
                                        });
  cell_->register_async_request_handler(std::string(deploy::kChannelParent), std::string(deploy::kTopicRunStatus),
                                        [this](const cellnet::Message& m, cellnet::Responder r) {
                                          handle_run_status(m, std::move(r));
                                        });

  // Every frame from outside is stamped with who sent it (cellnet::hdr::kAuthenticated): the
  // principal its token belongs to. Secure: a frame without a valid token is refused. Not secure
  // (secure_train off, FLARE's trust in claims): the token's principal when there is one, else the
  // client_name the frame claims.
  cellnet::IncomingFilter filter;
  if (opt_.secure) {
    filter = [reg](const cellnet::Headers& h, const cellnet::PeerInfo&) { return reg->check(h); };
  } else {
    filter = [reg](const cellnet::Headers& h, const cellnet::PeerInfo&) -> Result<std::string> {
      auto p = reg->principal_of(h);
      return p.ok() ? p->name : h.get_or(deploy::kHdrClientName, "");
    };
  }
  const std::string host = listen_host_for(kit.host);
  const std::string scheme = kit.connection_security == "clear" ? "grpc" : "grpcs";
  auto listen = [&](int port) -> Result<std::string> {
    std::string url = scheme + "://" + host + ":" + std::to_string(port);
    auto r = cell_->listen(url, filter);
    if (!r.ok()) return UnavailableError("cannot listen on " + url + ": " + r.status().message());
    return r;
  };
  NVF_ASSIGN_OR_RETURN(url_, listen(kit.fl_port));
  if (kit.admin_port != kit.fl_port) NVF_RETURN_IF_ERROR(listen(kit.admin_port).status());
  NVF_ASSIGN_OR_RETURN(internal_url_, cell_->listen("uds://" + (runtime_dir_ / "sp.sock").string()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;
  }
  scheduler_ = std::thread([this] { run_scheduler(); });
  log_->info("server '{}' of project '{}' listening on {} (admin port {}); job store {}", kit.name, kit.project, url_,
             kit.admin_port, opt_.job_store_root.string());
  return Status::OK();
}

void ServerParent::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return shutdown_requested_ || stopping_; });
}

void ServerParent::request_shutdown(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_requested_) return;
    shutdown_requested_ = true;
    shutdown_reason_ = reason;
  }
  log_->info("shutting down: {}", reason);
  cv_.notify_all();
}

void ServerParent::request_restart(const std::string& reason) {
  restart_requested_ = true;
  request_shutdown("restarting: " + reason);
}

void ServerParent::stop() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    for (const auto& [id, j] : running_) ids.push_back(id);
  }
  cv_.notify_all();
  for (const auto& id : ids) abort_job(id, "the server is shutting down", nullptr).ignore();
  if (scheduler_.joinable()) scheduler_.join();
  // Job threads end once their job processes are gone (aborted above); while stopping, finish_job
  // leaves their entries for us to join and erase.
  for (;;) {
    std::thread t;
    std::string id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (running_.empty()) break;
      id = running_.begin()->first;
      t = std::move(running_.begin()->second->thread);
    }
    if (t.joinable()) t.join();
    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(id);
  }
  join_finished();
  // Tell the clients the server is going away (best effort). Not on a restart: the clients were
  // ordered to restart first, and any that stayed reconnect to the restarted server.
  for (const auto& c : restart_requested_ ? std::vector<std::string>{} : client_names()) {
    cell_->fire(c, std::string(deploy::kChannelAdmin), std::string(deploy::kTopicShutdown), cellnet::Message{})
        .ignore();
  }
  cell_->stop();
  drivers_->stop_all();
  std::error_code ec;
  fs::remove_all(runtime_dir_, ec);
}

std::vector<std::string> ServerParent::client_names() const {
  std::vector<std::string> out;
  if (!registrar_) return out;
  for (const auto& p : registrar_->principals("client")) out.push_back(p.name);
  std::sort(out.begin(), out.end());
  return out;
}

// ---- heartbeats --------------------------------------------------------------------------------

void ServerParent::handle_heartbeat(const cellnet::Message& request, cellnet::Responder respond) {
  auto who = registrar_->principal_of(request.headers);
  std::string name = who.ok() ? who->name : request.headers.get_or(deploy::kHdrClientName, "");
  if (!who.ok() && opt_.secure) return respond(who.status());
  registrar_->touch(name);
  std::set<std::string> reported;
  try {
    auto body = config::Value::parse(request.payload.to_string());
    for (const auto& j : body.value("jobs", config::Value::array())) {
      if (j.is_string()) reported.insert(j.get<std::string>());
    }
  } catch (const std::exception&) {
  }
  ClientJobTracker::Heartbeat beat = client_jobs_.heartbeat(name, reported);
  for (const auto& job : beat.first_seen) log_->info("client {} runs job {}", name, job);
  for (const auto& job : beat.lost) {
    log_->warn("client {} no longer reports job {}: its client job is gone", name, job);
    tell_job_client_left(job, name);
  }
  config::Value abort_jobs = beat.abort_jobs;
  respond(cellnet::Message::of(config::Value{{"abort_jobs", abort_jobs}}.dump()));
}

void ServerParent::handle_quit(const cellnet::Message& request, cellnet::Responder respond) {
  auto who = registrar_->principal_of(request.headers);
  if (!who.ok() || who->kind != "client") {
    return respond(who.ok() ? Status(PermissionDeniedError("only a client may quit")) : who.status());
  }
  registrar_->remove(who->name);
  log_->info("client {} quit: it is no longer registered", who->name);
  // The running jobs it took part in stop waiting for it.
  for (const auto& id : client_jobs_.jobs_of(who->name)) tell_job_client_left(id, who->name);
  respond(cellnet::Message{});
}

// The server job of `job` stops waiting for `client`, whose client job is gone (FLARE sends a
// dead-job notice and still waits dead_client_grace_period; here the client parent's word is final).
void ServerParent::tell_job_client_left(const std::string& job, const std::string& client) {
  cellnet::Message m;
  m.headers.set(deploy::kHdrLeftClient, client);
  cell_->fire("server." + job, std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicClientLeft),
              std::move(m))
      .ignore();
}

void ServerParent::sweep_dead_clients() {
  auto now = Clock::now();
  for (const auto& p : registrar_->principals("client")) {
    if (now - p.last_seen > opt_.heart_beat_timeout) {
      log_->warn("client {} sent no heartbeat for {} s: removed", p.name,
                 std::chrono::duration_cast<std::chrono::seconds>(opt_.heart_beat_timeout).count());
      registrar_->remove(p.name);
    }
  }
}

// ---- scheduling ----------------------------------------------------------------------------------

void ServerParent::run_scheduler() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, opt_.schedule_interval);
    if (stopping_ || shutdown_requested_) break;
    lock.unlock();
    join_finished();
    sweep_dead_clients();
    std::vector<config::Value> jobs = store_->list();
    std::vector<std::string> clients = client_names();
    lock.lock();
    std::set<std::string> running;
    for (const auto& [id, job] : running_) running.insert(id);
    for (const auto& id : jobs_to_start(jobs, running, clients, opt_.max_jobs)) {
      if (stopping_) break;
      start_job_locked(id);
    }
  }
}

void ServerParent::start_job_locked(const std::string& id) {
  client_jobs_.job_scheduled(id);
  auto job = std::make_unique<RunningJob>();
  job->id = id;
  RunningJob* raw = job.get();
  running_[id] = std::move(job);
  raw->thread = std::thread([this, id] { run_job(id); });
}

void ServerParent::run_job(std::string id) {
  RunningJob* job = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job = running_.at(id).get();
  }
  auto meta = store_->meta(id);
  if (!meta.ok()) {
    finish_job(*job, "FINISHED:FAILED_TO_RUN", meta.status().message());
    return;
  }
  const fs::path run_dir = opt_.kit.root / id;
  Status s = deploy_and_start(*job, *meta, run_dir);
  if (!s.ok()) {
    bool aborted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      aborted = job->abort_requested;
    }
    abort_clients(id, job->clients);
    finish_job(*job, aborted ? "FINISHED:ABORTED" : "FINISHED:FAILED_TO_RUN", s.message());
    std::error_code ec;
    fs::remove_all(run_dir, ec);
    return;
  }
  // Wait for the server job; an aborted one that does not end within the grace loses its group.
  Result<base::ExitInfo> exit = DeadlineExceededError("");
  std::optional<Clock::time_point> abort_deadline;
  for (;;) {
    exit = job->process.wait(std::chrono::milliseconds(1000));
    if (exit.ok() || exit.status().code() != StatusCode::kDeadlineExceeded) break;
    std::lock_guard<std::mutex> lock(mu_);
    if (job->abort_requested && !abort_deadline) abort_deadline = Clock::now() + std::chrono::seconds(5);
    if (abort_deadline && Clock::now() > *abort_deadline) {
      exit = job->process.terminate(std::chrono::milliseconds(2000));
      break;
    }
  }
  std::string status;
  std::string why;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (job->abort_requested) {
      status = "FINISHED:ABORTED";
      why = job->abort_reason;
    } else if (exit.ok() && !exit->signaled() && exit->exit_code == 0) {
      status = job->execution_error ? "FINISHED:EXECUTION_EXCEPTION" : "FINISHED:COMPLETED";
      why = job->error;
    } else if (exit.ok() && exit->signaled() && exit->signal == SIGKILL && !job->status_reported) {
      status = "FINISHED:ABNORMAL";
      why = "the server job process was killed";
    } else {
      status = "FINISHED:EXECUTION_EXCEPTION";
      why = job->error.empty() ? "the server job process exited with code " +
                                     std::to_string(exit.ok() ? exit->shell_code() : -1)
                               : job->error;
    }
  }
  abort_clients(id, job->clients);
  // The run dir goes into the store as the job's workspace.
  std::error_code ec;
  fs::remove_all(run_dir / "_job", ec);
  fs::path zip = opt_.kit.root / (id + ".workspace.zip");
  if (Status z = job::pack_zip(run_dir, zip, job::PackOptions{"workspace"}); z.ok()) {
    if (Status w = store_->save_workspace(id, zip); !w.ok()) log_->warn("job {}: {}", id, w.message());
  } else {
    log_->warn("job {}: cannot pack its workspace: {}", id, z.message());
  }
  fs::remove(zip, ec);
  fs::remove_all(run_dir, ec);
  finish_job(*job, status, why);
}

Status ServerParent::deploy_and_start(RunningJob& job, const config::Value& meta, const fs::path& run_dir) {
  const std::string& id = job.id;
  std::error_code ec;
  fs::remove_all(run_dir, ec);
  fs::create_directories(run_dir, ec);
  // 1. The job as submitted, checked before anything of it is used.
  const fs::path staging = run_dir / "_job";
  NVF_RETURN_IF_ERROR(job::unpack_zip(store_->data_path(id), staging));
  std::string folder = str_of(meta, "job_folder_name");
  if (folder.empty() || !fs::is_directory(staging / folder, ec)) {
    return InvalidArgumentError("the stored job has no folder '" + folder + "'");
  }
  const fs::path job_dir = staging / folder;
  if (opt_.secure) NVF_RETURN_IF_ERROR(security::verify_job_folder(job_dir, root_ca_pem_).status());
  job::JobMeta m = parse_stored_meta(meta);
  auto apps = apps_by_site(m, client_names());
  if (!apps.count("server")) return InvalidArgumentError("the deploy_map has no app for the server");
  NVF_RETURN_IF_ERROR(base::copy_tree(job_dir / apps["server"], run_dir / "app_server"));
  base::atomic_write(run_dir / "meta.json", config::to_pretty_json(meta)).ignore();

  // 2. Deploy to every client site at once; no reply in time is a failure.
  auto data = read_text(store_->data_path(id));
  if (!data.ok()) return data.status();
  std::vector<std::string> targets;
  for (const auto& [site, app] : apps) {
    if (site != "server") targets.push_back(site);
  }
  auto send_all = [&](std::string_view topic, const std::vector<std::string>& sites, bool with_data,
                      std::chrono::milliseconds timeout) {
    std::map<std::string, Status> out;
    std::mutex m2;
    std::condition_variable cv2;
    size_t left = sites.size();
    for (const auto& site : sites) {
      cellnet::Message msg = with_data ? cellnet::Message::of(*data) : cellnet::Message{};
      msg.headers.set(deploy::kHdrJobId, id);
      msg.headers.set(deploy::kHdrAppName, apps[site]);
      msg.headers.set(deploy::kHdrJobFolderName, folder);
      msg.headers.set(deploy::kHdrSubmitterName, str_of(meta, "submitter_name"));
      msg.headers.set(deploy::kHdrSubmitterOrg, str_of(meta, "submitter_org"));
      msg.headers.set(deploy::kHdrSubmitterRole, str_of(meta, "submitter_role"));
      cell_->request_async(site, std::string(deploy::kChannelAdmin), std::string(topic), std::move(msg), timeout,
                           [&, site](Result<cellnet::Message> r) {
                             std::lock_guard<std::mutex> lock(m2);
                             out[site] = r.status();
                             if (--left == 0) cv2.notify_all();
                           });
    }
    std::unique_lock<std::mutex> lock(m2);
    cv2.wait(lock, [&] { return left == 0; });
    return out;
  };
  const int min_sites = static_cast<int>(std::max<int64_t>(1, m.min_clients.value_or(1)));
  auto deployed = send_all(deploy::kTopicDeploy, targets, true, opt_.admin_timeout);
  std::vector<std::string> ok_sites, failures;
  for (const auto& [site, st] : deployed) {
    if (st.ok()) {
      ok_sites.push_back(site);
    } else {
      failures.push_back(site + ": " + st.message());
      log_->warn("job {}: deploy to {} failed: {}", id, site, st.message());
      if (std::find(m.mandatory_clients.begin(), m.mandatory_clients.end(), site) != m.mandatory_clients.end()) {
        return FailedPreconditionError("deploy to required site " + site + " failed: " + st.message());
      }
    }
  }
  if (static_cast<int>(ok_sites.size()) < min_sites) {
    return FailedPreconditionError("deployed to " + std::to_string(ok_sites.size()) + " sites, fewer than min_clients " +
                                   std::to_string(min_sites) + (failures.empty() ? "" : ": " + base::join(failures, "; ")));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job.clients = ok_sites;
    if (job.abort_requested) return CancelledError(job.abort_reason);
  }
  client_jobs_.job_clients(id, ok_sites);
  store_->set_status(id, "DISPATCHED").ignore();

  // 3. Start the client jobs; without strict checking a site that does not answer is left out.
  auto started = send_all(deploy::kTopicStartJob, ok_sites, false, opt_.start_job_timeout);
  StartDecision decision = decide_start(started, opt_.strict_start_job_reply_check, min_sites, m.mandatory_clients);
  for (const auto& site : decision.excluded) {
    log_->warn("job {}: {} did not confirm the start within {} ms: excluded", id, site,
               opt_.start_job_timeout.count());
  }
  NVF_RETURN_IF_ERROR(decision.error);
  const std::vector<std::string>& active = decision.active;

  // 4. The server job process, in its own session.
  base::SpawnOptions so;
  so.argv = {opt_.nvflare_bin, "_server_job", "--workspace", opt_.kit.root.string(), "--job-id", id,
             "--parent",       internal_url_, "--clients",   base::join(active, ",")};
  if (!opt_.secure) so.argv.push_back("--insecure");
  so.new_session = true;
  so.lifeline = true;
  so.working_dir = run_dir;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job.clients = active;
    if (job.abort_requested) return CancelledError(job.abort_reason);
    auto child = base::spawn(so);
    if (!child.ok()) return child.status();
    job.process = std::move(*child);
    job.process_started = true;
  }
  client_jobs_.job_running(id, active);
  config::Value fields = {{"job_clients", active}};
  store_->update(id, fields).ignore();
  store_->set_status(id, "RUNNING").ignore();
  log_->info("job {} running on {}", id, base::join(active, ", "));
  return Status::OK();
}

StartDecision decide_start(const std::map<std::string, Status>& replies, bool strict, int min_sites,
                           const std::vector<std::string>& required) {
  StartDecision d;
  auto is_required = [&](const std::string& s) { return std::find(required.begin(), required.end(), s) != required.end(); };
  for (const auto& [site, st] : replies) {
    if (st.ok()) {
      d.active.push_back(site);
    } else if (st.code() == StatusCode::kDeadlineExceeded) {
      if (strict && is_required(site)) {
        d.error = FailedPreconditionError("required site " + site + " did not confirm the start in time");
        return d;
      }
      d.excluded.push_back(site);
    } else {
      d.error = FailedPreconditionError("site " + site + " could not start the job: " + st.message());
      return d;
    }
  }
  for (const auto& r : required) {
    if (std::find(d.active.begin(), d.active.end(), r) == d.active.end()) {
      d.error = FailedPreconditionError("required site " + r + " did not start the job");
      return d;
    }
  }
  if (static_cast<int>(d.active.size()) < min_sites) {
    std::string left_out = d.excluded.empty() ? "" : " (no confirmation from " + base::join(d.excluded, ", ") + ")";
    d.error = FailedPreconditionError(std::to_string(d.active.size()) + " sites started the job, fewer than min_clients " +
                                      std::to_string(min_sites) + left_out);
  }
  return d;
}

void ServerParent::finish_job(RunningJob& job, const std::string& status, const std::string& why) {
  store_->set_status(job.id, status).ignore();
  if (!why.empty()) store_->update(job.id, config::Value{{"finish_reason", why}}).ignore();
  if (status == "FINISHED:COMPLETED") {
    log_->info("job {}: {}", job.id, status);
  } else {
    log_->warn("job {}: {}{}", job.id, status, why.empty() ? "" : " (" + why + ")");
  }
  std::lock_guard<std::mutex> lock(mu_);
  // This thread ends right after this: the scheduler (or stop()) joins it from finished_. While
  // stopping, stop() joins and erases the running entries itself.
  client_jobs_.job_ended(job.id);
  auto it = running_.find(job.id);
  if (it != running_.end() && !stopping_) {
    finished_.push_back(std::move(it->second));
    running_.erase(it);
  }
  cv_.notify_all();
}

void ServerParent::join_finished() {
  std::vector<std::unique_ptr<RunningJob>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(finished_);
  }
  for (auto& job : done) {
    if (job->thread.joinable()) job->thread.join();
  }
}

void ServerParent::abort_clients(const std::string& job_id, const std::vector<std::string>& clients) {
  for (const auto& c : clients) {
    cellnet::Message m;
    m.headers.set(deploy::kHdrJobId, job_id);
    cell_->request(c, std::string(deploy::kChannelAdmin), std::string(deploy::kTopicAbortJob), std::move(m),
                   std::chrono::milliseconds(2000))
        .status()
        .ignore();
  }
}

void ServerParent::handle_run_status(const cellnet::Message& request, cellnet::Responder respond) {
  // Only from the job's own server job process, over the internal listener: a frame from outside
  // carries the name its sender authenticated as, and a job's cell is server.<job id>.
  std::string id = request.headers.get_or(deploy::kHdrJobId, "");
  if (request.headers.get(cellnet::hdr::kAuthenticated) ||
      request.headers.get_or(cellnet::hdr::kOrigin, "") != "server." + id) {
    return respond(PermissionDeniedError("a run status comes only from the job's own server job process"));
  }
  try {
    auto body = config::Value::parse(request.payload.to_string());
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(id);
    if (it != running_.end()) {
      it->second->status_reported = true;
      it->second->execution_error = body.value("execution_error", false);
      it->second->error = body.value("error", "");
    }
  } catch (const std::exception& e) {
    return respond(InvalidArgumentError(std::string("bad run status: ") + e.what()));
  }
  respond(cellnet::Message{});
}

Status ServerParent::abort_job(const std::string& id, const std::string& reason, std::string* message) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end()) {
    lock.unlock();
    NVF_ASSIGN_OR_RETURN(auto meta, store_->meta(id));
    std::string status = str_of(meta, "status");
    if (job::is_finished(status)) {
      if (message) *message = "Job for " + id + " is already completed.";
      return Status::OK();
    }
    NVF_RETURN_IF_ERROR(store_->set_status(id, "FINISHED:ABORTED"));
    if (message) *message = "Aborted the job " + id + " before running it.";
    return Status::OK();
  }
  RunningJob& job = *it->second;
  job.abort_requested = true;
  job.abort_reason = reason;
  bool started = job.process_started;
  lock.unlock();
  if (started) {
    cell_->request("server." + id, std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicAbort),
                   cellnet::Message{}, std::chrono::milliseconds(1000))
        .status()
        .ignore();
  }
  if (message) *message = "Abort signal has been sent to the server app.";
  return Status::OK();
}

}  // namespace nvf::runtime
