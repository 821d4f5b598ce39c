#include "runtime/admin_commands.h"

#include "base/strings.h"

namespace nvf::runtime {

namespace admin {
config::Value reply(const std::string& status, config::Value items) {
  return config::Value{{"status", status}, {"data", std::move(items)}};
}
config::Value ok_string(const std::string& text) {
  return reply("ok", config::Value::array({config::Value{{"type", "string"}, {"data", text}}}));
}
config::Value error_reply(const std::string& status, const std::string& text) {
  return reply(status, config::Value::array({config::Value{{"type", "error"}, {"data", text}}}));
}
config::Value table(std::vector<std::vector<std::string>> rows) {
  config::Value r = config::Value::array();
  for (auto& row : rows) r.push_back(row);
  return config::Value{{"type", "table"}, {"rows", r}};
}
}  // namespace admin

AdminCommandTable::AdminCommandTable(Authorizer authorize, JobMetaLoader job_meta, base::Logger logger)
    : authorize_(std::move(authorize)), job_meta_(std::move(job_meta)), log_(logger ? logger : base::null_logger()) {}

Status AdminCommandTable::add(AdminCommand command) {
  if (command.name.empty() || !command.handler) {
    return InvalidArgumentError("an admin command needs a name and a handler ('" + command.name + "')");
  }
  if (by_name_.count(command.name)) return AlreadyExistsError("admin command '" + command.name + "' exists already");
  by_name_[command.name] = commands_.size();
  commands_.push_back(std::move(command));
  return Status::OK();
}

const AdminCommand* AdminCommandTable::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &commands_[it->second];
}

config::Value AdminCommandTable::run(const Principal& who, const std::vector<std::string>& argv) const {
  const AdminCommand* c = argv.empty() ? nullptr : find(argv[0]);
  if (!c) {
    std::vector<std::string> names;
    for (const auto& cmd : commands_) {
      if (!cmd.help.empty()) names.push_back(cmd.name);  // hidden commands have no help
    }
    names.insert(names.end(), also_.begin(), also_.end());
    return admin::error_reply("syntax_error", "Command " + (argv.empty() ? std::string() : argv[0]) +
                                                  " not found. Available: " + base::join(names, ", "));
  }
  try {
    auto check_right = [&](const config::Value* meta) -> config::Value {
      // Asked when the right is due: after the argument check unless right_before_check.
      if (c->right.empty() || (c->server_checks && !c->server_checks(argv))) return config::Value();
      Status s = authorize_(who, c->right, meta);
      return s.ok() ? config::Value() : admin::error_reply("not_authorized", s.message());
    };
    if (c->right_before_check) {
      if (auto refused = check_right(nullptr); !refused.is_null()) return refused;
    }
    if (c->check) {
      if (auto bad = c->check(argv); !bad.is_null()) return bad;
    }
    std::optional<config::Value> meta;
    if (c->job_scoped) {
      const std::string id = argv.size() > 1 ? argv[1] : "";
      auto m = job_meta_(id);
      if (!m.ok()) return admin::error_reply("invalid_job_id", "Job with ID " + id + " doesn't exist");
      meta = std::move(*m);
    }
    if (!c->right_before_check) {
      if (auto refused = check_right(meta ? &*meta : nullptr); !refused.is_null()) return refused;
    }
    return c->handler(AdminCall{who, argv, meta ? &*meta : nullptr});
  } catch (const std::exception& e) {
    log_->error("admin command '{}' of {} failed: {}", c->name, who.name, e.what());
    return admin::error_reply("error", "command " + c->name + " failed: " + e.what());
  } catch (...) {
    log_->error("admin command '{}' of {} failed", c->name, who.name);
    return admin::error_reply("error", "command " + c->name + " failed");
  }
}

}  // namespace nvf::runtime
