#include "job/finding.h"

namespace nvf::job {

std::string format_finding(const Finding& f) {
  std::string out = f.is_error() ? "error: " : "warning: ";
  if (!f.file.empty()) out += f.file + ": ";
  if (!f.field.empty()) out += f.field + ": ";
  out += f.message;
  if (!f.hint.empty()) out += " (" + f.hint + ")";
  return out;
}

size_t count_errors(const std::vector<Finding>& findings) {
  size_t n = 0;
  for (const auto& f : findings) n += f.is_error() ? 1 : 0;
  return n;
}

void FindingSink::error(std::string field, std::string message, std::string hint) {
  out_->push_back({Severity::kError, file_, std::move(field), std::move(message), std::move(hint)});
}

void FindingSink::warning(std::string field, std::string message, std::string hint) {
  out_->push_back(
      {Severity::kWarning, file_, std::move(field), std::move(message), std::move(hint)});
}

std::string py_type_name(const nlohmann::ordered_json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::string:
      return "<class 'str'>";
    case nlohmann::json::value_t::boolean:
      return "<class 'bool'>";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "<class 'int'>";
    case nlohmann::json::value_t::number_float:
      return "<class 'float'>";
    case nlohmann::json::value_t::array:
      return "<class 'list'>";
    case nlohmann::json::value_t::object:
      return "<class 'dict'>";
    default:
      return "<class 'NoneType'>";
  }
}

std::string py_str(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_null()) return "None";
  return v.dump();
}

static std::string joined_repr(const std::vector<std::string>& items, char open, char close) {
  std::string out(1, open);
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += "'" + items[i] + "'";
  }
  out += close;
  return out;
}

std::string py_list_repr(const std::vector<std::string>& items) {
  return joined_repr(items, '[', ']');
}

std::string py_set_repr(const std::vector<std::string>& items) {
  return joined_repr(items, '{', '}');
}

}  // namespace nvf::job
