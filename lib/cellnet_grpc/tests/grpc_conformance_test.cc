// Runs the shared driver conformance suite (cellnet/tests/driver_conformance.h) over the gRPC
// driver: plain grpc:// and grpcs:// with mutual TLS (certificates made by openssl once per
// process; both ends use the CN=server certificate, which carries serverAuth and clientAuth).
// The raw-socket cases skip themselves: a gRPC listener does not read frames off a bare socket
// (the malformed-frame and stall cases are covered in grpc_driver_test.cc instead).
#include <memory>

#include "cellnet/tests/driver_conformance.h"
#include "cellnet_grpc/grpc_driver.h"
#include "test_certs.h"

namespace nvf::cellnet_grpc {
namespace {

using cellnet::DriverConformance;
using cellnet::DriverFactory;
using cellnet::DriverOptions;

// Made on first use, removed at exit.
const testing::TestCerts& shared_certs() {
  static const std::unique_ptr<testing::TestCerts> certs = [] {
    auto made = testing::TestCerts::generate();
    if (!made.ok()) check_failed(__FILE__, __LINE__, "TestCerts::generate()", made.status().to_string());
    return std::make_unique<testing::TestCerts>(std::move(made).value());
  }();
  return *certs;
}

DriverFactory grpc_factory() {
  return {"Grpc", [](const DriverOptions& o) { return make_grpc_driver(o); },
          [](const std::string&) { return std::string("grpc://127.0.0.1:0"); },
          // Port 1 (tcpmux) is privileged and unused on test machines.
          [](const std::string&) { return std::string("grpc://127.0.0.1:1"); }, false};
}

DriverFactory grpcs_mtls_factory() {
  return {"GrpcsMtls",
          [](const DriverOptions& o) {
            const auto& certs = shared_certs();
            DriverOptions tls = o;
            tls.tls = {cellnet::TlsConfig::Mode::kMtls, certs.path("ca.crt"), certs.path("server.crt"),
                       certs.path("server.key"), "server"};
            return make_grpc_driver(tls);
          },
          [](const std::string&) { return std::string("grpcs://127.0.0.1:0"); },
          [](const std::string&) { return std::string("grpcs://127.0.0.1:1"); }, false};
}

INSTANTIATE_TEST_SUITE_P(Grpc, DriverConformance, ::testing::Values(grpc_factory(), grpcs_mtls_factory()),
                         cellnet::DriverFactoryName());

}  // namespace
}  // namespace nvf::cellnet_grpc
