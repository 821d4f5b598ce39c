// The interactive admin console as a person uses it: `nvflare admin` at a terminal (a pty) against
// a POC server, its transcript compared line by line with a golden file after masking what
// changes from run to run (times, durations, job ids, ports, paths, the session id). Also
// `nvflare authz_preview` on the kit's default policy, piped and at a terminal.
//
// To refresh the golden files after a deliberate change: NVF_UPDATE_GOLDEN=1 nvf_e2e_tests
// --gtest_filter='AdminConsoleTest.*', then review the diff.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "base/files.h"
#include "e2e_util.h"

extern char** environ;

namespace nvf::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A program at a terminal: what it printed (CR LF as LF) and a way to type. The terminal does not
// echo (libedit then echoes nothing either): a line typed while the program is between two reads
// would otherwise be echoed once by the terminal and again by libedit, depending on timing. The
// transcript shows each typed line where it was typed instead, as a person at the terminal sees it.
class PtySession {
 public:
  PtySession(const std::vector<std::string>& argv, const fs::path& cwd,
             const std::map<std::string, std::string>& env) {
    // Everything exec needs is made before the fork.
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      std::string key = kv.substr(0, kv.find('='));
      if (env.count(key) || key == "NVFLARE_STARTUP_KIT_DIR" || key == "NVFLARE_HOME") continue;
      envs.push_back(kv);
    }
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    const std::string dir = cwd.string();
    winsize ws{};
    ws.ws_row = 50;
    ws.ws_col = 200;
    pid_ = ::forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      termios t{};
      if (::tcgetattr(STDIN_FILENO, &t) == 0) {
        t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
      }
      if (::chdir(dir.c_str()) != 0) ::_exit(126);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
  }
  ~PtySession() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  bool started() const { return pid_ > 0; }

  // Reads until the transcript ends with `suffix`, the program closes the terminal, or the
  // deadline passes. Returns whether the suffix arrived.
  bool wait_for(const std::string& suffix,
                std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const auto deadline = Clock::now() + timeout;
    while (!ends_with(suffix)) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0 || !read_some(static_cast<int>(left))) return ends_with(suffix);
    }
    return true;
  }

  // Types a line; the next wait_for looks only at what is printed after it.
  void type(const std::string& line) {
    mark_ = output().size();
    typed_.emplace_back(mark_, line + "\n");
    std::string text = line + "\n";
    ASSERT_EQ(::write(fd_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }

  // Sends keystrokes as they are (no newline); `shown` is what the transcript shows for them.
  void keys(const std::string& bytes, const std::string& shown) {
    mark_ = output().size();
    typed_.emplace_back(mark_, shown);
    ASSERT_EQ(::write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  // Reads to the end and returns the exit code (-1 on a hang).
  int wait_exit(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return -1;
      if (!read_some(static_cast<int>(left))) break;
    }
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // What the program printed, with the typed lines where they were typed.
  std::string transcript() const {
    std::string out = output();
    for (auto it = typed_.rbegin(); it != typed_.rend(); ++it)
      out.insert(std::min(it->first, out.size()), it->second);
    return out;
  }

 private:
  std::string output() const {
    std::string out;
    for (char c : raw_) {
      if (c != '\r') out += c;
    }
    return out;
  }
  bool ends_with(const std::string& suffix) const {
    std::string t = output();
    return t.size() >= mark_ + suffix.size() &&
           t.compare(t.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  // One read, waiting at most `ms`; false at the end of output or on timeout.
  bool read_some(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return false;  // EIO: the program closed the terminal
    raw_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  std::string raw_;
  size_t mark_ = 0;
  std::vector<std::pair<size_t, std::string>> typed_;  // output position → the line typed there
};

class AdminConsoleTest : public PocE2eTest {
 protected:
  // FLARE's POC project on free ports, with a member admin.
  void SetUp() override { prepare_poc(1, kMemberAdmin); }

  // `nvflare args...` at a terminal (TERM=dumb: libedit edits lines without escape sequences).
  std::unique_ptr<PtySession> at_terminal(const std::vector<std::string>& args) {
    std::vector<std::string> argv{NVFLARE_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<PtySession>(
        argv, work_.path(),
        std::map<std::string, std::string>{{"HOME", home_.path().string()},
                                           {"NVFLARE_POC_WORKSPACE", ws().string()},
                                           {"TERM", "dumb"}});
  }

  // Types `line`, then reads until the next prompt.
  void command(PtySession& s, const std::string& line, const std::string& until = "\n> ") {
    s.type(line);
    EXPECT_TRUE(s.wait_for(until)) << "no '" << until << "' after " << line << ":\n"
                                   << s.transcript();
  }

  // What changes from run to run, replaced by names.
  std::string masked(std::string t, const std::string& job_id) {
    replace_all(t, job_id.empty() ? std::string("\x01") : job_id, "<job-id>");
    replace_all(t, NVF_SOURCE_DIR, "<source>");
    replace_all(t, work_.path().string(), "<work>");
    t = std::regex_replace(
        t, std::regex(R"(Done \[\d+ usecs\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?)"),
        "Done [<usecs> usecs] <datetime>");
    t = std::regex_replace(
        t, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d)"), "<submit-time>");
    t = std::regex_replace(t, std::regex(R"(localhost:\d+)"), "localhost:<port>");
    t = std::regex_replace(t, std::regex(R"(SSID: [0-9a-f-]{36})"), "SSID: <ssid>");
    return t;
  }

  // Compares line by line with tests/e2e/golden/<name> (or rewrites it with NVF_UPDATE_GOLDEN=1).
  void expect_golden(const std::string& text, const std::string& name) {
    const fs::path golden = fs::path(NVF_SOURCE_DIR) / "tests" / "e2e" / "golden" / name;
    if (std::getenv("NVF_UPDATE_GOLDEN") != nullptr) {
      ASSERT_TRUE(base::atomic_write(golden, text).ok());
      return;
    }
    auto want = base::read_file(golden);
    ASSERT_TRUE(want.ok()) << want.status().to_string();
    std::vector<std::string> got_lines, want_lines;
    for (auto* v : {&got_lines, &want_lines}) {
      std::istringstream in(v == &got_lines ? text : *want);
      for (std::string l; std::getline(in, l);) v->push_back(l);
    }
    for (size_t i = 0; i < std::max(got_lines.size(), want_lines.size()); ++i) {
      EXPECT_EQ(i < got_lines.size() ? got_lines[i] : "<missing>",
                i < want_lines.size() ? want_lines[i] : "<missing>")
          << name << " line " << i + 1;
    }
    EXPECT_EQ(text, *want) << "full transcript:\n" << text;
  }
};

// Ctrl-C drops the line being typed and prompts again (the console goes on); a session with no
// keystroke for admin.idle_timeout seconds (the kit's local/resources.json) logs out with FLARE's
// message and exits 0.
TEST_F(AdminConsoleTest, CtrlCDropsTheLineAndAnIdleSessionLogsOut) {
  auto start = nv({"poc", "start", "-p", "server"});
  ASSERT_EQ(start.exit_code, 0) << start.out;
  const fs::path kit = prod() / "admin@nvidia.com";
  config::Value resources = load(kit / "local" / "resources.json.default");
  resources["admin"]["idle_timeout"] = 2.0;
  save(kit / "local" / "resources.json", resources);

  auto admin = at_terminal({"admin", "-m", kit.string()});
  ASSERT_TRUE(admin->wait_for("\n> ")) << admin->transcript();
  admin->keys("list_jo", "list_jo");
  admin->keys("\x03", "^C\n");
  ASSERT_TRUE(admin->wait_for("> ", std::chrono::seconds(10)))
      << "no new prompt after Ctrl-C:\n" << admin->transcript();
  command(*admin, "check_status server");  // still logged in
  ASSERT_TRUE(admin->wait_for("Logging out due to inactivity for 2 seconds\n", std::chrono::seconds(30)))
      << admin->transcript();
  EXPECT_EQ(admin->wait_exit(), 0) << admin->transcript();
  const std::string t = admin->transcript();
  EXPECT_EQ(t.find("list_jo\n"), std::string::npos) << "the dropped line ran:\n" << t;
  EXPECT_NE(t.find("Engine status"), std::string::npos) << t;
}

// A console setting that makes no sense is refused before anything connects, naming the file and
// the field.
TEST_F(AdminConsoleTest, ABadIdleTimeoutIsRefusedNamingTheFile) {
  const fs::path kit = prod() / "admin@nvidia.com";
  for (const char* bad : {R"("soon")", "0", "-5"}) {
    ASSERT_TRUE(base::atomic_write(kit / "local" / "resources.json",
                                   std::string(R"({"admin": {"idle_timeout": )") + bad + "}}")
                    .ok());
    auto r = nv({"admin", "-m", kit.string(), "-c", "check_status server"});
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find((kit / "local" / "resources.json").string() + ": admin.idle_timeout"),
              std::string::npos)
        << bad << ":\n" << r.out;
  }
}

TEST_F(AdminConsoleTest, ATerminalSessionMatchesTheGoldenTranscript) {
  auto start = nv({"poc", "start", "-p", "server"});  // no clients: a submitted job stays queued
  ASSERT_EQ(start.exit_code, 0) << start.out;

  auto admin = at_terminal({"admin", "-m", (prod() / "admin@nvidia.com").string()});
  ASSERT_TRUE(admin->started());
  ASSERT_TRUE(admin->wait_for("\n> ")) << admin->transcript();
  command(*admin, "?");
  command(*admin, "check_status server");
  command(*admin, "list_jobs");
  command(*admin, "submit_job " + (fs::path(NVF_SOURCE_DIR) / "jobs" / "hello-numpy").string());
  std::smatch m;
  const std::string after_submit = admin->transcript();
  ASSERT_TRUE(std::regex_search(after_submit, m, std::regex("Submitted job: ([0-9a-f-]{36})")))
      << after_submit;
  const std::string id = m[1];
  command(*admin, "list_jobs");
  command(*admin, "cat server startup/../../etc/passwd");
  command(*admin, "abort_job " + id, "Are you sure (y/N): ");
  command(*admin, "y");
  admin->type("bye");
  EXPECT_EQ(admin->wait_exit(), 0) << admin->transcript();
  const std::string transcript = admin->transcript();
  EXPECT_EQ(transcript.find("root:"), std::string::npos) << "nothing of /etc/passwd may be shown";
  EXPECT_NE(transcript.find("Aborted the job " + id + " before running it."), std::string::npos)
      << transcript;
  expect_golden(masked(transcript, id), "admin_console_admin.txt");

  // The job was really aborted, as a second way of looking shows.
  auto meta =
      nv({"admin", "-m", (prod() / "admin@nvidia.com").string(), "-c", "get_job_meta " + id});
  EXPECT_NE(meta.out.find("\"status\": \"FINISHED:ABORTED\""), std::string::npos) << meta.out;

  // A member may look but not use the shell commands.
  auto member = at_terminal({"admin", "-m", (prod() / "member@nvidia.com").string()});
  ASSERT_TRUE(member->wait_for("\n> ")) << member->transcript();
  command(*member, "ls server");
  member->type("bye");
  EXPECT_EQ(member->wait_exit(), 0) << member->transcript();
  expect_golden(masked(member->transcript(), id), "admin_console_member.txt");
}

TEST_F(AdminConsoleTest, TheNewServerCommandsAnswerFromTheServersWorkspaceAndSessions) {
  ASSERT_EQ(nv({"poc", "start", "-p", "server"}).exit_code, 0);
  const std::string admin_kit = (prod() / "admin@nvidia.com").string();
  auto c = [&](const std::string& command, const std::string& kit) {
    return nv({"admin", "-m", kit, "-c", command});
  };
  // Piped into the console, two commands share one session; list_sessions shows it (and only it:
  // -c sessions log out when they end).
  RunResult piped = run_program(
      {"/bin/sh", "-c", "printf 'pwd server\\nlist_sessions\\n' | \"$0\" admin -m \"$1\"",
       NVFLARE_BIN, admin_kit},
      work_.path(), {{"HOME", home_.path().string()}, {"NVFLARE_POC_WORKSPACE", ws().string()}},
      std::chrono::seconds(60));
  EXPECT_EQ(piped.exit_code, 0) << piped.out;
  EXPECT_NE(piped.out.find("\n" + fs::canonical(prod() / "server").string() + "\nDone ["),
            std::string::npos)
      << piped.out;
  EXPECT_NE(piped.out.find("| User             | Org    | Role          | Session ID "),
            std::string::npos)
      << piped.out;
  EXPECT_EQ(std::count(piped.out.begin(), piped.out.end(), '\n'), 10)
      << "login 2, pwd + Done 2, a one-session table 5 + Done 1\n"
      << piped.out;
  EXPECT_EQ(piped.out.find("Type ? to list commands"), std::string::npos) << "no intro for a pipe";

  auto ls = c("ls server -a startup", admin_kit);
  EXPECT_EQ(ls.exit_code, 0) << ls.out;
  EXPECT_EQ(ls.out.substr(0, 5), ".\n..\n") << ls.out;
  EXPECT_NE(ls.out.find("\nfed_server.json\n"), std::string::npos) << ls.out;
  auto grep = c("grep server -n listening log.txt", admin_kit);
  EXPECT_EQ(grep.exit_code, 0) << grep.out;
  EXPECT_TRUE(std::regex_search(grep.out,
                                std::regex("(^|\n)[0-9]+:.*listening on grpcs://127\\.0\\.0\\.1:")))
      << grep.out;
  auto key = c("cat server startup/server.key", admin_kit);
  EXPECT_EQ(key.exit_code, 1) << key.out;
  EXPECT_NE(key.out.find("Error: this command cannot be applied to file startup/server.key."),
            std::string::npos)
      << key.out;
  EXPECT_EQ(key.out.find("PRIVATE KEY"), std::string::npos) << key.out;
  auto on_client = c("ls site-1", admin_kit);
  EXPECT_NE(on_client.out.find("Error: invalid client: site-1"), std::string::npos)
      << on_client.out;

  auto sys = c("sys_info server", admin_kit);
  EXPECT_EQ(sys.exit_code, 0) << sys.out;
  EXPECT_TRUE(std::regex_search(sys.out, std::regex("\\| total +\\| [1-9][0-9]* +\\|"))) << sys.out;
  EXPECT_NE(sys.out.find("| available_percent |"), std::string::npos) << sys.out;
  auto stats = c("show_stats 00000000-0000-4000-8000-000000000000 server", admin_kit);
  EXPECT_EQ(stats.exit_code, 1) << stats.out;
  EXPECT_NE(stats.out.find("Error: Job with ID 00000000-0000-4000-8000-000000000000 doesn't exist"),
            std::string::npos)
      << stats.out;
  auto remove = c("remove_client site-9", admin_kit);
  EXPECT_NE(remove.out.find("Error: invalid client: site-9"), std::string::npos) << remove.out;

  const std::string member_kit = (prod() / "member@nvidia.com").string();
  for (const char* denied :
       {"list_sessions", "sys_info server", "tail server log.txt", "remove_client site-1"}) {
    auto r = c(denied, member_kit);
    EXPECT_EQ(r.exit_code, 3) << denied << ": " << r.out;
    EXPECT_NE(r.out.find("Error: user 'member@nvidia.com' (role member) is not authorized"),
              std::string::npos)
        << denied << ": " << r.out;
  }
}

TEST_F(AdminConsoleTest, AuthzPreviewEvaluatesTheKitsDefaultPolicyPipedAndAtATerminal) {
  const fs::path policy = prod() / "server" / "local" / "authorization.json.default";
  ASSERT_TRUE(fs::exists(policy));
  const std::string lines =
      "eval_right nvidia submit_job admin@nvidia.com:nvidia:project_admin\\n"
      "eval_right nvidia submit_job member@nvidia.com:nvidia:member\\n"
      "eval_right nvidia abort_job lead@b.org:b:lead lead@b.org:b:lead\\n"
      "eval_right nvidia lead@b.org b lead abort_job other@b.org b lead\\n"
      "eval_right nvidia ls lead@b.org:b:lead\\n"
      "eval_right b ls lead@b.org:b:lead\\n"
      "show_roles\\n";
  RunResult piped =
      run_program({"/bin/sh", "-c", "printf '" + lines + "' | \"$0\" authz_preview -p \"$1\"",
                   NVFLARE_BIN, policy.string()},
                  work_.path(), {{"HOME", home_.path().string()}}, std::chrono::seconds(30));
  EXPECT_EQ(piped.exit_code, 0) << piped.out;
  EXPECT_EQ(piped.out,
            "True\nFalse\nTrue\nFalse\nFalse\nTrue\n"
            "-----------------\n| role          |\n-----------------\n| lead          |\n| member  "
            "      |\n"
            "| org_admin     |\n| project_admin |\n-----------------\n");

  auto tty = at_terminal({"authz_preview", "-p", policy.string()});
  ASSERT_TRUE(tty->wait_for("Type help or ? to list commands.\n> ")) << tty->transcript();
  command(*tty, "eval_right nvidia view member@nvidia.com:nvidia:member");
  tty->type("bye");
  EXPECT_EQ(tty->wait_exit(), 0) << tty->transcript();
  EXPECT_EQ(tty->transcript(),
            "Type help or ? to list commands.\n> eval_right nvidia view "
            "member@nvidia.com:nvidia:member\nTrue\n> bye\n");

  RunResult bad = run_nvflare({"authz_preview", "-p", (work_.path() / "project.yml").string()},
                              work_.path(), {{"HOME", home_.path().string()}});
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("Policy config error: "), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace nvf::e2e
