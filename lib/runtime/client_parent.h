// ClientParent: the long-running client process of a startup kit (FLARE's CP, DESIGN §2). It
// connects to the server over gRPC (mTLS), registers (registration.h) and sends heartbeats that
// list its running jobs (the reply names jobs to abort). On the server's orders it deploys a job
// (the zip through the safe extractor, its signatures and the site's authorization policy checked
// before anything is kept), starts its client job process (`nvflare _client_job`, own session,
// lifeline), aborts it (SIGKILL of its group after the grace) and shuts down.
//
// Ownership: owned by `nvflare client`; owns its cell, drivers, maintenance thread and the client
// job processes. Threads: start()/wait()/stop() from the owning thread; handlers on cell pools.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/logging.h"
#include "base/process.h"
#include "cellnet/cell.h"
#include "runtime/registration.h"
#include "runtime/server_parent.h"
#include "runtime/startup_kit.h"
#include "security/authorization.h"

namespace nvf::runtime {

struct ClientParentOptions {
  ClientKit kit;
  bool secure = true;
  std::string nvflare_bin;
  DriverFactory external_driver;
  base::Logger logger;
  std::chrono::milliseconds heart_beat_interval{10000};
  std::chrono::milliseconds register_interval{2000};
  std::chrono::milliseconds request_timeout{30000};  // maint_msg_timeout
  std::chrono::milliseconds abort_grace{10000};
  std::function<void(const std::string&)> print;
};

class ClientParent {
 public:
  explicit ClientParent(ClientParentOptions options);
  ~ClientParent();

  Status start();
  /// Blocks until shutdown is requested (the server's shutdown order, or request_shutdown()).
  void wait();
  void request_shutdown(const std::string& reason);
  /// As request_shutdown, for a restart: the owner then exits without writing shutdown.fl, so that
  /// the watchdog of sub_start.sh starts the client again (the server's `restart` order).
  void request_restart(const std::string& reason);
  bool restart_requested() const { return restart_requested_; }
  /// Kills every client job's process group, stops the cell.
  void stop();

 private:
  struct ClientJob {
    std::string id;
    base::ChildProcess process;
    pid_t pgid = -1;
    std::optional<std::chrono::steady_clock::time_point> kill_at;
    bool exited = false;
    bool finished = false;           // exited by itself with code 0
    bool finish_reported = false;    // a heartbeat the server answered listed it as finished
    std::thread waiter;
  };

  void run_maintenance();
  bool register_once();
  void heartbeat_once();
  void quit();
  Result<cellnet::Message> handle_deploy(const cellnet::Message& request);
  Result<cellnet::Message> handle_start(const cellnet::Message& request);
  Result<cellnet::Message> handle_abort(const cellnet::Message& request);
  // Admin commands the server forwards (admin_service.cc): JSON or text replies.
  Result<cellnet::Message> handle_restart(const cellnet::Message& request);
  Result<cellnet::Message> handle_report_resources(const cellnet::Message& request);
  Result<cellnet::Message> handle_report_env(const cellnet::Message& request);
  Result<cellnet::Message> handle_get_scopes(const cellnet::Message& request);
  Result<cellnet::Message> handle_configure_site_log(const cellnet::Message& request);
  Result<cellnet::Message> handle_configure_job_log(const cellnet::Message& request);
  // pwd/ls/cat/head/tail/grep in this site's workspace, and sys_info: authorized by this site's
  // policy for the admin the server names in the request's headers.
  Result<cellnet::Message> handle_shell(const cellnet::Message& request);
  Result<cellnet::Message> handle_sys_info(const cellnet::Message& request);
  // An order to the client job of running job `id` (configure_job_log; show_stats, show_errors,
  // reset_errors relayed from the server): its reply. Errors: FAILED_PRECONDITION when the job
  // is not running here, the client job's own.
  Result<cellnet::Message> order_job(const std::string& id, std::string_view topic, cellnet::Message order);
  Status authorize_admin(const std::string& right, const cellnet::Message& request) const;
  void abort_job(const std::string& id, const std::string& reason);
  void wait_job(ClientJob* job);

  ClientParentOptions opt_;
  base::Logger log_;
  std::unique_ptr<cellnet::DriverRegistry> drivers_;
  std::unique_ptr<cellnet::Cell> cell_;
  security::AuthorizationPolicy policy_ = security::AuthorizationPolicy::allow_all();
  std::string org_, root_ca_pem_, internal_url_;
  std::string parent_cell_;  // "server", or the relay this client connects through
  std::filesystem::path runtime_dir_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, stopping_ = false, shutdown_requested_ = false, registered_ = false;
  std::map<std::string, std::unique_ptr<ClientJob>> jobs_;
  std::atomic<bool> restart_requested_{false};
  std::thread maintenance_;
};

}  // namespace nvf::runtime
