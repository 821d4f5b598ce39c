#include "base/process.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "base/files.h"

namespace nvf::base {
namespace {

using namespace std::chrono_literals;

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(ProcessTest, RunsArgvWithoutShellAndReportsExitCode) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "echo \"$0|$1\"; exit 7", "a b", "$HOME"};
  o.capture_output = true;
  auto child = spawn(o);
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  std::string out = read_all(child->output_fd());
  auto exit = child->wait(10s);
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->exit_code, 7);
  EXPECT_EQ(out, "a b|$HOME\n");  // arguments pass through unexpanded
}

TEST(ProcessTest, SetsEnvAndWorkingDir) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "echo \"$NVF_TEST_VAR\"; pwd"};
  o.env_set["NVF_TEST_VAR"] = "hello";
  o.working_dir = "/";
  o.capture_output = true;
  auto child = spawn(o);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(read_all(child->output_fd()), "hello\n/\n");
  EXPECT_EQ(child->wait(10s)->exit_code, 0);
}

TEST(ProcessTest, MissingProgramIsNotFound) {
  SpawnOptions o;
  o.argv = {"nvf-no-such-program-xyz"};
  auto child = spawn(o);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), StatusCode::kNotFound);
  EXPECT_NE(child.status().message().find("nvf-no-such-program-xyz"), std::string::npos);
}

TEST(ProcessTest, DoesNotLeakParentDescriptors) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);  // deliberately without O_CLOEXEC
  SpawnOptions o;
  o.argv = {"sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"};
  o.capture_output = true;
  auto child = spawn(o);
  ASSERT_TRUE(child.ok());
  std::string out = read_all(child->output_fd());
  EXPECT_TRUE(child->wait(10s).ok());
  ::close(p[0]);
  ::close(p[1]);
  // 0,1,2 and the fd `ls` opens for the directory (3) only.
  EXPECT_EQ(out.find(" " + std::to_string(p[1]) + " "), std::string::npos) << out;
  EXPECT_EQ(out.rfind("0 1 2 ", 0), 0u) << out;
}

TEST(ProcessTest, LifelineReportsParentGone) {
  SpawnOptions o;
  // The child reads fd 3 until EOF, then prints and exits.
  o.argv = {"sh", "-c", "cat <&\"$NVF_LIFELINE_FD\" >/dev/null; echo gone"};
  o.lifeline = true;
  o.capture_output = true;
  auto child = spawn(o);
  ASSERT_TRUE(child.ok());
  auto early = child->wait(50ms);
  EXPECT_EQ(early.status().code(), StatusCode::kDeadlineExceeded);
  child->cut_lifeline();
  EXPECT_EQ(read_all(child->output_fd()), "gone\n");
  EXPECT_EQ(child->wait(10s)->exit_code, 0);
}

TEST(ProcessTest, TerminateKillsWholeGroup) {
  SpawnOptions o;
  // A child that ignores SIGTERM and has a grandchild: both must be gone after terminate().
  o.argv = {"sh", "-c", "trap '' TERM; sleep 60 & echo $!; wait"};
  o.new_session = true;
  o.capture_output = true;
  auto child = spawn(o);
  ASSERT_TRUE(child.ok());
  char buf[64] = {};
  ssize_t n = ::read(child->output_fd(), buf, sizeof(buf) - 1);
  ASSERT_GT(n, 0);
  pid_t grandchild = static_cast<pid_t>(std::stol(buf));
  // A pidfd of the grandchild (not our child) becomes readable when it has exited.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, grandchild, 0));
  ASSERT_GE(pidfd, 0);
  auto exit = child->terminate(200ms);
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->signal, SIGKILL);
  struct pollfd p{pidfd, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 5000), 1) << "the grandchild in the group is still running";
  ::close(pidfd);
}

TEST(ProcessTest, PidFilesRunningProcessesAndLocalPorts) {
  auto dir = make_temp_dir("nvf-pid-test");
  ASSERT_TRUE(dir.ok());
  ScopedRemove cleanup(*dir);
  ASSERT_TRUE(atomic_write(*dir / "pid.fl", std::to_string(::getpid()) + "\n").ok());
  ASSERT_TRUE(atomic_write(*dir / "bad.fl", "not a pid").ok());
  EXPECT_EQ(read_pid_file(*dir / "pid.fl"), ::getpid());
  EXPECT_EQ(read_pid_file(*dir / "bad.fl"), std::nullopt);
  EXPECT_EQ(read_pid_file(*dir / "missing.fl"), std::nullopt);
  EXPECT_TRUE(process_running(::getpid()));
  // A child that exited and was reaped is gone.
  SpawnOptions o;
  o.argv = {"true"};
  auto child = spawn(o);
  ASSERT_TRUE(child.ok());
  pid_t pid = child->pid();
  ASSERT_TRUE(child->wait(std::chrono::seconds(10)).ok());
  EXPECT_FALSE(process_running(pid));
  // A listening socket accepts; once closed, its port does not.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  EXPECT_TRUE(local_port_accepts(port));
  ::close(fd);
  EXPECT_FALSE(local_port_accepts(port));
}

TEST(ProcessTest, ProcessesAreFoundByTheEnvironmentTheyWereStartedWith) {
  const std::string mark = "mark-" + std::to_string(::getpid());
  SpawnOptions so;
  so.argv = {"/bin/sh", "-c", "echo ready; exec sleep 30"};
  so.env_set = {{"NVF_TEST_JOB", mark}, {"NVF_TEST_SITE", "site-1"}};
  so.new_session = true;
  so.capture_output = true;
  auto child = spawn(so);
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  char ready[6] = {};
  ASSERT_EQ(::read(child->output_fd(), ready, 5), 5);  // it runs: its environment is in /proc
  EXPECT_EQ(processes_with_env({{"NVF_TEST_JOB", mark}, {"NVF_TEST_SITE", "site-1"}}),
            std::vector<pid_t>{child->pid()});
  EXPECT_TRUE(processes_with_env({{"NVF_TEST_JOB", mark}, {"NVF_TEST_SITE", "site-2"}}).empty());
  kill_group_of(child->pid(), SIGKILL);
  auto exit = child->wait();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_TRUE(processes_with_env({{"NVF_TEST_JOB", mark}}).empty());
  // An owner record names one process: this one lives, a made-up start time does not.
  auto dir = make_temp_dir("nvf-owner-test");
  ASSERT_TRUE(dir.ok());
  ScopedRemove remove(*dir);
  ASSERT_TRUE(write_owner_file(*dir / "owner", ::getpid()).ok());
  EXPECT_EQ(owner_alive(*dir / "owner"), std::optional<pid_t>(::getpid()));
  ASSERT_TRUE(atomic_write(*dir / "owner", std::to_string(::getpid()) + " 1\n").ok());
  EXPECT_FALSE(owner_alive(*dir / "owner"));
}

}  // namespace
}  // namespace nvf::base
