// AdminClient: an admin's session with a server parent, as `nvflare admin -c` and `nvflare job
// submit` use it. It connects with the admin kit's certificate (mTLS), registers as an admin
// (registration.h: the server checks the certificate chain, CN and key, and takes the role from
// the certificate), then runs console commands, uploads jobs (the signature files go into the zip
// from memory: the user's folder is never modified, unlike FLARE's in-place signing, nor copied,
// unless it holds symbolic links) and downloads job results.
//
// Ownership: owned by the command that uses it; owns its cell and drivers.
// Threads: one caller at a time.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "base/status.h"
#include "cellnet/cell.h"
#include "cellnet/download_service.h"
#include "config/value.h"
#include "runtime/server_parent.h"
#include "runtime/startup_kit.h"

namespace nvf::tools {

class AdminClient {
 public:
  /// Errors: UNAVAILABLE naming the server URL, UNAUTHENTICATED with the server's reason.
  static Result<std::unique_ptr<AdminClient>> connect(const runtime::AdminKit& kit,
                                                      const runtime::DriverFactory& external_driver,
                                                      std::chrono::milliseconds timeout);
  ~AdminClient();

  /// One console command; the server's JSON reply ({"status", "data"}).
  Result<config::Value> command(const std::string& line);
  /// Signs a copy of `job_folder` with the admin's key, zips and uploads it. Returns the reply
  /// ("Submitted job: <id>", meta.job_id).
  Result<config::Value> submit_job(const std::filesystem::path& job_folder);
  /// Downloads job `id` into `<dest>/<id>` (`<id>__1`, ... when it exists): meta.json, job/,
  /// workspace/. Returns the reply; its data names the folder.
  Result<config::Value> download_job(const std::string& id, const std::filesystem::path& dest);
  /// Downloads job `id`'s extra components (e.g. ERRORLOG_site-1) into `<dest>/<id>` as
  /// download_job names folders. Returns the reply (FLARE's "No additional job components found."
  /// when there are none).
  Result<config::Value> download_job_components(const std::string& id, const std::filesystem::path& dest);
  /// Follows job `id` until it finishes (FINISHED:*) or `timeout` passes (0: no limit). `progress`
  /// hears each status change. Returns the last status. Errors: DEADLINE_EXCEEDED, NOT_FOUND.
  Result<std::string> wait_for_job(const std::string& id, std::chrono::milliseconds timeout,
                                   const std::function<void(const std::string&)>& progress);

  /// Ends the session on the server (FLARE's `_logout`); later commands fail. Errors are ignored:
  /// a server that is gone has ended the session already.
  void logout();

  /// How long one command may take; connect()'s timeout until set.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  const runtime::AdminKit& kit() const { return kit_; }
  /// The server's session id (ssid) given at login.
  const std::string& ssid() const { return ssid_; }
  /// The server's address as the kit names it: "host:port".
  std::string server_address() const;

 private:
  AdminClient() = default;
  /// The server's reply to a job download; on success the zip it sent or offered is in `zip`.
  Result<config::Value> fetch(const std::string& id, bool components, const std::filesystem::path& zip);
  /// download_job (unpacked job and workspace) or download_job_components (as sent) into `dest`.
  Result<config::Value> download(const std::string& id, const std::filesystem::path& dest, bool components);
  runtime::AdminKit kit_;
  std::unique_ptr<cellnet::DriverRegistry> drivers_;
  std::unique_ptr<cellnet::Cell> cell_;
  std::unique_ptr<cellnet::DownloadService> downloads_;  // job uploads (made by the first submit_job)
  std::chrono::milliseconds timeout_{10000};
  std::string ssid_;
  bool logged_out_ = false;
};

/// The server's reply to a command as `nvflare admin -c` runs it: submit_job, download_job,
/// download_job_components and monitor_job are carried out here; the rest go to the server.
Result<config::Value> run_admin_command(AdminClient& client, const std::string& line);

}  // namespace nvf::tools
