#include "base/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <limits>

#include "base/files.h"
#include "base/strings.h"

extern char** environ;

namespace nvf::base {
namespace {

constexpr int kLifelineChildFd = 3;

ExitInfo decode(int wstatus) {
  ExitInfo info;
  if (WIFEXITED(wstatus)) {
    info.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    info.signal = WTERMSIG(wstatus);
  }
  return info;
}

std::vector<std::string> build_env(const SpawnOptions& o) {
  std::vector<std::string> out;
  std::set<std::string> drop(o.env_unset.begin(), o.env_unset.end());
  for (const auto& [k, v] : o.env_set) drop.insert(k);
  drop.insert("NVF_LIFELINE_FD");
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    std::string key(kv.substr(0, eq));
    if (drop.count(key)) continue;
    out.emplace_back(kv);
  }
  for (const auto& [k, v] : o.env_set) out.push_back(k + "=" + v);
  if (o.lifeline) out.push_back("NVF_LIFELINE_FD=" + std::to_string(kLifelineChildFd));
  return out;
}

}  // namespace

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_) {
    // The owner forgot to reap: do not leave a running orphan behind.
    terminate(std::chrono::milliseconds(2000)).status().ignore();
  }
  cut_lifeline();
  if (output_fd_ >= 0) ::close(output_fd_);
  if (pidfd_ >= 0) ::close(pidfd_);
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(o.pid_), pgid_(o.pgid_), group_leader_(o.group_leader_), lifeline_fd_(o.lifeline_fd_),
      output_fd_(o.output_fd_), pidfd_(o.pidfd_), exit_(o.exit_) {
  o.pid_ = -1;
  o.lifeline_fd_ = -1;
  o.output_fd_ = -1;
  o.pidfd_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    this->~ChildProcess();
    new (this) ChildProcess(std::move(o));
  }
  return *this;
}

void ChildProcess::cut_lifeline() {
  if (lifeline_fd_ >= 0) {
    ::close(lifeline_fd_);
    lifeline_fd_ = -1;
  }
}

std::optional<ExitInfo> ChildProcess::poll() {
  if (exit_) return exit_;
  if (pid_ <= 0) return std::nullopt;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) exit_ = decode(st);
  return exit_;
}

Result<ExitInfo> ChildProcess::wait() {
  if (exit_) return *exit_;
  if (pid_ <= 0) return FailedPreconditionError("no child process to wait for");
  int st = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &st, 0);
    if (r == pid_) break;
    if (r < 0 && errno == EINTR) continue;
    return InternalError("waitpid(" + std::to_string(pid_) + ") failed: " + errno_text(errno));
  }
  exit_ = decode(st);
  return *exit_;
}

Result<ExitInfo> ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (auto e = poll()) return *e;
  if (pid_ <= 0) return FailedPreconditionError("no child process to wait for");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // A pidfd becomes readable when the child exits: no polling loop with sleeps.
  if (pidfd_ >= 0) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) left = std::chrono::milliseconds(0);
      struct pollfd p{pidfd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r > 0) return wait();
      if (auto e = poll()) return *e;
      return DeadlineExceededError("process " + std::to_string(pid_) + " still running after " +
                                   std::to_string(timeout.count()) + " ms");
    }
  }
  // Without pidfd (old kernels): short waits are acceptable as a fallback.
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto e = poll()) return *e;
    struct timespec ts{0, 5'000'000};
    ::nanosleep(&ts, nullptr);
  }
  if (auto e = poll()) return *e;
  return DeadlineExceededError("process " + std::to_string(pid_) + " still running after " +
                               std::to_string(timeout.count()) + " ms");
}

void ChildProcess::signal_all(int sig) {
  if (group_leader_) {
    ::kill(-pgid_, sig);
  } else if (!exit_) {
    ::kill(pid_, sig);
  }
}

Result<ExitInfo> ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return FailedPreconditionError("no child process to terminate");
  if (!poll()) {
    signal_all(SIGTERM);
    auto r = wait(grace);
    if (r.ok()) {
      if (group_leader_) ::kill(-pgid_, SIGKILL);  // stragglers in the group
      return r;
    }
    signal_all(SIGKILL);
    return wait();
  }
  if (group_leader_) ::kill(-pgid_, SIGKILL);
  return *exit_;
}

Result<ChildProcess> spawn(const SpawnOptions& o) {
  if (o.argv.empty() || o.argv[0].empty()) return InvalidArgumentError("spawn: empty command");

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  struct Cleanup {
    posix_spawn_file_actions_t* fa;
    posix_spawnattr_t* attr;
    std::vector<int> fds;
    ~Cleanup() {
      posix_spawn_file_actions_destroy(fa);
      posix_spawnattr_destroy(attr);
      for (int fd : fds)
        if (fd >= 0) ::close(fd);
    }
  } cleanup{&fa, &attr, {}};

  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (o.new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);

  if (o.stdin_null) posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);

  int out_pipe[2] = {-1, -1};
  if (o.capture_output) {
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) return InternalError("pipe: " + errno_text(errno));
    cleanup.fds.push_back(out_pipe[1]);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 2);
  }
  if (o.stdout_path) {
    posix_spawn_file_actions_addopen(&fa, 1, o.stdout_path->c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  if (o.stderr_path) {
    posix_spawn_file_actions_addopen(&fa, 2, o.stderr_path->c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }

  int life[2] = {-1, -1};
  if (o.lifeline) {
    if (::pipe2(life, O_CLOEXEC) != 0) return InternalError("pipe: " + errno_text(errno));
    cleanup.fds.push_back(life[0]);
    posix_spawn_file_actions_adddup2(&fa, life[0], kLifelineChildFd);
  }
  // Everything else the parent holds (sockets, other children's pipes) stays out of the child.
  posix_spawn_file_actions_addclosefrom_np(&fa, o.lifeline ? kLifelineChildFd + 1 : 3);
  if (!o.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&fa, o.working_dir.c_str());
  }

  std::vector<std::string> env = build_env(o);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = o.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  if (rc != 0) {
    if (o.lifeline) ::close(life[1]);
    if (o.capture_output) ::close(out_pipe[0]);
    std::string msg = "cannot start '" + o.argv[0] + "': " + errno_text(rc);
    if (rc == ENOENT) return NotFoundError(msg + " (is it installed and on PATH?)");
    if (rc == EACCES) return PermissionDeniedError(msg);
    return InternalError(msg);
  }
  ChildProcess child;
  child.pid_ = pid;
  child.group_leader_ = o.new_session;
  child.pgid_ = o.new_session ? pid : ::getpgid(0);
  child.lifeline_fd_ = o.lifeline ? life[1] : -1;
  child.output_fd_ = o.capture_output ? out_pipe[0] : -1;
#ifdef SYS_pidfd_open
  child.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (child.pidfd_ >= 0) ::fcntl(child.pidfd_, F_SETFD, FD_CLOEXEC);
#endif
  return child;
}

int inherited_lifeline_fd() {
  const char* v = std::getenv("NVF_LIFELINE_FD");
  if (!v) return -1;
  const int fd = static_cast<int>(parse_int(v, 0, std::numeric_limits<int>::max()).value_or(-1));
  if (fd < 3 || ::fcntl(fd, F_GETFD) < 0) return -1;
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

bool wait_for_lifeline(int fd, int stop_fd) {
  struct pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  int n = stop_fd >= 0 ? 2 : 1;
  for (;;) {
    int r = ::poll(p, static_cast<nfds_t>(n), -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (n == 2 && p[1].revents) return false;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char c;
      ssize_t k = ::read(fd, &c, 1);
      if (k <= 0) return true;
    }
  }
}

bool wait_for_exit(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;  // no such process: gone already
  bool gone = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (r > 0) {
      gone = true;
      break;
    }
    if (r < 0 && errno != EINTR) break;
  }
  ::close(fd);
  return gone;
}

std::optional<pid_t> read_pid_file(const std::filesystem::path& file) {
  auto text = read_file(file);
  if (!text.ok()) return std::nullopt;
  auto pid = parse_int(trim(*text), 2, std::numeric_limits<pid_t>::max());
  if (pid) return static_cast<pid_t>(*pid);
  return std::nullopt;
}

bool process_running(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return true;
  auto close = stat->rfind(')');  // the state follows the command name in parentheses
  return close == std::string::npos || close + 2 >= stat->size() || (*stat)[close + 2] != 'Z';
}

bool local_port_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

std::string process_start_time(pid_t pid) {
  if (pid <= 0) return "";
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return "";
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses: count from its end.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return field;
  }
  return "";
}

Status write_owner_file(const std::filesystem::path& file, pid_t pid) {
  return atomic_write(file, std::to_string(pid) + " " + process_start_time(pid) + "\n");
}

std::optional<pid_t> owner_alive(const std::filesystem::path& file) {
  auto text = read_file(file);
  if (!text.ok()) return std::nullopt;
  std::istringstream in(*text);
  std::string pid_text, started;
  if (!(in >> pid_text >> started)) return std::nullopt;
  auto pid = parse_int(pid_text, 1, std::numeric_limits<pid_t>::max());
  if (!pid || process_start_time(static_cast<pid_t>(*pid)) != started) return std::nullopt;
  return static_cast<pid_t>(*pid);
}

std::vector<pid_t> processes_with_env(const std::map<std::string, std::string>& env) {
  std::vector<pid_t> out;
  std::vector<std::string> wanted;
  for (const auto& [k, v] : env) wanted.push_back(k + "=" + v);
  std::error_code ec;
  const pid_t self = ::getpid();
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(parse_int(name).value_or(0));
    if (pid == self) continue;
    std::ifstream in(it->path() / "environ", std::ios::binary);
    if (!in) continue;  // gone, or not ours to read
    std::string environ((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t matched = 0;
    for (size_t at = 0; at < environ.size();) {
      size_t end_at = environ.find('\0', at);
      if (end_at == std::string::npos) end_at = environ.size();
      std::string_view entry(environ.data() + at, end_at - at);
      for (const auto& w : wanted) {
        if (entry == w) ++matched;
      }
      at = end_at + 1;
    }
    if (matched == wanted.size() && !wanted.empty()) out.push_back(pid);
  }
  return out;
}

void kill_group_of(pid_t pid, int sig) {
  if (pid <= 0) return;
  const pid_t group = ::getpgid(pid);
  if (group > 0 && group != ::getpgrp()) {
    ::kill(-group, sig);
  } else {
    ::kill(pid, sig);
  }
}

}  // namespace nvf::base
