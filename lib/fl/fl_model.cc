#include "fl/fl_model.h"

#include <cmath>
#include <limits>

namespace nvf::fl {
namespace {

using config::Value;

Status header_error(std::string_view field, std::string_view what) {
  return InvalidArgumentError("FLModel header: " + std::string(field) + ": " + std::string(what));
}

Value metric_to_json(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

Result<double> metric_from_json(const Value& v, const std::string& field) {
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return header_error(field, "must be a number but got " + v.dump());
}

Status read_round(const Value& obj, const char* key, int* out) {
  if (!obj.contains(key) || obj[key].is_null()) return Status::OK();
  const Value& v = obj[key];
  if (!v.is_number_integer()) return header_error(key, "must be an integer but got " + v.dump());
  const auto n = v.get<int64_t>();
  if (n < 0 || n > std::numeric_limits<int>::max()) {
    return header_error(key, "must be in [0, 2147483647] but got " + std::to_string(n));
  }
  *out = static_cast<int>(n);
  return Status::OK();
}

}  // namespace

std::string_view params_type_name(ParamsType type) {
  switch (type) {
    case ParamsType::kFull:
      return "FULL";
    case ParamsType::kDiff:
      return "DIFF";
    case ParamsType::kNone:
      break;
  }
  return "NONE";
}

Result<ParamsType> parse_params_type(std::string_view name) {
  if (name == "FULL") return ParamsType::kFull;
  if (name == "DIFF") return ParamsType::kDiff;
  return InvalidArgumentError("unknown params_type '" + std::string(name) +
                              "': expected \"FULL\" or \"DIFF\"");
}

std::string encode_fl_model_header(const FLModel& model) {
  Value out = Value::object();
  out["params_type"] = model.params_type == ParamsType::kNone
                           ? Value(nullptr)
                           : Value(std::string(params_type_name(model.params_type)));
  Value metrics = Value::object();
  for (const auto& [k, v] : model.metrics) metrics[k] = metric_to_json(v);
  out["metrics"] = std::move(metrics);
  out["meta"] = model.meta.is_object() ? model.meta : Value::object();
  out["current_round"] = model.current_round;
  out["start_round"] = model.start_round;
  out["total_rounds"] = model.total_rounds;
  return out.dump();
}

Result<FLModel> decode_fl_model_header(std::string_view json) {
  Value obj = Value::parse(json, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return header_error("<root>", "not valid JSON");
  if (!obj.is_object()) return header_error("<root>", "must be an object but got " + obj.dump());
  FLModel model;
  if (obj.contains("params_type") && !obj["params_type"].is_null()) {
    const Value& pt = obj["params_type"];
    if (!pt.is_string())
      return header_error("params_type", "must be a string but got " + pt.dump());
    auto parsed = parse_params_type(pt.get<std::string>());
    if (!parsed.ok()) return header_error("params_type", parsed.status().message());
    model.params_type = *parsed;
  }
  if (obj.contains("metrics") && !obj["metrics"].is_null()) {
    const Value& m = obj["metrics"];
    if (!m.is_object()) return header_error("metrics", "must be an object but got " + m.dump());
    for (const auto& [k, v] : m.items()) {
      NVF_ASSIGN_OR_RETURN(model.metrics[k], metric_from_json(v, "metrics." + k));
    }
  }
  if (obj.contains("meta") && !obj["meta"].is_null()) {
    if (!obj["meta"].is_object()) {
      return header_error("meta", "must be an object but got " + obj["meta"].dump());
    }
    model.meta = std::move(obj["meta"]);
  }
  NVF_RETURN_IF_ERROR(read_round(obj, "current_round", &model.current_round));
  NVF_RETURN_IF_ERROR(read_round(obj, "start_round", &model.start_round));
  NVF_RETURN_IF_ERROR(read_round(obj, "total_rounds", &model.total_rounds));
  return model;
}

std::optional<double> meta_number(const FLModel& model, std::string_view key) {
  if (!model.meta.is_object()) return std::nullopt;
  auto it = model.meta.find(std::string(key));
  if (it == model.meta.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

FLModel header_of(const FLModel& model) {
  FLModel h;
  h.params_type = model.params_type;
  h.metrics = model.metrics;
  h.meta = model.meta;
  h.current_round = model.current_round;
  h.start_round = model.start_round;
  h.total_rounds = model.total_rounds;
  return h;
}

Result<FLModel> view_of(const FLModel& model) {
  FLModel v = header_of(model);
  for (const auto& [name, t] : model.params) NVF_RETURN_IF_ERROR(v.params.insert(name, t.share()));
  return v;
}

}  // namespace nvf::fl
