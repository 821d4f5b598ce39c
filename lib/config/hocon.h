// HOCON (.conf), the subset NVIDIA FLARE's job templates and `nvflare job create` write:
// `#` and `//` comments; an optional root `{}`; keys unquoted, quoted or dotted
// (`args.key_metric = "accuracy"` nests); `=`, `:` or nothing before an object; fields separated
// by newlines or commas; objects and arrays nested; strings quoted (JSON escapes) or
// triple-quoted (raw); unquoted strings, numbers, true/false (yes/no, on/off) and null; a later
// field replaces an earlier one, two objects merge; `${path}` and `${?path}` references to other
// values of the same file (a missing `${?x}` drops its field).
//
// Not in the subset, and an error naming file, line, column and the construct: `include`,
// `+=`, value concatenation (`"a" "b"`, `${x}/y`), references to the environment. The result is
// the same value tree JSON gives (config/value.h). Stateless; safe from any thread.
#pragma once

#include <string_view>

#include "config/value.h"

namespace nvf::config {

/// Errors: INVALID_ARGUMENT "<source>:<line>:<col>: <what>".
Result<Value> parse_hocon(std::string_view text, std::string_view source);

}  // namespace nvf::config
