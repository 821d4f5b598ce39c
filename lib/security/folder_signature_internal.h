// Private to the security module: the per-folder signature file that startup kits
// (`signature.json`, folder_signature.h) and submitted jobs (`.__nvfl_sig.json`, job_signature.h)
// share: {"<file or sub-folder name>": base64(RSA-PSS signature of the file's bytes or of the
// UTF-8 folder name)}. The two differ only in the file's name and in whose key signs.
// Stateless functions; callers must not modify the folder while they run.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace nvf::security::internal {

struct SignedEntry {
  std::string name;
  bool is_dir = false;
};

/// The entries of `dir` a signature file covers: all but `sig_file` itself and the submitter
/// certificate, sorted by name (so the files are deterministic to read and diff).
/// Errors: file-system errors naming `dir`.
Result<std::vector<SignedEntry>> signable_entries(const std::filesystem::path& dir,
                                                  std::string_view sig_file);

/// The text of `dir`'s signature file: every entry signed with `key_pem`. Errors: from reading a
/// file or signing, naming the path.
Result<std::string> signature_file_text(const std::filesystem::path& dir,
                                        const std::vector<SignedEntry>& entries,
                                        std::string_view key_pem);

/// signature_file_text, written to `dir/sig_file` atomically.
Status write_signature_file(const std::filesystem::path& dir,
                            const std::vector<SignedEntry>& entries, std::string_view key_pem,
                            std::string_view sig_file);

/// Checks `entries` of `dir` against `dir/sig_file` with the public key of `cert_pem`, appending
/// one "<path relative to root>: <problem>" per problem: "invalid signature", "not signed",
/// "signed but missing", "<sig_file>: missing", "<sig_file>: not a JSON object".
void check_signature_file(const std::filesystem::path& root, const std::filesystem::path& dir,
                          const std::vector<SignedEntry>& entries, std::string_view cert_pem,
                          std::string_view sig_file, std::vector<std::string>& problems);

/// `p` relative to `root`, for messages.
std::string relative_path(const std::filesystem::path& root, const std::filesystem::path& p);

}  // namespace nvf::security::internal
