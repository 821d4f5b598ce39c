// `nvflare provision` as a user runs it: generate the sample, provision it, check the kits with
// the real openssl tool, re-provision, and the error paths.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/process.h"
#include "e2e_util.h"

namespace nvf::e2e {
namespace {

namespace fs = std::filesystem;

int run_openssl_verify(const fs::path& ca, const fs::path& cert, std::string* out) {
  base::SpawnOptions o;
  o.argv = {"openssl", "verify", "-CAfile", ca.string(), cert.string()};
  o.capture_output = true;
  auto child = base::spawn(o);
  if (!child.ok()) return -1;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(child->output_fd(), buf, sizeof(buf))) > 0)
    out->append(buf, static_cast<size_t>(n));
  auto exit = child->wait(std::chrono::seconds(30));
  return exit.ok() ? exit->shell_code() : -1;
}

std::string slurp(const fs::path& p) {
  auto text = base::read_file(p);
  EXPECT_TRUE(text.ok()) << text.status().to_string();
  return text.ok() ? *text : "";
}

class ProvisionTest : public E2eTest {
 protected:
  fs::path project_root() { return work_.path() / "ws" / "example_project"; }
};

TEST_F(ProvisionTest, GenerateThenProvisionBuildsVerifiableKits) {
  RunResult g = run({"provision", "-g"});
  ASSERT_EQ(g.exit_code, 0) << g.out;
  EXPECT_NE(g.out.find("project.yml was generated.  Please edit it"), std::string::npos) << g.out;

  RunResult p = run({"provision", "-p", "project.yml", "-w", "ws"});
  ASSERT_EQ(p.exit_code, 0) << p.out;
  EXPECT_NE(p.out.find("Project yaml file: " + (work_.path() / "project.yml").string() + "."),
            std::string::npos)
      << p.out;
  fs::path prod = project_root() / "prod_00";
  EXPECT_NE(p.out.find("INFO: Generated results can be found under " + prod.string() + ". "),
            std::string::npos)
      << p.out;
  EXPECT_TRUE(fs::exists(project_root() / "state" / "cert.json"));
  EXPECT_FALSE(fs::exists(project_root() / "wip"));

  const std::vector<std::string> server_files = {"startup/fed_server.json",
                                                 "startup/server.crt",
                                                 "startup/server.key",
                                                 "startup/start.sh",
                                                 "startup/sub_start.sh",
                                                 "startup/stop_fl.sh",
                                                 "startup/rootCA.pem",
                                                 "startup/signature.json",
                                                 "local/resources.json.default",
                                                 "local/authorization.json.default",
                                                 "local/log_config.json.default",
                                                 "local/privacy.json.sample",
                                                 "local/signature.json",
                                                 "readme.txt",
                                                 "transfer"};
  for (const auto& f : server_files) EXPECT_TRUE(fs::exists(prod / "server1" / f)) << f;
  for (const char* site : {"site-1", "site-2"}) {
    for (const char* f :
         {"startup/fed_client.json", "startup/client.crt", "startup/client.key", "startup/start.sh",
          "startup/signature.json", "local/resources.json.default", "transfer"}) {
      EXPECT_TRUE(fs::exists(prod / site / f)) << site << "/" << f;
    }
  }
  for (const char* f : {"startup/fed_admin.json", "startup/fl_admin.sh", "startup/client.crt",
                        "startup/client.key", "local/resources.json.default", "transfer"}) {
    EXPECT_TRUE(fs::exists(prod / "admin@nvidia.com" / f)) << f;
  }

  config::Value server = load(prod / "server1" / "startup" / "fed_server.json");
  EXPECT_EQ(server["servers"][0]["service"]["target"], "server1:8002");
  EXPECT_EQ(server["servers"][0]["service"]["scheme"], "grpc");
  EXPECT_EQ(server["servers"][0]["admin_port"], 8003);
  config::Value client = load(prod / "site-1" / "startup" / "fed_client.json");
  EXPECT_EQ(client["servers"][0]["identity"], "server1");
  EXPECT_EQ(client["client"]["fqsn"], "site-1");
  config::Value admin = load(prod / "admin@nvidia.com" / "startup" / "fed_admin.json");
  EXPECT_EQ(admin["admin"]["username"], "admin@nvidia.com");
  EXPECT_EQ(admin["admin"]["host"], "server1");
  EXPECT_EQ(admin["admin"]["port"], 8003);
  config::Value authz = load(prod / "site-1" / "local" / "authorization.json.default");
  EXPECT_EQ(authz["permissions"]["project_admin"], "any");
  EXPECT_EQ(authz["permissions"]["lead"]["clone_job"], "n:submitter");

  struct stat st {};
  ASSERT_EQ(::stat((prod / "site-1" / "startup" / "client.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  for (const auto& [who, crt] :
       {std::pair{"server1", "server.crt"}, std::pair{"site-1", "client.crt"},
        std::pair{"site-2", "client.crt"}, std::pair{"admin@nvidia.com", "client.crt"}}) {
    std::string out;
    EXPECT_EQ(run_openssl_verify(prod / who / "startup" / "rootCA.pem",
                                 prod / who / "startup" / crt, &out),
              0)
        << who << ": " << out;
  }
}

TEST_F(ProvisionTest, ReprovisionMakesProd01WithSameRootCa) {
  ASSERT_EQ(run({"provision", "-g"}).exit_code, 0);
  RunResult first = run({"provision", "-p", "project.yml", "-w", "ws", "-s"});
  ASSERT_EQ(first.exit_code, 0) << first.out;
  RunResult second = run({"provision", "-p", "project.yml", "-w", "ws"});
  ASSERT_EQ(second.exit_code, 0) << second.out;
  fs::path p0 = project_root() / "prod_00", p1 = project_root() / "prod_01";
  ASSERT_TRUE(fs::exists(p1));
  EXPECT_TRUE(fs::exists(p0 / "start_all.sh"));
  EXPECT_FALSE(fs::exists(p1 / "start_all.sh"));
  EXPECT_EQ(slurp(p0 / "server1" / "startup" / "rootCA.pem"),
            slurp(p1 / "site-2" / "startup" / "rootCA.pem"));
  EXPECT_EQ(slurp(p0 / "site-1" / "startup" / "client.crt"),
            slurp(p1 / "site-1" / "startup" / "client.crt"));
}

TEST_F(ProvisionTest, ApiVersion2ExitsOneAndWritesNothing) {
  ASSERT_EQ(run({"provision", "-g"}).exit_code, 0);
  std::string yml = slurp(work_.path() / "project.yml");
  size_t at = yml.find("api_version: 3");
  ASSERT_NE(at, std::string::npos);
  yml.replace(at, 14, "api_version: 2");
  ASSERT_TRUE(base::atomic_write(work_.path() / "old.yml", yml).ok());
  RunResult r = run({"provision", "-p", "old.yml", "-w", "ws"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("API version expected 3 but found 2"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(work_.path() / "ws"));
}

TEST_F(ProvisionTest, DuplicateServerIsRejectedBeforeWriting) {
  ASSERT_TRUE(base::atomic_write(work_.path() / "p.yml",
                                 "api_version: 3\nname: p\nparticipants:\n"
                                 "  - {name: s1, type: server, org: a}\n"
                                 "  - {name: s2, type: server, org: a}\n")
                  .ok());
  RunResult r = run({"provision", "-p", "p.yml", "-w", "ws"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("exactly one server"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(work_.path() / "ws"));
}

// The held-out style project: several orgs, a relay tier (relay-2 behind relay-1), a client of
// each relay and one of the server. Every kit verifies with openssl, relays get FLARE's files
// and their cells' names, start_all.sh starts parents before children.
TEST_F(ProvisionTest, ARelayTierProvisionsVerifiableKitsWithTheirCellNames) {
  ASSERT_TRUE(base::atomic_write(
                  work_.path() / "relays.yml",
                  "api_version: 3\nname: tiers\nparticipants:\n"
                  "  - {name: fl.example.com, type: server, org: acme, fed_learn_port: 8002, host_names: [10.0.0.5]}\n"
                  "  - {name: relay-1, type: relay, org: acme, listening_host: {default_host: relay1.example.com, "
                  "port: 8102}}\n"
                  "  - {name: relay-2, type: relay, org: beta, connect_to: {name: relay-1}, listening_host: "
                  "{default_host: relay2.example.com, host_names: [10.0.0.7], port: 8103}}\n"
                  "  - {name: site-1, type: client, org: acme, connect_to: {name: relay-1}}\n"
                  "  - {name: site-2, type: client, org: beta, connect_to: {name: relay-2}}\n"
                  "  - {name: site-3, type: client, org: gamma}\n"
                  "  - {name: admin@acme.com, type: admin, org: acme, role: project_admin}\n"
                  "builders:\n  - path: nvflare.lighter.impl.workspace.WorkspaceBuilder\n"
                  "  - path: nvflare.lighter.impl.static_file.StaticFileBuilder\n    args: {scheme: grpc}\n"
                  "  - path: nvflare.lighter.impl.cert.CertBuilder\n"
                  "  - path: nvflare.lighter.impl.signature.SignatureBuilder\n")
                  .ok());
  RunResult r = run({"provision", "-p", "relays.yml", "-w", "ws", "-s"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  fs::path prod = work_.path() / "ws" / "tiers" / "prod_00";
  for (const char* who : {"relay-1", "relay-2"}) {
    for (const char* f : {"startup/fed_relay.json", "startup/start.sh", "startup/sub_start.sh", "startup/stop_fl.sh",
                          "startup/client.crt", "startup/client.key", "startup/server.crt", "startup/server.key",
                          "startup/rootCA.pem", "startup/signature.json", "local/comm_config.json",
                          "local/log_config.json.default", "local/signature.json"}) {
      EXPECT_TRUE(fs::exists(prod / who / f)) << who << "/" << f;
    }
  }
  for (const auto& [who, cert] : std::vector<std::pair<std::string, std::string>>{
           {"relay-1", "client.crt"}, {"relay-1", "server.crt"}, {"relay-2", "client.crt"},
           {"relay-2", "server.crt"}, {"site-1", "client.crt"}, {"site-2", "client.crt"},
           {"site-3", "client.crt"}, {"fl.example.com", "server.crt"}, {"admin@acme.com", "client.crt"}}) {
    std::string out;
    EXPECT_EQ(run_openssl_verify(prod / who / "startup" / "rootCA.pem", prod / who / "startup" / cert, &out), 0)
        << who << "/" << cert << ": " << out;
    EXPECT_NE(out.find(": OK"), std::string::npos) << out;
  }
  config::Value r2 = load(prod / "relay-2" / "startup" / "fed_relay.json");
  EXPECT_EQ(r2["identity"], "relay-2");
  EXPECT_EQ(r2["server_identity"], "fl.example.com");
  EXPECT_EQ(r2["fqcn"], "relay-1.relay-2");
  EXPECT_EQ(r2["connect_to"]["fqcn"], "relay-1");
  EXPECT_EQ(r2["connect_to"]["address"], "relay1.example.com:8102");
  config::Value r1 = load(prod / "relay-1" / "startup" / "fed_relay.json");
  EXPECT_EQ(r1["connect_to"]["fqcn"], "server");
  EXPECT_EQ(r1["connect_to"]["address"], "fl.example.com:8002");
  config::Value comm = load(prod / "relay-2" / "local" / "comm_config.json");
  EXPECT_EQ(comm["internal"]["resources"]["port"], 8103);
  EXPECT_EQ(comm["backbone_conn_gen"], 1);
  config::Value rr = load(prod / "site-2" / "local" / "relay__resources.json");
  EXPECT_EQ(rr["relay_config"]["fqcn"], "relay-1.relay-2");
  EXPECT_EQ(rr["relay_config"]["identity"], "relay-2");
  EXPECT_EQ(rr["relay_config"]["address"], "relay2.example.com:8103");
  EXPECT_FALSE(fs::exists(prod / "site-3" / "local" / "relay__resources.json"));
  // The relay's server certificate names its hosts and itself (its children's TLS target).
  base::SpawnOptions o;
  o.argv = {"openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
            (prod / "relay-2" / "startup" / "server.crt").string()};
  o.capture_output = true;
  auto child = base::spawn(o);
  ASSERT_TRUE(child.ok());
  std::string san;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(child->output_fd(), buf, sizeof(buf))) > 0) san.append(buf, static_cast<size_t>(n));
  ASSERT_TRUE(child->wait(std::chrono::seconds(30)).ok());
  for (const char* name : {"DNS:relay2.example.com", "IP Address:10.0.0.7", "DNS:relay-2"}) {
    EXPECT_NE(san.find(name), std::string::npos) << name << ": " << san;
  }
  std::string all = slurp(prod / "start_all.sh");
  EXPECT_LT(all.find("fl.example.com/startup/start.sh"), all.find("relay-1/startup/start.sh")) << all;
  EXPECT_LT(all.find("relay-1/startup/start.sh"), all.find("relay-2/startup/start.sh")) << all;
  EXPECT_LT(all.find("relay-2/startup/start.sh"), all.find("site-1/startup/start.sh")) << all;
  EXPECT_NE(slurp(prod / "relay-1" / "startup" / "sub_start.sh").find("relay -m \"$WS\" -s fed_relay.json"),
            std::string::npos);
}

TEST_F(ProvisionTest, BadRelayTiersAreRefusedNamingTheParticipantAndNothingIsWritten) {
  const std::string head = "api_version: 3\nname: p\nparticipants:\n  - {name: s, type: server, org: a}\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"  - {name: site-1, type: client, org: a, connect_to: {name: relay-9}}\n",
       "participant 'site-1': connect_to 'relay-9' names no participant of the project"},
      {"  - {name: r1, type: relay, org: a}\n", "a relay needs listening_host with a port"},
      {"  - {name: c, type: client, org: a}\n  - {name: site-1, type: client, org: a, connect_to: {name: c}}\n",
       "connect_to 'c' is a client; a participant connects to the server or a relay"},
      {"  - {name: r1, type: relay, org: a, connect_to: {name: r2}, listening_host: {port: 9001}}\n"
       "  - {name: r2, type: relay, org: a, connect_to: {name: r1}, listening_host: {port: 9002}}\n",
       "makes a loop of relays"},
      {"  - {name: r.1, type: relay, org: a, listening_host: {port: 9001}}\n",
       "relay name 'r.1' may contain only letters, digits, '-' and '_'"},
      {"  - {name: r1, type: relay, org: a, listening_host: {port: 70000}}\n", "must be a port number"},
  };
  for (const auto& [parts, message] : cases) {
    ASSERT_TRUE(base::atomic_write(work_.path() / "p.yml", head + parts).ok());
    RunResult r = run({"provision", "-p", "p.yml", "-w", "ws"});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find(message), std::string::npos) << message << ": " << r.out;
    EXPECT_FALSE(fs::exists(work_.path() / "ws" / "p" / "prod_00")) << message;
  }
}

TEST_F(ProvisionTest, NoModeIsUsageError) {
  RunResult r = run({"provision"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("one of the arguments -g/--generate -p/--project_file is required"),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace nvf::e2e
