// Private to the security module: RAII owners for OpenSSL objects and the conversion of OpenSSL's
// error queue into a Status. Stateless helpers; safe from any thread (the error queue is
// thread-local in OpenSSL 3).
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace nvf::security::internal {

struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

/// Drains OpenSSL's error queue into "; "-joined text ("" when empty).
std::string drain_errors();

/// A Status of `code` with "<what>: <openssl errors>"; clears the error queue.
Status openssl_error(StatusCode code, std::string_view what);

/// Parses a PEM private key (traditional or PKCS#8). Errors: INVALID_ARGUMENT.
Result<PkeyPtr> parse_private_key(std::string_view pem);

/// Parses one PEM certificate. Errors: INVALID_ARGUMENT.
Result<X509Ptr> parse_certificate(std::string_view pem);

/// Reads everything written to a memory BIO.
std::string bio_contents(BIO* bio);

}  // namespace nvf::security::internal
