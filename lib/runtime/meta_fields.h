// Reading a stored job's meta (a JSON object written by the job store): the server parent's parts
// share this one accessor. Stateless.
#pragma once

#include <string>

#include "config/value.h"

namespace nvf::runtime {

/// meta[key] when `meta` is an object holding a string there, else "".
inline std::string str_of(const config::Value& meta, const char* key) {
  return meta.is_object() && meta.contains(key) && meta[key].is_string() ? meta[key].get<std::string>()
                                                                         : std::string();
}

}  // namespace nvf::runtime
