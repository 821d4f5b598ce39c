// Child processes started with posix_spawn (never fork after threads exist).
//
// A ChildProcess is owned by whoever spawned it; its methods may be called from one thread at a
// time. Inherited descriptors are closed in the child except stdin/stdout/stderr and, when asked,
// the read end of a lifeline pipe (passed as fd 3, announced in NVF_LIFELINE_FD): the child sees
// EOF on it when the parent dies, however the parent died.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace nvf::base {

struct SpawnOptions {
  std::vector<std::string> argv;                   // argv[0] is the program (PATH is searched)
  std::map<std::string, std::string> env_set;      // added to (or replacing in) the inherited env
  std::vector<std::string> env_unset;              // removed from the inherited env
  std::filesystem::path working_dir;               // empty: inherit
  bool new_session = false;                        // setsid(): its own process group
  bool lifeline = false;                           // pass a lifeline pipe as fd 3
  std::optional<std::filesystem::path> stdout_path;  // append stdout here (else inherit)
  std::optional<std::filesystem::path> stderr_path;  // append stderr here (else inherit)
  bool capture_output = false;  // stdout+stderr into a pipe readable via output_fd()
  bool stdin_null = true;       // stdin from /dev/null
};

struct ExitInfo {
  int exit_code = -1;   // valid when !signaled
  int signal = 0;       // terminating signal, 0 if exited
  bool signaled() const { return signal != 0; }
  /// Shell convention: exit code, or 128+signal.
  int shell_code() const { return signaled() ? 128 + signal : exit_code; }
};

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  pid_t pid() const { return pid_; }
  /// The child's process group (its pid when spawned with new_session).
  pid_t pgid() const { return pgid_; }
  /// Read end of the captured stdout/stderr pipe, or -1.
  int output_fd() const { return output_fd_; }

  /// Waits until the child exits or `timeout` passes (DEADLINE_EXCEEDED).
  Result<ExitInfo> wait(std::chrono::milliseconds timeout);
  /// Waits without a deadline.
  Result<ExitInfo> wait();
  /// Non-blocking: the exit info if the child has exited.
  std::optional<ExitInfo> poll();

  /// SIGTERM to the child (its group when it leads one), then SIGKILL after `grace`.
  Result<ExitInfo> terminate(std::chrono::milliseconds grace);

  /// Closes the write end of the lifeline: the child sees EOF.
  void cut_lifeline();

 private:
  friend Result<ChildProcess> spawn(const SpawnOptions& options);
  void signal_all(int sig);

  pid_t pid_ = -1;
  pid_t pgid_ = -1;
  bool group_leader_ = false;
  int lifeline_fd_ = -1;
  int output_fd_ = -1;
  int pidfd_ = -1;
  std::optional<ExitInfo> exit_;
};

/// Starts a child. Errors: NOT_FOUND (program), INVALID_ARGUMENT (empty argv), others from errno.
Result<ChildProcess> spawn(const SpawnOptions& options);

/// In a child started with `lifeline`: the fd to watch (from NVF_LIFELINE_FD), or -1.
int inherited_lifeline_fd();

/// The pid in a pid file (FLARE's pid.fl, daemon_pid.fl), or nullopt when the file is missing or
/// holds no pid above 1.
std::optional<pid_t> read_pid_file(const std::filesystem::path& file);

/// True when process `pid` exists and is not a zombie waiting for its parent (a container's init
/// may never reap them).
bool process_running(pid_t pid);

/// The start time of process `pid` (field 22 of /proc/<pid>/stat, clock ticks since boot), or ""
/// when there is no such process. With the pid it names one process for good: a pid is reused,
/// a (pid, start time) pair is not.
std::string process_start_time(pid_t pid);

/// Writes "<pid> <start time>" of `pid` to `file` (atomically): a record that another process can
/// check with owner_alive() after `pid`'s parent died.
Status write_owner_file(const std::filesystem::path& file, pid_t pid);

/// The pid an owner file names when that very process is alive; nullopt when the file is missing
/// or malformed, or the process is gone (or the pid now belongs to another process).
std::optional<pid_t> owner_alive(const std::filesystem::path& file);

/// The live processes of this user (other than this one) whose environment holds every pair of
/// `env` (read from /proc/<pid>/environ, as set when they were started).
std::vector<pid_t> processes_with_env(const std::map<std::string, std::string>& env);

/// Sends `sig` to the process group of `pid`, unless that is this process's own group (then to
/// `pid` alone).
void kill_group_of(pid_t pid, int sig);

/// True when something accepts TCP connections on 127.0.0.1:`port` now.
bool local_port_accepts(int port);

/// Waits until process `pid` (not necessarily our child) no longer exists or `deadline` passes
/// (a pidfd where the kernel has them). Returns true when it is gone.
bool wait_for_exit(pid_t pid, std::chrono::steady_clock::time_point deadline);

/// Blocks until `fd` reports EOF/hang-up or `stop_fd` becomes readable. Returns true on EOF.
bool wait_for_lifeline(int fd, int stop_fd);

}  // namespace nvf::base
