#include "tools/authz_preview.h"

#include <algorithm>
#include <cctype>
#include <ostream>
#include <set>

#include "base/files.h"
#include "base/strings.h"
#include "tools/admin_output.h"

namespace nvf::tools {
namespace {

// Python's repr() of a str.
std::string py_repr(const std::string& s) {
  const char q =
      (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  for (char c : s) {
    if (c == '\\' || c == q) out += '\\';
    out += c;
  }
  return out + q;
}

// Python's str() of an expression: a str as is, a list as its repr.
std::string py_str(const config::Value& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      out += (i ? ", " : "") +
             (v[i].is_string() ? py_repr(v[i].get<std::string>()) : python_json_dumps(v[i], -1));
    }
    return out + "]";
  }
  return python_json_dumps(v, -1);
}

std::string one_column_table(const std::string& header, const std::vector<std::string>& rows) {
  config::Value t = config::Value::array({config::Value::array({header})});
  for (const auto& r : rows) t.push_back(config::Value::array({r}));
  return render_admin_table(t);
}

std::vector<std::string> words(const std::string& line) {
  if (line.find_first_of("\"'") != std::string::npos) {
    auto w = base::shell_split(line);
    if (w.ok()) return *w;
  }
  return base::split(line, ' ', true);
}

}  // namespace

Result<AuthzPreview> AuthzPreview::parse(const std::string& json_text, const std::string& source) {
  NVF_ASSIGN_OR_RETURN(security::AuthorizationPolicy policy,
                       security::AuthorizationPolicy::parse(json_text, source));
  AuthzPreview p;
  p.policy_ = std::move(policy);
  p.config_ = config::Value::parse(json_text);  // parse() above checked that it is JSON
  // FLARE's parse_policy_config: what show_rights / show_role_rights list.
  std::set<std::string> rights;
  for (const auto& [role_key, conf] : p.config_["permissions"].items()) {
    const std::string role = security::normalize_authz_string(role_key);
    p.roles_.push_back(role);
    auto& rr = p.role_rights_[role];
    if (!conf.is_object()) {
      rights.insert("*");
      rr["*"] = py_str(conf);
      continue;
    }
    for (const auto& [right_key, exp] : conf.items()) {  // categories first, as FLARE
      const std::string right = security::normalize_authz_string(right_key);
      auto commands = security::commands_in_category(right);
      if (commands.empty()) continue;
      rights.insert(right);
      rr[right] = py_str(exp);
      for (const auto& c : commands) {
        rights.insert(c);
        rr[c] = py_str(exp);
      }
    }
    for (const auto& [right_key, exp] : conf.items()) {  // then rights, which may override
      const std::string right = security::normalize_authz_string(right_key);
      if (!security::commands_in_category(right).empty()) continue;
      rights.insert(right);
      rr[right] = py_str(exp);
    }
  }
  std::sort(p.roles_.begin(), p.roles_.end());
  p.rights_.assign(rights.begin(), rights.end());
  return p;
}

Result<AuthzPreview> AuthzPreview::load(const std::filesystem::path& policy_file) {
  NVF_ASSIGN_OR_RETURN(std::string text, base::read_file(policy_file));
  return parse(text, policy_file.string());
}

std::string AuthzPreview::eval_right(const std::vector<std::string>& args) const {
  const std::string usage =
      "Usage: eval_right site_org right_name user_name:org:role [submitter_name:org:role]\n"
      "   or: eval_right site_org user_name user_org user_role right_name [submitter_name "
      "submitter_org "
      "submitter_role]\n";
  if (args.size() < 4) return usage;
  const auto person = [](const std::string& spec, security::Person* out) {
    auto parts = base::split(spec, ':');
    if (parts.size() != 3) return false;
    *out = security::Person{parts[0], parts[1], parts[2]};
    return true;
  };
  std::string site_org = args[1], right;
  security::Person user, submitter;
  bool has_submitter = false;
  if (args[3].find(':') == std::string::npos && (args.size() == 6 || args.size() == 9)) {
    // One word per field: site_org user_name user_org user_role right [submitter ...].
    user = security::Person{args[2], args[3], args[4]};
    right = args[5];
    if (args.size() == 9) {
      submitter = security::Person{args[6], args[7], args[8]};
      has_submitter = true;
    }
  } else {
    right = args[2];
    if (!person(args[3], &user)) return "Error: bad user spec: must be like name:org:role\n";
    if (args.size() > 4 && !args[4].empty()) {
      if (!person(args[4], &submitter))
        return "Error: bad submitter spec: must be like name:org:role\n";
      has_submitter = true;
    }
  }
  const bool allowed =
      policy_.evaluate(right, user, site_org, has_submitter ? &submitter : nullptr);
  return allowed ? "True\n" : "False\n";
}

// cmd.Cmd's help, for the previewer's commands.
std::string AuthzPreview::help(const std::string& topic) const {
  if (topic == "bye") return "Exits from the client.\n";
  if (topic == "help")
    return "List available commands with \"help\" or detailed help with \"help cmd\".\n";
  if (!topic.empty()) return "*** No help on " + topic + "\n";
  return "\n"
         "Documented commands (type help <topic>):\n"
         "========================================\n"
         "bye  help\n"
         "\n"
         "Undocumented commands:\n"
         "======================\n"
         "eval_right  show_config  show_role_rights  show_rights  show_roles\n"
         "\n";
}

std::string AuthzPreview::handle_line(const std::string& raw, bool* stop) const {
  *stop = false;
  const auto [cmd, arg] = split_command_line(raw);
  if (cmd.empty() && arg.empty()) return "";
  if (cmd == "bye") {
    *stop = true;
    return "";
  }
  if (cmd == "help") return help(arg);
  if (cmd == "show_rights") return one_column_table("right", rights_);
  if (cmd == "show_roles") return one_column_table("role", roles_);
  if (cmd == "show_config") return python_json_dumps(config_, 1) + "\n";
  if (cmd == "show_role_rights") {
    config::Value t = config::Value::array({config::Value::array({"role", "right", "conditions"})});
    for (const auto& [role, rights] : role_rights_) {
      for (const auto& [right, exp] : rights) t.push_back(config::Value::array({role, right, exp}));
    }
    return render_admin_table(t);
  }
  if (cmd == "eval_right") {
    std::vector<std::string> args{"eval_right"};
    for (auto& w : words(arg)) args.push_back(std::move(w));
    return eval_right(args);
  }
  return "*** Unknown syntax: " + std::string(base::trim(raw)) + "\n";
}

Status run_authz_preview(const std::filesystem::path& policy_file, LineReader& input,
                         std::ostream& out) {
  NVF_ASSIGN_OR_RETURN(AuthzPreview preview, AuthzPreview::load(policy_file));
  if (input.interactive()) out << "Type help or ? to list commands.\n";
  for (;;) {
    out << std::flush;
    auto line = input.read_line(input.interactive() ? "> " : "", true);
    if (!line) break;
    bool stop = false;
    out << preview.handle_line(*line, &stop);
    if (stop) break;
  }
  out << std::flush;
  return Status::OK();
}

}  // namespace nvf::tools
