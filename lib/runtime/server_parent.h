// ServerParent: the long-running server process of a startup kit (FLARE's SP, DESIGN §2). It
// listens for clients and admins over gRPC (mTLS in secure mode), registers them (registration.h)
// and checks every frame's token, keeps the job store, schedules submitted jobs (max_jobs at once),
// deploys each job to its sites (a deployment timeout counts as a failure), starts it — the
// client parents start their client jobs, then a server job process (`nvflare _server_job`) is
// spawned in its own session — and follows it to a FINISHED:* status. Admin commands
// (admin_service.cc) are authorized by the site's policy.
//
// Ownership: owned by `nvflare server`; owns its cell, drivers, job store, scheduler thread, one
// thread per running job and the job processes (killed with their process groups on stop()).
// Threads: start()/wait()/stop() from the owning thread; handlers on the cell's pools.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
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
#include "runtime/admin_commands.h"
#include "runtime/client_job_tracker.h"
#include "runtime/job_runner.h"
#include "runtime/registration.h"
#include "runtime/startup_kit.h"
#include "security/authorization.h"

namespace nvf::runtime {

struct ServerParentOptions {
  ServerKit kit;
  bool secure = true;  // secure_train: signatures checked, tokens required
  std::string nvflare_bin;
  DriverFactory external_driver;  // the gRPC driver
  base::Logger logger;
  std::filesystem::path job_store_root;  // empty: from local/resources.json, else <workspace>/jobs-storage
  int max_jobs = 4;
  std::chrono::milliseconds heart_beat_timeout{600000};
  std::chrono::milliseconds admin_timeout{10000};       // deploy and other orders to a client parent
  std::chrono::milliseconds start_job_timeout{20000};
  std::chrono::milliseconds schedule_interval{1000};
  bool strict_start_job_reply_check = false;
  bool sync_client_jobs_require_previous_report = true;
  std::function<void(const std::string&)> print;  // lines for the console
};

class ServerParent {
 public:
  explicit ServerParent(ServerParentOptions options);
  ~ServerParent();

  /// Checks the kit, opens the job store, listens, starts the scheduler. Errors name the file or
  /// the port.
  Status start();
  /// Blocks until shutdown is requested (admin `shutdown`, or request_shutdown()).
  void wait();
  void request_shutdown(const std::string& reason);
  /// As request_shutdown, for the admin `restart`: the owner then exits without writing
  /// shutdown.fl, so that the watchdog of sub_start.sh starts the server again.
  void request_restart(const std::string& reason);
  bool restart_requested() const { return restart_requested_; }
  /// Aborts running jobs (their process groups are killed), stops the cell.
  void stop();

  /// The URL the server listens on for clients (with the actual port).
  const std::string& url() const { return url_; }

 private:
  // Registration and heartbeats.
  void handle_heartbeat(const cellnet::Message& request, cellnet::Responder respond);
  void sweep_dead_clients();
  void handle_quit(const cellnet::Message& request, cellnet::Responder respond);
  void tell_job_client_left(const std::string& job, const std::string& client);
  std::vector<std::string> client_names() const;

  // Jobs: the scheduler picks (scheduler.h), the runner runs (job_runner.h).
  void run_scheduler();
  void handle_run_status(const cellnet::Message& request, cellnet::Responder respond);

  // Admin service (admin_service.cc).
  void handle_admin_command(const cellnet::Message& request, cellnet::Responder respond);
  void handle_submit(const cellnet::Message& request, cellnet::Responder respond);
  void handle_download(const cellnet::Message& request, cellnet::Responder respond);
  // The command table (admin_commands.h): every command with its help, right and argument check.
  Status register_admin_commands();
  config::Value cmd_check_status(const AdminCall& call);
  config::Value cmd_list_jobs(const AdminCall& call);
  config::Value cmd_abort_job(const AdminCall& call);
  config::Value cmd_delete_job(const AdminCall& call);
  config::Value cmd_get_job_meta(const AdminCall& call);
  config::Value cmd_clone_job(const AdminCall& call);
  config::Value cmd_shutdown(const AdminCall& call);
  config::Value cmd_shell(const AdminCall& call);
  config::Value cmd_list_sessions(const AdminCall& call);
  config::Value cmd_sys_info(const AdminCall& call);
  config::Value job_query(const std::string& cmd, const std::string& id, const std::string& target,
                          const std::vector<std::string>& names);
  config::Value cmd_job_info(const AdminCall& call);
  // remove_client / dead: the client leaves the registrar (`done` ends the reply's sentence).
  config::Value forget_client(const Principal& who, const std::vector<std::string>& argv, const std::string& done);
  config::Value cmd_remove_client(const AdminCall& call);
  config::Value cmd_restart(const AdminCall& call);
  config::Value cmd_list_job_components(const AdminCall& call);
  config::Value cmd_show_scopes(const AdminCall& call);
  config::Value cmd_report(const AdminCall& call);
  config::Value cmd_configure_site_log(const AdminCall& call);
  config::Value cmd_configure_job_log(const AdminCall& call);
  config::Value cmd_app_command(const AdminCall& call);
  config::Value cmd_dead(const AdminCall& call);
  // One order to each named client parent (all registered clients when `names` is empty); the
  // reply or the error of each, by client. Unknown names: INVALID_ARGUMENT through `bad_name`.
  std::vector<std::pair<std::string, Result<cellnet::Message>>> ask_clients(
      const std::vector<std::string>& names, std::string_view topic, const cellnet::Message& order,
      std::string* bad_name);
  Status authorize(const Principal& who, const std::string& right, const config::Value* job_meta) const;

  ServerParentOptions opt_;
  base::Logger log_;
  std::unique_ptr<cellnet::DriverRegistry> drivers_;
  std::unique_ptr<cellnet::Cell> cell_;
  std::unique_ptr<cellnet::DownloadService> downloads_;  // job zips offered to client parents
  std::unique_ptr<Registrar> registrar_;
  std::unique_ptr<AdminCommandTable> admin_;
  std::unique_ptr<job::JobStore> store_;
  // The job store and the run folders share a file system: a submit's checked extraction is kept
  // in the store for the job's deploy (renames only). Else (a store on shared storage, say) the
  // upload is checked in a local scratch folder and the deploy extracts the stored zip.
  bool keep_upload_extraction_ = false;
  security::AuthorizationPolicy policy_ = security::AuthorizationPolicy::allow_all();
  std::string org_;
  std::string url_, internal_url_;
  std::filesystem::path runtime_dir_;
  std::string root_ca_pem_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, stopping_ = false, shutdown_requested_ = false;
  std::atomic<bool> restart_requested_{false};
  std::string shutdown_reason_;
  ClientJobTracker client_jobs_{opt_.sync_client_jobs_require_previous_report};  // from heartbeats
  std::unique_ptr<JobRunner> runner_;
  std::thread scheduler_;
  std::string last_flush_error_;  // only the scheduler thread: logged once until it changes
};

/// Reads local/resources.json (else .default) of a server kit: the job store root and max_jobs.
struct ServerResources {
  std::filesystem::path job_store_root;
  int max_jobs = 4;
};
ServerResources read_server_resources(const std::filesystem::path& workspace);

}  // namespace nvf::runtime
