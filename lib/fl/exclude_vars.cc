#include "fl/exclude_vars.h"

namespace nvf::fl {

Result<std::optional<std::regex>> compile_exclude_vars(const std::string& pattern) {
  if (pattern.empty()) return std::optional<std::regex>();
  try {
    return std::optional<std::regex>(std::regex(pattern, std::regex::ECMAScript));
  } catch (const std::regex_error& e) {
    return InvalidArgumentError("exclude_vars '" + pattern + "' is not a valid regular expression: " + e.what());
  }
}

}  // namespace nvf::fl
