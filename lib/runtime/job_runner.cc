#include "runtime/job_runner.h"

#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <optional>

#include "base/files.h"
#include "base/strings.h"
#include "job/archive.h"
#include "job/job_meta.h"
#include "runtime/deploy_protocol.h"
#include "runtime/job_transfer.h"
#include "runtime/meta_fields.h"
#include "runtime/scheduler.h"
#include "runtime/startup_kit.h"
#include "security/job_signature.h"

namespace nvf::runtime {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

JobRunner::JobRunner(JobRunnerOptions options, cellnet::Cell& cell, job::JobStore& store, ClientJobTracker& tracker)
    : o_(std::move(options)),
      cell_(cell),
      store_(store),
      tracker_(tracker),
      log_(o_.logger ? o_.logger : base::null_logger()) {}

JobRunner::~JobRunner() { stop("the server is shutting down"); }

void JobRunner::saved(const Status& s) {
  // The store keeps a change it could not write and the server parent writes it again on each
  // tick (JobStore::flush); the admin sees it in list_jobs and check_status meanwhile.
  if (!s.ok()) log_->error("{}", s.message());
}

bool JobRunner::start(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || running_.count(id)) return false;
  tracker_.job_scheduled(id);
  auto job = std::make_unique<RunningJob>();
  job->id = id;
  RunningJob* raw = job.get();
  running_[id] = std::move(job);
  raw->thread = std::thread([this, id] { run_job(id); });
  return true;
}

std::set<std::string> JobRunner::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> out;
  for (const auto& [id, job] : running_) out.insert(id);
  return out;
}

bool JobRunner::is_running(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_.count(id) > 0;
}

std::vector<std::string> JobRunner::clients_of(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(id);
  return it == running_.end() ? std::vector<std::string>() : it->second->clients;
}

void JobRunner::report_status(const std::string& id, bool execution_error, const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end()) return;
  it->second->status_reported = true;
  it->second->execution_error = execution_error;
  it->second->error = error;
}

void JobRunner::stop(const std::string& reason) {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (const auto& [id, j] : running_) ids.push_back(id);
  }
  for (const auto& id : ids) abort(id, reason, nullptr).ignore();
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
}

void JobRunner::run_job(std::string id) {
  RunningJob* job = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job = running_.at(id).get();
  }
  auto meta = store_.meta(id);
  if (!meta.ok()) {
    finish_job(*job, "FINISHED:FAILED_TO_RUN", meta.status().message());
    return;
  }
  const fs::path run_dir = o_.workspace / id;
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
  // Only this thread touches job->process once it runs, so the termination (a grace, then SIGKILL
  // and the wait for the group) runs without mu_: heartbeats, admin commands and the scheduler
  // that need mu_ keep being answered meanwhile.
  const auto poll = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(1000), o_.abort_grace);
  for (;;) {
    exit = job->process.wait(std::max(poll, std::chrono::milliseconds(1)));
    if (exit.ok() || exit.status().code() != StatusCode::kDeadlineExceeded) break;
    bool terminate = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (job->abort_requested && !abort_deadline) abort_deadline = Clock::now() + o_.abort_grace;
      terminate = abort_deadline && Clock::now() > *abort_deadline;
    }
    if (terminate) {
      log_->warn("job {}: the server job did not stop within {} ms of the abort: terminating it", id,
                 o_.abort_grace.count());
      exit = job->process.terminate(o_.terminate_grace);
      break;
    }
  }
  // What the server job started in its group (it may have been killed before stopping them).
  if (job->process.pgid() > 0) ::kill(-job->process.pgid(), SIGKILL);
  // The job is over for the sites now: their client jobs end, and the heartbeats that no longer
  // list it are no news (packing the workspace below takes a while).
  tracker_.job_ended(id);
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
  fs::path zip = o_.workspace / (id + ".workspace.zip");
  job::PackOptions pack{"workspace", {}};
  pack.sync = false;  // moved into the store, which syncs it first
  if (Status z = job::pack_zip(run_dir, zip, pack); z.ok()) {
    if (Status w = store_.save_workspace_by_moving(id, zip); !w.ok()) log_->warn("job {}: {}", id, w.message());
  } else {
    log_->warn("job {}: cannot pack its workspace: {}", id, z.message());
  }
  fs::remove(zip, ec);
  fs::remove_all(run_dir, ec);
  finish_job(*job, status, why);
}

Status JobRunner::deploy_and_start(RunningJob& job, const config::Value& meta, const fs::path& run_dir) {
  const std::string& id = job.id;
  std::error_code ec;
  fs::remove_all(run_dir, ec);
  fs::create_directories(run_dir, ec);
  // 1. The job as submitted, checked before anything of it is used: the submit's extraction
  // when the store kept it (one write of the job's bytes less), else the stored zip's.
  const fs::path staging = run_dir / "_job";
  const bool kept = store_.take_unpacked(id, staging);
  log_->info("job {}: deploying, from {}", id, kept ? "the submit's checked extraction" : "its stored zip");
  if (!kept) NVF_RETURN_IF_ERROR(job::unpack_zip(store_.data_path(id), staging));
  std::string folder = str_of(meta, "job_folder_name");
  if (folder.empty() || !fs::is_directory(staging / folder, ec)) {
    return InvalidArgumentError("the stored job has no folder '" + folder + "'");
  }
  const fs::path job_dir = staging / folder;
  if (o_.secure) NVF_RETURN_IF_ERROR(security::verify_job_folder(job_dir, o_.root_ca_pem).status());
  job::JobMeta m = parse_stored_meta(meta);
  auto apps = apps_by_site(m, o_.registered_clients());
  if (!apps.count("server")) return InvalidArgumentError("the deploy_map has no app for the server");
  // The staging copy is the run's own (it goes at the end of the run): move the server's app out of
  // it rather than write a large app again.
  fs::rename(job_dir / apps["server"], run_dir / "app_server", ec);
  if (ec) NVF_RETURN_IF_ERROR(base::copy_tree(job_dir / apps["server"], run_dir / "app_server"));
  base::atomic_write(run_dir / "meta.json", config::to_pretty_json(meta)).ignore();

  // 2. Deploy to every client site at once; no reply in time is a failure. The zip is offered for
  // download (the client parents pull it from the store's file, in bounded ranges), or, without a
  // download service, sent in each order.
  std::vector<std::string> targets;
  for (const auto& [site, app] : apps) {
    if (site != "server") targets.push_back(site);
  }
  std::optional<std::string> data;
  std::optional<JobZipOffer> offer;
  if (o_.downloads) {
    NVF_ASSIGN_OR_RETURN(offer, offer_job_zip(*o_.downloads, store_.data_path(id), targets.size(), o_.admin_timeout));
  } else {
    NVF_ASSIGN_OR_RETURN(data, read_text(store_.data_path(id)));
  }
  struct EndOffer {
    cellnet::DownloadService* service;
    const std::optional<JobZipOffer>& offer;
    ~EndOffer() {
      if (service && offer) service->delete_transaction(offer->tx_id).ignore();
    }
  } end_offer{o_.downloads, offer};
  auto send_all = [&](std::string_view topic, const std::vector<std::string>& sites, bool with_data,
                      std::chrono::milliseconds timeout) {
    std::map<std::string, Status> out;
    std::mutex m2;
    std::condition_variable cv2;
    size_t left = sites.size();
    for (const auto& site : sites) {
      cellnet::Message msg = with_data && data ? cellnet::Message::of(*data) : cellnet::Message{};
      if (with_data && offer) msg.headers.set(deploy::kHdrJobZip, offer->header);
      msg.headers.set(deploy::kHdrJobId, id);
      msg.headers.set(deploy::kHdrAppName, apps[site]);
      msg.headers.set(deploy::kHdrJobFolderName, folder);
      msg.headers.set(deploy::kHdrSubmitterName, str_of(meta, "submitter_name"));
      msg.headers.set(deploy::kHdrSubmitterOrg, str_of(meta, "submitter_org"));
      msg.headers.set(deploy::kHdrSubmitterRole, str_of(meta, "submitter_role"));
      cell_.request_async(site, std::string(deploy::kChannelAdmin), std::string(topic), std::move(msg), timeout,
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
  auto deployed = send_all(deploy::kTopicDeploy, targets, true, o_.admin_timeout);
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
  tracker_.job_clients(id, ok_sites);
  log_->info("job {}: deployed to {}", id, base::join(ok_sites, ", "));
  saved(store_.set_status(id, "DISPATCHED"));

  // 3. Start the client jobs; without strict checking a site that does not answer is left out.
  auto started = send_all(deploy::kTopicStartJob, ok_sites, false, o_.start_job_timeout);
  StartDecision decision = decide_start(started, o_.strict_start_job_reply_check, min_sites, m.mandatory_clients);
  for (const auto& site : decision.excluded) {
    log_->warn("job {}: {} did not confirm the start within {} ms: excluded", id, site,
               o_.start_job_timeout.count());
  }
  NVF_RETURN_IF_ERROR(decision.error);
  const std::vector<std::string>& active = decision.active;

  // 4. The server job process, in its own session.
  base::SpawnOptions so;
  so.argv = {o_.nvflare_bin, "_server_job", "--workspace", o_.workspace.string(), "--job-id", id,
             "--parent",       parent_url_, "--clients",   base::join(active, ",")};
  if (!o_.secure) so.argv.push_back("--insecure");
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
    log_->info("job {}: server job started (pid {})", id, job.process.pid());
  }
  tracker_.job_running(id, active);
  config::Value fields = {{"job_clients", active}};
  saved(store_.update(id, fields));
  saved(store_.set_status(id, "RUNNING"));
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

void JobRunner::finish_job(RunningJob& job, const std::string& status, const std::string& why) {
  saved(store_.set_status(job.id, status));
  if (!why.empty()) saved(store_.update(job.id, config::Value{{"finish_reason", why}}));
  if (status == "FINISHED:COMPLETED") {
    log_->info("job {}: {}", job.id, status);
  } else {
    log_->warn("job {}: {}{}", job.id, status, why.empty() ? "" : " (" + why + ")");
  }
  std::lock_guard<std::mutex> lock(mu_);
  // This thread ends right after this: the scheduler (or stop()) joins it from finished_. While
  // stopping, stop() joins and erases the running entries itself.
  tracker_.job_ended(job.id);
  auto it = running_.find(job.id);
  if (it != running_.end() && !stopping_) {
    finished_.push_back(std::move(it->second));
    running_.erase(it);
  }
  if (o_.on_job_ended) o_.on_job_ended();
}

void JobRunner::join_finished() {
  std::vector<std::unique_ptr<RunningJob>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(finished_);
  }
  for (auto& job : done) {
    if (job->thread.joinable()) job->thread.join();
  }
}

void JobRunner::abort_clients(const std::string& job_id, const std::vector<std::string>& clients) {
  for (const auto& c : clients) {
    cellnet::Message m;
    m.headers.set(deploy::kHdrJobId, job_id);
    cell_.request(c, std::string(deploy::kChannelAdmin), std::string(deploy::kTopicAbortJob), std::move(m),
                   std::chrono::milliseconds(2000))
        .status()
        .ignore();
  }
}

Status JobRunner::abort(const std::string& id, const std::string& reason, std::string* message) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end()) {
    lock.unlock();
    NVF_ASSIGN_OR_RETURN(auto meta, store_.meta(id));
    std::string status = str_of(meta, "status");
    if (job::is_finished(status)) {
      if (message) *message = "Job for " + id + " is already completed.";
      return Status::OK();
    }
    NVF_RETURN_IF_ERROR(store_.set_status(id, "FINISHED:ABORTED"));
    if (message) *message = "Aborted the job " + id + " before running it.";
    return Status::OK();
  }
  RunningJob& job = *it->second;
  job.abort_requested = true;
  job.abort_reason = reason;
  bool started = job.process_started;
  lock.unlock();
  if (started) {
    cell_.request("server." + id, std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicAbort),
                   cellnet::Message{}, std::chrono::milliseconds(1000))
        .status()
        .ignore();
  }
  if (message) *message = "Abort signal has been sent to the server app.";
  return Status::OK();
}

}  // namespace nvf::runtime
