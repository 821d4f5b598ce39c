#include "security/authorization.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "base/files.h"

namespace nvf::security {
namespace {

using Json = nlohmann::json;

constexpr const char* kAnyRight = "*";
constexpr const char* kTargetSite = "site";
constexpr const char* kTargetSubmitter = "submitter";
constexpr const char* kSuperRole = "super";

// Python's name for a JSON value's type, as FLARE's messages print it.
std::string py_type(const Json& v) {
  if (v.is_object()) return "dict";
  if (v.is_array()) return "list";
  if (v.is_string()) return "str";
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_number_float()) return "float";
  return "NoneType";
}

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

const std::unordered_map<std::string_view, std::string_view>& command_categories() {
  static const auto* table = new std::unordered_map<std::string_view, std::string_view>{
      // manage_job
      {"abort", "manage_job"},
      {"abort_task", "manage_job"},
      {"abort_job", "manage_job"},
      {"start_app", "manage_job"},
      {"delete_job", "manage_job"},
      {"delete_workspace", "manage_job"},
      {"configure_job_log", "manage_job"},
      // view
      {"check_status", "view"},
      {"admin_check_status", "view"},
      {"show_scopes", "view"},
      {"show_stats", "view"},
      {"reset_errors", "view"},
      {"show_errors", "view"},
      {"list_jobs", "view"},
      {"list_job", "view"},
      {"get_job_meta", "view"},
      // operate
      {"sys_info", "operate"},
      {"report_resources", "operate"},
      {"report_env", "operate"},
      {"restart", "operate"},
      {"shutdown", "operate"},
      {"remove_client", "operate"},
      {"disable_client", "operate"},
      {"enable_client", "operate"},
      {"set_timeout", "operate"},
      {"call", "operate"},
      {"configure_site_log", "operate"},
      // shell_commands
      {"pwd", "shell_commands"},
      {"ls", "shell_commands"},
      {"cat", "shell_commands"},
      {"head", "shell_commands"},
      {"tail", "shell_commands"},
      {"grep", "shell_commands"},
      // download_job
      {"download_job", "download_job"},
      {"download_job_components", "download_job"},
      {"download_job_file", "download_job"},
  };
  return *table;
}

// Console-side and session commands that FLARE runs without an authorization check.
const std::unordered_set<std::string_view>& unchecked_commands() {
  static const auto* set = new std::unordered_set<std::string_view>{
      "bye",         "help",        "?",           "lpwd",      "timeout",
      "info",        "_cert_login", "_logout",     "_commands", "_check_session",
      "pull_binary", "push_folder", "pull_folder",
  };
  return *set;
}

}  // namespace

std::string normalize_authz_string(std::string_view s) {
  std::string lower;
  lower.reserve(s.size());
  for (char c : s) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  std::string out;
  for (const std::string& w : split_ws(lower)) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::string right_for_command(std::string_view command) {
  std::string cmd = normalize_authz_string(command);
  if (cmd.empty() || unchecked_commands().count(cmd)) return "";
  auto it = command_categories().find(cmd);
  if (it != command_categories().end()) return std::string(it->second);
  return cmd;
}

std::vector<std::string> commands_in_category(std::string_view category) {
  std::string cat = normalize_authz_string(category);
  std::vector<std::string> out;
  for (const auto& [command, c] : command_categories()) {
    if (c == cat) out.emplace_back(command);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Builds a policy from parsed JSON with FLARE's checks (parse_policy_config) and messages.
class AuthorizationPolicyParser {
 public:
  using Rule = AuthorizationPolicy::Rule;
  using Condition = AuthorizationPolicy::Condition;

  static Result<AuthorizationPolicy> build(const Json& config) {
    if (!config.is_object())
      return InvalidArgumentError("policy definition must be a dict but got " + py_type(config));
    if (config.empty()) return InvalidArgumentError("policy definition is empty");
    auto fv = config.find("format_version");
    if (fv == config.end() || !fv->is_string() || fv->get<std::string>() != "1.0")
      return InvalidArgumentError("missing or invalid policy format_version: must be 1.0");
    auto perms = config.find("permissions");
    if (perms == config.end() || perms->is_null() || (perms->is_object() && perms->empty()))
      return InvalidArgumentError("missing permissions");
    if (!perms->is_object())
      return InvalidArgumentError("permissions: expect a dict but got " + py_type(*perms));

    AuthorizationPolicy policy;
    for (auto it = perms->begin(); it != perms->end(); ++it) {
      std::string role = normalize_authz_string(it.key());
      std::string where = "permissions." + it.key();
      auto& rights = policy.roles_[role];
      const Json& conf = *it;
      if (conf.is_string() || conf.is_array()) {
        NVF_RETURN_IF_ERROR(parse_rule(conf, where, rights[kAnyRight]));
        continue;
      }
      if (!conf.is_object())
        return InvalidArgumentError(where + ": expect a str, list or dict but got " +
                                    py_type(conf));
      for (auto r = conf.begin(); r != conf.end(); ++r) {
        std::string right = normalize_authz_string(r.key());
        NVF_RETURN_IF_ERROR(parse_rule(*r, where + "." + r.key(), rights[right]));
      }
    }
    return policy;
  }

 private:
  static Status parse_rule(const Json& exp, const std::string& where, Rule& out) {
    out = Rule{};
    if (exp.is_string()) return parse_one(exp.get<std::string>(), where, out);
    if (!exp.is_array())
      return InvalidArgumentError(where +
                                  ": bad condition expression type - expect str or list "
                                  "but got " +
                                  py_type(exp));
    if (exp.empty())
      return InvalidArgumentError(where + ": bad condition expression - no conditions specified");
    for (size_t i = 0; i < exp.size(); ++i) {
      if (!exp[i].is_string())
        return InvalidArgumentError(where + "[" + std::to_string(i) +
                                    "]: expression must be a str but got " + py_type(exp[i]));
      NVF_RETURN_IF_ERROR(parse_one(exp[i].get<std::string>(), where, out));
    }
    return Status::OK();
  }

  // FLARE's _parse_one_expression: "[not ]any|all|none|no|o:<org>|org:<org>|n:<name>|name:<name>".
  static Status parse_one(const std::string& exp, const std::string& where, Rule& out) {
    std::string v = normalize_authz_string(exp);
    bool blocked = false;
    std::vector<std::string> words = split_ws(v);
    if (words.size() == 2 && words[0] == "not") {
      blocked = true;
      v = words[1];
    }
    Condition c;
    if (v == "all" || v == "any") {
      c.kind = Condition::Kind::kTrue;
    } else if (v == "none" || v == "no") {
      c.kind = Condition::Kind::kFalse;
    } else {
      size_t colon = v.find(':');
      if (colon == std::string::npos || v.find(':', colon + 1) != std::string::npos)
        return InvalidArgumentError(where + ": bad condition expression \"" + exp + "\"");
      std::string type = normalize_authz_string(v.substr(0, colon));
      c.target = normalize_authz_string(v.substr(colon + 1));
      if (type == "o" || type == "org") {
        c.kind = Condition::Kind::kOrg;
      } else if (type == "n" || type == "name") {
        c.kind = Condition::Kind::kName;
      } else {
        return InvalidArgumentError(where + ": bad condition expression \"" + exp +
                                    "\": invalid type \"" + type + "\"");
      }
    }
    (blocked ? out.block : out.allow).push_back(std::move(c));
    return Status::OK();
  }
};

Result<AuthorizationPolicy> AuthorizationPolicy::parse(std::string_view json_text,
                                                       const std::string& source) {
  Json config;
  try {
    config = Json::parse(json_text);
  } catch (const Json::exception& e) {
    return InvalidArgumentError(source +
                                ": invalid authorization policy: not valid JSON: " + e.what());
  }
  auto policy = AuthorizationPolicyParser::build(config);
  if (!policy.ok())
    return InvalidArgumentError(source +
                                ": invalid authorization policy: " + policy.status().message());
  return policy;
}

Result<AuthorizationPolicy> AuthorizationPolicy::load(const std::filesystem::path& file) {
  NVF_ASSIGN_OR_RETURN(std::string text, base::read_file(file));
  return parse(text, file.string());
}

AuthorizationPolicy AuthorizationPolicy::default_policy() {
  // The same text `nvflare provision` writes to local/authorization.json.default.
  static constexpr const char* kDefault = R"({
    "format_version": "1.0",
    "permissions": {
      "project_admin": "any",
      "org_admin": {
        "submit_job": "none", "clone_job": "none", "manage_job": "o:submitter",
        "download_job": "o:submitter", "view": "any", "operate": "o:site",
        "shell_commands": "o:site", "byoc": "none"
      },
      "lead": {
        "submit_job": "any", "clone_job": "n:submitter", "manage_job": "n:submitter",
        "download_job": "n:submitter", "view": "any", "operate": "o:site",
        "shell_commands": "o:site", "byoc": "any"
      },
      "member": {"view": "any"}
    }
  })";
  auto policy = parse(kDefault, "default authorization policy");
  NVF_CHECK(policy.ok());
  return *std::move(policy);
}

AuthorizationPolicy AuthorizationPolicy::allow_all() {
  AuthorizationPolicy p;
  p.allow_all_ = true;
  return p;
}

std::vector<std::string> AuthorizationPolicy::roles() const {
  std::vector<std::string> out;
  for (const auto& [role, rights] : roles_) out.push_back(role);
  return out;
}

// FLARE's lookup: the role's "*" entry, else the entry for the right itself; a command not named
// by the policy falls back to its category (FLARE expands categories into their commands, and an
// entry for the command overrides it).
const AuthorizationPolicy::Rule* AuthorizationPolicy::find_rule(const std::string& role,
                                                                const std::string& right) const {
  auto r = roles_.find(role);
  if (r == roles_.end()) return nullptr;
  const auto& rights = r->second;
  if (auto it = rights.find(kAnyRight); it != rights.end()) return &it->second;
  if (auto it = rights.find(right); it != rights.end()) return &it->second;
  std::string category = right_for_command(right);
  if (!category.empty() && category != right) {
    if (auto it = rights.find(category); it != rights.end()) return &it->second;
  }
  return nullptr;
}

bool AuthorizationPolicy::matches(const Condition& c, const Person& user,
                                  const std::string& site_org, const Person* submitter) {
  switch (c.kind) {
    case Condition::Kind::kTrue:
      return true;
    case Condition::Kind::kFalse:
      return false;
    case Condition::Kind::kOrg: {
      std::string org = normalize_authz_string(user.org);
      if (c.target == kTargetSite) return org == site_org;
      if (c.target == kTargetSubmitter)
        return submitter != nullptr && org == normalize_authz_string(submitter->org);
      return org == c.target;
    }
    case Condition::Kind::kName: {
      std::string name = normalize_authz_string(user.name);
      if (c.target == kTargetSubmitter)
        return submitter != nullptr && name == normalize_authz_string(submitter->name);
      return name == c.target;
    }
  }
  return false;
}

Status AuthorizationPolicy::authorize(const std::string& right, const Person& user,
                                      const std::string& site_org, const Person* submitter) const {
  if (allow_all_) return Status::OK();
  if (normalize_authz_string(user.role) == kSuperRole) return Status::OK();  // FLARE's test hook
  if (evaluate(right, user, site_org, submitter)) return Status::OK();
  return PermissionDeniedError("user '" + user.name + "' (role " + user.role +
                               ") is not authorized for '" + right + "'");
}

bool AuthorizationPolicy::evaluate(const std::string& right, const Person& user,
                                   const std::string& site_org, const Person* submitter) const {
  std::string role = normalize_authz_string(user.role);
  std::string norm_right = normalize_authz_string(right);
  std::string norm_site_org = normalize_authz_string(site_org);
  const Rule* rule = find_rule(role, norm_right);
  if (rule == nullptr) return false;
  auto any_match = [&](const std::vector<Condition>& conds) {
    for (const Condition& c : conds) {
      if (matches(c, user, norm_site_org, submitter)) return true;
    }
    return false;
  };
  if (!rule->block.empty() && any_match(rule->block)) return false;
  if (!rule->allow.empty()) return any_match(rule->allow);
  return true;  // only blocks, none matched
}

}  // namespace nvf::security
