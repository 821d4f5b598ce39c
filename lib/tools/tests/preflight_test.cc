// The checks of `nvflare preflight_check` on kits provisioned here, each broken in one way.
#include "tools/preflight.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <optional>

#include "base/files.h"
#include "base/strings.h"
#include "cellnet/cell.h"
#include "fake_grpc_over_tcp.h"
#include "runtime/deploy_protocol.h"
#include "runtime/registration.h"
#include "security/pki.h"
#include "tools/poc.h"
#include "tools/provision.h"

namespace nvf::tools {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::milliseconds;

std::string replace_first(std::string s, const std::string& from, const std::string& to) {
  auto at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// A listening TCP socket on 127.0.0.1, port chosen by the OS; closed by the destructor.
class Listening {
 public:
  Listening() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Listening() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class PreflightTest : public ::testing::Test {
 protected:
  // One project (server, site-1, site-2, admin) and another project's kits, provisioned once.
  static void SetUpTestSuite() {
    auto dir = base::make_temp_dir("nvf-preflight-test");
    ASSERT_TRUE(dir.ok());
    suite_dir_ = new base::ScopedRemove(*dir);
    std::string yml = poc_project_yml({"site-1", "site-2"});
    prod_ = new fs::path(provision(*dir, "example.yml", yml));
    other_prod_ = new fs::path(provision(
        *dir, "other.yml", replace_first(yml, "name: example_project", "name: other_project")));
  }
  static void TearDownTestSuite() {
    delete prod_;
    delete other_prod_;
    delete suite_dir_;
  }
  static fs::path provision(const fs::path& dir, const std::string& file, const std::string& yml) {
    EXPECT_TRUE(base::atomic_write(dir / file, yml).ok());
    ProvisionOptions o;
    o.project_file = dir / file;
    o.workspace = dir / "workspace";
    auto prod = run_provision(o);
    EXPECT_TRUE(prod.ok()) << prod.status().to_string();
    return prod.ok() ? *prod : fs::path();
  }

  void SetUp() override {
    auto dir = base::make_temp_dir("nvf-preflight-case");
    ASSERT_TRUE(dir.ok());
    case_dir_ = base::ScopedRemove(*dir);
  }

  // A copy of a participant's kit that this test may break.
  fs::path kit(const std::string& name, const fs::path& prod = *prod_) {
    fs::path to = case_dir_.path() / (prod == *prod_ ? "" : "other") / name;
    EXPECT_TRUE(base::copy_tree(prod / name, to).ok());
    return to;
  }
  CheckedKit load(const fs::path& dir) {
    auto k = load_checked_kit(dir);
    EXPECT_TRUE(k.ok()) << k.status().to_string();
    return k.ok() ? *k : CheckedKit{};
  }
  static std::optional<Finding> find(const std::vector<Finding>& fs, const std::string& check) {
    for (const auto& f : fs) {
      if (f.check == check) return f;
    }
    return std::nullopt;
  }
  static void append(const fs::path& file, const std::string& text) {
    auto old = base::read_file(file);
    ASSERT_TRUE(old.ok());
    ASSERT_TRUE(base::atomic_write(file, *old + text).ok());
  }
  static void copy_over(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  static base::ScopedRemove* suite_dir_;
  static fs::path* prod_;
  static fs::path* other_prod_;
  base::ScopedRemove case_dir_;
};

base::ScopedRemove* PreflightTest::suite_dir_ = nullptr;
fs::path* PreflightTest::prod_ = nullptr;
fs::path* PreflightTest::other_prod_ = nullptr;

TEST_F(PreflightTest, DetectsEachKindAndSaysWhatAKitFolderHolds) {
  EXPECT_EQ(*detect_kit_kind(*prod_ / "server"), KitKind::kServer);
  EXPECT_EQ(*detect_kit_kind(*prod_ / "site-1"), KitKind::kClient);
  EXPECT_EQ(*detect_kit_kind(*prod_ / "admin@nvidia.com"), KitKind::kAdmin);

  auto none = detect_kit_kind(case_dir_.path() / "nowhere");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("nowhere is not a folder"), std::string::npos)
      << none.status().message();
  EXPECT_NE(none.status().message().find("fed_server.json, fed_client.json, fed_admin.json or fed_relay.json"),
            std::string::npos);

  auto prod = detect_kit_kind(*prod_);  // the prod folder, not a participant's
  ASSERT_FALSE(prod.ok());
  EXPECT_NE(prod.status().message().find("has no startup/ folder"), std::string::npos)
      << prod.status().message();

  auto report = run_preflight(PreflightOptions{*prod_, nullptr});
  EXPECT_FALSE(report.ok());
}

TEST_F(PreflightTest, AProvisionedClientKitPassesEveryLocalCheck) {
  CheckedKit k = load(kit("site-1"));
  EXPECT_EQ(k.kind, KitKind::kClient);
  EXPECT_EQ(k.kit.name, "site-1");
  EXPECT_EQ(k.server.host, "localhost");
  EXPECT_EQ(k.server.port, 8002);
  std::vector<Finding> all = check_kit_files(k);
  all.push_back(check_kit_signatures(k));
  for (auto& f : check_certificates(k, std::chrono::system_clock::now())) all.push_back(f);
  std::vector<std::string> names;
  for (const auto& f : all) {
    names.push_back(f.check);
    EXPECT_EQ(f.result, CheckResult::kPassed) << f.check << ": " << f.detail;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"kit files", "start scripts", "private key mode",
                                             "kit signatures", "certificate chain",
                                             "certificate validity", "root CA validity",
                                             "certificate name", "private key match"}));
  EXPECT_EQ(find(all, "private key mode")->detail, "startup/client.key has mode 0600 (owner only)");
  EXPECT_NE(find(all, "certificate validity")->detail.find("expires in 35"), std::string::npos)
      << find(all, "certificate validity")->detail;  // 360 days
}

TEST_F(PreflightTest, ATamperedStartupFileFailsTheSignatureCheckNamingIt) {
  fs::path dir = kit("site-1");
  append(dir / "startup" / "fed_client.json", " ");
  Finding f = check_kit_signatures(load(dir));
  EXPECT_EQ(f.result, CheckResult::kFailed);
  EXPECT_EQ(f.detail, "startup/fed_client.json: invalid signature");
  EXPECT_NE(f.action.find("restore the named files"), std::string::npos);
}

TEST_F(PreflightTest, ATamperedLocalFileFailsTheSignatureCheckButAnAddedOneDoesNot) {
  fs::path dir = kit("site-1");
  ASSERT_TRUE(
      base::atomic_write(dir / "local" / "resources.json", "{}").ok());  // operator's file: fine
  EXPECT_EQ(check_kit_signatures(load(dir)).result, CheckResult::kPassed);
  append(dir / "local" / "authorization.json.default", "\n");
  Finding f = check_kit_signatures(load(dir));
  EXPECT_EQ(f.result, CheckResult::kFailed);
  EXPECT_EQ(f.detail,
            "local/authorization.json.default: invalid signature");  // relative to the kit
}

TEST_F(PreflightTest, AKeyReadableByOthersIsAWarningThatSaysChmod) {
  fs::path dir = kit("site-1");
  ASSERT_EQ(::chmod((dir / "startup" / "client.key").c_str(), 0644), 0);
  auto f = find(check_kit_files(load(dir)), "private key mode");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->result, CheckResult::kWarning);
  EXPECT_EQ(
      f->detail,
      "startup/client.key has mode 0644: other users of this machine may read the private key");
  EXPECT_EQ(f->action, "chmod 600 startup/client.key (in the kit folder)");
}

TEST_F(PreflightTest, MissingFilesFailAndTheirDependentChecksAreLeftOut) {
  fs::path dir = kit("site-1");
  fs::remove(dir / "startup" / "client.key");
  fs::remove(dir / "startup" / "sub_start.sh");
  ASSERT_EQ(::chmod((dir / "startup" / "stop_fl.sh").c_str(), 0644), 0);
  CheckedKit k = load(dir);
  auto files = check_kit_files(k);
  EXPECT_EQ(find(files, "kit files")->result, CheckResult::kFailed);
  EXPECT_EQ(find(files, "kit files")->detail, "missing: startup/client.key");
  EXPECT_EQ(find(files, "start scripts")->detail, "missing: startup/sub_start.sh");
  EXPECT_FALSE(find(files, "private key mode"));
  auto certs = check_certificates(k, std::chrono::system_clock::now());
  EXPECT_FALSE(find(certs, "private key match"));
  EXPECT_EQ(find(certs, "certificate chain")->result, CheckResult::kPassed);

  fs::path dir2 = kit("site-2");
  ASSERT_EQ(::chmod((dir2 / "startup" / "stop_fl.sh").c_str(), 0644), 0);
  auto scripts = find(check_kit_files(load(dir2)), "start scripts");
  EXPECT_EQ(scripts->result, CheckResult::kWarning);
  EXPECT_EQ(scripts->detail, "not executable: startup/stop_fl.sh");
}

TEST_F(PreflightTest, ACertificateFromAnotherProjectsCaFailsTheChain) {
  fs::path dir = kit("site-1");
  copy_over(*other_prod_ / "site-1" / "startup" / "client.crt", dir / "startup" / "client.crt");
  copy_over(*other_prod_ / "site-1" / "startup" / "client.key", dir / "startup" / "client.key");
  auto certs = check_certificates(load(dir), std::chrono::system_clock::now());
  auto chain = find(certs, "certificate chain");
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->result, CheckResult::kFailed);
  EXPECT_EQ(chain->detail,
            "startup/client.crt was issued by CA 'other_project', not by startup/rootCA.pem (CA "
            "'example_project')");
  EXPECT_NE(chain->action.find("project 'example_project'"), std::string::npos) << chain->action;
  EXPECT_EQ(find(certs, "private key match")->result,
            CheckResult::kPassed);  // a pair, of the wrong project
  EXPECT_EQ(find(certs, "certificate name")->result, CheckResult::kPassed);
}

TEST_F(PreflightTest, AKeyOfAnotherKitDoesNotMatchTheCertificate) {
  fs::path dir = kit("site-1");
  copy_over(*prod_ / "site-2" / "startup" / "client.key", dir / "startup" / "client.key");
  auto f =
      find(check_certificates(load(dir), std::chrono::system_clock::now()), "private key match");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->result, CheckResult::kFailed);
  EXPECT_NE(f->detail.find("startup/client.key does not belong to startup/client.crt"),
            std::string::npos)
      << f->detail;
}

TEST_F(PreflightTest, ACertificateOfAnotherParticipantFailsTheName) {
  fs::path dir = kit("site-1");
  copy_over(*prod_ / "site-2" / "startup" / "client.crt", dir / "startup" / "client.crt");
  copy_over(*prod_ / "site-2" / "startup" / "client.key", dir / "startup" / "client.key");
  auto certs = check_certificates(load(dir), std::chrono::system_clock::now());
  auto name = find(certs, "certificate name");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->result, CheckResult::kFailed);
  EXPECT_EQ(
      name->detail,
      "startup/client.crt names 'site-2', but startup/fed_client.json names the client 'site-1'");
  EXPECT_EQ(find(certs, "certificate chain")->result, CheckResult::kPassed);
}

TEST_F(PreflightTest, ExpiryWarnsUnderThirtyDaysAndFailsOutsideTheValidity) {
  CheckedKit k = load(kit("server"));
  auto cert = base::read_file(k.kit.cert);
  ASSERT_TRUE(cert.ok());
  auto info = security::describe_certificate(*cert);
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(std::chrono::duration_cast<hours>(info->not_after - info->not_before).count(),
            360 * 24);

  auto soon =
      find(check_certificates(k, info->not_after - hours(24 * 10 + 1)), "certificate validity");
  EXPECT_EQ(soon->result, CheckResult::kWarning);
  EXPECT_NE(soon->detail.find("startup/server.crt expires in 10 days, on "), std::string::npos)
      << soon->detail;
  EXPECT_NE(soon->action.find("re-provision"), std::string::npos);

  auto expired = check_certificates(k, info->not_after + hours(1));
  EXPECT_EQ(find(expired, "certificate validity")->result, CheckResult::kFailed);
  EXPECT_NE(find(expired, "certificate validity")->detail.find("expired on"), std::string::npos);
  EXPECT_EQ(find(expired, "root CA validity")->result, CheckResult::kFailed);  // same 360 days

  auto early = find(check_certificates(k, info->not_before - hours(1)), "certificate validity");
  EXPECT_EQ(early->result, CheckResult::kFailed);
  EXPECT_NE(early->detail.find("is not valid before"), std::string::npos) << early->detail;
}

TEST_F(PreflightTest, AServerNameThatDoesNotResolveFailsForAClientAndWarnsForTheServer) {
  CheckedKit client = load(kit("site-1"));
  EXPECT_EQ(check_server_name(client).result, CheckResult::kPassed);
  client.server.host = "nonexistent.invalid";
  Finding f = check_server_name(client);
  EXPECT_EQ(f.result, CheckResult::kFailed);
  EXPECT_NE(
      f.detail.find(
          "'nonexistent.invalid' (overseer_agent.args.sp_end_point in startup/fed_client.json) "
          "does not resolve"),
      std::string::npos)
      << f.detail;

  CheckedKit admin = load(kit("admin@nvidia.com"));
  admin.server.host = "nonexistent.invalid";
  EXPECT_NE(check_server_name(admin).detail.find("admin.host in startup/fed_admin.json"),
            std::string::npos);

  CheckedKit server = load(kit("server"));
  server.server.host = "nonexistent.invalid";
  EXPECT_EQ(check_server_name(server).result, CheckResult::kWarning);
}

TEST_F(PreflightTest, AnUnresolvableServerLeavesOutTheConnectionChecks) {
  fs::path dir = kit("site-1");
  auto text = base::read_file(dir / "startup" / "fed_client.json");
  ASSERT_TRUE(text.ok());
  ASSERT_TRUE(base::atomic_write(dir / "startup" / "fed_client.json",
                                 replace_first(*text, "localhost:", "nonexistent.invalid:"))
                  .ok());
  auto report = run_preflight(PreflightOptions{dir, testing::FakeGrpcOverTcp::factory()});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_FALSE(report->passed());
  auto dns = find(report->findings, "server name");
  ASSERT_TRUE(dns);
  EXPECT_EQ(dns->result, CheckResult::kFailed);
  EXPECT_NE(dns->detail.find("(the connection checks were not run)"), std::string::npos);
  EXPECT_FALSE(find(report->findings, "server reachable"));
  EXPECT_FALSE(find(report->findings, "dry run"));
  EXPECT_EQ(find(report->findings, "kit signatures")->detail,
            "startup/fed_client.json: invalid signature");
  EXPECT_EQ(report->count(CheckResult::kFailed), 2);
}

TEST_F(PreflightTest, PortsInUseFailWithAClearRowAndNameTheRunningServer) {
  CheckedKit k = load(kit("server"));
  Listening busy;
  Listening free_port;
  free_port.close();  // a port the OS handed out and nobody holds now
  k.server.port = busy.port();
  k.admin_port = free_port.port();
  auto rows = check_server_ports(k);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].check, "fl port");
  EXPECT_EQ(rows[0].result, CheckResult::kFailed);
  EXPECT_EQ(rows[0].detail, "127.0.0.1:" + std::to_string(busy.port()) +
                                " is in use — is the server already running?");
  EXPECT_EQ(rows[1].check, "admin port");
  EXPECT_EQ(rows[1].result, CheckResult::kPassed) << rows[1].detail;

  // pid.fl naming a live process (this one): the row says the kit's server runs.
  ASSERT_TRUE(base::atomic_write(k.kit.root / "pid.fl", std::to_string(::getpid()) + "\n").ok());
  rows = check_server_ports(k);
  EXPECT_EQ(rows[0].detail, "127.0.0.1:" + std::to_string(busy.port()) +
                                " is in use — the server of this kit is "
                                "running (pid " +
                                std::to_string(::getpid()) + ", from pid.fl)");

  k.admin_port = k.server.port;
  rows = check_server_ports(k);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].check, "fl and admin port");
}

TEST_F(PreflightTest, AServerThatIsNotListeningFailsReachableAndLeavesOutTheRest) {
  CheckedKit k = load(kit("site-1"));
  Listening gone;
  gone.close();
  k.server = runtime::Endpoint{"127.0.0.1", gone.port()};
  Finding f = check_server_reachable(k, milliseconds(2000));
  EXPECT_EQ(f.result, CheckResult::kFailed);
  EXPECT_EQ(f.detail, "127.0.0.1:" + std::to_string(gone.port()) +
                          ": connection refused: nothing listens on that port");
  EXPECT_NE(f.action.find("nvflare poc start -p server"), std::string::npos);

  Listening open;
  k.server.port = open.port();
  EXPECT_EQ(check_server_reachable(k, milliseconds(2000)).result, CheckResult::kPassed);
}

TEST_F(PreflightTest, ATransportFailureIsTheTlsRowsReason) {
  CheckedKit k = load(kit("site-1"));
  struct Refusing : testing::FakeGrpcOverTcp {
    Result<std::shared_ptr<cellnet::Connection>> connect(const std::string& url,
                                                         cellnet::ConnectionHandler*,
                                                         std::chrono::milliseconds) override {
      return UnavailableError("cannot connect to " + url +
                              ": TLS handshake failed (target name 'server')");
    }
  };
  runtime::DriverFactory refusing = [](const cellnet::DriverOptions& o) {
    EXPECT_EQ(o.tls.mode, cellnet::TlsConfig::Mode::kMtls);
    EXPECT_EQ(o.tls.target_name, "server");
    return std::make_shared<Refusing>();
  };
  Finding f = check_tls_handshake(k, refusing, milliseconds(2000));
  EXPECT_EQ(f.result, CheckResult::kFailed);
  EXPECT_EQ(
      f.detail,
      "cannot connect to grpcs://localhost:8002: TLS handshake failed (target name 'server')");
  EXPECT_EQ(check_tls_handshake(k, nullptr, milliseconds(2000)).result, CheckResult::kWarning);
}

// A server cell with FLARE's registration handlers, reached over the fake transport.
class RegisteringServer {
 public:
  explicit RegisteringServer(const CheckedKit& server_kit) {
    runtime::Registrar::Identity id;
    id.name = server_kit.kit.name;
    id.project = server_kit.kit.project;
    id.cert_pem = *base::read_file(server_kit.kit.cert);
    id.key_pem = *base::read_file(server_kit.kit.key);
    id.root_pem = *base::read_file(server_kit.kit.root_ca);
    registrar_ = std::make_unique<runtime::Registrar>(id);
    drivers_.add(std::make_shared<testing::FakeGrpcOverTcp>());
    cellnet::CellOptions co;
    co.fqcn = "server";
    co.drivers = &drivers_;
    cell_ = std::make_unique<cellnet::Cell>(co);
    EXPECT_TRUE(cell_->start().ok());
    runtime::Registrar* reg = registrar_.get();
    const std::string task(runtime::deploy::kChannelTask);
    cell_->register_async_request_handler(task, std::string(runtime::deploy::kTopicChallenge),
                                          [reg](const cellnet::Message& m, cellnet::Responder r) {
                                            reg->handle_challenge(m, std::move(r));
                                          });
    cell_->register_async_request_handler(task, std::string(runtime::deploy::kTopicRegister),
                                          [reg](const cellnet::Message& m, cellnet::Responder r) {
                                            reg->handle_register(m, std::move(r));
                                          });
    // As the server parent: a registered client that quits is forgotten; the quits are counted.
    cell_->register_request_handler(task, std::string(runtime::deploy::kTopicQuit),
                                    [this, reg](const cellnet::Message& m) -> Result<cellnet::Message> {
                                      NVF_ASSIGN_OR_RETURN(runtime::Principal p, reg->principal_of(m.headers));
                                      reg->remove(p.name);
                                      std::lock_guard<std::mutex> lock(mu_);
                                      quits_.push_back(p.name);
                                      return cellnet::Message{};
                                    });
    auto url = cell_->listen("grpcs://127.0.0.1:0");
    EXPECT_TRUE(url.ok()) << url.status().to_string();
    port_ = std::stoi(url->substr(url->rfind(':') + 1));
  }
  ~RegisteringServer() {
    cell_->stop();
    drivers_.stop_all();
  }
  int port() const { return port_; }
  runtime::Registrar& registrar() { return *registrar_; }
  std::vector<std::string> quits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return quits_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> quits_;  // guarded by mu_
  std::unique_ptr<runtime::Registrar> registrar_;
  cellnet::DriverRegistry drivers_;
  std::unique_ptr<cellnet::Cell> cell_;
  int port_ = 0;
};

TEST_F(PreflightTest, TheDryRunRegistersWithTheServerAndAForeignKitIsRefused) {
  RegisteringServer server(load(kit("server")));
  CheckedKit client = load(kit("site-1"));
  client.server = runtime::Endpoint{"127.0.0.1", server.port()};
  Finding ok = check_dry_run(client, testing::FakeGrpcOverTcp::factory(), milliseconds(2000));
  EXPECT_EQ(ok.result, CheckResult::kPassed) << ok.detail;
  EXPECT_EQ(ok.detail,
            "registered with server 'server' as client 'site-1' of project 'example_project', then "
            "closed the session");
  // It registered, then left again: the server does not list a client that is not running.
  EXPECT_EQ(server.quits(), std::vector<std::string>{"site-1"});
  EXPECT_TRUE(server.registrar().principals("client").empty());

  CheckedKit admin = load(kit("admin@nvidia.com"));
  admin.server = client.server;
  EXPECT_EQ(check_dry_run(admin, testing::FakeGrpcOverTcp::factory(), milliseconds(2000)).result,
            CheckResult::kPassed);
  EXPECT_EQ(server.registrar().principals("admin").size(), 1u);

  CheckedKit foreign = load(kit("site-1", *other_prod_));
  foreign.server = client.server;
  Finding refused = check_dry_run(foreign, testing::FakeGrpcOverTcp::factory(), milliseconds(2000));
  EXPECT_EQ(refused.result, CheckResult::kFailed);
  EXPECT_NE(refused.detail.find(
                "registration as client 'site-1' failed: the server's certificate does not chain"),
            std::string::npos)
      << refused.detail;
}

// Identity from authentication: a site registers from a cell named for it ("site-1", or
// "R1.site-1" behind a relay) with its certificate; its later messages must come from that cell or
// one below it, whatever their auth headers say, and the name the server sees is the certificate's.
TEST_F(PreflightTest, RegistrationBindsASiteToTheCellItRegisteredFrom) {
  RegisteringServer server(load(kit("server")));
  CheckedKit client = load(kit("site-1"));
  cellnet::DriverRegistry drivers;
  drivers.add(std::make_shared<testing::FakeGrpcOverTcp>());
  std::vector<std::unique_ptr<cellnet::Cell>> cells;
  auto connected = [&](const std::string& fqcn) {
    cellnet::CellOptions co;
    co.fqcn = fqcn;
    co.drivers = &drivers;
    cells.push_back(std::make_unique<cellnet::Cell>(co));
    EXPECT_TRUE(cells.back()->start().ok());
    EXPECT_TRUE(cells.back()->connect("grpcs://127.0.0.1:" + std::to_string(server.port())).ok());
    EXPECT_TRUE(cells.back()->wait_for_peer("server", std::chrono::seconds(5)).ok());
    return cells.back().get();
  };

  auto creds = runtime::register_with_server(*connected("R1.site-1"), client.kit, "client", milliseconds(5000));
  ASSERT_TRUE(creds.ok()) << creds.status().to_string();
  auto from = [&](const std::string& origin) {
    cellnet::Headers h = runtime::auth_headers(*creds);
    h.set(cellnet::hdr::kOrigin, origin);
    return h;
  };
  for (const char* origin : {"R1.site-1", "R1.site-1.job-7", "R1.site-1.job-7.trainer"}) {
    auto who = server.registrar().check(from(origin));
    ASSERT_TRUE(who.ok()) << origin << ": " << who.status().to_string();
    EXPECT_EQ(*who, "site-1") << origin;
  }
  for (const char* origin : {"site-1", "R1", "R1.site-10", "R2.site-1", "site-1.job-7"}) {
    auto who = server.registrar().check(from(origin));
    ASSERT_FALSE(who.ok()) << origin;
    EXPECT_EQ(who.status().code(), StatusCode::kUnauthenticated) << origin;
    EXPECT_NE(who.status().message().find("registered from cell R1.site-1"), std::string::npos)
        << who.status().message();
  }
  auto listed = server.registrar().principals("client");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "site-1");
  EXPECT_EQ(listed[0].fqcn, "R1.site-1");

  // A cell whose name lies about the site its certificate names cannot register.
  auto liar = runtime::register_with_server(*connected("R1.site-2"), client.kit, "client", milliseconds(5000));
  ASSERT_FALSE(liar.ok());
  EXPECT_NE(liar.status().message().find("it registers from cell 'R1.site-2', which is not named 'site-1'"),
            std::string::npos)
      << liar.status().to_string();
  for (auto& c : cells) c->stop();
  drivers.stop_all();
}

// A relay checks its children's frames itself (runtime::TokenVerifier): the token must carry the
// server's signature (checked with the certificate the relay got when it registered), and the
// sender's cell must lie below the relay and be named for the token's holder. Registration
// requests pass (the server checks those); before the relay registered, nothing else does.
TEST_F(PreflightTest, ARelayAcceptsOnlyFramesWithTheServersTokenFromCellsBelowIt) {
  RegisteringServer server(load(kit("server")));
  CheckedKit client = load(kit("site-1"));
  cellnet::DriverRegistry drivers;
  drivers.add(std::make_shared<testing::FakeGrpcOverTcp>());
  cellnet::CellOptions co;
  co.fqcn = "R1.site-1";
  co.drivers = &drivers;
  cellnet::Cell cell(co);
  ASSERT_TRUE(cell.start().ok());
  ASSERT_TRUE(cell.connect("grpcs://127.0.0.1:" + std::to_string(server.port())).ok());
  ASSERT_TRUE(cell.wait_for_peer("server", std::chrono::seconds(5)).ok());
  auto creds = runtime::register_with_server(cell, client.kit, "client", milliseconds(5000));
  ASSERT_TRUE(creds.ok()) << creds.status().to_string();
  ASSERT_NE(creds->server_cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);

  runtime::TokenVerifier relay("R1");
  auto from = [&](const std::string& origin) {
    cellnet::Headers h = runtime::auth_headers(*creds);
    h.set(cellnet::hdr::kOrigin, origin);
    return h;
  };
  auto before = relay.check(from("R1.site-1"));
  EXPECT_EQ(before.status().code(), StatusCode::kUnavailable) << before.status().to_string();
  cellnet::Headers reg;
  reg.set(cellnet::hdr::kChannel, std::string(runtime::deploy::kChannelTask));
  reg.set(cellnet::hdr::kTopic, std::string(runtime::deploy::kTopicRegister));
  reg.set(cellnet::hdr::kOrigin, "R1.site-1");
  ASSERT_TRUE(relay.check(reg).ok());
  EXPECT_EQ(*relay.check(reg), "");

  relay.set_server_cert(creds->server_cert_pem);
  for (const char* origin : {"R1.site-1", "R1.site-1.job-7", "R1.site-1.job-7.site-1_job-7_active"}) {
    auto who = relay.check(from(origin));
    ASSERT_TRUE(who.ok()) << origin << ": " << who.status().to_string();
    EXPECT_EQ(*who, "site-1");
  }
  for (const char* origin : {"R2.site-1", "R1.site-2", "site-1", "R1", "R10.site-1"}) {
    auto who = relay.check(from(origin));
    EXPECT_EQ(who.status().code(), StatusCode::kUnauthenticated) << origin;
  }
  cellnet::Headers forged = from("R1.site-1");
  forged.set(std::string(runtime::deploy::kHdrToken), "not-the-token");
  auto bad = relay.check(forged);
  EXPECT_EQ(bad.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(bad.status().message().find("is not signed by the server"), std::string::npos) << bad.status().message();
  cellnet::Headers none;
  none.set(cellnet::hdr::kOrigin, "R1.site-1");
  EXPECT_EQ(relay.check(none).status().code(), StatusCode::kUnauthenticated);
  // Another project's server certificate verifies nothing.
  relay.set_server_cert(*base::read_file(load(kit("server", *other_prod_)).kit.cert));
  EXPECT_EQ(relay.check(from("R1.site-1")).status().code(), StatusCode::kUnauthenticated);

  // A relay registers as a relay: it is not listed among the clients.
  cellnet::CellOptions ro;
  ro.fqcn = "site-2";
  ro.drivers = &drivers;
  cellnet::Cell relay_cell(ro);
  ASSERT_TRUE(relay_cell.start().ok());
  ASSERT_TRUE(relay_cell.connect("grpcs://127.0.0.1:" + std::to_string(server.port())).ok());
  ASSERT_TRUE(relay_cell.wait_for_peer("server", std::chrono::seconds(5)).ok());
  auto relay_creds = runtime::register_with_server(relay_cell, load(kit("site-2")).kit, "relay", milliseconds(5000));
  ASSERT_TRUE(relay_creds.ok()) << relay_creds.status().to_string();
  ASSERT_EQ(server.registrar().principals("relay").size(), 1u);
  EXPECT_EQ(server.registrar().principals("relay")[0].fqcn, "site-2");
  EXPECT_EQ(server.registrar().principals("client").size(), 1u);  // site-1 only
  relay_cell.stop();
  cell.stop();
  drivers.stop_all();
}

TEST_F(PreflightTest, TheDryRunLeavesARunningClientAlone) {
  RegisteringServer server(load(kit("server")));
  CheckedKit client = load(kit("site-1"));
  client.server = runtime::Endpoint{"127.0.0.1", server.port()};
  ASSERT_TRUE(base::atomic_write(client.kit.root / "pid.fl", std::to_string(::getpid())).ok());
  Finding f = check_dry_run(client, testing::FakeGrpcOverTcp::factory(), milliseconds(2000));
  EXPECT_EQ(f.result, CheckResult::kWarning);
  EXPECT_NE(f.detail.find("the client of this kit is running (pid " + std::to_string(::getpid())),
            std::string::npos)
      << f.detail;
  EXPECT_TRUE(server.registrar().principals("client").empty());
}

TEST_F(PreflightTest, AClientKitPassesEveryCheckAgainstItsServerAndTheReportSaysSo) {
  RegisteringServer server(load(kit("server")));
  fs::path dir = kit("site-1");
  // The server's address as provisioned would be localhost:8002; this server listens elsewhere, so
  // the kit's endpoint is rewritten (which its signature check reports).
  auto text = base::read_file(dir / "startup" / "fed_client.json");
  ASSERT_TRUE(text.ok());
  ASSERT_TRUE(base::atomic_write(dir / "startup" / "fed_client.json",
                                 replace_first(*text, "localhost:8002",
                                               "127.0.0.1:" + std::to_string(server.port())))
                  .ok());
  PreflightOptions o{dir, testing::FakeGrpcOverTcp::factory()};
  o.timeout = milliseconds(2000);
  auto report = run_preflight(o);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  std::vector<std::string> failed;
  for (const auto& f : report->findings) {
    if (f.result != CheckResult::kPassed) failed.push_back(f.check);
  }
  EXPECT_EQ(failed, std::vector<std::string>{"kit signatures"});
  EXPECT_EQ(report->findings.back().check, "dry run");
  EXPECT_EQ(report->findings.back().result, CheckResult::kPassed);
  EXPECT_EQ(report->count(CheckResult::kPassed), static_cast<int>(report->findings.size()) - 1);

  std::string text_out = render_preflight(*report);
  EXPECT_NE(
      text_out.find("Checking the client startup kit 'site-1' of project 'example_project' in " +
                    dir.string()),
      std::string::npos)
      << text_out;
  EXPECT_NE(text_out.find("| Check "), std::string::npos) << text_out;
  EXPECT_NE(text_out.find("| kit signatures "), std::string::npos) << text_out;
  EXPECT_NE(text_out.find("| FAILED "), std::string::npos) << text_out;
  EXPECT_NE(text_out.find(std::to_string(report->findings.size()) +
                          " checks: " + std::to_string(report->findings.size() - 1) +
                          " PASSED, 0 WARNING, 1 FAILED"),
            std::string::npos)
      << text_out;
  EXPECT_NE(text_out.find("preflight_check FAILED: fix the rows marked FAILED"), std::string::npos)
      << text_out;
}

TEST_F(PreflightTest, TheTableWrapsLongCellsWithinItsWidth) {
  PreflightReport r;
  r.kit_dir = "/kits/site-1";
  r.kind = KitKind::kClient;
  r.name = "site-1";
  r.project = "p";
  r.findings.push_back(
      {"fl port", CheckResult::kFailed, "127.0.0.1:8002 is in use — " + std::string(120, 'x'),
       "stop it before starting it again; " + std::string(30, 'y') + " and more words here"});
  r.findings.push_back({"kit files", CheckResult::kPassed, "all present", ""});
  std::string text = render_preflight(r);
  std::vector<std::string> lines = base::split(text, '\n', true);
  ASSERT_GE(lines.size(), 9u) << text;
  EXPECT_EQ(lines[0], "Checking the client startup kit 'site-1' of project 'p' in /kits/site-1");
  EXPECT_EQ(lines[1], std::string(kPreflightTableWidth, '-'));
  for (size_t i = 1; i + 2 < lines.size(); ++i) {
    size_t width = 0;
    for (char c : lines[i]) width += (c & 0xC0) != 0x80;
    EXPECT_EQ(width, kPreflightTableWidth) << lines[i];
  }
  EXPECT_EQ(lines[2].rfind("| Check     | Result  | Finding ", 0), 0u) << text;
  EXPECT_EQ(lines[4].rfind("| fl port   | FAILED  | 127.0.0.1:8002 is in use — ", 0), 0u) << text;
  EXPECT_EQ(lines[5].rfind("|           |         | xxxx", 0), 0u) << text;  // the long word is cut
  EXPECT_NE(text.find("| kit files | PASSED  | all present "), std::string::npos) << text;
  EXPECT_EQ(lines[lines.size() - 2], "2 checks: 1 PASSED, 0 WARNING, 1 FAILED");
}

TEST_F(PreflightTest, ABrokenConfigIsOneFailedRowFollowedByTheSignatures) {
  fs::path dir = kit("site-1");
  ASSERT_TRUE(base::atomic_write(dir / "startup" / "fed_client.json", "{\"servers\": []}").ok());
  auto report = run_preflight(PreflightOptions{dir, nullptr});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_EQ(report->findings.size(), 2u);
  EXPECT_EQ(report->findings[0].check, "kit config");
  EXPECT_EQ(report->findings[0].result, CheckResult::kFailed);
  EXPECT_EQ(report->findings[0].detail, "startup/fed_client.json: servers[0] is missing");
  EXPECT_EQ(report->findings[1].check, "kit signatures");
  EXPECT_EQ(report->findings[1].detail, "startup/fed_client.json: invalid signature");
}

}  // namespace
}  // namespace nvf::tools
