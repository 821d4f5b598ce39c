// FLARE's job folder signatures (cli-and-formats §2.5, runtime.md §10): before a job is zipped for
// submission, every folder of it gets `.__nvfl_sig.json` ({"<file or sub-folder name>":
// base64(RSA-PSS-SHA256 signature of the file's bytes or of the UTF-8 folder name)}, made with
// the submitting admin's key) and `.__nvfl_submitter.crt` (a copy of the admin's certificate). At
// deploy the server and each client check them against the project's root CA.
//
// Stateless functions; safe from any thread, but callers must not modify the folder while they
// run.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "base/status.h"

namespace nvf::security {

inline constexpr const char* kJobSignatureFile = ".__nvfl_sig.json";
inline constexpr const char* kSubmitterCertFile = ".__nvfl_submitter.crt";

/// Signs every folder of `dir` (recursively) in place with `key_pem`, and copies `cert_pem` into
/// each. Existing signature files are replaced. Errors: NOT_FOUND (no such folder),
/// INVALID_ARGUMENT (a key or certificate that does not parse, or a key that is not the
/// certificate's), file-system errors naming the path.
Status sign_job_folder(const std::filesystem::path& dir, std::string_view key_pem,
                       std::string_view cert_pem);

/// What sign_job_folder would write, without writing: each signature and certificate file by its
/// path relative to `dir` (".__nvfl_sig.json", "app/.__nvfl_submitter.crt", ...). `job submit`
/// packs these into the zip beside the folder's own files, so a job is never copied to be signed.
/// Errors: as sign_job_folder.
Result<std::map<std::string, std::string>> job_signature_files(const std::filesystem::path& dir,
                                                               std::string_view key_pem,
                                                               std::string_view cert_pem);

/// Checks that every folder of `dir` has both files, that each folder's submitter certificate
/// chains to `root_ca_pem` (and is the same as the top folder's), and that every file and
/// sub-folder is signed by that certificate's key. Returns the submitter certificate's CN.
/// Errors: UNAUTHENTICATED listing every problem by path relative to `dir`, joined by "; "
/// ("job signature verification failed: app/config/x.json: invalid signature; app/new.py: not
/// signed; app/custom/.__nvfl_sig.json: missing"); NOT_FOUND for `dir` itself; INVALID_ARGUMENT
/// when `root_ca_pem` does not parse.
Result<std::string> verify_job_folder(const std::filesystem::path& dir,
                                      std::string_view root_ca_pem);

}  // namespace nvf::security
