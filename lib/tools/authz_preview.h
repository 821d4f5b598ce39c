// AuthzPreview: `nvflare authz_preview -p authorization.json`, FLARE's interactive evaluator of an
// authorization policy (nvflare/fuel/hci/tools/authz_preview.py; spec cli-and-formats §1.5, §5.4).
// Commands, answered as FLARE's cmd.Cmd-based previewer answers them:
//   eval_right SITE_ORG RIGHT USER_NAME:ORG:ROLE [SUBMITTER_NAME:ORG:ROLE]   → True | False
//   eval_right SITE_ORG USER_NAME USER_ORG USER_ROLE RIGHT [SUBMITTER_NAME SUBMITTER_ORG
//   SUBMITTER_ROLE] show_rights, show_roles, show_role_rights (tables), show_config (the file,
//   json.dumps indent 1), help / ? [command], bye.
// The policy is parsed and evaluated by security::AuthorizationPolicy, so the previewer decides
// exactly as the server and clients do.
//
// An AuthzPreview is a value; one caller at a time.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/value.h"
#include "security/authorization.h"
#include "tools/line_reader.h"

namespace nvf::tools {

class AuthzPreview {
 public:
  /// Reads and checks the policy. Errors: NOT_FOUND for a missing file, INVALID_ARGUMENT naming
  /// the bad field ("Policy config error: ..." is printed for it by run_authz_preview).
  static Result<AuthzPreview> load(const std::filesystem::path& policy_file);
  /// The same from text (`source` names it in errors).
  static Result<AuthzPreview> parse(const std::string& json_text, const std::string& source);

  /// The output of one command line (each line ends with a newline; "" for an empty line).
  /// Sets *stop for `bye`.
  std::string handle_line(const std::string& line, bool* stop) const;

 private:
  AuthzPreview() = default;
  std::string eval_right(const std::vector<std::string>& args) const;
  std::string help(const std::string& topic) const;

  config::Value config_;
  security::AuthorizationPolicy policy_;
  std::vector<std::string> roles_;   // sorted
  std::vector<std::string> rights_;  // sorted: "*", categories, their commands, other rights
  std::map<std::string, std::map<std::string, std::string>>
      role_rights_;  // role → right → str(expression)
};

/// Loads the policy and answers lines from `input` until `bye` or the end of input, printing
/// FLARE's intro and prompt when the input is a terminal. Errors: those of load().
Status run_authz_preview(const std::filesystem::path& policy_file, LineReader& input,
                         std::ostream& out);

}  // namespace nvf::tools
