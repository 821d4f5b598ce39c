#include <openssl/err.h>
#include <openssl/pem.h>

#include "security/openssl_internal.h"

namespace nvf::security::internal {

std::string drain_errors() {
  std::string out;
  unsigned long err;
  while ((err = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

Status openssl_error(StatusCode code, std::string_view what) {
  std::string detail = drain_errors();
  std::string msg(what);
  if (!detail.empty()) msg += " (OpenSSL: " + detail + ")";
  return Status(code, std::move(msg));
}

Result<PkeyPtr> parse_private_key(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error(StatusCode::kInternal, "cannot allocate a BIO");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return openssl_error(StatusCode::kInvalidArgument, "not a PEM private key");
  return key;
}

Result<X509Ptr> parse_certificate(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error(StatusCode::kInternal, "cannot allocate a BIO");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return openssl_error(StatusCode::kInvalidArgument, "not a PEM certificate");
  return cert;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace nvf::security::internal
