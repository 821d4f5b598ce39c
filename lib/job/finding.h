// Finding: one problem that validation found in a job folder (severity, file relative to the job
// folder, field path, message, and a hint that says what to do). Plain values; copy freely and
// share read-only across threads. Validators collect every finding instead of stopping at the
// first, so a user fixes a folder in one pass.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace nvf::job {

enum class Severity { kError, kWarning };

struct Finding {
  Severity severity = Severity::kError;
  std::string file;     ///< relative to the job folder, e.g. "app/config/config_fed_server.json"
  std::string field;    ///< e.g. "components[2].args"; empty when the finding is about the file
  std::string message;  ///< FLARE 2.7.2's text where FLARE has one
  std::string hint;     ///< what to do; may be empty

  bool is_error() const { return severity == Severity::kError; }
};

/// "error: meta.json: deploy_map: Missing server site in deploy_map for job x (add ...)".
std::string format_finding(const Finding& finding);

size_t count_errors(const std::vector<Finding>& findings);

/// Collects findings for one file; each add names the field. Not thread-safe (one per validator).
class FindingSink {
 public:
  FindingSink(std::vector<Finding>* out, std::string file) : out_(out), file_(std::move(file)) {}
  void error(std::string field, std::string message, std::string hint = {});
  void warning(std::string field, std::string message, std::string hint = {});
  const std::string& file() const { return file_; }

 private:
  std::vector<Finding>* out_;
  std::string file_;
};

/// Python's names and reprs, so that messages read exactly like FLARE's.
std::string py_type_name(const nlohmann::ordered_json& v);  ///< "<class 'str'>"
std::string py_str(const nlohmann::ordered_json& v);        ///< str(v): True, None, 'x' unquoted
std::string py_list_repr(const std::vector<std::string>& items);  ///< ['a', 'b']
std::string py_set_repr(const std::vector<std::string>& items);   ///< {'a', 'b'}

}  // namespace nvf::job
