// stcp with real certificates made by openssl: mutual TLS carries frames (a multi-record payload
// read in place) and reports both CNs; server-only TLS needs no client certificate; a client
// certificate from another CA, an expired one, a server certificate for another name and a client
// trusting another CA all fail connect() with UNAVAILABLE and the reason; a bare TCP peer (garbage
// instead of a ClientHello) is dropped without a callback and the listener keeps serving; a TLS
// client against a plain listener fails; missing or mismatched PEM files are FAILED_PRECONDITION
// naming the file.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../cellnet_grpc/tests/test_certs.h"
#include "cellnet/socket_driver.h"
#include "cellnet/tests/driver_conformance.h"
#include "cellnet_tls/tls_driver.h"

namespace nvf::cellnet_tls {
namespace {

using namespace std::chrono_literals;
using cellnet::RecordingHandler;
using cellnet::TlsConfig;
using cellnet_grpc::testing::TestCerts;

bool contains(const Status& s, const std::string& part) { return s.message().find(part) != std::string::npos; }

class TlsDriverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto certs = TestCerts::generate();
    ASSERT_TRUE(certs.ok()) << certs.status().to_string();
    certs_ = new TestCerts(std::move(certs).value());
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(certs_, nullptr); }
  void TearDown() override {
    if (client_driver_) client_driver_->stop();
    if (server_driver_) server_driver_->stop();
  }

  static TlsConfig server_tls(TlsConfig::Mode mode, const std::string& cert = "server") {
    return certs_->server_tls(mode, cert);
  }
  static TlsConfig client_tls(TlsConfig::Mode mode, const std::string& cert = "client", const std::string& ca = "ca") {
    return certs_->client_tls(mode, cert, ca);
  }

  // Starts an stcp listener; returns its URL.
  std::string listen(TlsConfig tls) {
    cellnet::DriverOptions o;
    o.tls = std::move(tls);
    server_driver_ = make_stcp_driver(o);
    auto l = server_driver_->listen("stcp://127.0.0.1:0", &server_);
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    if (!l.ok()) return "";
    listener_ = std::move(l).value();
    return listener_->url();
  }
  Result<std::shared_ptr<cellnet::Connection>> connect(const std::string& url, TlsConfig tls) {
    cellnet::DriverOptions o;
    o.tls = std::move(tls);
    client_driver_ = make_stcp_driver(o);
    return client_driver_->connect(url, &client_, 5000ms);
  }
  int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

  static TestCerts* certs_;
  std::unique_ptr<cellnet::Driver> server_driver_;
  std::unique_ptr<cellnet::Driver> client_driver_;
  std::unique_ptr<cellnet::Listener> listener_;
  RecordingHandler server_;
  RecordingHandler client_;
};

TestCerts* TlsDriverTest::certs_ = nullptr;

TEST_F(TlsDriverTest, MutualTlsCarriesFramesBothWaysAndReportsBothCommonNames) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls));
  ASSERT_EQ(url.rfind("stcp://127.0.0.1:", 0), 0u) << url;
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls));
  ASSERT_TRUE(conn.ok()) << conn.status().to_string();
  ASSERT_TRUE(server_.wait_connected(1));
  auto server_end = server_.connected().front();
  EXPECT_EQ(server_end->peer().common_name, "site-1");
  EXPECT_EQ((*conn)->peer().common_name, "server");

  // 3 MiB + 7: about 200 TLS records, read in place (over kPlaceMinBytes); every byte differs
  // from its neighbours, so a lost or repeated record shows.
  std::string big(3 * 1048576 + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131 + i / 251) & 0xff);
  cellnet::Frame up;
  up.headers.set("k", "up");
  up.payload = cellnet::Buffer(cellnet::Slice::from_string(big));
  ASSERT_TRUE((*conn)->send(std::move(up)).ok());
  cellnet::Frame down;
  down.payload = cellnet::Buffer(cellnet::Slice::from_string("small reply"));
  ASSERT_TRUE(server_end->send(std::move(down)).ok());

  ASSERT_TRUE(server_.wait_frames(1));
  auto got = server_.take_frames();
  EXPECT_EQ(got.front().frame.headers.get_or("k", ""), "up");
  EXPECT_TRUE(got.front().frame.payload.to_string() == big) << "the 3 MiB payload differs";
  ASSERT_TRUE(client_.wait_frames(1));
  EXPECT_EQ(client_.take_frames().front().frame.payload.to_string(), "small reply");
}

TEST_F(TlsDriverTest, ServerOnlyTlsNeedsNoClientCertificate) {
  std::string url = listen(server_tls(TlsConfig::Mode::kTls));
  auto conn = connect(url, TlsConfig{TlsConfig::Mode::kTls, certs_->path("ca.crt"), "", "", "server"});
  ASSERT_TRUE(conn.ok()) << conn.status().to_string();
  ASSERT_TRUE(server_.wait_connected(1));
  EXPECT_EQ(server_.connected().front()->peer().common_name, "");
  EXPECT_EQ((*conn)->peer().common_name, "server");
}

TEST_F(TlsDriverTest, ClientCertificateFromAnotherCaIsRefusedAtConnect) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls));
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls, "other-client"));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
  EXPECT_TRUE(contains(conn.status(), url)) << conn.status().to_string();
  EXPECT_TRUE(contains(conn.status(), "refused us")) << conn.status().to_string();
  EXPECT_TRUE(server_.connected().empty());
}

TEST_F(TlsDriverTest, ExpiredClientCertificateIsRefusedWithTheReason) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls));
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls, "expired"));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
  EXPECT_TRUE(contains(conn.status(), "expired")) << conn.status().to_string();
  EXPECT_TRUE(server_.connected().empty());
}

TEST_F(TlsDriverTest, ServerPresentingAnotherNameIsRefused) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls, "other-server"));
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls));  // expects "server"
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
  EXPECT_TRUE(contains(conn.status(), "hostname mismatch")) << conn.status().to_string();
}

TEST_F(TlsDriverTest, ClientTrustingAnotherCaIsRefused) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls));
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls, "client", "other-ca"));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
  EXPECT_TRUE(contains(conn.status(), "certificate verify failed")) << conn.status().to_string();
}

TEST_F(TlsDriverTest, ABareTcpPeerIsDroppedAndTheListenerKeepsServing) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(port_of(url)));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  const char garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789abcdef";
  ASSERT_GT(::send(fd, garbage, sizeof(garbage), MSG_NOSIGNAL), 0);
  char b[64];
  // The server answers with an alert, then closes: recv ends (> 0 bytes of alert, then 0).
  ssize_t n = 0;
  while ((n = ::recv(fd, b, sizeof(b), 0)) > 0) {
  }
  EXPECT_EQ(n, 0);
  ::close(fd);
  EXPECT_TRUE(server_.connected().empty());

  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls));
  ASSERT_TRUE(conn.ok()) << conn.status().to_string();
  ASSERT_TRUE(server_.wait_connected(1));
  EXPECT_TRUE(server_.violations(false).empty());
}

TEST_F(TlsDriverTest, ATlsClientAgainstAPlainListenerFails) {
  cellnet::TcpDriver plain;
  RecordingHandler plain_handler;
  auto l = plain.listen("tcp://127.0.0.1:0", &plain_handler);
  ASSERT_TRUE(l.ok()) << l.status().to_string();
  std::string url = "stcp://127.0.0.1:" + std::to_string(port_of((*l)->url()));
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
  EXPECT_TRUE(contains(conn.status(), "TLS handshake with " + url)) << conn.status().to_string();
  plain.stop();
}

TEST_F(TlsDriverTest, MissingOrMismatchedPemFilesAreFailedPreconditionNamingTheFile) {
  cellnet::DriverOptions o;
  o.tls = server_tls(TlsConfig::Mode::kMtls);
  o.tls.cert_path = certs_->path("nope.crt");
  auto driver = make_stcp_driver(o);
  auto l = driver->listen("stcp://127.0.0.1:0", &server_);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kFailedPrecondition) << l.status().to_string();
  EXPECT_TRUE(contains(l.status(), "nope.crt")) << l.status().to_string();
  EXPECT_TRUE(contains(l.status(), "tls.cert_path")) << l.status().to_string();

  o.tls = server_tls(TlsConfig::Mode::kMtls);
  o.tls.key_path = certs_->path("client.key");  // another certificate's key
  auto mismatched = make_stcp_driver(o);
  l = mismatched->listen("stcp://127.0.0.1:0", &server_);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kFailedPrecondition) << l.status().to_string();
  EXPECT_TRUE(contains(l.status(), "does not belong")) << l.status().to_string();

  cellnet::DriverOptions c;
  c.tls = client_tls(TlsConfig::Mode::kMtls);
  c.tls.root_ca_path = "";
  auto client = make_stcp_driver(c);
  auto conn = client->connect("stcp://127.0.0.1:1", &client_, 1000ms);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kFailedPrecondition) << conn.status().to_string();
  EXPECT_TRUE(contains(conn.status(), "tls.root_ca_path")) << conn.status().to_string();
}

}  // namespace
}  // namespace nvf::cellnet_tls
