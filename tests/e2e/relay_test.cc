// Hierarchical federations on a POC system: a server, relays (one or two tiers) and clients that
// connect to the relays, all real daemons over mTLS gRPC, provisioned from a project.yml with
// relay participants and connect_to / listening_host.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/files.h"
#include "e2e_util.h"
#include "tensor/npy.h"

namespace nvf::e2e {
namespace {

namespace fs = std::filesystem;

std::string submitted_id(const std::string& out) {
  auto at = out.find("Submitted job: ");
  return at == std::string::npos ? std::string() : out.substr(at + 15, 36);
}

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
  fs::path job(const std::string& name) { return fs::path(NVF_SOURCE_DIR) / "jobs" / name; }

  // Runs hello-numpy on every client to its exact result ([1..9] + 3 rounds of +1); returns its id.
  std::string run_hello_numpy() {
    auto sub = nv_long({"job", "submit", "-j", job("hello-numpy").string(), "--wait", "--timeout", "240"});
    EXPECT_EQ(sub.exit_code, 0) << sub.out;
    std::string id = submitted_id(sub.out);
    EXPECT_NE(sub.out.find("job " + id + ": FINISHED:COMPLETED"), std::string::npos) << sub.out;
    auto dl = admin("download_job " + id + " " + (work_.path() / ("dl-" + id)).string());
    EXPECT_EQ(dl.exit_code, 0) << dl.out;
    auto npy = tensor::read_npy(work_.path() / ("dl-" + id) / id / "workspace" / "models" / "server.npy");
    EXPECT_TRUE(npy.ok()) << npy.status().to_string();
    if (npy.ok()) {
      EXPECT_EQ(npy->to_doubles(), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
    }
    return id;
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

}  // namespace
}  // namespace nvf::e2e
