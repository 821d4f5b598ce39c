// Helpers for end-to-end tests: run the built nvflare with arguments and an environment, collect
// its exit code and output. Each test makes its own temporary HOME and work directory.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
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

/// Waits until `ready()` holds or `timeout` passes, waking on every change of the files in `dirs`
/// (inotify: a log line written, pid.fl rewritten) instead of on a timer. Returns ready().
bool wait_until(const std::vector<std::filesystem::path>& dirs, std::chrono::seconds timeout,
                const std::function<bool()>& ready);
/// Waits until `file` contains `text` (wait_until on its folder).
bool wait_for_text(const std::filesystem::path& file, const std::string& text, std::chrono::seconds timeout);

/// A fresh temporary directory, removed by the destructor.
/// Whether this build has the LibTorch trainer (nvflare train; the tsan preset has not).
#ifdef NVF_TEST_WITH_LIBTORCH
inline constexpr bool kWithLibTorch = true;
#else
inline constexpr bool kWithLibTorch = false;
#endif
/// Skips a test that trains with LibTorch in a build without it.
#define NVF_SKIP_WITHOUT_LIBTORCH() \
  if (!::nvf::e2e::kWithLibTorch) GTEST_SKIP() << "built without LibTorch (NVF_WITH_TORCH=OFF)"

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

/// A test with a POC system of its own: FLARE's POC project moved to free ports (and extended
/// with `extra_admins`, project.yml lines of admin participants) and provisioned into
/// <work>/poc by prepare_poc(); TearDown() runs `poc stop`.
class PocE2eTest : public E2eTest {
 protected:
  /// A member admin of org nvidia and a lead admin of org b, as project.yml participants.
  static constexpr const char* kMemberAdmin =
      "  - name: member@nvidia.com\n    type: admin\n    org: nvidia\n    role: member\n";
  static constexpr const char* kLeadOfOrgB =
      "  - name: lead@b.org\n    type: admin\n    org: b\n    role: lead\n";

  /// `poc prepare -n clients` in a scratch folder for FLARE's project.yml, then `poc prepare -i`
  /// of it on two distinct free ports with `extra_admins` added. Fails the test on any error.
  /// With `without_localhost`, the project file names no host: the server is just `server`
  /// (POC must still run everything on this machine). A non-empty `scheme` replaces the
  /// project's `scheme: grpc`.
  void prepare_poc(int clients, const std::string& extra_admins = "", bool without_localhost = false,
                   const std::string& scheme = "");
  /// After a failure, the warnings and errors of the daemons' and jobs' logs go to the test's
  /// output (the workspace is removed with the test), then `poc stop`.
  void TearDown() override;
  void print_log_problems();

  RunResult run_env(const std::vector<std::string>& args, const std::filesystem::path& ws,
                    std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::map<std::string, std::string> env = extra_env_;
    env["HOME"] = home_.path().string();
    env["NVFLARE_POC_WORKSPACE"] = ws.string();
    return run_nvflare(args, work_.path(), env, timeout);
  }
  RunResult nv(const std::vector<std::string>& args) { return run_env(args, ws()); }
  /// `nvflare admin -c command` as `who` (an admin kit of the POC project).
  RunResult admin(const std::string& command, const std::string& who = "admin@nvidia.com") {
    return nv({"admin", "-m", (prod() / who).string(), "-c", command});
  }
  std::filesystem::path ws() { return work_.path() / "poc"; }
  /// `poc start -p` site-1..site-`normal`, then each of `slow` with its client jobs taking 4 s to
  /// start (NVFLARE_TEST_CLIENT_JOB_START_DELAY_MS). Fails the test when one does not start.
  void start_sites(int normal, const std::vector<std::string>& slow);
  /// `job submit --wait` of a hello-numpy job (`sub`) ended FINISHED:COMPLETED, and the global
  /// model it left is exactly [4 .. 12] (three rounds of +1 from [1 .. 9]). Returns the job id.
  std::string expect_exact_hello_numpy(const RunResult& sub);
  /// The job id in "Submitted job: <id>" ("" when there is none).
  static std::string submitted_id(const std::string& out);
  /// A job of this repository (jobs/NAME).
  static std::filesystem::path source_job(const std::string& name);
  /// hello-numpy deployed to site-1..site-`sites` (all of them named, whether they run or not),
  /// needing `min_clients`, in <work>/job<sites>.
  std::filesystem::path hello_numpy_for_sites(int sites, int min_clients);
  /// After such a job `id` completed without `missing` (a site that never started) and with `slow`
  /// (sites whose client jobs started late): the server log names `missing` as left out, nobody
  /// was declared dead, the global model is exactly [4 .. 12], and the slow sites ran the job.
  void expect_completed_without(const std::string& id, const std::string& missing,
                                const std::vector<std::string>& slow);
  std::filesystem::path prod() { return ws() / "example_project" / "prod_00"; }

  std::string project_yml_;  // what prepare_poc() provisioned
  std::map<std::string, std::string> extra_env_;  // added to every command's environment
  int fl_port_ = 0, admin_port_ = 0;
};

}  // namespace nvf::e2e
