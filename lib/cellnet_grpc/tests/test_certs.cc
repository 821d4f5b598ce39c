#include "test_certs.h"

#include <stdlib.h>

#include <chrono>
#include <fstream>

#include "base/files.h"
#include "base/process.h"

namespace nvf::cellnet_grpc::testing {

namespace fs = std::filesystem;

Status TestCerts::run(std::vector<std::string> argv) const {
  base::SpawnOptions opts;
  opts.argv = argv;
  opts.working_dir = dir_;
  opts.stdout_path = dir_ / "openssl.log";
  opts.stderr_path = dir_ / "openssl.log";
  NVF_ASSIGN_OR_RETURN(auto child, base::spawn(opts));
  NVF_ASSIGN_OR_RETURN(auto exit, child.wait(std::chrono::seconds(30)));
  if (exit.shell_code() != 0) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    auto log = base::read_file(dir_ / "openssl.log");
    return InternalError("'" + line + "' exited with " + std::to_string(exit.shell_code()) + ": " +
                         (log.ok() ? *log : std::string()));
  }
  return Status::OK();
}

Status TestCerts::make_ca(const std::string& name, const std::string& cn) const {
  return run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
              name + ".crt", "-days", "30", "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
}

Status TestCerts::make_cert(const std::string& ca, const std::string& name, const std::string& cn,
                            const std::string& san, const std::string& days) const {
  NVF_RETURN_IF_ERROR(run({"openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
                           "-out", name + ".csr", "-subj", "/CN=" + cn}));
  std::ofstream(dir_ / (name + ".ext")) << "basicConstraints=CA:FALSE\n"
                                        << "extendedKeyUsage=serverAuth,clientAuth\n"
                                        << (san.empty() ? "" : "subjectAltName=" + san + "\n");
  static int serial = 100;
  // A negative -days puts notAfter before now: an expired certificate.
  return run({"openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
              "-set_serial", std::to_string(++serial), "-days", days, "-extfile", name + ".ext", "-out",
              name + ".crt"});
}

Result<TestCerts> TestCerts::generate() {
  std::string templ = (fs::temp_directory_path() / "nvf_grpc_tls_XXXXXX").string();
  if (!mkdtemp(templ.data())) return InternalError("mkdtemp failed for " + templ);
  TestCerts certs{fs::path(templ)};
  NVF_RETURN_IF_ERROR(certs.make_ca("ca", "nvf-test-root-ca"));
  NVF_RETURN_IF_ERROR(certs.make_cert("ca", "server", "server", "DNS:server,IP:127.0.0.1", "30"));
  NVF_RETURN_IF_ERROR(certs.make_cert("ca", "other-server", "other-server", "DNS:other-server", "30"));
  NVF_RETURN_IF_ERROR(certs.make_cert("ca", "client", "site-1", "", "30"));
  NVF_RETURN_IF_ERROR(certs.make_cert("ca", "expired", "site-1", "", "-1"));
  NVF_RETURN_IF_ERROR(certs.make_ca("other-ca", "unrelated-ca"));
  NVF_RETURN_IF_ERROR(certs.make_cert("other-ca", "other-client", "site-1", "", "30"));
  return certs;
}

Result<int> TestCerts::openssl_verify(const std::string& ca, const std::string& cert) const {
  base::SpawnOptions opts;
  opts.argv = {"openssl", "verify", "-CAfile", path(ca), path(cert)};
  opts.stdout_path = dir_ / "verify.log";
  opts.stderr_path = dir_ / "verify.log";
  NVF_ASSIGN_OR_RETURN(auto child, base::spawn(opts));
  NVF_ASSIGN_OR_RETURN(auto exit, child.wait(std::chrono::seconds(30)));
  return exit.shell_code();
}

TestCerts::~TestCerts() {
  if (dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace nvf::cellnet_grpc::testing
