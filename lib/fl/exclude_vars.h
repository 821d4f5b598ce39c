// FLARE's exclude_vars: a regular expression naming parameters to leave out (of aggregation,
// of a saved model). Stateless.
#pragma once

#include <optional>
#include <regex>
#include <string>

#include "base/status.h"

namespace nvf::fl {

/// The compiled pattern, or nullopt for an empty one. Errors: INVALID_ARGUMENT quoting the pattern.
Result<std::optional<std::regex>> compile_exclude_vars(const std::string& pattern);

}  // namespace nvf::fl
