#include "security/signing.h"

#include <fcntl.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <vector>

#include "base/files.h"

#include "security/openssl_internal.h"

namespace nvf::security {
namespace {
using namespace internal;

Status set_pss(EVP_PKEY_CTX* pctx, int salt_len) {
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
    return openssl_error(StatusCode::kInternal, "cannot configure RSA-PSS");
  }
  return Status::OK();
}
// A digest context ready to sign with the PEM key (RSA-PSS, SHA-256, maximum salt).
Result<MdCtxPtr> start_signing(std::string_view key_pem) {
  NVF_ASSIGN_OR_RETURN(PkeyPtr key, parse_private_key(key_pem));
  MdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!md || EVP_DigestSignInit(md.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1) {
    return openssl_error(StatusCode::kInternal, "cannot start an RSA-PSS signature");
  }
  NVF_RETURN_IF_ERROR(set_pss(pctx, RSA_PSS_SALTLEN_MAX));
  return md;
}

// A digest context ready to check a signature with the certificate's public key.
Result<MdCtxPtr> start_verifying(std::string_view cert_pem) {
  NVF_ASSIGN_OR_RETURN(X509Ptr cert, parse_certificate(cert_pem));
  PkeyPtr key(X509_get_pubkey(cert.get()));
  if (!key)
    return openssl_error(StatusCode::kInvalidArgument, "the certificate has no usable public key");
  MdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!md || EVP_DigestVerifyInit(md.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1) {
    return openssl_error(StatusCode::kInternal, "cannot start an RSA-PSS verification");
  }
  NVF_RETURN_IF_ERROR(set_pss(pctx, RSA_PSS_SALTLEN_AUTO));
  return md;
}
}  // namespace

Result<std::string> sign_pss(std::string_view key_pem, std::string_view data) {
  NVF_ASSIGN_OR_RETURN(MdCtxPtr md, start_signing(key_pem));
  size_t len = 0;
  if (EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return openssl_error(StatusCode::kInternal, "RSA-PSS signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return openssl_error(StatusCode::kInternal, "RSA-PSS signing failed");
  }
  sig.resize(len);
  return sig;
}

Status verify_pss(std::string_view cert_pem, std::string_view data, std::string_view signature) {
  NVF_ASSIGN_OR_RETURN(MdCtxPtr md, start_verifying(cert_pem));
  int rc = EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                            data.size());
  drain_errors();
  if (rc != 1) return UnauthenticatedError("invalid signature");
  return Status::OK();
}

namespace {

// Feeds the file's bytes to `update` in 1 MiB pieces.
Status for_each_piece(const std::filesystem::path& path, const std::function<bool(const unsigned char*, size_t)>& update) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::errno_status(errno, "cannot read", path);
  std::vector<unsigned char> buf(1u << 20);
  Status result;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = base::errno_status(errno, "cannot read", path);
      break;
    }
    if (n == 0) break;
    if (!update(buf.data(), static_cast<size_t>(n))) {
      result = openssl_error(StatusCode::kInternal, "hashing " + path.string() + " failed");
      break;
    }
  }
  ::close(fd);
  return result;
}

}  // namespace

Result<std::string> sign_pss_file(std::string_view key_pem, const std::filesystem::path& path) {
  NVF_ASSIGN_OR_RETURN(MdCtxPtr md, start_signing(key_pem));
  NVF_RETURN_IF_ERROR(for_each_piece(path, [&](const unsigned char* p, size_t n) {
    return EVP_DigestSignUpdate(md.get(), p, n) == 1;
  }));
  size_t len = 0;
  if (EVP_DigestSignFinal(md.get(), nullptr, &len) != 1) {
    return openssl_error(StatusCode::kInternal, "RSA-PSS signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSignFinal(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len) != 1) {
    return openssl_error(StatusCode::kInternal, "RSA-PSS signing failed");
  }
  sig.resize(len);
  return sig;
}

Status verify_pss_file(std::string_view cert_pem, const std::filesystem::path& path, std::string_view signature) {
  NVF_ASSIGN_OR_RETURN(MdCtxPtr md, start_verifying(cert_pem));
  NVF_RETURN_IF_ERROR(for_each_piece(path, [&](const unsigned char* p, size_t n) {
    return EVP_DigestVerifyUpdate(md.get(), p, n) == 1;
  }));
  int rc = EVP_DigestVerifyFinal(md.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                                 signature.size());
  drain_errors();
  if (rc != 1) return UnauthenticatedError("invalid signature");
  return Status::OK();
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return InvalidArgumentError("base64 text length is not a multiple of 4");
  std::string out(3 * (text.size() / 4) + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return InvalidArgumentError("not valid base64");
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts padding as zero bytes.
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

}  // namespace nvf::security
