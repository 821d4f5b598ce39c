// grpcs:// with real certificates made by openssl: mTLS works and reports the client's CN; a
// client cert from another CA, an expired client cert, a server cert for the wrong name and a
// plain client are all refused with UNAVAILABLE; missing PEM files are FAILED_PRECONDITION.
#include <gtest/gtest.h>

#include "cellnet_grpc/grpc_driver.h"
#include "recording_handler.h"
#include "test_certs.h"

namespace nvf::cellnet_grpc {
namespace {

using namespace std::chrono_literals;
using cellnet::TlsConfig;
using testing::RecordingHandler;
using testing::TestCerts;

class GrpcTlsTest : public ::testing::Test {
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

  // Starts a grpcs listener; returns its URL.
  std::string listen(TlsConfig tls) {
    cellnet::DriverOptions o;
    o.tls = std::move(tls);
    server_driver_ = make_grpc_driver(o);
    auto l = server_driver_->listen("grpcs://127.0.0.1:0", &server_);
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    if (!l.ok()) return "";
    listener_ = std::move(l).value();
    return listener_->url();
  }
  Result<std::shared_ptr<cellnet::Connection>> connect(const std::string& url, TlsConfig tls) {
    cellnet::DriverOptions o;
    o.tls = std::move(tls);
    client_driver_ = make_grpc_driver(o);
    return client_driver_->connect(url, &client_, 3000ms);
  }

  static TestCerts* certs_;
  std::unique_ptr<cellnet::Driver> server_driver_;
  std::unique_ptr<cellnet::Driver> client_driver_;
  std::unique_ptr<cellnet::Listener> listener_;
  RecordingHandler server_;
  RecordingHandler client_;
};

TestCerts* GrpcTlsTest::certs_ = nullptr;

TEST_F(GrpcTlsTest, OpensslAgreesWhichCertificatesAreValid) {
  EXPECT_EQ(certs_->openssl_verify("ca.crt", "server.crt").value_or(-1), 0);
  EXPECT_EQ(certs_->openssl_verify("ca.crt", "client.crt").value_or(-1), 0);
  EXPECT_NE(certs_->openssl_verify("ca.crt", "other-client.crt").value_or(0), 0);
  EXPECT_NE(certs_->openssl_verify("ca.crt", "expired.crt").value_or(0), 0);
  EXPECT_EQ(certs_->openssl_verify("other-ca.crt", "other-client.crt").value_or(-1), 0);
}

TEST_F(GrpcTlsTest, MutualTlsConnectsAndReportsBothCommonNames) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls));
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls));
  ASSERT_TRUE(conn.ok()) << conn.status().to_string();
  auto server_end = server_.wait_connected();
  ASSERT_NE(server_end, nullptr);
  EXPECT_EQ(server_end->peer().common_name, "site-1");
  EXPECT_EQ((*conn)->peer().common_name, "server");
  cellnet::Frame f;
  f.payload = cellnet::Buffer(cellnet::Slice::from_string(std::string(3 << 20, 'z')));
  ASSERT_TRUE((*conn)->send(f).ok());
  auto frames = server_.wait_frames(1);
  ASSERT_TRUE(frames);
  EXPECT_EQ(frames->front().payload.to_string(), std::string(3 << 20, 'z'));
}

TEST_F(GrpcTlsTest, ServerOnlyTlsNeedsNoClientCertificate) {
  std::string url = listen(server_tls(TlsConfig::Mode::kTls));
  auto conn = connect(url, TlsConfig{TlsConfig::Mode::kTls, certs_->path("ca.crt"), "", "", "server"});
  ASSERT_TRUE(conn.ok()) << conn.status().to_string();
  auto server_end = server_.wait_connected();
  ASSERT_NE(server_end, nullptr);
  EXPECT_EQ(server_end->peer().common_name, "");
}

TEST_F(GrpcTlsTest, ClientCertificateFromAnotherCaIsRefused) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls));
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls, "other-client"));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
  EXPECT_NE(conn.status().message().find(url), std::string::npos) << conn.status().to_string();
  EXPECT_EQ(server_.connected_count(), 0u);
}

TEST_F(GrpcTlsTest, ExpiredClientCertificateIsRefused) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls));
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls, "expired"));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
  EXPECT_EQ(server_.connected_count(), 0u);
}

TEST_F(GrpcTlsTest, ServerPresentingAnotherNameIsRefused) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls, "other-server"));
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls));  // expects "server"
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
  EXPECT_NE(conn.status().message().find("TLS handshake failed"), std::string::npos) << conn.status().to_string();
}

TEST_F(GrpcTlsTest, ClientTrustingAnotherCaIsRefused) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls));
  auto conn = connect(url, client_tls(TlsConfig::Mode::kMtls, "client", "other-ca"));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
  EXPECT_NE(conn.status().message().find("TLS handshake failed"), std::string::npos) << conn.status().to_string();
}

TEST_F(GrpcTlsTest, PlainClientCannotTalkToTlsServer) {
  std::string url = listen(server_tls(TlsConfig::Mode::kMtls));
  std::string plain_url = "grpc" + url.substr(5);  // grpcs:// -> grpc://
  auto conn = connect(plain_url, TlsConfig{});
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
}

TEST_F(GrpcTlsTest, MissingPemFileIsFailedPreconditionNamingIt) {
  cellnet::DriverOptions o;
  o.tls = server_tls(TlsConfig::Mode::kMtls);
  o.tls.cert_path = certs_->path("no-such.crt");
  auto driver = make_grpc_driver(o);
  auto l = driver->listen("grpcs://127.0.0.1:0", &server_);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(l.status().message().find("no-such.crt"), std::string::npos) << l.status().to_string();
  auto c = driver->connect("grpcs://127.0.0.1:1", &client_, 100ms);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(c.status().message().find("no-such.crt"), std::string::npos) << c.status().to_string();
}

}  // namespace
}  // namespace nvf::cellnet_grpc
