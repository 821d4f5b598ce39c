// FLARE's authorization policy (`authorization.json`, format_version "1.0"): for each role either
// one condition expression for every right, or a map {right or category: expression}. A site
// evaluates its own policy for (user, right, its own org, the job's submitter). Grammar and
// evaluation follow nvflare/fuel/sec/authz.py (spec: runtime.md §10, cli-and-formats.md §5.4).
//
// An AuthorizationPolicy is an immutable value once parsed: copy it freely and call authorize()
// from any thread. A default-constructed policy has no roles and denies everything except role
// `super` (FLARE: "a policy object missing at evaluation → deny").
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace nvf::security {

/// A user or a job submitter as FLARE's authorizer sees them (from the admin certificate: CN, O,
/// unstructuredName). Compared lower-cased and whitespace-normalised.
struct Person {
  std::string name, org, role;
};

class AuthorizationPolicy {
 public:
  /// Denies everything (except role `super`); see the file comment.
  AuthorizationPolicy() = default;

  /// Parses authorization.json text ({"format_version": "1.0", "permissions": {role: expr |
  /// {right_or_category: expr}}}). Errors: INVALID_ARGUMENT naming `source` and the bad field or
  /// expression ("authorization.json: permissions.lead.submit_job: bad condition expression
  /// \"o:a:b\""), also for text that is not JSON and for an empty policy.
  static Result<AuthorizationPolicy> parse(std::string_view json_text, const std::string& source);

  /// Reads and parses a file. Errors: NOT_FOUND / PERMISSION_DENIED from reading, else as parse().
  static Result<AuthorizationPolicy> load(const std::filesystem::path& file);

  /// The provisioned default (`local/authorization.json.default`): the table of
  /// cli-and-formats §5.4.
  static AuthorizationPolicy default_policy();

  /// Allows every right to everyone: FLARE's EmptyAuthorizer, used when a site has no
  /// authorization.json or runs in non-secure mode.
  static AuthorizationPolicy allow_all();

  /// Decides whether `user` may exercise `right` at a site of org `site_org`.
  /// `right`: a category or right (submit_job, clone_job, manage_job, download_job, view, operate,
  /// shell_commands, byoc) or a console command name (abort_job, ls, ...), which falls back to its
  /// category unless the policy names the command itself. `submitter`: the job's submitter, null
  /// when no job is involved (then `o:submitter` / `n:submitter` never match).
  /// Returns OK, or PERMISSION_DENIED: "user 'bob@b.org' (role member) is not authorized for
  /// 'submit_job'".
  Status authorize(const std::string& right, const Person& user, const std::string& site_org,
                   const Person* submitter) const;

  /// The policy's own decision, as FLARE's Policy.evaluate (and `nvflare authz_preview`) makes
  /// it: like authorize() but without the `super` role and allow-all shortcuts.
  bool evaluate(const std::string& right, const Person& user, const std::string& site_org,
                const Person* submitter) const;

  /// True for allow_all().
  bool allows_all() const { return allow_all_; }

  /// The roles the policy defines (normalised, sorted).
  std::vector<std::string> roles() const;

 private:
  // One condition of an expression: any/all, none/no, o:<org>, n:<name>.
  struct Condition {
    enum class Kind { kTrue, kFalse, kOrg, kName };
    Kind kind = Kind::kFalse;
    std::string target;  // kOrg / kName: "site", "submitter" or a literal (normalised)
  };
  // The expression for one (role, right): blocks are checked first, then allows.
  struct Rule {
    std::vector<Condition> allow;
    std::vector<Condition> block;
  };

  friend class AuthorizationPolicyParser;  // authorization.cc: builds roles_ from JSON

  static bool matches(const Condition& c, const Person& user, const std::string& site_org,
                      const Person* submitter);
  const Rule* find_rule(const std::string& role, const std::string& right) const;

  bool allow_all_ = false;
  std::map<std::string, std::map<std::string, Rule>> roles_;  // role → right → rule
};

/// The right (category) a console command needs: "abort_job" → "manage_job", "list_jobs" →
/// "view", "ls" → "shell_commands", "submit_job" → "submit_job", "download_job_components" →
/// "download_job". Empty for commands that need no authorization (bye, help, _cert_login, ...).
/// A command outside FLARE's categories needs a right of its own name ("app_command"), which only
/// an explicit entry or a role's `*` grants.
std::string right_for_command(std::string_view command);

/// The console commands of a category ("shell_commands" → cat, grep, head, ls, pwd, tail), sorted;
/// empty for a name that is not a category.
std::vector<std::string> commands_in_category(std::string_view category);

/// FLARE's normalisation of names, orgs, roles, rights and expressions: lower-cased, surrounding
/// whitespace removed, inner runs of whitespace collapsed to one space.
std::string normalize_authz_string(std::string_view s);

}  // namespace nvf::security
