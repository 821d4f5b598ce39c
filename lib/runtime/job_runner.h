// JobRunner: the server parent's part that runs scheduled jobs — one thread per job deploys it to
// its sites (a deployment timeout counts as a failure), starts their client jobs, spawns the server
// job process (`nvflare _server_job`) in its own session, follows it to a FINISHED:* status, packs
// its workspace into the job store, and aborts it on request. It knows the clients by name through
// the cell (orders to client parents) and tells the ClientJobTracker who takes part in what.
//
// Ownership: owned by the server parent; borrows its cell, job store and tracker (they outlive it);
// owns the job threads and the job processes (their groups are killed on abort).
// Threads: every method may be called from any thread (one mutex, never held across a wait).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/logging.h"
#include "base/process.h"
#include "base/status.h"
#include "cellnet/cell.h"
#include "cellnet/download_service.h"
#include "config/value.h"
#include "job/job_store.h"
#include "runtime/client_job_tracker.h"

namespace nvf::runtime {

struct JobRunnerOptions {
  std::filesystem::path workspace;  // the server kit's root: a job runs in <workspace>/<job id>
  bool secure = true;               // job signatures are checked against root_ca_pem
  std::string root_ca_pem;
  std::string nvflare_bin;
  std::chrono::milliseconds admin_timeout{10000};  // deploy and other orders to a client parent
  std::chrono::milliseconds start_job_timeout{20000};
  bool strict_start_job_reply_check = false;
  // An aborted server job that has not ended this long after the abort is terminated: SIGTERM to
  // its process group, then SIGKILL after terminate_grace.
  std::chrono::milliseconds abort_grace{5000};
  std::chrono::milliseconds terminate_grace{2000};
  std::function<std::vector<std::string>()> registered_clients;  // sorted names
  /// Where deploy orders offer the job's zip for the client parents to pull (deploy_protocol.h
  /// kHdrJobZip). Null: the zip goes as each order's payload.
  cellnet::DownloadService* downloads = nullptr;
  std::function<void()> on_job_ended;  // a job reached FINISHED:* (the scheduler may start the next)
  base::Logger logger;
};

/// What the server makes of the sites' replies to "start the job" (FLARE 2.7.2's
/// strict_start_job_reply_check). A reply that did not come in time (DEADLINE_EXCEEDED) leaves the
/// site out — with a warning in `excluded` — unless it is required; any other error stops the job.
/// Both modes then require `min_sites` active sites and every required site active; the error
/// names the site. Strict mode differs from FLARE's default (false) only in that a required site's
/// timeout is reported as such.
struct StartDecision {
  std::vector<std::string> active;
  std::vector<std::string> excluded;  // timed out, left out
  Status error;
};
StartDecision decide_start(const std::map<std::string, Status>& replies, bool strict, int min_sites,
                           const std::vector<std::string>& required);

class JobRunner {
 public:
  JobRunner(JobRunnerOptions options, cellnet::Cell& cell, job::JobStore& store, ClientJobTracker& tracker);
  ~JobRunner();

  /// Where the server job processes reach the server parent (its internal listener); set before
  /// the first start().
  void set_parent_url(std::string url) { parent_url_ = std::move(url); }
  /// Runs the job on a thread of its own. False when stopping (nothing started).
  bool start(const std::string& id);
  /// Asks a running job to stop (its server job first; its process group after a grace), or marks
  /// a job that has not run as aborted. `message` gets FLARE's answer for the console.
  Status abort(const std::string& id, const std::string& reason, std::string* message);
  /// The run status a server job process reports before it exits.
  void report_status(const std::string& id, bool execution_error, const std::string& error);

  std::set<std::string> running() const;
  bool is_running(const std::string& id) const;
  /// The sites taking part in a running job (empty while it deploys, or when it is not running).
  std::vector<std::string> clients_of(const std::string& id) const;
  /// Joins the threads of jobs that ended.
  void join_finished();
  /// Aborts every running job with `reason` and waits for their threads; start() refuses from now on.
  void stop(const std::string& reason);

 private:
  struct RunningJob {
    std::string id;
    std::vector<std::string> clients;
    base::ChildProcess process;
    bool process_started = false;
    bool abort_requested = false;
    std::string abort_reason;
    bool status_reported = false;
    bool execution_error = false;
    std::string error;
    std::thread thread;
  };

  void run_job(std::string id);
  Status deploy_and_start(RunningJob& job, const config::Value& meta, const std::filesystem::path& run_dir);
  void finish_job(RunningJob& job, const std::string& status, const std::string& why);
  void abort_clients(const std::string& job_id, const std::vector<std::string>& clients);
  void saved(const Status& s);  // logs a job-store write that failed

  const JobRunnerOptions o_;
  cellnet::Cell& cell_;
  job::JobStore& store_;
  ClientJobTracker& tracker_;
  base::Logger log_;
  std::string parent_url_;

  mutable std::mutex mu_;
  bool stopping_ = false;
  std::map<std::string, std::unique_ptr<RunningJob>> running_;
  std::vector<std::unique_ptr<RunningJob>> finished_;  // ended; their threads are joined by join_finished()
};

}  // namespace nvf::runtime
