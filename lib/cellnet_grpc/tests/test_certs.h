// Real X.509 material for TLS tests, made by the `openssl` command-line tool in a fresh temporary
// directory: a root CA, server certs (CN=server with SAN DNS:server,IP:127.0.0.1; CN=other), a
// client cert (CN=site-1), an expired client cert, and an unrelated CA with its own client cert.
// Not thread-safe; build once per test suite.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"
#include "cellnet/driver.h"

namespace nvf::cellnet_grpc::testing {

class TestCerts {
 public:
  /// Generates everything. Errors: whatever openssl reported (with its command line).
  static Result<TestCerts> generate();
  ~TestCerts();
  TestCerts(TestCerts&& other) noexcept : dir_(std::move(other.dir_)) { other.dir_.clear(); }
  TestCerts(const TestCerts&) = delete;

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  /// A listener's TLS with the certificate `cert` (its .crt and .key), trusting ca.crt.
  cellnet::TlsConfig server_tls(cellnet::TlsConfig::Mode mode, const std::string& cert = "server") const {
    return {mode, path("ca.crt"), path(cert + ".crt"), path(cert + ".key"), ""};
  }
  /// A client's TLS with `cert`, trusting `ca`.crt, expecting the server to be named "server".
  cellnet::TlsConfig client_tls(cellnet::TlsConfig::Mode mode, const std::string& cert = "client",
                                const std::string& ca = "ca") const {
    return {mode, path(ca + ".crt"), path(cert + ".crt"), path(cert + ".key"), "server"};
  }
  /// Runs `openssl verify -CAfile <ca> <cert>` and returns its exit code.
  Result<int> openssl_verify(const std::string& ca, const std::string& cert) const;

 private:
  explicit TestCerts(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Status run(std::vector<std::string> argv) const;
  Status make_ca(const std::string& name, const std::string& cn) const;
  Status make_cert(const std::string& ca, const std::string& name, const std::string& cn,
                   const std::string& san, const std::string& days) const;

  std::filesystem::path dir_;
};

}  // namespace nvf::cellnet_grpc::testing
