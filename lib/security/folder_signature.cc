#include "security/folder_signature.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/files.h"
#include "security/folder_signature_internal.h"
#include "security/job_signature.h"
#include "security/signing.h"

namespace nvf::security {
namespace internal {
namespace fs = std::filesystem;

Result<std::vector<SignedEntry>> signable_entries(const fs::path& dir, std::string_view sig_file) {
  std::vector<SignedEntry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name == sig_file || name == kSubmitterCertFile) continue;
    out.push_back({name, it->is_directory(ec)});
  }
  if (ec) return base::errno_status(ec.value(), "cannot list", dir);
  std::sort(out.begin(), out.end(),
            [](const SignedEntry& a, const SignedEntry& b) { return a.name < b.name; });
  return out;
}

Result<std::string> signature_file_text(const fs::path& dir, const std::vector<SignedEntry>& entries,
                                        std::string_view key_pem) {
  nlohmann::ordered_json sigs = nlohmann::ordered_json::object();
  for (const SignedEntry& e : entries) {
    // A file's bytes are hashed as they are read (a large checkpoint is never held whole); a
    // folder's signature covers its name.
    auto sig = e.is_dir ? sign_pss(key_pem, e.name) : sign_pss_file(key_pem, dir / e.name);
    if (!sig.ok()) return sig.status().with_context("signing " + (dir / e.name).string());
    sigs[e.name] = base64_encode(*sig);
  }
  return sigs.dump(4) + "\n";
}

Status write_signature_file(const fs::path& dir, const std::vector<SignedEntry>& entries,
                            std::string_view key_pem, std::string_view sig_file) {
  NVF_ASSIGN_OR_RETURN(std::string text, signature_file_text(dir, entries, key_pem));
  return base::atomic_write(dir / sig_file, text);
}

std::string relative_path(const fs::path& root, const fs::path& p) {
  return p.lexically_relative(root).string();
}

void check_signature_file(const fs::path& root, const fs::path& dir,
                          const std::vector<SignedEntry>& entries, std::string_view cert_pem,
                          std::string_view sig_file, std::vector<std::string>& problems) {
  nlohmann::json sigs = nlohmann::json::object();
  auto text = base::read_file(dir / sig_file);
  if (!text.ok()) {
    problems.push_back(relative_path(root, dir / sig_file) + ": missing");
  } else {
    sigs = nlohmann::json::parse(*text, nullptr, false);
    if (!sigs.is_object()) {
      problems.push_back(relative_path(root, dir / sig_file) + ": not a JSON object");
      sigs = nlohmann::json::object();
    }
  }
  for (const SignedEntry& e : entries) {
    fs::path p = dir / e.name;
    auto it = sigs.find(e.name);
    if (it == sigs.end() || !it->is_string()) {
      // Without a readable signature file every entry would be "not signed": say it once.
      if (text.ok()) problems.push_back(relative_path(root, p) + ": not signed");
      continue;
    }
    auto sig = base64_decode(it->get<std::string>());
    if (!sig.ok()) {
      problems.push_back(relative_path(root, p) + ": invalid signature");
      continue;
    }
    Status checked = e.is_dir ? verify_pss(cert_pem, e.name, *sig) : verify_pss_file(cert_pem, p, *sig);
    if (checked.code() == StatusCode::kUnauthenticated) {
      problems.push_back(relative_path(root, p) + ": invalid signature");
    } else if (!checked.ok()) {
      problems.push_back(relative_path(root, p) + ": " + checked.message());
    }
  }
  for (auto it = sigs.begin(); it != sigs.end(); ++it) {
    bool present = std::any_of(entries.begin(), entries.end(),
                               [&](const SignedEntry& e) { return e.name == it.key(); });
    if (!present) problems.push_back(relative_path(root, dir / it.key()) + ": signed but missing");
  }
}

}  // namespace internal

namespace {
namespace fs = std::filesystem;
using internal::SignedEntry;

Status sign_one(const fs::path& dir, std::string_view key_pem, bool recursive) {
  NVF_ASSIGN_OR_RETURN(std::vector<SignedEntry> entries,
                       internal::signable_entries(dir, kSignatureFile));
  NVF_RETURN_IF_ERROR(internal::write_signature_file(dir, entries, key_pem, kSignatureFile));
  if (recursive) {
    for (const SignedEntry& e : entries) {
      if (e.is_dir) NVF_RETURN_IF_ERROR(sign_one(dir / e.name, key_pem, true));
    }
  }
  return Status::OK();
}

void verify_one(const fs::path& root, const fs::path& dir, std::string_view cert_pem,
                std::vector<std::string>& problems) {
  auto entries = internal::signable_entries(dir, kSignatureFile);
  if (!entries.ok()) {
    problems.push_back(internal::relative_path(root, dir) + ": " + entries.status().message());
    return;
  }
  internal::check_signature_file(root, dir, *entries, cert_pem, kSignatureFile, problems);
  for (const SignedEntry& e : *entries) {
    if (e.is_dir) verify_one(root, dir / e.name, cert_pem, problems);
  }
}

}  // namespace

Status sign_folder(const fs::path& dir, std::string_view key_pem, bool recursive) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return NotFoundError("cannot sign " + dir.string() + ": no such folder");
  return sign_one(dir, key_pem, recursive);
}

Status verify_folder_signatures(const fs::path& dir, std::string_view root_ca_pem) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return NotFoundError("cannot verify " + dir.string() + ": no such folder");
  std::vector<std::string> problems;
  verify_one(dir, dir, root_ca_pem, problems);
  if (problems.empty()) return Status::OK();
  std::string msg = "The following files in " + dir.string() + " are not secure content:";
  for (const std::string& p : problems) msg += "\n  " + p;
  msg += "\nRe-provision the startup kit (nvflare provision) or restore the original files.";
  return UnauthenticatedError(std::move(msg));
}

}  // namespace nvf::security
