#include "fl/analytics.h"

#include <cmath>

#include "config/value.h"

namespace nvf::fl {

Result<std::vector<Metric>> parse_metric_message(std::string_view json, const std::string& site, double wall_time) {
  const std::string where = "metric from " + (site.empty() ? std::string("an unnamed site") : site) + ": ";
  config::Value v;
  try {
    v = config::Value::parse(json);
  } catch (const std::exception& e) {
    return InvalidArgumentError(where + "not JSON: " + e.what());
  }
  if (!v.is_object()) return InvalidArgumentError(where + "not a JSON object");
  auto text = [&](const char* key) -> Result<std::string> {
    if (!v.contains(key) || !v[key].is_string()) return InvalidArgumentError(where + key + ": a string is needed");
    return v[key].get<std::string>();
  };
  NVF_ASSIGN_OR_RETURN(std::string type, text("type"));
  NVF_ASSIGN_OR_RETURN(std::string tag, text("tag"));
  if (tag.empty() || tag.size() > 1024) return InvalidArgumentError(where + "tag: must have 1 to 1024 characters");
  int64_t step = 0;
  if (v.contains("step")) {
    if (!v["step"].is_number_integer()) return InvalidArgumentError(where + "step: an integer is needed");
    step = v["step"].get<int64_t>();
  }
  auto number = [&](const config::Value& x, const std::string& field) -> Result<double> {
    if (x.is_null()) return std::nan("");  // JSON has no NaN: writers send null
    if (!x.is_number()) return InvalidArgumentError(where + field + ": a number is needed");
    return x.get<double>();
  };
  std::vector<Metric> out;
  if (type == "SCALAR") {
    if (!v.contains("value")) return InvalidArgumentError(where + "value: missing");
    NVF_ASSIGN_OR_RETURN(double x, number(v["value"], "value"));
    out.push_back(Metric{site, tag, x, step, wall_time});
  } else if (type == "SCALARS") {
    if (!v.contains("values") || !v["values"].is_object()) {
      return InvalidArgumentError(where + "values: an object of name -> number is needed");
    }
    if (v["values"].size() > 10000) return InvalidArgumentError(where + "values: more than 10000 scalars");
    for (const auto& [name, x] : v["values"].items()) {
      NVF_ASSIGN_OR_RETURN(double d, number(x, "values." + name));
      out.push_back(Metric{site, tag + "/" + name, d, step, wall_time});
    }
  } else {
    return InvalidArgumentError(where + "type: '" + type + "' is not SCALAR or SCALARS");
  }
  return out;
}

}  // namespace nvf::fl
