#include "security/pki.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "base/files.h"
#include "security/openssl_internal.h"

namespace nvf::security {
namespace {

using namespace internal;

constexpr size_t kMaxCommonName = 64;  // ub_common_name; FLARE truncates server names to it

Result<std::string> key_to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                                   nullptr) != 1) {
    return openssl_error(StatusCode::kInternal, "cannot encode a private key as PEM");
  }
  return bio_contents(bio.get());
}

Result<std::string> cert_to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return openssl_error(StatusCode::kInternal, "cannot encode a certificate as PEM");
  }
  return bio_contents(bio.get());
}

Result<PkeyPtr> new_rsa_key(int bits) {
  PkeyPtr key(EVP_RSA_gen(static_cast<unsigned>(bits)));
  if (!key) return openssl_error(StatusCode::kInternal, "RSA key generation failed");
  return key;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Status add_name_entry(X509_NAME* name, int nid, const std::string& value) {
  if (value.empty()) return Status::OK();
  if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return openssl_error(
        StatusCode::kInvalidArgument,
        "cannot put '" + value + "' into a certificate subject (" + OBJ_nid2sn(nid) + ")");
  }
  return Status::OK();
}

Status add_extension(X509* cert, X509* issuer, int nid, const std::string& value, bool critical) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::string text = critical ? "critical," + value : value;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, text.c_str());
  if (ext == nullptr) {
    return openssl_error(
        StatusCode::kInvalidArgument,
        std::string("cannot build certificate extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  int rc = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (rc != 1) return openssl_error(StatusCode::kInternal, "cannot add a certificate extension");
  return Status::OK();
}

std::string san_text(const std::vector<std::string>& hosts) {
  std::string out;
  for (const std::string& h : hosts) {
    if (h.empty()) continue;
    if (!out.empty()) out += ",";
    out += (is_ip_literal(h) ? "IP:" : "DNS:") + h;
  }
  return out;
}

// A certificate with version, random serial, validity and public key set; the caller names it.
Result<X509Ptr> new_certificate(EVP_PKEY* subject_key, int valid_days) {
  X509Ptr cert(X509_new());
  if (!cert) return openssl_error(StatusCode::kInternal, "cannot allocate a certificate");
  BIGNUM* serial = BN_new();
  bool ok = serial != nullptr && BN_rand(serial, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) != nullptr;
  BN_free(serial);
  ok = ok && X509_set_version(cert.get(), 2) == 1 &&
       X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) != nullptr &&
       X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(valid_days) * 86400L) !=
           nullptr &&
       X509_set_pubkey(cert.get(), subject_key) == 1;
  if (!ok) return openssl_error(StatusCode::kInternal, "cannot initialise a certificate");
  return cert;
}

std::string entry_text(X509_NAME* name, int nid) {
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

// An ASN1_TIME (UTCTime or GeneralizedTime) as a time point; the epoch when it does not parse.
std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

Result<std::string> generate_rsa_key_pem(int bits) {
  NVF_ASSIGN_OR_RETURN(PkeyPtr key, new_rsa_key(bits));
  return key_to_pem(key.get());
}

Result<Credential> make_root_ca(std::string_view project, int valid_days) {
  if (project.empty()) return InvalidArgumentError("the root CA needs a project name (its CN)");
  std::string cn(project.substr(0, kMaxCommonName));
  NVF_ASSIGN_OR_RETURN(PkeyPtr key, new_rsa_key(2048));
  NVF_ASSIGN_OR_RETURN(X509Ptr cert, new_certificate(key.get(), valid_days));
  X509_NAME* name = X509_get_subject_name(cert.get());
  NVF_RETURN_IF_ERROR(add_name_entry(name, NID_commonName, cn));
  if (X509_set_issuer_name(cert.get(), name) != 1) {
    return openssl_error(StatusCode::kInternal, "cannot set the root CA issuer");
  }
  X509* c = cert.get();
  NVF_RETURN_IF_ERROR(add_extension(c, c, NID_basic_constraints, "CA:TRUE", true));
  NVF_RETURN_IF_ERROR(
      add_extension(c, c, NID_key_usage,
                    "digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment,"
                    "keyAgreement,keyCertSign,cRLSign",
                    false));
  NVF_RETURN_IF_ERROR(add_extension(c, c, NID_subject_key_identifier, "hash", false));
  NVF_RETURN_IF_ERROR(add_extension(c, c, NID_authority_key_identifier, "keyid:always", false));
  NVF_RETURN_IF_ERROR(add_extension(c, c, NID_subject_alt_name, san_text({cn}), false));
  if (X509_sign(c, key.get(), EVP_sha256()) <= 0) {
    return openssl_error(StatusCode::kInternal, "cannot self-sign the root CA of '" + cn + "'");
  }
  Credential out;
  NVF_ASSIGN_OR_RETURN(out.cert_pem, cert_to_pem(c));
  NVF_ASSIGN_OR_RETURN(out.key_pem, key_to_pem(key.get()));
  return out;
}

Result<Credential> issue_certificate(const Credential& issuer, const CertRequest& request) {
  if (request.common_name.empty()) return InvalidArgumentError("a certificate needs a common name");
  auto issuer_cert = parse_certificate(issuer.cert_pem);
  if (!issuer_cert.ok()) return issuer_cert.status().with_context("issuer certificate");
  auto issuer_key = parse_private_key(issuer.key_pem);
  if (!issuer_key.ok()) return issuer_key.status().with_context("issuer private key");

  std::string cn = request.common_name.substr(0, kMaxCommonName);
  NVF_ASSIGN_OR_RETURN(PkeyPtr key, new_rsa_key(2048));
  NVF_ASSIGN_OR_RETURN(X509Ptr cert, new_certificate(key.get(), request.valid_days));
  X509_NAME* name = X509_get_subject_name(cert.get());
  NVF_RETURN_IF_ERROR(add_name_entry(name, NID_commonName, cn));
  NVF_RETURN_IF_ERROR(add_name_entry(name, NID_organizationName, request.org));
  NVF_RETURN_IF_ERROR(add_name_entry(name, NID_pkcs9_unstructuredName, request.role));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert->get())) != 1) {
    return openssl_error(StatusCode::kInternal, "cannot set the issuer of '" + cn + "'");
  }
  X509* c = cert.get();
  X509* ca = issuer_cert->get();
  NVF_RETURN_IF_ERROR(add_extension(c, ca, NID_subject_key_identifier, "hash", false));
  NVF_RETURN_IF_ERROR(add_extension(c, ca, NID_authority_key_identifier, "keyid:always", false));
  std::vector<std::string> hosts =
      request.host_names.empty() ? std::vector<std::string>{cn} : request.host_names;
  NVF_RETURN_IF_ERROR(add_extension(c, ca, NID_subject_alt_name, san_text(hosts), false));
  if (X509_sign(c, issuer_key->get(), EVP_sha256()) <= 0) {
    return openssl_error(StatusCode::kInternal, "cannot sign the certificate of '" + cn + "'");
  }
  Credential out;
  NVF_ASSIGN_OR_RETURN(out.cert_pem, cert_to_pem(c));
  NVF_ASSIGN_OR_RETURN(out.key_pem, key_to_pem(key.get()));
  return out;
}

Result<CertInfo> describe_certificate(std::string_view cert_pem) {
  NVF_ASSIGN_OR_RETURN(X509Ptr cert, parse_certificate(cert_pem));
  CertInfo info;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  info.common_name = entry_text(subject, NID_commonName);
  info.org = entry_text(subject, NID_organizationName);
  info.role = entry_text(subject, NID_pkcs9_unstructuredName);
  info.issuer_common_name = entry_text(X509_get_issuer_name(cert.get()), NID_commonName);
  info.is_ca = X509_check_ca(cert.get()) > 0;
  info.not_before = to_time_point(X509_get0_notBefore(cert.get()));
  info.not_after = to_time_point(X509_get0_notAfter(cert.get()));
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      if (gn->type == GEN_DNS) {
        const ASN1_IA5STRING* s = gn->d.dNSName;
        info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                    static_cast<size_t>(ASN1_STRING_length(s)));
      } else if (gn->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = gn->d.iPAddress;
        char buf[INET6_ADDRSTRLEN] = {};
        int len = ASN1_STRING_length(s);
        int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
        if (family != 0 &&
            inet_ntop(family, ASN1_STRING_get0_data(s), buf, sizeof(buf)) != nullptr) {
          info.ip_addresses.emplace_back(buf);
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  return info;
}

Result<std::string> common_name(std::string_view cert_pem) {
  NVF_ASSIGN_OR_RETURN(CertInfo info, describe_certificate(cert_pem));
  if (info.common_name.empty())
    return InvalidArgumentError("the certificate has no common name (CN)");
  return info.common_name;
}

Status verify_certificate(std::string_view cert_pem, std::string_view root_pem) {
  NVF_ASSIGN_OR_RETURN(X509Ptr cert, parse_certificate(cert_pem));
  NVF_ASSIGN_OR_RETURN(X509Ptr root, parse_certificate(root_pem));
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      &X509_STORE_CTX_free);
  if (!store || !ctx || X509_STORE_add_cert(store.get(), root.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return openssl_error(StatusCode::kInternal, "cannot set up certificate verification");
  }
  if (X509_verify_cert(ctx.get()) == 1) return Status::OK();
  int err = X509_STORE_CTX_get_error(ctx.get());
  drain_errors();
  return UnauthenticatedError(std::string("certificate does not verify against the root CA: ") +
                              X509_verify_cert_error_string(err));
}

Status verify_key_matches(std::string_view cert_pem, std::string_view key_pem) {
  NVF_ASSIGN_OR_RETURN(X509Ptr cert, parse_certificate(cert_pem));
  NVF_ASSIGN_OR_RETURN(PkeyPtr key, parse_private_key(key_pem));
  if (X509_check_private_key(cert.get(), key.get()) == 1) return Status::OK();
  drain_errors();
  return UnauthenticatedError("the private key does not belong to the certificate");
}

Status write_private_key(const std::filesystem::path& path, std::string_view key_pem) {
  return base::atomic_write(path, key_pem, 0600);
}

}  // namespace nvf::security
