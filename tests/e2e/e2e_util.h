// Helpers for end-to-end tests: run the built nvflare with arguments and an environment, collect
// its exit code and output. Each test makes its own temporary HOME and work directory.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/value.h"

namespace nvf::e2e {

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr, interleaved
};

/// Runs `argv` (argv[0] searched on PATH) in `cwd` with `env` added; fails the test and kills
/// the program when it runs longer than `timeout`.
RunResult run_program(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                      const std::map<std::string, std::string>& env, std::chrono::seconds timeout);

/// Runs `nvflare args...` in `cwd` with `env` added; fails the test on a hang (`timeout`).
RunResult run_nvflare(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                      const std::map<std::string, std::string>& env,
                      std::chrono::seconds timeout = std::chrono::seconds(60));

/// A TCP port free on 127.0.0.1 now, below the kernel's ephemeral range (32768 and up on Linux),
/// so that no outgoing connection takes it before a server binds it.
int free_port();

/// Replaces every occurrence of `from` (not empty) in `s`.
void replace_all(std::string& s, const std::string& from, const std::string& to);

/// The pid written in a pid file (pid.fl, daemon_pid.fl), or nullopt.
std::optional<pid_t> read_pid(const std::filesystem::path& file);

/// True when a live process (not a zombie: a container's init may never reap them) has this pid,
/// or, with `as_group`, belongs to this process group.
bool running(pid_t pid, bool as_group = false);

/// True when something accepts TCP connections on 127.0.0.1:port now.
bool accepts(int port);

/// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// A test with its own HOME and work folder, running nvflare there.
class E2eTest : public ::testing::Test {
 protected:
  RunResult run(const std::vector<std::string>& args) {
    return run_nvflare(args, work_.path(), {{"HOME", home_.path().string()}});
  }
  /// Loads a config file, failing the test (and returning null) when it does not parse.
  config::Value load(const std::filesystem::path& p);
  void save(const std::filesystem::path& p, const config::Value& v);

  TempDir home_;
  TempDir work_;
};

}  // namespace nvf::e2e
