// The admin commands that act on the daemons themselves, on a POC federation as a user runs it:
// `restart` (the daemon exits without shutdown.fl and its sub_start.sh watchdog starts it again;
// refused while a job runs; operate, so a member is denied), the site reports of the server and a
// client (report_env, report_resources, show_scopes), log levels, app_command, a finished job's
// extra components (list_job, download_job_components), and the workspace shell commands and
// sys_info on a client, which the client authorizes with its own policy; a client that stops
// leaves the server's list at once.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <thread>

#include "base/files.h"
#include "base/strings.h"
#include "e2e_util.h"

namespace nvf::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class AdminCommandsTest : public PocE2eTest {
 protected:
  void SetUp() override { prepare_poc(2, std::string(kMemberAdmin) + kLeadOfOrgB); }
  fs::path job(const std::string& name) { return fs::path(NVF_SOURCE_DIR) / "jobs" / name; }

  // The client has registered with the server (its log says so), within 60 s.
  bool registered(const std::string& site) {
    const fs::path log = prod() / site / "log.txt";
    return wait_until({prod() / site}, std::chrono::seconds(60), [&] {
      auto t = base::read_file(log);
      return t.ok() && t->find("Successfully registered client:" + site) != std::string::npos;
    });
  }

  // hello-numpy for the server and site-1; site-2's trainer says it started (through `fifo`) and
  // then never answers, so the job stays RUNNING until it is aborted.
  fs::path slow_job(const fs::path& fifo) {
    fs::path dir = work_.path() / "slow-job";
    std::error_code ec;
    fs::copy(job("hello-numpy"), dir, fs::copy_options::recursive, ec);
    fs::copy(dir / "app", dir / "app_slow", fs::copy_options::recursive, ec);
    config::Value meta = load(dir / "meta.json");
    meta["deploy_map"] = {{"app", {"server", "site-1"}}, {"app_slow", {"site-2"}}};
    meta["min_clients"] = 2;
    save(dir / "meta.json", meta);
    config::Value c = load(dir / "app_slow" / "config" / "config_fed_client.json");
    c["trainer_command"] = "/bin/sh -c 'echo started > " + fifo.string() + "; exec sleep 600'";
    save(dir / "app_slow" / "config" / "config_fed_client.json", c);
    return dir;
  }

};

TEST_F(AdminCommandsTest, RestartAllBringsTheServerAndTheClientsBackUnderTheirWatchdogs) {
  ASSERT_EQ(nv({"poc", "start", "-ex", "admin@nvidia.com"}).exit_code, 0);
  ASSERT_TRUE(registered("site-1"));
  ASSERT_TRUE(registered("site-2"));
  auto server_pid = read_pid(prod() / "server" / "pid.fl");
  auto client_pid = read_pid(prod() / "site-1" / "pid.fl");
  auto watchdog = read_pid(prod() / "server" / "daemon_pid.fl");
  ASSERT_TRUE(server_pid && client_pid && watchdog);

  auto r = admin("restart all");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Trying to restart all clients before restarting server..."), std::string::npos) << r.out;
  // A client may stop before its answer is out: then the server reports the order as given.
  for (const char* site : {"site-1", "site-2"}) {
    EXPECT_TRUE(r.out.find(std::string(site) + ": restarting") != std::string::npos ||
                r.out.find(std::string(site) + ": restart ordered") != std::string::npos)
        << r.out;
  }
  EXPECT_NE(r.out.find("Server scheduled for restart"), std::string::npos) << r.out;

  // The watchdog starts a new server process (pid.fl changes), which accepts connections again.
  const fs::path server = prod() / "server";
  ASSERT_TRUE(wait_until({server}, std::chrono::seconds(60), [&] {
    auto now = read_pid(server / "pid.fl");
    return now && *now != *server_pid && running(*now) && accepts(fl_port_) && accepts(admin_port_);
  })) << "the server did not come back";
  EXPECT_FALSE(fs::exists(server / "shutdown.fl"));
  EXPECT_FALSE(running(*server_pid));
  EXPECT_EQ(read_pid(server / "daemon_pid.fl"), watchdog) << "the same watchdog restarted it";
  auto log = base::read_file(server / "log.txt");
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("restarting: restart requested by admin@nvidia.com"), std::string::npos);

  const fs::path site1 = prod() / "site-1";
  ASSERT_TRUE(wait_until({site1}, std::chrono::seconds(60), [&] {
    auto now = read_pid(site1 / "pid.fl");
    return now && *now != *client_pid && running(*now);
  })) << "site-1 did not come back";
  EXPECT_FALSE(fs::exists(site1 / "shutdown.fl"));

  // The restarted client registers with the restarted server, which answers for it.
  ASSERT_TRUE(wait_until({site1}, std::chrono::seconds(60), [&] {
    auto t = base::read_file(site1 / "log.txt");
    const std::string line = "Successfully registered client:site-1";
    return t.ok() && t->find(line) != t->rfind(line);  // registered twice: before and after
  }));
  auto status = admin("check_status server");
  EXPECT_EQ(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find("Engine status: started"), std::string::npos) << status.out;
}

TEST_F(AdminCommandsTest, RestartIsRefusedWhileAJobRunsAndTheRunningJobTakesLogLevelsAndShowsStatsAndErrors) {
  ASSERT_EQ(nv({"poc", "start", "-ex", "admin@nvidia.com"}).exit_code, 0);
  fs::path fifo = work_.path() / "started.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto sub = nv({"job", "submit", "-j", slow_job(fifo).string()});
  ASSERT_EQ(sub.exit_code, 0) << sub.out;
  auto at = sub.out.find("Submitted job: ");
  ASSERT_NE(at, std::string::npos) << sub.out;
  const std::string id = sub.out.substr(at + 15, 36);
  int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 90000), 1) << "site-2's trainer never started";
  ::close(fd);
  auto server_pid = read_pid(prod() / "server" / "pid.fl");

  for (const char* target : {"server", "client site-1", "all"}) {
    auto r = admin(std::string("restart ") + target);
    EXPECT_EQ(r.exit_code, 1) << target << ": " << r.out;
    EXPECT_NE(r.out.find("Error: There are still jobs running. Please let them finish or abort_job before restart."),
              std::string::npos)
        << target << ": " << r.out;
  }
  EXPECT_EQ(read_pid(prod() / "server" / "pid.fl"), server_pid);
  EXPECT_TRUE(server_pid && running(*server_pid));

  // The running job's log level, on the server job and on a client job.
  auto srv = admin("configure_job_log " + id + " server debug");
  EXPECT_EQ(srv.exit_code, 0) << srv.out;
  EXPECT_NE(srv.out.find("successfully configured server job " + id + " log"), std::string::npos) << srv.out;
  auto cli = admin("configure_job_log " + id + " client site-1 warning");
  EXPECT_EQ(cli.exit_code, 0) << cli.out;
  EXPECT_NE(cli.out.find("successfully configured site-1 job " + id + " log"), std::string::npos) << cli.out;
  auto bad = admin("configure_job_log " + id + " server loud");
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("invalid log config 'loud'"), std::string::npos) << bad.out;
  // The running job's stats, as FLARE's: the server job runs round 0 of scatter_and_gather, and
  // site-2's client job is executing "train" (its trainer never answers).
  auto stats = admin("show_stats " + id + " server");
  EXPECT_EQ(stats.exit_code, 0) << stats.out;
  for (const std::string& want : std::vector<std::string>{"\"ServerRunner\": {", "\"job_id\": \"" + id + "\"", "\"status\": \"started\"",
                                 "\"workflow\": \"scatter_and_gather\"", "\"ScatterAndGather\": {",
                                 "\"phase\": \"train\"", "\"current_round\": 0", "\"num_rounds\": 3"}) {
    EXPECT_NE(stats.out.find(want), std::string::npos) << want << ": " << stats.out;
  }
  auto cstats = admin("show_stats " + id + " client site-2");
  EXPECT_EQ(cstats.exit_code, 0) << cstats.out;
  EXPECT_TRUE(std::regex_search(cstats.out, std::regex(R"("site-2": \{\s*"ClientRunner": \{\s*"job_id": ")" + id +
                                                           R"(",\s*"current_tasks": \[\s*"train"\s*\])")))
      << cstats.out;
  EXPECT_EQ(cstats.out.find("site-1"), std::string::npos) << cstats.out;
  auto both = admin("show_stats " + id + " all");
  EXPECT_NE(both.out.find("\"ServerRunner\""), std::string::npos) << both.out;
  EXPECT_NE(both.out.find("\"site-1\": {"), std::string::npos) << both.out;
  EXPECT_NE(both.out.find("\"site-2\": {"), std::string::npos) << both.out;
  EXPECT_NE(admin("show_stats " + id + " client site-9").out.find("invalid client: site-9"), std::string::npos);

  // show_errors: each job process's log_error.txt since its last reset_errors (the file is kept).
  const fs::path server_errors = prod() / "server" / id / "log_error.txt";
  const fs::path site_errors = prod() / "site-2" / id / "log_error.txt";
  auto append = [](const fs::path& f, const std::string& line) {
    auto old = base::read_file(f);
    ASSERT_TRUE(base::atomic_write(f, (old.ok() ? *old : std::string()) + line + "\n").ok());
  };
  append(server_errors, "2026-01-01 00:00:00 - ERROR - the first server error");
  append(site_errors, "2026-01-01 00:00:00 - ERROR - a site-2 error");
  auto errors = admin("show_errors " + id + " all");
  EXPECT_EQ(errors.exit_code, 0) << errors.out;
  EXPECT_TRUE(std::regex_search(errors.out, std::regex(R"("server": \[\s*"[^"]*the first server error")"))) << errors.out;
  EXPECT_TRUE(std::regex_search(errors.out, std::regex(R"("site-2": \[\s*"[^"]*a site-2 error")"))) << errors.out;
  EXPECT_NE(errors.out.find("\"site-1\": "), std::string::npos) << errors.out;
  auto reset = admin("reset_errors " + id + " server");
  EXPECT_EQ(reset.exit_code, 0) << reset.out;
  EXPECT_NE(reset.out.find("\"server\": \"errors reset\""), std::string::npos) << reset.out;
  auto after = admin("show_errors " + id + " server");
  EXPECT_NE(after.out.find("\"server\": \"no errors\""), std::string::npos) << after.out;
  append(server_errors, "2026-01-01 00:00:01 - ERROR - a later server error");
  auto later = admin("show_errors " + id + " server");
  EXPECT_NE(later.out.find("a later server error"), std::string::npos) << later.out;
  EXPECT_EQ(later.out.find("the first server error"), std::string::npos) << later.out;
  EXPECT_NE(base::read_file(server_errors)->find("the first server error"), std::string::npos);
  auto client_still = admin("show_errors " + id + " client site-2");
  EXPECT_NE(client_still.out.find("a site-2 error"), std::string::npos) << client_still.out;

  auto app = admin("app_command " + id + " get_stats");
  EXPECT_EQ(app.exit_code, 1) << app.out;
  EXPECT_NE(app.out.find("no app command handlers exist in this build"), std::string::npos) << app.out;
}

TEST_F(AdminCommandsTest, TheServerAndAClientReportTheirEnvResourcesAndScopesAndAMemberMayNotRestart) {
  ASSERT_EQ(nv({"poc", "start", "-ex", "admin@nvidia.com"}).exit_code, 0);
  ASSERT_TRUE(registered("site-1"));
  const std::string server_ws = fs::canonical(prod() / "server").string();
  const std::string site_ws = fs::canonical(prod() / "site-1").string();

  auto env = admin("report_env server");
  ASSERT_EQ(env.exit_code, 0) << env.out;
  EXPECT_NE(env.out.find("| Sites"), std::string::npos) << env.out;
  EXPECT_NE(env.out.find("'workspace': '" + server_ws + "'"), std::string::npos) << env.out;
  EXPECT_NE(env.out.find("'flare_compat_version': '2.7.2'"), std::string::npos) << env.out;
  EXPECT_NE(env.out.find("'pid': " + std::to_string(*read_pid(prod() / "server" / "pid.fl"))), std::string::npos)
      << env.out;
  auto cenv = admin("report_env client site-1");
  ASSERT_EQ(cenv.exit_code, 0) << cenv.out;
  EXPECT_NE(cenv.out.find("| site-1 | {'site_name': 'site-1', 'workspace': '" + site_ws + "'"), std::string::npos)
      << cenv.out;
  EXPECT_NE(cenv.out.find("'pid': " + std::to_string(*read_pid(prod() / "site-1" / "pid.fl"))), std::string::npos)
      << cenv.out;
  EXPECT_EQ(cenv.out.find("site-2"), std::string::npos) << cenv.out;

  auto res = admin("report_resources server");
  ASSERT_EQ(res.exit_code, 0) << res.out;
  EXPECT_TRUE(std::regex_search(res.out, std::regex(R"(\| server +\| unlimited +\|)"))) << res.out;
  auto cres = admin("report_resources client site-1");
  ASSERT_EQ(cres.exit_code, 0) << cres.out;
  EXPECT_TRUE(std::regex_search(cres.out, std::regex(R"(\| site-1 +\| \{'num_of_gpus': 0, 'mem_per_gpu_in_GiB': 0\} +\|)")))
      << cres.out;
  auto unknown = admin("report_resources client site-9");
  EXPECT_NE(unknown.out.find("Error: invalid client: site-9"), std::string::npos) << unknown.out;

  // No privacy.json: no scopes; site-1's own privacy.json is read by site-1.
  auto none = admin("show_scopes all");
  ASSERT_EQ(none.exit_code, 0) << none.out;
  EXPECT_TRUE(std::regex_search(none.out, std::regex(R"(\| server +\| +\| +\|)"))) << none.out;
  EXPECT_TRUE(std::regex_search(none.out, std::regex(R"(\| site-1 +\| +\| +\|)"))) << none.out;
  ASSERT_TRUE(base::atomic_write(prod() / "site-1" / "local" / "privacy.json",
                                 R"({"scopes": [{"name": "public"}, {"name": "private"}], "default_scope": "public"})")
                  .ok());
  auto scopes = admin("show_scopes client site-1");
  ASSERT_EQ(scopes.exit_code, 0) << scopes.out;
  EXPECT_NE(scopes.out.find("| site   | scopes          | default |"), std::string::npos) << scopes.out;
  EXPECT_NE(scopes.out.find("| site-1 | public, private | public  |"), std::string::npos) << scopes.out;

  // The daemons' log levels.
  auto site_log = admin("configure_site_log server debug");
  EXPECT_EQ(site_log.exit_code, 0) << site_log.out;
  EXPECT_NE(site_log.out.find("successfully configured server site log"), std::string::npos) << site_log.out;
  auto client_log = admin("configure_site_log client site-1 info");
  EXPECT_EQ(client_log.exit_code, 0) << client_log.out;
  EXPECT_NE(client_log.out.find("successfully configured site-1 site log"), std::string::npos) << client_log.out;

  // A member may look (show_scopes is view) but not restart or report (operate).
  const auto server_pid = read_pid(prod() / "server" / "pid.fl");
  for (const char* denied : {"restart server", "restart client site-1", "report_env server",
                             "report_resources client site-1", "configure_site_log server debug"}) {
    auto r = admin(denied, "member@nvidia.com");
    EXPECT_EQ(r.exit_code, 3) << denied << ": " << r.out;
    EXPECT_NE(r.out.find("Error: user 'member@nvidia.com' (role member) is not authorized"), std::string::npos)
        << denied << ": " << r.out;
  }
  EXPECT_EQ(admin("show_scopes server", "member@nvidia.com").exit_code, 0);
  EXPECT_EQ(read_pid(prod() / "server" / "pid.fl"), server_pid);
  EXPECT_FALSE(fs::exists(prod() / "server" / "shutdown.fl"));
}

TEST_F(AdminCommandsTest, ShellCommandsAndSysInfoRunInAClientsWorkspaceUnderTheClientsPolicy) {
  ASSERT_EQ(nv({"poc", "start", "-ex", "admin@nvidia.com"}).exit_code, 0);
  ASSERT_TRUE(registered("site-1"));
  const fs::path site = prod() / "site-1";
  ASSERT_TRUE(base::atomic_write(site / "notes.txt", "alpha\nbeta\ngamma\n").ok());

  auto pwd = admin("pwd site-1");
  ASSERT_EQ(pwd.exit_code, 0) << pwd.out;
  EXPECT_NE(pwd.out.find(fs::canonical(site).string()), std::string::npos) << pwd.out;
  auto ls = admin("ls site-1");
  ASSERT_EQ(ls.exit_code, 0) << ls.out;
  for (const char* name : {"local", "log.txt", "notes.txt", "startup"}) {
    EXPECT_NE(ls.out.find(name), std::string::npos) << name << ": " << ls.out;
  }
  auto cat = admin("cat site-1 notes.txt");
  ASSERT_EQ(cat.exit_code, 0) << cat.out;
  EXPECT_NE(cat.out.find("alpha\nbeta\ngamma"), std::string::npos) << cat.out;
  auto head = admin("head site-1 -n 1 notes.txt");
  EXPECT_NE(head.out.find("alpha"), std::string::npos) << head.out;
  EXPECT_EQ(head.out.find("beta"), std::string::npos) << head.out;
  auto grep = admin("grep site-1 -n gamma notes.txt");
  EXPECT_NE(grep.out.find("3:gamma"), std::string::npos) << grep.out;

  // Paths stay in the client's workspace: ".." is refused by the arguments' check, a symbolic
  // link out of it by the client's path guard; the file outside is not shown.
  ASSERT_TRUE(base::atomic_write(work_.path() / "secret.txt", "do-not-show\n").ok());
  auto up = admin("cat site-1 ../server/log.txt");
  EXPECT_EQ(up.exit_code, 1) << up.out;
  EXPECT_NE(up.out.find(".. in path name is not allowed"), std::string::npos) << up.out;
  fs::create_symlink(work_.path() / "secret.txt", site / "link.txt");
  auto link = admin("cat site-1 link.txt");
  EXPECT_EQ(link.exit_code, 1) << link.out;
  EXPECT_EQ(link.out.find("do-not-show"), std::string::npos) << link.out;
  EXPECT_NE(admin("ls site-9").out.find("invalid client: site-9"), std::string::npos);

  auto info = admin("sys_info client site-1");
  ASSERT_EQ(info.exit_code, 0) << info.out;
  EXPECT_NE(info.out.find("Client: site-1"), std::string::npos) << info.out;
  EXPECT_TRUE(std::regex_search(info.out, std::regex(R"(\| total +\| [1-9][0-9]* +\|)"))) << info.out;
  EXPECT_EQ(info.out.find("site-2"), std::string::npos) << info.out;
  auto all = admin("sys_info client");
  EXPECT_NE(all.out.find("Client: site-2"), std::string::npos) << all.out;

  // site-1's policy: a member has no shell_commands or operate right; a lead only at sites of
  // the lead's own org (site-1 is nvidia's, the lead is b's).
  for (const std::string who : {"member@nvidia.com", "lead@b.org"}) {
    for (const char* denied : {"ls site-1", "cat site-1 notes.txt", "sys_info client site-1"}) {
      auto r = admin(denied, who);
      EXPECT_EQ(r.exit_code, 3) << who << " " << denied << ": " << r.out;
      EXPECT_NE(r.out.find("is not authorized"), std::string::npos) << who << " " << denied << ": " << r.out;
      EXPECT_EQ(r.out.find("alpha"), std::string::npos) << r.out;
    }
  }
}

TEST_F(AdminCommandsTest, AClientThatStopsIsForgottenByTheServerAtOnce) {
  ASSERT_EQ(nv({"poc", "start", "-ex", "admin@nvidia.com"}).exit_code, 0);
  ASSERT_TRUE(registered("site-1"));
  ASSERT_TRUE(registered("site-2"));
  auto before = admin("check_status server");
  ASSERT_EQ(before.exit_code, 0) << before.out;
  EXPECT_NE(before.out.find("Registered clients: 2"), std::string::npos) << before.out;

  // FLARE keeps a stopped client listed (and schedulable) until heart_beat_timeout, 600 s; ours
  // says it is leaving and the server forgets it.
  ASSERT_EQ(nv({"poc", "stop", "-p", "site-2"}).exit_code, 0);
  const fs::path site_log = prod() / "site-2" / "log.txt";
  ASSERT_TRUE(wait_until({prod() / "site-2"}, std::chrono::seconds(30), [&] {
    auto t = base::read_file(site_log);
    return t.ok() && t->find("told the server that site-2 is leaving") != std::string::npos;
  })) << base::read_file(site_log).value_or("");
  auto after = admin("check_status server");
  ASSERT_EQ(after.exit_code, 0) << after.out;
  EXPECT_NE(after.out.find("Registered clients: 1"), std::string::npos) << after.out;
  EXPECT_EQ(after.out.find("site-2"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("site-1"), std::string::npos) << after.out;
  auto server_log = base::read_file(prod() / "server" / "log.txt");
  ASSERT_TRUE(server_log.ok());
  EXPECT_NE(server_log->find("client site-2 quit: it is no longer registered"), std::string::npos);
}

TEST_F(AdminCommandsTest, AFinishedJobListsAndDownloadsItsExtraComponents) {
  ASSERT_EQ(nv({"poc", "start", "-ex", "admin@nvidia.com"}).exit_code, 0);
  auto sub = run_nvflare({"job", "submit", "-j", job("hello-numpy").string(), "--wait", "--timeout", "240"},
                         work_.path(), {{"HOME", home_.path().string()}, {"NVFLARE_POC_WORKSPACE", ws().string()}},
                         std::chrono::seconds(300));
  ASSERT_EQ(sub.exit_code, 0) << sub.out;
  auto at = sub.out.find("Submitted job: ");
  ASSERT_NE(at, std::string::npos) << sub.out;
  const std::string id = sub.out.substr(at + 15, 36);

  auto none = admin("list_job " + id);
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_NE(none.out.find("Error: No additional job components found."), std::string::npos) << none.out;
  auto dl_none = admin("download_job_components " + id);
  EXPECT_NE(dl_none.out.find("No additional job components found."), std::string::npos) << dl_none.out;
  auto missing = admin("list_job 00000000-0000-4000-8000-000000000000");
  EXPECT_NE(missing.out.find("Error: Job with ID 00000000-0000-4000-8000-000000000000 doesn't exist"),
            std::string::npos)
      << missing.out;

  // An error log a site sent, as FLARE stores it next to the job's data and meta.
  ASSERT_TRUE(base::atomic_write(ws() / "jobs-storage" / id / "ERRORLOG_site-1", "trainer failed\n").ok());
  auto listed = admin("list_job " + id);
  EXPECT_EQ(listed.exit_code, 0) << listed.out;
  EXPECT_NE(listed.out.find("ERRORLOG_site-1\n"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("workspace"), std::string::npos) << listed.out;
  auto dl = nv({"admin", "-m", (prod() / "admin@nvidia.com").string(), "-c", "download_job_components " + id});
  EXPECT_EQ(dl.exit_code, 0) << dl.out;
  EXPECT_NE(dl.out.find("content downloaded to"), std::string::npos) << dl.out;
  auto m = std::smatch();
  ASSERT_TRUE(std::regex_search(dl.out, m, std::regex("content downloaded to (\\S+)"))) << dl.out;
  auto text = base::read_file(fs::path(m[1].str()) / "ERRORLOG_site-1");
  ASSERT_TRUE(text.ok()) << dl.out;
  EXPECT_EQ(*text, "trainer failed\n");
}

}  // namespace
}  // namespace nvf::e2e
