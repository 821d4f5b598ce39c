#include "security/job_signature.h"

#include <map>
#include <string>
#include <vector>

#include "base/files.h"
#include "security/folder_signature_internal.h"
#include "security/pki.h"
#include "security/signing.h"

namespace nvf::security {
namespace {
namespace fs = std::filesystem;
using internal::relative_path;
using internal::SignedEntry;

// Adds the signature and certificate files of `dir` and of every folder below it to `out`, by
// their paths relative to the job's top folder (`rel`: "" or "app/").
Status collect_signatures(const fs::path& dir, const std::string& rel, std::string_view key_pem,
                          std::string_view cert_pem, std::map<std::string, std::string>& out) {
  NVF_ASSIGN_OR_RETURN(std::vector<SignedEntry> entries,
                       internal::signable_entries(dir, kJobSignatureFile));
  NVF_ASSIGN_OR_RETURN(std::string text, internal::signature_file_text(dir, entries, key_pem));
  out[rel + kJobSignatureFile] = std::move(text);
  out[rel + kSubmitterCertFile] = std::string(cert_pem);
  for (const SignedEntry& e : entries) {
    if (e.is_dir) NVF_RETURN_IF_ERROR(collect_signatures(dir / e.name, rel + e.name + "/", key_pem, cert_pem, out));
  }
  return Status::OK();
}

// A key that is not the certificate's would produce a job no site accepts: refuse it up front.
Status check_signer(const fs::path& dir, std::string_view key_pem, std::string_view cert_pem) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return NotFoundError("cannot sign job folder " + dir.string() + ": no such folder");
  static constexpr std::string_view kProbe = "nvflare job signing key check";
  auto probe = sign_pss(key_pem, kProbe);
  if (!probe.ok()) return probe.status().with_context("cannot sign job folder " + dir.string());
  Status match = verify_pss(cert_pem, kProbe, *probe);
  if (match.code() == StatusCode::kUnauthenticated)
    return InvalidArgumentError("cannot sign job folder " + dir.string() +
                                ": the private key does not belong to the certificate");
  if (!match.ok()) return match.with_context("cannot sign job folder " + dir.string());
  return Status::OK();
}

// Walks the job, collecting problems; the top folder's certificate is the job's submitter.
class JobVerifier {
 public:
  JobVerifier(const fs::path& root, std::string_view root_ca_pem)
      : root_(root), root_ca_pem_(root_ca_pem) {}

  void verify(const fs::path& dir) {
    auto entries = internal::signable_entries(dir, kJobSignatureFile);
    if (!entries.ok()) {
      problems_.push_back(relative_path(root_, dir) + ": " + entries.status().message());
      return;
    }
    // A folder without its certificate copy is still checked against the submitter's key, so
    // that the message lists every changed file too.
    CertCheck cert = check_cert(dir);
    if (cert == CertCheck::kOk || (cert == CertCheck::kMissing && submitter_ok_)) {
      internal::check_signature_file(root_, dir, *entries, submitter_cert_, kJobSignatureFile,
                                     problems_);
    } else {
      std::error_code ec;
      if (!fs::exists(dir / kJobSignatureFile, ec))
        problems_.push_back(relative_path(root_, dir / kJobSignatureFile) + ": missing");
    }
    for (const SignedEntry& e : *entries) {
      if (e.is_dir) verify(dir / e.name);
    }
  }

  const std::vector<std::string>& problems() const { return problems_; }
  const std::string& submitter_cert() const { return submitter_cert_; }

 private:
  enum class CertCheck { kOk, kMissing, kBad };

  // kOk when `dir`'s certificate is the job's submitter certificate and chains to the root CA.
  // A bad top-folder certificate is reported once, not again for every folder that copies it.
  CertCheck check_cert(const fs::path& dir) {
    std::string where = relative_path(root_, dir / kSubmitterCertFile);
    auto cert = base::read_file(dir / kSubmitterCertFile);
    if (!cert.ok()) {
      bool missing = cert.status().code() == StatusCode::kNotFound;
      problems_.push_back(where + ": " + (missing ? "missing" : cert.status().message()));
      return CertCheck::kMissing;
    }
    if (dir == root_) {
      submitter_cert_ = std::move(*cert);
      Status chained = verify_certificate(submitter_cert_, root_ca_pem_);
      if (!chained.ok()) problems_.push_back(where + ": " + chained.message());
      submitter_ok_ = chained.ok();
      return submitter_ok_ ? CertCheck::kOk : CertCheck::kBad;
    }
    if (*cert == submitter_cert_) return submitter_ok_ ? CertCheck::kOk : CertCheck::kBad;
    Status chained = verify_certificate(*cert, root_ca_pem_);
    if (!chained.ok()) {
      problems_.push_back(where + ": " + chained.message());
    } else {
      problems_.push_back(where +
                          ": not the certificate of the job's submitter (the top folder's " +
                          std::string(kSubmitterCertFile) + ")");
    }
    return CertCheck::kBad;
  }

  fs::path root_;
  std::string_view root_ca_pem_;
  std::string submitter_cert_;  // the top folder's certificate ("" when missing)
  bool submitter_ok_ = false;   // it chains to the root CA
  std::vector<std::string> problems_;
};

}  // namespace

Result<std::map<std::string, std::string>> job_signature_files(const fs::path& dir, std::string_view key_pem,
                                                               std::string_view cert_pem) {
  NVF_RETURN_IF_ERROR(check_signer(dir, key_pem, cert_pem));
  std::map<std::string, std::string> files;
  NVF_RETURN_IF_ERROR(collect_signatures(dir, "", key_pem, cert_pem, files));
  return files;
}

Status sign_job_folder(const fs::path& dir, std::string_view key_pem, std::string_view cert_pem) {
  NVF_ASSIGN_OR_RETURN(auto files, job_signature_files(dir, key_pem, cert_pem));
  for (const auto& [rel, text] : files) NVF_RETURN_IF_ERROR(base::atomic_write(dir / rel, text));
  return Status::OK();
}

Result<std::string> verify_job_folder(const fs::path& dir, std::string_view root_ca_pem) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return NotFoundError("cannot verify job folder " + dir.string() + ": no such folder");
  auto root_info = describe_certificate(root_ca_pem);
  if (!root_info.ok()) return root_info.status().with_context("root CA certificate");
  JobVerifier verifier(dir, root_ca_pem);
  verifier.verify(dir);
  if (!verifier.problems().empty()) {
    std::string msg = "job signature verification failed: ";
    for (size_t i = 0; i < verifier.problems().size(); ++i) {
      if (i > 0) msg += "; ";
      msg += verifier.problems()[i];
    }
    return UnauthenticatedError(std::move(msg));
  }
  return common_name(verifier.submitter_cert());
}

}  // namespace nvf::security
