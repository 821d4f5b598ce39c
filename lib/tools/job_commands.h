// The logic behind `nvflare job validate` (and the check `job create` runs after writing): the
// job folder's meta and configs with FLARE's rules, then the timeouts of each app's configs
// against the registry's rules. Stateless functions.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"
#include "job/finding.h"

namespace nvf::tools {

struct ValidationReport {
  std::string job_name;
  std::vector<job::Finding> findings;  // folder findings first, then timeout findings per app
  size_t errors = 0;
  size_t warnings = 0;
  bool ok() const { return errors == 0; }
};

/// Validates a job folder. Errors: NOT_FOUND when `dir` is not a directory.
Result<ValidationReport> validate_job(const std::filesystem::path& dir);

/// One line per finding, then a summary line ("job 'x' is valid" / "N errors, M warnings").
std::string render_validation(const ValidationReport& report);

}  // namespace nvf::tools
