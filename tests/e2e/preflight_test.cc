// `nvflare preflight_check -p KIT` as a user runs it on the kits of a POC project (OS-chosen
// ports): before the server starts, against a running server (its own kit, a client kit, an admin
// kit), and with a kit of another project.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "base/files.h"
#include "e2e_util.h"

namespace nvf::e2e {
namespace {

namespace fs = std::filesystem;


// The report's row for `check` as one line "| check | RESULT | finding | what to do |", its wrapped
// continuation lines (those with a blank Check cell) joined in; "" when there is none.
std::string row(const std::string& out, const std::string& check) {
  std::istringstream in(out);
  std::string line;
  std::vector<std::string> cells;
  auto split_cells = [](const std::string& l) {
    std::vector<std::string> parts;
    std::string cell;
    std::istringstream s(l.substr(1));
    while (std::getline(s, cell, '|')) {
      auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      parts.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
    }
    return parts;
  };
  while (std::getline(in, line)) {
    if (line.rfind("| ", 0) != 0) {
      if (!cells.empty()) break;
      continue;
    }
    auto parts = split_cells(line);
    if (cells.empty()) {
      if (!parts.empty() && parts[0] == check) cells = parts;
      continue;
    }
    if (parts.empty() || !parts[0].empty()) break;  // the next row
    for (size_t i = 0; i < parts.size() && i < cells.size(); ++i) {
      if (!parts[i].empty()) cells[i] += (cells[i].empty() ? "" : " ") + parts[i];
    }
  }
  if (cells.empty()) return "";
  std::string joined = "|";
  for (const auto& c : cells) joined += " " + c + " |";
  return joined;
}

class PreflightE2eTest : public PocE2eTest {
 protected:
  // FLARE's POC project (server, site-1, admin@nvidia.com) on free ports.
  void SetUp() override { prepare_poc(1); }
  RunResult preflight(const fs::path& kit) { return nv({"preflight_check", "-p", kit.string()}); }

  // `poc start -p server` returns once the daemon runs; it listens a moment later (its log says
  // so).
  void start_server() {
    auto start = nv({"poc", "start", "-p", "server"});
    ASSERT_EQ(start.exit_code, 0) << start.out;
    ASSERT_TRUE(
        wait_for_text(prod() / "server" / "log.txt", "listening on", std::chrono::seconds(30)))
        << "the server did not start listening";
  }
};

TEST_F(PreflightE2eTest, BeforeTheServerStartsItsKitPassesAndAClientCannotReachIt) {
  auto server = preflight(prod() / "server");
  EXPECT_EQ(server.exit_code, 0) << server.out;
  EXPECT_NE(
      server.out.find("Checking the server startup kit 'server' of project 'example_project'"),
      std::string::npos)
      << server.out;
  EXPECT_NE(row(server.out, "fl port").find("| PASSED "), std::string::npos) << server.out;
  EXPECT_NE(row(server.out, "admin port").find("| PASSED "), std::string::npos) << server.out;
  EXPECT_NE(server.out.find(", 0 FAILED\n"), std::string::npos) << server.out;
  EXPECT_NE(server.out.find("The kit is ready to start (startup/start.sh)."), std::string::npos)
      << server.out;

  auto client = preflight(prod() / "site-1");
  EXPECT_EQ(client.exit_code, 1) << client.out;
  std::string reach = row(client.out, "server reachable");
  EXPECT_NE(reach.find("| FAILED "), std::string::npos) << client.out;
  EXPECT_NE(reach.find("connection refused"), std::string::npos) << client.out;
  EXPECT_NE(reach.find("(the TLS handshake and the dry run were not run)"), std::string::npos)
      << client.out;
  EXPECT_EQ(row(client.out, "TLS handshake"), "") << client.out;
  EXPECT_NE(client.out.find("preflight_check FAILED: fix the rows marked FAILED"),
            std::string::npos)
      << client.out;
}

TEST_F(PreflightE2eTest, TheKitOfARunningServerReportsItsPortsInUse) {
  start_server();
  auto r = preflight(prod() / "server");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  for (const char* port : {"fl port", "admin port"}) {
    std::string line = row(r.out, port);
    EXPECT_NE(line.find("| FAILED "), std::string::npos) << r.out;
    EXPECT_NE(line.find("is in use — the server of this kit is running (pid "), std::string::npos)
        << r.out;
    EXPECT_NE(
        line.find("stop it (startup/stop_fl.sh, or nvflare poc stop) before starting it again"),
        std::string::npos)
        << r.out;
  }
  // Everything else about the kit is fine.
  EXPECT_NE(r.out.find(", 0 WARNING, 2 FAILED\n"), std::string::npos) << r.out;
  EXPECT_NE(row(r.out, "kit signatures").find("| PASSED "), std::string::npos) << r.out;
}

TEST_F(PreflightE2eTest, AClientKitAndTheAdminKitPassEveryCheckAgainstTheRunningServer) {
  start_server();
  auto client = preflight(prod() / "site-1");
  EXPECT_EQ(client.exit_code, 0) << client.out;
  for (const char* check :
       {"kit config", "kit files", "start scripts", "private key mode", "kit signatures",
        "certificate chain", "certificate validity", "root CA validity", "certificate name",
        "private key match", "server name", "server reachable", "TLS handshake", "dry run"}) {
    EXPECT_NE(row(client.out, check).find("| PASSED "), std::string::npos) << check << "\n"
                                                                           << client.out;
  }
  EXPECT_NE(client.out.find("14 checks: 14 PASSED, 0 WARNING, 0 FAILED"), std::string::npos)
      << client.out;
  EXPECT_NE(row(client.out, "dry run").find("registered with server 'server' as client 'site-1'"),
            std::string::npos)
      << client.out;

  auto admin = preflight(prod() / "admin@nvidia.com");
  EXPECT_EQ(admin.exit_code, 0) << admin.out;
  EXPECT_NE(row(admin.out, "dry run").find("as admin 'admin@nvidia.com'"), std::string::npos)
      << admin.out;
  EXPECT_NE(admin.out.find("The admin kit is ready to use."), std::string::npos) << admin.out;
  // The dry run left again: the server does not list a client that is not running (FLARE's
  // listed it until its heartbeat timeout).
  auto status = this->admin("check_status server");
  EXPECT_EQ(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find("Registered clients: 0"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("site-1"), std::string::npos) << status.out;
}

TEST_F(PreflightE2eTest, AKitOfAnotherProjectFailsTheTlsHandshake) {
  start_server();
  std::string other = project_yml_;
  replace_all(other, "name: example_project", "name: other_project");
  ASSERT_TRUE(base::atomic_write(work_.path() / "other.yml", other).ok());
  auto prov = nv({"provision", "-p", (work_.path() / "other.yml").string(), "-w",
                  (work_.path() / "other").string()});
  ASSERT_EQ(prov.exit_code, 0) << prov.out;
  auto r = preflight(work_.path() / "other" / "other_project" / "prod_00" / "site-1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  std::string tls = row(r.out, "TLS handshake");
  EXPECT_NE(tls.find("| FAILED "), std::string::npos) << r.out;
  EXPECT_NE(tls.find("TLS handshake failed"), std::string::npos) << r.out;
  EXPECT_NE(tls.find("(the dry run was not run)"), std::string::npos) << r.out;
  EXPECT_EQ(row(r.out, "dry run"), "") << r.out;
  // The kit itself is sound: only the connection to this server fails.
  EXPECT_NE(r.out.find(", 0 WARNING, 1 FAILED\n"), std::string::npos) << r.out;
}

class PreflightCliTest : public E2eTest {};

TEST_F(PreflightCliTest, AFolderThatIsNoKitIsAnErrorThatSaysWhatAKitHolds) {
  auto r = run({"preflight_check", "-p", (work_.path() / "nowhere").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(
      r.out.find("Error: package path " + (work_.path() / "nowhere").string() + " is not a folder"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("it holds startup/ with fed_server.json, fed_client.json, fed_admin.json or fed_relay.json"),
            std::string::npos)
      << r.out;
  fs::create_directories(work_.path() / "prod_00");
  auto prod = run({"preflight_check", "-p", (work_.path() / "prod_00").string()});
  EXPECT_EQ(prod.exit_code, 1) << prod.out;
  EXPECT_NE(prod.out.find("has no startup/ folder"), std::string::npos) << prod.out;
}

}  // namespace
}  // namespace nvf::e2e
