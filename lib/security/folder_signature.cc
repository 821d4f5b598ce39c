#include "security/folder_signature.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/files.h"
#include "security/signing.h"

namespace nvf::security {
namespace {
namespace fs = std::filesystem;

constexpr const char* kSubmitterCert = ".__nvfl_submitter.crt";

bool skipped(const std::string& name) { return name == kSignatureFile || name == kSubmitterCert; }

struct Entry {
  std::string name;
  bool is_dir;
};

// Sorted so that signature.json files are deterministic to read and diff.
Result<std::vector<Entry>> list_entries(const fs::path& dir) {
  std::vector<Entry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (skipped(name)) continue;
    out.push_back({name, it->is_directory(ec)});
  }
  if (ec) return base::errno_status(ec.value(), "cannot list", dir);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

Status sign_one(const fs::path& dir, std::string_view key_pem, bool recursive) {
  NVF_ASSIGN_OR_RETURN(std::vector<Entry> entries, list_entries(dir));
  nlohmann::ordered_json sigs = nlohmann::ordered_json::object();
  for (const Entry& e : entries) {
    std::string content = e.name;
    if (!e.is_dir) {
      NVF_ASSIGN_OR_RETURN(content, base::read_file(dir / e.name));
    }
    auto sig = sign_pss(key_pem, content);
    if (!sig.ok()) return sig.status().with_context("signing " + (dir / e.name).string());
    sigs[e.name] = base64_encode(*sig);
  }
  NVF_RETURN_IF_ERROR(base::atomic_write(dir / kSignatureFile, sigs.dump(4) + "\n"));
  if (recursive) {
    for (const Entry& e : entries) {
      if (e.is_dir) NVF_RETURN_IF_ERROR(sign_one(dir / e.name, key_pem, true));
    }
  }
  return Status::OK();
}

std::string rel(const fs::path& root, const fs::path& p) {
  return p.lexically_relative(root).string();
}

void verify_one(const fs::path& root, const fs::path& dir, std::string_view cert_pem,
                std::vector<std::string>& problems) {
  auto entries = list_entries(dir);
  if (!entries.ok()) {
    problems.push_back(rel(root, dir) + ": " + entries.status().message());
    return;
  }
  nlohmann::json sigs;
  auto text = base::read_file(dir / kSignatureFile);
  if (!text.ok()) {
    problems.push_back(rel(root, dir / kSignatureFile) + ": missing");
  } else {
    sigs = nlohmann::json::parse(*text, nullptr, false);
    if (!sigs.is_object()) {
      problems.push_back(rel(root, dir / kSignatureFile) + ": not a JSON object");
      sigs = nlohmann::json::object();
    }
  }
  for (const Entry& e : *entries) {
    fs::path p = dir / e.name;
    auto it = sigs.find(e.name);
    if (it == sigs.end() || !it->is_string()) {
      if (text.ok()) problems.push_back(rel(root, p) + ": not signed");
      continue;
    }
    std::string content = e.name;
    if (!e.is_dir) {
      auto bytes = base::read_file(p);
      if (!bytes.ok()) {
        problems.push_back(rel(root, p) + ": " + bytes.status().message());
        continue;
      }
      content = std::move(*bytes);
    }
    auto sig = base64_decode(it->get<std::string>());
    if (!sig.ok() || !verify_pss(cert_pem, content, *sig).ok()) {
      problems.push_back(rel(root, p) + ": invalid signature");
    }
  }
  for (auto it = sigs.begin(); it != sigs.end(); ++it) {
    bool present = std::any_of(entries->begin(), entries->end(),
                               [&](const Entry& e) { return e.name == it.key(); });
    if (!present) problems.push_back(rel(root, dir / it.key()) + ": signed but missing");
  }
  for (const Entry& e : *entries) {
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
