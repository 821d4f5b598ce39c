// Runs the shared driver conformance suite (cellnet/tests/driver_conformance.h) over stcp with
// mutual TLS (certificates made by openssl once per process; both ends use the CN=server
// certificate, which carries serverAuth and clientAuth). The raw-socket cases skip themselves: a
// TLS listener does not read frames off a bare socket (tls_driver_test.cc covers bare peers).
#include <memory>

#include "../../cellnet_grpc/tests/test_certs.h"
#include "cellnet/tests/driver_conformance.h"
#include "cellnet_tls/tls_driver.h"

namespace nvf::cellnet_tls {
namespace {

using cellnet::DriverConformance;
using cellnet::DriverFactory;
using cellnet::DriverOptions;
using cellnet_grpc::testing::TestCerts;

// Made on first use, removed at exit.
const TestCerts& shared_certs() {
  static const std::unique_ptr<TestCerts> certs = [] {
    auto made = TestCerts::generate();
    if (!made.ok()) check_failed(__FILE__, __LINE__, "TestCerts::generate()", made.status().to_string());
    return std::make_unique<TestCerts>(std::move(made).value());
  }();
  return *certs;
}

DriverFactory stcp_mtls_factory() {
  return {"StcpMtls",
          [](const DriverOptions& o) {
            const auto& certs = shared_certs();
            DriverOptions tls = o;
            tls.tls = {cellnet::TlsConfig::Mode::kMtls, certs.path("ca.crt"), certs.path("server.crt"),
                       certs.path("server.key"), "server"};
            return make_stcp_driver(tls);
          },
          [](const std::string&) { return std::string("stcp://127.0.0.1:0"); },
          // Port 1 (tcpmux) is privileged and unused on test machines.
          [](const std::string&) { return std::string("stcp://127.0.0.1:1"); }, false};
}

INSTANTIATE_TEST_SUITE_P(Stcp, DriverConformance, ::testing::Values(stcp_mtls_factory()),
                         cellnet::DriverFactoryName());

}  // namespace
}  // namespace nvf::cellnet_tls
