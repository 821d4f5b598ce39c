// Hierarchical federations on a POC system: a server, relays (one or two tiers) and clients that
// connect to the relays, all real daemons over mTLS gRPC, provisioned from a project.yml with
// relay participants and connect_to / listening_host.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/files.h"
#include "base/strings.h"
#include "e2e_util.h"
#include "tensor/npy.h"

namespace nvf::e2e {
namespace {

namespace fs = std::filesystem;

class RelayTest : public PocE2eTest {
 protected:
  // A project with `relays` (name, parent: "" = the server) and `clients` (name, relay), on free
  // ports, provisioned with `poc prepare -i`.
  void prepare(const std::vector<std::pair<std::string, std::string>>& relays,
               const std::vector<std::pair<std::string, std::string>>& clients) {
    fl_port_ = free_port();
    admin_port_ = free_port();
    while (admin_port_ == fl_port_) admin_port_ = free_port();
    std::string yml =
        "api_version: 3\nname: example_project\nparticipants:\n"
        "  - {name: server, type: server, org: nvidia, fed_learn_port: " +
        std::to_string(fl_port_) + ", admin_port: " + std::to_string(admin_port_) + ", default_host: localhost}\n";
    std::vector<int> used{fl_port_, admin_port_};
    for (const auto& [name, parent] : relays) {
      int port = free_port();
      while (std::find(used.begin(), used.end(), port) != used.end()) port = free_port();
      used.push_back(port);
      yml += "  - {name: " + name + ", type: relay, org: nvidia, listening_host: {default_host: relay.example.com, port: " +
             std::to_string(port) + "}" + (parent.empty() ? "" : ", connect_to: {name: " + parent + "}") + "}\n";
    }
    for (const auto& [name, relay] : clients) {
      yml += "  - {name: " + name + ", type: client, org: nvidia" +
             (relay.empty() ? "" : ", connect_to: {name: " + relay + "}") + "}\n";
    }
    yml += "  - {name: admin@nvidia.com, type: admin, org: nvidia, role: project_admin}\n";
    yml += "  - {name: lead@b.org, type: admin, org: b, role: lead}\n";
    yml += "builders:\n  - path: nvflare.lighter.impl.workspace.WorkspaceBuilder\n"
           "  - path: nvflare.lighter.impl.static_file.StaticFileBuilder\n    args: {config_folder: config, scheme: grpc}\n"
           "  - path: nvflare.lighter.impl.cert.CertBuilder\n  - path: nvflare.lighter.impl.signature.SignatureBuilder\n";
    project_yml_ = yml;
    ASSERT_TRUE(base::atomic_write(work_.path() / "project.yml", yml).ok());
    auto r = nv({"poc", "prepare", "-i", (work_.path() / "project.yml").string()});
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }

  RunResult nv_long(const std::vector<std::string>& args) { return run_env(args, ws(), std::chrono::seconds(300)); }
  static fs::path job(const std::string& name) { return source_job(name); }

  // Runs hello-numpy on every client to its exact result ([1..9] + 3 rounds of +1); returns its id.
  std::string run_hello_numpy() {
    return expect_exact_hello_numpy(
        nv_long({"job", "submit", "-j", job("hello-numpy").string(), "--wait", "--timeout", "240"}));
  }

  // hello-numpy in <work>/hold-job whose `held` sites train forever (their trainer writes to
  // `fifo`, then sleeps) while `others` train; `min_clients` of them are needed, and a site
  // silent for 3 s is dead (client job heartbeats every second).
  fs::path hold_job(const std::vector<std::string>& others, const std::vector<std::string>& held, int min_clients,
                    const fs::path& fifo) {
    fs::path dir = work_.path() / "hold-job";
    std::error_code ec;
    fs::copy(job("hello-numpy"), dir, fs::copy_options::recursive, ec);
    fs::copy(dir / "app", dir / "app_hold", fs::copy_options::recursive, ec);
    config::Value meta = load(dir / "meta.json");
    config::Value app = config::Value::array({"server"}), app_hold = config::Value::array();
    for (const auto& s : others) app.push_back(s);
    for (const auto& s : held) app_hold.push_back(s);
    meta["deploy_map"] = {{"app", app}, {"app_hold", app_hold}};
    meta["min_clients"] = min_clients;
    save(dir / "meta.json", meta);
    for (const char* a : {"app", "app_hold"}) {
      config::Value c = load(dir / a / "config" / "config_fed_client.json");
      c["job_heartbeat_interval"] = 1;
      if (std::string(a) == "app_hold") {
        c["trainer_command"] = "/bin/sh -c 'echo started > " + fifo.string() + "; exec sleep 600'";
      }
      save(dir / a / "config" / "config_fed_client.json", c);
      config::Value srv = load(dir / a / "config" / "config_fed_server.json");
      srv["min_clients"] = min_clients;
      srv["dead_client_grace_period"] = 3;
      srv["dead_client_check_lead_time"] = 2;
      save(dir / a / "config" / "config_fed_server.json", srv);
    }
    return dir;
  }

  // Waits (90 s at most) until a held trainer wrote to `fifo`.
  static bool held_trainer_started(const fs::path& fifo) {
    int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    if (fd < 0) return false;
    pollfd p{fd, POLLIN, 0};
    const bool started = ::poll(&p, 1, 90000) == 1;
    ::close(fd);
    return started;
  }

  // Waits until the server logged the registration of every client.
  void wait_for_clients(const std::vector<std::string>& names) {
    const fs::path log = prod() / "server" / "log.txt";
    bool all = wait_until({log.parent_path()}, std::chrono::seconds(120), [&] {
      auto text = base::read_file(log);
      if (!text.ok()) return false;
      for (const auto& n : names) {
        if (text->find("client '" + n + "' registered") == std::string::npos) return false;
      }
      return true;
    });
    ASSERT_TRUE(all) << "not every client registered: " << admin("check_status client").out;
  }
};

// Proves: relay kits provision and start (relays before clients), clients behind two relays
// register through them, a job reaches every client and gives the exact result, and admin
// commands reach clients behind relays (with the sites' authorization still applied).
TEST_F(RelayTest, EightClientsBehindTwoRelaysRunHelloNumpyToItsExactResult) {
  std::vector<std::pair<std::string, std::string>> clients;
  std::vector<std::string> names;
  for (int i = 1; i <= 8; ++i) {
    names.push_back("site-" + std::to_string(i));
    clients.emplace_back(names.back(), i <= 4 ? "relay-1" : "relay-2");
  }
  prepare({{"relay-1", ""}, {"relay-2", ""}}, clients);
  for (const char* f : {"startup/fed_relay.json", "startup/server.crt", "startup/client.crt", "local/comm_config.json"}) {
    EXPECT_TRUE(fs::exists(prod() / "relay-1" / f)) << f;
  }
  EXPECT_TRUE(fs::exists(prod() / "site-5" / "local" / "relay__resources.json"));

  auto start = nv({"poc", "start", "-ex", "admin@nvidia.com"});
  ASSERT_EQ(start.exit_code, 0) << start.out;
  EXPECT_LT(start.out.find("start: relay-2"), start.out.find("start: site-1")) << start.out;
  wait_for_clients(names);

  auto status = admin("check_status server");
  EXPECT_NE(status.out.find("relay-1.site-1"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("relay-2.site-5"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("Registered relays: 2"), std::string::npos) << status.out;

  std::string id = run_hello_numpy();
  EXPECT_TRUE(fs::exists(prod() / "site-8" / id / "app_site-8" / "config" / "config_fed_client.json"));

  // Admin commands reach a client behind a relay; another org's lead is refused there.
  auto ls = admin("ls site-5");
  ASSERT_EQ(ls.exit_code, 0) << ls.out;
  EXPECT_NE(ls.out.find("startup"), std::string::npos) << ls.out;
  auto denied = admin("ls site-5", "lead@b.org");
  EXPECT_EQ(denied.exit_code, 3) << denied.out;
  EXPECT_NE(denied.out.find("is not authorized"), std::string::npos) << denied.out;

  // abort_job reaches the client jobs behind the relays: site-5's trainer holds round 1.
  fs::path fifo = work_.path() / "held.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::vector<std::string> others;
  for (const auto& n : names) {
    if (n != "site-5") others.push_back(n);
  }
  auto held = nv({"job", "submit", "-j", hold_job(others, {"site-5"}, 2, fifo).string()});
  ASSERT_EQ(held.exit_code, 0) << held.out;
  const std::string held_id = submitted_id(held.out);
  ASSERT_TRUE(held_trainer_started(fifo)) << "site-5's trainer never started";
  auto abort = admin("abort_job " + held_id);
  EXPECT_EQ(abort.exit_code, 0) << abort.out;
  EXPECT_TRUE(wait_for_text(prod() / "site-5" / "log.txt", "job " + held_id + ": client job ended",
                            std::chrono::seconds(60)))
      << base::read_file(prod() / "site-5" / "log.txt").status().to_string();
  auto held_meta = admin("get_job_meta " + held_id);
  EXPECT_NE(held_meta.out.find("FINISHED:ABORTED"), std::string::npos) << held_meta.out;

  // The relays forwarded: they hold no job folder and their logs name their children.
  EXPECT_FALSE(fs::exists(prod() / "relay-1" / id));
  auto relay_log = base::read_file(prod() / "relay-1" / "log.txt");
  ASSERT_TRUE(relay_log.ok());
  EXPECT_NE(relay_log->find("relay relay-1 registered"), std::string::npos) << *relay_log;

  std::vector<pid_t> pids;
  for (const char* p : {"relay-1", "relay-2", "site-1", "server"}) {
    auto pid = read_pid(prod() / p / "pid.fl");
    ASSERT_TRUE(pid) << p;
    pids.push_back(*pid);
  }
  auto stop = nv({"poc", "stop"});
  ASSERT_EQ(stop.exit_code, 0) << stop.out;
  EXPECT_EQ(stop.out.find("killed"), std::string::npos) << stop.out;
  EXPECT_LT(stop.out.find("stop: site-1"), stop.out.find("stop: relay-1")) << stop.out;
  EXPECT_LT(stop.out.find("stop: relay-1"), stop.out.find("stop: server")) << stop.out;
  for (pid_t p : pids) EXPECT_FALSE(running(p)) << p;
}

// Proves: a relay behind a relay works (cells "relay-1.relay-2.site-1"), end to end.
TEST_F(RelayTest, TwoTiersOfRelaysRunAJobToItsExactResult) {
  prepare({{"relay-1", ""}, {"relay-2", "relay-1"}}, {{"site-1", "relay-2"}, {"site-2", "relay-2"}});
  auto fed = load(prod() / "relay-2" / "startup" / "fed_relay.json");
  EXPECT_EQ(fed["fqcn"], "relay-1.relay-2");
  EXPECT_EQ(fed["connect_to"]["fqcn"], "relay-1");
  auto start = nv({"poc", "start", "-ex", "admin@nvidia.com"});
  ASSERT_EQ(start.exit_code, 0) << start.out;
  EXPECT_LT(start.out.find("start: relay-1"), start.out.find("start: relay-2")) << start.out;
  wait_for_clients({"site-1", "site-2"});
  auto status = admin("check_status server");
  EXPECT_NE(status.out.find("relay-1.relay-2.site-1"), std::string::npos) << status.out;
  run_hello_numpy();
}

// Proves: preflight_check understands relay kits and kits behind relays: a relay kit's listener
// certificate and port, and its dry run (registration as a relay) with the server; a client
// behind the relay checks the relay's address, TLS with the relay and a registration through it.
TEST_F(RelayTest, PreflightChecksARelayKitAndAClientBehindItThroughTheTier) {
  prepare({{"relay-1", ""}}, {{"site-1", "relay-1"}});
  ASSERT_EQ(nv({"poc", "start", "-p", "server"}).exit_code, 0);
  auto relay = nv({"preflight_check", "-p", (prod() / "relay-1").string()});
  EXPECT_EQ(relay.exit_code, 0) << relay.out;
  for (const char* row : {"listener certificate chain", "relay port", "TLS handshake",
                          "registered with server 'server' as relay 'relay-1'"}) {
    EXPECT_NE(relay.out.find(row), std::string::npos) << row << ":\n" << relay.out;
  }
  ASSERT_EQ(nv({"poc", "start", "-p", "relay-1"}).exit_code, 0);
  auto client = nv({"preflight_check", "-p", (prod() / "site-1").string()});
  EXPECT_EQ(client.exit_code, 0) << client.out;
  for (const char* row : {"relay reachable", "with relay 'relay-1'", "through relay 'relay-1'"}) {
    EXPECT_NE(client.out.find(row), std::string::npos) << row << ":\n" << client.out;
  }
  // The running relay holds its port: the check says so and fails.
  auto running = nv({"preflight_check", "-p", (prod() / "relay-1").string()});
  EXPECT_EQ(running.exit_code, 1) << running.out;
  EXPECT_NE(running.out.find("the relay of this kit is running"), std::string::npos) << running.out;
}

// Counts the occurrences of `what` in `file` (0 when it cannot be read).
size_t count_in(const fs::path& file, const std::string& what) {
  auto text = base::read_file(file);
  size_t n = 0;
  for (size_t at = text.ok() ? text->find(what) : std::string::npos; at != std::string::npos;
       at = text->find(what, at + what.size())) {
    ++n;
  }
  return n;
}

// FLARE 2.7.2's startup stability through relays: 16 client daemons behind 2 relays, 2 of whose
// client jobs are slow to start and 1 site that never starts. The job completes with the exact
// result, the server names the site left out, and no site is declared dead before it was seen.
TEST_F(RelayTest, SixteenClientsBehindTwoRelaysSurviveSlowAndMissingSites) {
  std::vector<std::pair<std::string, std::string>> clients;
  for (int i = 1; i <= 16; ++i) clients.emplace_back("site-" + std::to_string(i), i <= 8 ? "relay-1" : "relay-2");
  prepare({{"relay-1", ""}, {"relay-2", ""}}, clients);
  for (const char* p : {"server", "relay-1", "relay-2"}) ASSERT_EQ(nv({"poc", "start", "-p", p}).exit_code, 0) << p;
  start_sites(13, {"site-14", "site-15"});  // the client jobs of site-14 and site-15 take 4 s to start
  std::vector<std::string> started;
  for (int i = 1; i <= 15; ++i) started.push_back("site-" + std::to_string(i));
  wait_for_clients(started);
  // site-16 (behind relay-2) never starts. The job names all 16 sites and needs 13.
  auto sub = nv_long({"job", "submit", "-j", hello_numpy_for_sites(16, 13).string(), "--wait", "--timeout", "240"});
  ASSERT_EQ(sub.exit_code, 0) << sub.out;
  std::string id = submitted_id(sub.out);
  EXPECT_NE(sub.out.find("job " + id + ": FINISHED:COMPLETED"), std::string::npos) << sub.out;
  expect_completed_without(id, "site-16", {"site-14", "site-15"});
}

// A relay killed mid-job: its clients fall silent, the server job counts them as missing and the
// job ends per min_clients naming them; the relay's watchdog then starts it again, its clients
// reconnect by themselves (no restart of theirs) and the next job runs to its exact result.
TEST_F(RelayTest, ARelayKilledMidJobLosesItsClientsUntilItsWatchdogRestartsIt) {
  prepare({{"relay-1", ""}, {"relay-2", ""}},
          {{"site-1", "relay-1"}, {"site-2", "relay-1"}, {"site-3", "relay-2"}, {"site-4", "relay-2"}});
  ASSERT_EQ(nv({"poc", "start", "-ex", "admin@nvidia.com"}).exit_code, 0);
  wait_for_clients({"site-1", "site-2", "site-3", "site-4"});
  const fs::path relay2 = prod() / "relay-2";
  ASSERT_TRUE(wait_for_text(relay2 / "log.txt", "relay-2.site-4 connected", std::chrono::seconds(60)));

  // site-3 and site-4 (behind relay-2) train forever; the job needs 3 of 4 sites.
  fs::path fifo = work_.path() / "started.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  fs::path dir = hold_job({"site-1", "site-2"}, {"site-3", "site-4"}, 3, fifo);
  RunResult sub;
  std::thread t([&] { sub = nv_long({"job", "submit", "-j", dir.string(), "--wait", "--timeout", "180"}); });
  EXPECT_TRUE(held_trainer_started(fifo)) << "the trainers behind relay-2 never started";
  // Hold the watchdog, kill the relay: nothing restarts it until the watchdog goes on.
  auto watchdog = read_pid(relay2 / "daemon_pid.fl");
  auto daemon = read_pid(relay2 / "pid.fl");
  ASSERT_TRUE(watchdog && daemon);
  ASSERT_EQ(::kill(*watchdog, SIGSTOP), 0);
  ASSERT_EQ(::kill(*daemon, SIGKILL), 0);
  t.join();
  EXPECT_EQ(sub.exit_code, 1) << sub.out;
  std::string id = submitted_id(sub.out);
  EXPECT_NE(sub.out.find("job " + id + ": FINISHED:EXECUTION_EXCEPTION"), std::string::npos) << sub.out;
  auto meta_out = admin("get_job_meta " + id);
  EXPECT_TRUE(meta_out.out.find("site-3") != std::string::npos || meta_out.out.find("site-4") != std::string::npos)
      << meta_out.out;  // the reason names the sites behind the dead relay

  // The watchdog restarts the relay; its clients come back on their own.
  const size_t connected_before = count_in(relay2 / "log.txt", "relay-2.site-3 connected");
  ASSERT_EQ(::kill(*watchdog, SIGCONT), 0);
  ASSERT_TRUE(wait_until({relay2}, std::chrono::seconds(90), [&] {
    return count_in(relay2 / "log.txt", "relay-2.site-3 connected") > connected_before &&
           count_in(relay2 / "log.txt", "relay-2.site-4 connected") > connected_before &&
           count_in(relay2 / "log.txt", "relay relay-2 registered") >= 2;
  })) << count_in(relay2 / "log.txt", "connected") << " connection lines in relay-2's log";
  auto now = read_pid(relay2 / "pid.fl");
  ASSERT_TRUE(now);
  EXPECT_NE(*now, *daemon);
  run_hello_numpy();
}

}  // namespace
}  // namespace nvf::e2e
