// FLARE's per-folder `signature.json`: {"<file or sub-folder name>": base64(RSA-PSS signature of
// the file's bytes or of the UTF-8 folder name)}, signed with the project's root CA key, one file
// in every folder of a signed tree. It excludes itself and `.__nvfl_submitter.crt`.
// Stateless functions; callers must not modify the tree while they run.
#pragma once

#include <filesystem>
#include <string_view>

#include "base/status.h"

namespace nvf::security {

inline constexpr const char* kSignatureFile = "signature.json";

/// Writes `signature.json` in `dir` and (when `recursive`) in every folder below it.
/// Errors: NOT_FOUND (no such folder), INVALID_ARGUMENT (bad key), file-system errors naming the
/// path.
Status sign_folder(const std::filesystem::path& dir, std::string_view key_pem,
                   bool recursive = true);

/// Checks every file and sub-folder of `dir` (recursively) against the `signature.json` of its
/// folder, using the public key of `root_ca_pem`. Errors: UNAUTHENTICATED listing every problem
/// by path relative to `dir`: "<path>: invalid signature", "<path>: not signed",
/// "<path>: signed but missing", "<folder>/signature.json: missing"; NOT_FOUND for `dir` itself.
Status verify_folder_signatures(const std::filesystem::path& dir, std::string_view root_ca_pem);

}  // namespace nvf::security
