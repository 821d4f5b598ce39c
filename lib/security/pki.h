// The project's PKI, as FLARE's provisioning builds it: an RSA-2048 root CA per project and
// participant certificates signed by it; PEM in and out, chain verification, and the identity
// fields a certificate carries (CN = name, O = org, unstructuredName = admin role).
//
// Keys and certificates cross this API as PEM text so that no OpenSSL type leaks out of the
// module. Stateless functions; safe from any thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace nvf::security {

/// A certificate and its private key, both PEM. The key is "BEGIN RSA PRIVATE KEY" (FLARE's
/// TraditionalOpenSSL format), unencrypted.
struct Credential {
  std::string cert_pem;
  std::string key_pem;
};

/// What goes into a participant certificate.
struct CertRequest {
  std::string common_name;              // CN: participant name (server name, site, admin e-mail)
  std::string org;                      // O (omitted when empty)
  std::string role;                     // unstructuredName (admins only; omitted when empty)
  std::vector<std::string> host_names;  // subjectAltName: IP literals become IP:, others DNS:
  int valid_days = 360;                 // FLARE's validity for root and leaves alike
};

/// What a certificate says about its subject.
struct CertInfo {
  std::string common_name;
  std::string org;
  std::string role;  // unstructuredName, "" if absent
  std::string issuer_common_name;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;
  bool is_ca = false;
  std::chrono::system_clock::time_point not_before, not_after;  // the validity period (UTC)
};

/// A fresh RSA key (e = 65537) as PEM. Errors: INTERNAL with OpenSSL's reason.
Result<std::string> generate_rsa_key_pem(int bits = 2048);

/// The project's self-signed root CA: CN = `project`, CA:TRUE (critical), keyCertSign, SKI/AKI,
/// SAN DNS:<project>, 360 days, random serial, sha256WithRSA. Errors: INVALID_ARGUMENT (empty
/// name), INTERNAL.
Result<Credential> make_root_ca(std::string_view project, int valid_days = 360);

/// A leaf certificate for `request`, signed by `issuer` (normally the root CA). Errors:
/// INVALID_ARGUMENT (empty CN, a PEM that does not parse), INTERNAL.
Result<Credential> issue_certificate(const Credential& issuer, const CertRequest& request);

/// Reads the identity fields of a PEM certificate. Errors: INVALID_ARGUMENT.
Result<CertInfo> describe_certificate(std::string_view cert_pem);

/// The certificate's CN. Errors: INVALID_ARGUMENT (no PEM, no CN).
Result<std::string> common_name(std::string_view cert_pem);

/// Checks that `cert_pem` chains to `root_pem` (signature, validity dates, CA constraints) with
/// X509_verify_cert. Errors: UNAUTHENTICATED naming OpenSSL's reason ("unable to get local issuer
/// certificate", "certificate has expired"), INVALID_ARGUMENT for PEM that does not parse.
Status verify_certificate(std::string_view cert_pem, std::string_view root_pem);

/// Checks that `key_pem` is the private key of the public key in `cert_pem`. Errors:
/// INVALID_ARGUMENT for PEM that does not parse, UNAUTHENTICATED when they do not belong together.
Status verify_key_matches(std::string_view cert_pem, std::string_view key_pem);

/// Writes a private key with mode 0600 (atomically). Errors from the file system, naming `path`.
Status write_private_key(const std::filesystem::path& path, std::string_view key_pem);

}  // namespace nvf::security
