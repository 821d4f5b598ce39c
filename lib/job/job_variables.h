// `nvflare job show_variables`: every key of a job's meta and app configs that `-f` can set,
// with its current value and the component it belongs to, and FLARE's 135-column table.
// Stateless; safe from any thread.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace nvf::job {

namespace fs = std::filesystem;

struct VariableRow {
  std::string app;        ///< "app" for meta.json and one-app jobs
  std::string file_name;  ///< "config_fed_client.json", "meta.json"
  std::string var_name;   ///< the shortest key path suffix that names it uniquely in its file
  std::string value;      ///< as text (strings bare, true/false, numbers)
  std::string component;  ///< class name of the enclosing component ("FedAvg"), or ""
};

/// Rows for meta.json then each app (sorted), files sorted, keys sorted, like FLARE. Ids, class
/// paths, format_version and task lists are not variables. Errors: NOT_FOUND (no folder),
/// INVALID_ARGUMENT (a config does not parse).
Result<std::vector<VariableRow>> show_variables(const fs::path& job_folder);

/// FLARE's table: a header naming the job folder, then file_name / var_name / value / component.
std::string render_variables_table(const fs::path& job_folder,
                                   const std::vector<VariableRow>& rows);

}  // namespace nvf::job
