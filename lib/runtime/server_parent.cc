#include "runtime/server_parent.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

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
// Both folders exist on one file system (a rename between them moves no bytes).
bool on_one_file_system(const fs::path& a, const fs::path& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev;
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

  keep_upload_extraction_ = on_one_file_system(opt_.job_store_root, kit.root);
  if (!keep_upload_extraction_) {
    log_->info("the job store {} and the workspace {} are on different file systems: a submitted job is checked "
               "in a local scratch folder and extracted again when it is deployed",
               opt_.job_store_root.string(), kit.root.string());
  }

  NVF_RETURN_IF_ERROR(register_admin_commands());
  JobRunnerOptions ro;
  ro.workspace = kit.root;
  ro.secure = opt_.secure;
  ro.root_ca_pem = root_ca_pem_;
  ro.nvflare_bin = opt_.nvflare_bin;
  ro.admin_timeout = opt_.admin_timeout;
  ro.start_job_timeout = opt_.start_job_timeout;
  ro.strict_start_job_reply_check = opt_.strict_start_job_reply_check;
  ro.registered_clients = [this] { return client_names(); };
  ro.on_job_ended = [this] { cv_.notify_all(); };
  ro.logger = log_;
  for (const auto& d : base::remove_stale_temp_dirs())
    log_->info("removed {}, left by a process that ended without cleaning up", d.string());
  NVF_ASSIGN_OR_RETURN(runtime_dir_, base::make_owned_temp_dir("nvflare-sp"));
  NVF_ASSIGN_OR_RETURN(DaemonCell dc, make_daemon_cell("server", kit, false, opt_.external_driver, log_));
  drivers_ = std::move(dc.drivers);
  cell_ = std::move(dc.cell);
  downloads_ = std::make_unique<cellnet::DownloadService>(*cell_);
  NVF_RETURN_IF_ERROR(downloads_->start());
  ro.downloads = downloads_.get();
  runner_ = std::make_unique<JobRunner>(std::move(ro), *cell_, *store_, client_jobs_);

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
    if (p.kind == "client") {
      // The server addresses a client by its name; behind relays its cell is "relay-1.site-1".
      cell_->set_alias(p.name, p.fqcn);
      cv_.notify_all();  // the scheduler may now place a job
    }
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
  const std::string scheme = url_scheme(kit.scheme, kit.connection_security);
  auto listen = [&](int port) -> Result<std::string> {
    std::string url = scheme + "://" + host + ":" + std::to_string(port);
    auto r = cell_->listen(url, filter);
    if (!r.ok()) return UnavailableError("cannot listen on " + url + ": " + r.status().message());
    return r;
  };
  NVF_ASSIGN_OR_RETURN(url_, listen(kit.fl_port));
  if (kit.admin_port != kit.fl_port) NVF_RETURN_IF_ERROR(listen(kit.admin_port).status());
  NVF_ASSIGN_OR_RETURN(internal_url_, cell_->listen("uds://" + (runtime_dir_ / "sp.sock").string()));
  runner_->set_parent_url(internal_url_);  // before the scheduler starts the first job
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  runner_->stop("the server is shutting down");  // aborts running jobs and waits for them
  if (scheduler_.joinable()) scheduler_.join();
  // Tell the clients the server is going away (best effort). Not on a restart: the clients were
  // ordered to restart first, and any that stayed reconnect to the restarted server.
  for (const auto& c : restart_requested_ ? std::vector<std::string>{} : client_names()) {
    cell_->fire(c, std::string(deploy::kChannelAdmin), std::string(deploy::kTopicShutdown), cellnet::Message{})
        .ignore();
  }
  downloads_->stop();
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
  if (who.ok() && who->kind == "relay") {  // a relay runs no jobs: it only says it is alive
    return respond(cellnet::Message::of(config::Value{{"abort_jobs", config::Value::array()}}.dump()));
  }
  std::set<std::string> reported, finished;
  try {
    auto body = config::Value::parse(request.payload.to_string());
    for (const auto& j : body.value("jobs", config::Value::array())) {
      if (j.is_string()) reported.insert(j.get<std::string>());
    }
    for (const auto& j : body.value("finished", config::Value::array())) {
      if (j.is_string()) finished.insert(j.get<std::string>());
    }
  } catch (const std::exception&) {
  }
  ClientJobTracker::Heartbeat beat = client_jobs_.heartbeat(name, reported, finished);
  for (const auto& job : beat.first_seen) log_->info("client {} runs job {}", name, job);
  for (const auto& job : beat.finished) {
    log_->info("client {} finished job {}", name, job);
    tell_job_client_left(job, name);
  }
  for (const auto& job : beat.lost) {
    log_->warn("client {} no longer reports job {}: its client job is gone", name, job);
    tell_job_client_left(job, name);
  }
  config::Value abort_jobs = beat.abort_jobs;
  respond(cellnet::Message::of(config::Value{{"abort_jobs", abort_jobs}}.dump()));
}

void ServerParent::handle_quit(const cellnet::Message& request, cellnet::Responder respond) {
  auto who = registrar_->principal_of(request.headers);
  if (!who.ok() || (who->kind != "client" && who->kind != "relay")) {
    return respond(who.ok() ? Status(PermissionDeniedError("only a client or a relay may quit")) : who.status());
  }
  registrar_->remove(who->name);
  log_->info("{} {} quit: it is no longer registered", who->kind, who->name);
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
  auto gone = registrar_->principals("client");
  for (auto& r : registrar_->principals("relay")) gone.push_back(std::move(r));
  for (const auto& p : gone) {
    if (now - p.last_seen > opt_.heart_beat_timeout) {
      log_->warn("{} {} sent no heartbeat for {} s: removed", p.kind, p.name,
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
    runner_->join_finished();
    sweep_dead_clients();
    if (!store_->unsaved().empty()) {
      Status f = store_->flush();
      if (f.ok()) {
        log_->info("the job store saved every pending change");
        last_flush_error_.clear();
      } else if (f.message() != last_flush_error_) {
        log_->error("{}", f.message());
        last_flush_error_ = f.message();
      }
    }
    std::vector<config::Value> jobs = store_->list();
    std::vector<std::string> clients = client_names();
    for (const auto& id : jobs_to_start(jobs, runner_->running(), clients, opt_.max_jobs)) runner_->start(id);
    lock.lock();
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
    runner_->report_status(id, body.value("execution_error", false), body.value("error", ""));
  } catch (const std::exception& e) {
    return respond(InvalidArgumentError(std::string("bad run status: ") + e.what()));
  }
  respond(cellnet::Message{});
}

}  // namespace nvf::runtime
