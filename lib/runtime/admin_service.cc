// ServerParent's admin service: the console commands of spec cli-and-formats §5.2 that this build
// implements, as a table (admin_commands.h) whose run() checks each command's arguments, job and
// right in one place; the handlers are in admin_job_commands.cc and admin_site_commands.cc. Answers
// are JSON {"status": ..., "data": [{"type": "string" | "table" | "dict" | "error", ...}]}.
#include "runtime/admin_service_internal.h"

namespace nvf::runtime {
namespace fs = std::filesystem;
using namespace admin_detail;

Status ServerParent::authorize(const Principal& who, const std::string& right, const config::Value* job_meta) const {
  if (right.empty()) return Status::OK();
  security::Person submitter;
  if (job_meta) submitter = submitter_of(*job_meta);
  return policy_.authorize(right, who.person, org_, job_meta ? &submitter : nullptr);
}

void ServerParent::handle_admin_command(const cellnet::Message& request, cellnet::Responder respond) {
  auto who = registrar_->principal_of(request.headers);
  if (!who.ok() || who->kind != "admin") {
    return respond(cellnet::Message::of(error_reply("not_authenticated", "not logged in").dump()));
  }
  std::string line;
  try {
    line = config::Value::parse(request.payload.to_string()).value("command", "");
  } catch (const std::exception&) {
  }
  auto argv = base::shell_split(line);
  config::Value r;
  if (!argv.ok() || argv->empty()) {
    r = error_reply("syntax_error", argv.ok() ? "empty command" : argv.status().message());
  } else {
    registrar_->touch_session(who->token);
    r = admin_->run(*who, *argv);
  }
  log_->info("admin {}: {} -> {}", who->name, line, r.value("status", "?"));
  respond(cellnet::Message::of(r.dump()));
}

// ---- the command table: arguments, job and right are checked in AdminCommandTable::run --------

namespace {

using Argv = std::vector<std::string>;
config::Value ok() { return config::Value(); }  // a check that lets the command go on

// server|client|all (or a subset) as argv[index].
bool one_of(const Argv& argv, size_t index, std::initializer_list<const char*> allowed) {
  if (argv.size() <= index) return false;
  for (const char* a : allowed) {
    if (argv[index] == a) return true;
  }
  return false;
}
std::function<config::Value(const Argv&)> exactly(size_t n, std::string usage) {
  return [n, usage](const Argv& argv) { return argv.size() == n ? ok() : error_reply("syntax_error", usage); };
}

}  // namespace

Status ServerParent::register_admin_commands() {
  auto job_meta = [this](const std::string& id) -> Result<config::Value> {
    if (id.empty()) return NotFoundError("no job id");
    return store_->meta(id);
  };
  admin_ = std::make_unique<AdminCommandTable>(
      [this](const Principal& who, const std::string& right, const config::Value* meta) {
        return authorize(who, right, meta);
      },
      job_meta, log_);
  using Handler = config::Value (ServerParent::*)(const AdminCall&);
  auto bind = [this](Handler h) { return [this, h](const AdminCall& call) { return (this->*h)(call); }; };
  std::vector<AdminCommand> table;
  table.push_back({"check_status", "check_status server|client [clients...]: the server's or the clients' status",
                   "view", true, [](const Argv& argv) {
                     return one_of(argv, 1, {"server", "client"})
                                ? ok()
                                : error_reply("syntax_error", "Usage: check_status server|client [clients...]");
                   },
                   false, nullptr, bind(&ServerParent::cmd_check_status)});
  table.push_back({"list_jobs", "list_jobs [-n name_prefix] [-d] [-u] [-r] [-m num_of_jobs] [job_id_prefix]", "view",
                   true, nullptr, false, nullptr, bind(&ServerParent::cmd_list_jobs)});
  table.push_back({"get_job_meta", "get_job_meta job_id: the job's meta.json", "view", false,
                   exactly(2, "Usage: get_job_meta job_id"), true, nullptr, bind(&ServerParent::cmd_get_job_meta)});
  table.push_back({"list_job", "list_job job_id: the job's stored components beyond data and meta", "list_job", false,
                   exactly(2, "Usage: list_job job_id"), true, nullptr,
                   bind(&ServerParent::cmd_list_job_components)});
  table.push_back({"list_job_components", "", "list_job", false, exactly(2, "Usage: list_job job_id"), true, nullptr,
                   bind(&ServerParent::cmd_list_job_components)});
  table.push_back({"abort_job", "abort_job job_id", "manage_job", false, exactly(2, "Usage: abort_job job_id"), true,
                   nullptr, bind(&ServerParent::cmd_abort_job)});
  table.push_back({"clone_job", "clone_job job_id: submit the job again", "clone_job", false,
                   exactly(2, "Usage: clone_job job_id"), true, nullptr, bind(&ServerParent::cmd_clone_job)});
  table.push_back({"delete_job", "delete_job job_id", "manage_job", false, exactly(2, "Usage: delete_job job_id"),
                   true, nullptr, bind(&ServerParent::cmd_delete_job)});
  table.push_back({"configure_job_log", "configure_job_log job_id server|client <client-name>...|all config",
                   "configure_job_log", false, [](const Argv& argv) {
                     if (argv.size() < 4) {
                       return error_reply("syntax_error", "syntax error: please provide job_id, target_type, and config");
                     }
                     if (!one_of(argv, 2, {"server", "client", "all"})) {
                       return error_reply("syntax_error", "invalid target type " + argv[2] +
                                                              ". Usage: configure_job_log job_id server|client "
                                                              "<client-name>...|all config");
                     }
                     return ok();
                   },
                   true, nullptr, bind(&ServerParent::cmd_configure_job_log)});
  table.push_back({"app_command", "app_command job_id topic # cmd_data", "app_command", false, [](const Argv& argv) {
                     if (argv.size() != 3) return error_reply("syntax_error", "Usage: app_command job_id topic # cmd_data");
                     if (!job::is_valid_job_id(argv[1])) return error_reply("invalid_job_id", "invalid job_id " + argv[1]);
                     return ok();
                   },
                   true, nullptr, bind(&ServerParent::cmd_app_command)});
  table.push_back({"shutdown", "shutdown server|client|all [clients]", "operate", true, [](const Argv& argv) {
                     return one_of(argv, 1, {"all", "server", "client"})
                                ? ok()
                                : error_reply("syntax_error", "Usage: shutdown server|client|all [clients]");
                   },
                   false, nullptr, bind(&ServerParent::cmd_shutdown)});
  table.push_back({"restart", "restart server|client|all [clients]", "restart", false, [](const Argv& argv) {
                     bool good = one_of(argv, 1, {"all", "server", "client"}) && (argv[1] == "client" || argv.size() == 2);
                     return good ? ok() : error_reply("syntax_error", "Usage: restart server|client|all [clients]");
                   },
                   false, nullptr, bind(&ServerParent::cmd_restart)});
  table.push_back({"remove_client", "remove_client <client-name>", "remove_client", false,
                   exactly(2, "Usage: remove_client <client-name>"), false, nullptr,
                   bind(&ServerParent::cmd_remove_client)});
  table.push_back({"show_scopes", "show_scopes server|client|all [clients]: each site's privacy scopes", "show_scopes",
                   false, [](const Argv& argv) {
                     return one_of(argv, 1, {"all", "server", "client"})
                                ? ok()
                                : error_reply("syntax_error", "Usage: show_scopes server|client|all ...");
                   },
                   false, nullptr, bind(&ServerParent::cmd_show_scopes)});
  // sys_info server | client [clients]: each client answers under its own policy.
  table.push_back({"sys_info", "sys_info server|client <client-name>...", "sys_info", false, [](const Argv& argv) {
                     return argv.size() < 2 ? error_reply("syntax_error", "syntax error: missing site names") : ok();
                   },
                   false, [](const Argv& argv) { return argv.size() > 1 && argv[1] == "server"; }, bind(&ServerParent::cmd_sys_info)});
  for (const char* name : {"report_resources", "report_env"}) {
    const bool env = std::string(name) == "report_env";
    table.push_back({name, report_usage(env), name, false, [env](const Argv& argv) {
                       if (argv.size() < 2) return error_reply("syntax_error", "syntax error: missing site names");
                       if (!env && argv[1] != "server" && argv[1] != "client") {
                         return ok_string("invalid target type " + argv[1] + ". Usage: " + report_usage(env));
                       }
                       return ok();
                     },
                     false, nullptr, bind(&ServerParent::cmd_report)});
  }
  table.push_back({"configure_site_log", "configure_site_log server|client <client-name>...|all config",
                   "configure_site_log", false, [](const Argv& argv) {
                     if (argv.size() < 3) {
                       return error_reply("syntax_error", "syntax error: please provide target_type and config");
                     }
                     if (!one_of(argv, 1, {"server", "client", "all"})) {
                       return error_reply("syntax_error", "invalid target type " + argv[1] +
                                                              ". Usage: configure_site_log server|client "
                                                              "<client-name>...|all config");
                     }
                     return ok();
                   },
                   false, nullptr, bind(&ServerParent::cmd_configure_site_log)});
  for (const char* name : {"show_stats", "show_errors", "reset_errors"}) {
    table.push_back({name, std::string(name) + " job_id server|client [clients...]", name, false,
                     [](const Argv& argv) {
                       return one_of(argv, 2, {"server", "client", "all"})
                                  ? ok()
                                  : error_reply("syntax_error", "Usage: " + argv[0] + " job_id server|client [clients...]");
                     },
                     true, nullptr, bind(&ServerParent::cmd_job_info)});
  }
  table.push_back({"list_sessions", "list_sessions: the admins logged in", "list_sessions", false, nullptr, false,
                   nullptr, bind(&ServerParent::cmd_list_sessions)});
  // pwd/ls/cat/head/tail/grep <target> ...: FLARE checks the arguments first; the server checks
  // the right for its own workspace, a client for its own.
  for (const char* name : {"pwd", "ls", "cat", "head", "tail", "grep"}) {
    table.push_back({name, std::string(name) + " server|<client-name> ...: in the site's workspace", name, false,
                     [](const Argv& argv) {
                       if (argv.size() < 2) return error_reply("syntax_error", "syntax error: missing target");
                       Argv args{argv[0]};
                       args.insert(args.end(), argv.begin() + 2, argv.end());
                       auto command = WorkspaceShell::parse(args);
                       return command.ok() ? ok() : error_reply("syntax_error", command.status().message());
                     },
                     false, [](const Argv& argv) { return argv.size() > 1 && argv[1] == "server"; }, bind(&ServerParent::cmd_shell)});
  }
  // Hidden: no help line.
  table.push_back({"dead", "", "dead", false, exactly(2, "Usage: dead <client-name>"), false, nullptr,
                   bind(&ServerParent::cmd_dead)});
  table.push_back({"_logout", "", "", false, nullptr, false, nullptr, [this](const AdminCall& call) {
                     registrar_->remove_session(call.who.token);
                     return reply("ok", config::Value::array());
                   }});
  table.push_back({"_check_session", "", "", false, nullptr, false, nullptr,
                   [](const AdminCall&) { return ok_string("OK"); }});
  for (auto& c : table) NVF_RETURN_IF_ERROR(admin_->add(std::move(c)));
  admin_->also_available({"submit_job", "download_job", "download_job_components"});
  return Status::OK();
}

// ---- restart, site reports, log levels, job components, app commands ---------------------------

}  // namespace nvf::runtime
