// Small string helpers shared by the CLI and the runtime. Stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace nvf::base {

/// Splits a command line by POSIX shell quoting rules (quotes, backslashes), with no expansion of
/// variables, globs or substitutions. Errors: INVALID_ARGUMENT for an unterminated quote.
Result<std::vector<std::string>> shell_split(std::string_view line);

/// The byte offset of the first byte that is not part of well-formed UTF-8 (no overlong forms,
/// surrogates or code points above U+10FFFF), or npos when `text` is valid UTF-8.
size_t invalid_utf8_at(std::string_view text);

/// Quotes a word for a POSIX shell when it needs it.
std::string shell_quote(std::string_view word);

std::vector<std::string> split(std::string_view s, char sep, bool skip_empty = false);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);

/// A whole decimal number (an optional sign, then digits only: no spaces, no trailing text) within
/// [min, max]; nullopt otherwise, also when it does not fit in 64 bits. The one way outside text
/// becomes an integer here: never throws, never overflows.
std::optional<int64_t> parse_int(std::string_view s, int64_t min = std::numeric_limits<int64_t>::min(),
                                 int64_t max = std::numeric_limits<int64_t>::max());

/// A finite decimal number ("1", "-2.5", "1e3"; no spaces or trailing text) within [min, max];
/// nullopt otherwise (NaN, infinities and out-of-range values included).
std::optional<double> parse_double(std::string_view s, double min, double max);

/// Formats bytes for people: "1.5 MiB".
std::string human_bytes(double bytes);

/// `bytes` random bytes from the OS as lower-case hex (tokens, nonces).
std::string random_hex(size_t bytes);
/// A random (version 4) UUID: "3f2b...-....-4...-....-............" (job ids, as FLARE's).
std::string uuid4();

}  // namespace nvf::base
