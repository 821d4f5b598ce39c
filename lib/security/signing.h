// Signatures as FLARE makes them: RSA-PSS (MGF1-SHA256, maximum salt length) over the SHA-256 of
// the bytes, with a PEM private key; verification with a PEM certificate's public key. Plus the
// standard base64 used to store signatures in JSON. Stateless; safe from any thread.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"

namespace nvf::security {

/// Signs `data`. Errors: INVALID_ARGUMENT (the key does not parse), INTERNAL (OpenSSL's reason).
Result<std::string> sign_pss(std::string_view key_pem, std::string_view data);

/// Checks `signature` over `data` with the public key of `cert_pem`. Errors: UNAUTHENTICATED
/// (bad signature), INVALID_ARGUMENT (the certificate does not parse).
Status verify_pss(std::string_view cert_pem, std::string_view data, std::string_view signature);

/// The same signature over the bytes of the file `path`, read in 1 MiB pieces (a file of any size
/// costs no more memory than that). Errors: as sign_pss, and read errors naming the file.
Result<std::string> sign_pss_file(std::string_view key_pem, const std::filesystem::path& path);
/// verify_pss over the bytes of the file `path`, read in 1 MiB pieces. Errors: as verify_pss, and
/// read errors naming the file.
Status verify_pss_file(std::string_view cert_pem, const std::filesystem::path& path, std::string_view signature);

/// Standard base64 with padding, no line breaks.
std::string base64_encode(std::string_view bytes);

/// Decodes standard base64. Errors: INVALID_ARGUMENT.
Result<std::string> base64_decode(std::string_view text);

}  // namespace nvf::security
