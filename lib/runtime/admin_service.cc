// ServerParent's admin service: the console commands of spec cli-and-formats §5.2 that this build
// implements (jobs, status, shutdown, the workspace shell commands, sessions, sys_info, ...), each
// authorized by the server's policy, answered as JSON
// {"status": ..., "data": [{"type": "string" | "table" | "dict" | "success" | "error", ...}]}.
#include <algorithm>
#include <charconv>
#include <ctime>
#include <fstream>
#include <optional>

#include "base/files.h"
#include "base/strings.h"
#include "job/archive.h"
#include "job/job_folder.h"
#include "runtime/deploy_protocol.h"
#include "runtime/server_parent.h"
#include "runtime/site_info.h"
#include "runtime/workspace_shell.h"
#include "security/job_signature.h"

namespace nvf::runtime {
namespace fs = std::filesystem;

namespace {

std::string str_of(const config::Value& v, const char* key) {
  return v.is_object() && v.contains(key) && v[key].is_string() ? v[key].get<std::string>() : std::string();
}

using admin::error_reply;
using admin::ok_string;
using admin::reply;
using admin::table;
// Visible text is a string item (the console prints no "success" item, as FLARE's).
config::Value ok_success(const std::string& text) { return ok_string(text); }

std::string report_usage(bool env) {
  return env ? "report_env server|client <client-name> ..." : "report_resources server | client <client-name> ...";
}

// A request to a client parent on behalf of admin `who` (the client authorizes them itself).
cellnet::Message admin_order(const Principal& who, std::string payload) {
  cellnet::Message m = cellnet::Message::of(std::move(payload));
  m.headers.set(deploy::kHdrUserName, who.person.name);
  m.headers.set(deploy::kHdrUserOrg, who.person.org);
  m.headers.set(deploy::kHdrUserRole, who.person.role);
  return m;
}

// A client's refusal or failure as the console shows it: its policy's "not authorized" (carried
// back as cellnet's "unauthenticated" return code) keeps that status; no answer in time says so.
config::Value client_error(const std::string& client, const Status& s) {
  if (s.code() == StatusCode::kPermissionDenied || s.code() == StatusCode::kUnauthenticated) {
    return error_reply("not_authorized", s.message());
  }
  if (s.code() == StatusCode::kDeadlineExceeded) return error_reply("error", "no reply from client " + client);
  return error_reply("error", s.message());
}

std::string fmt_time(double epoch) {
  if (epoch <= 0) return "";
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

std::string duration_of(const config::Value& meta) {
  if (meta.contains("duration") && meta["duration"].is_string()) return meta["duration"].get<std::string>();
  if (meta.contains("duration") && meta["duration"].is_number()) {
    long s = static_cast<long>(meta["duration"].get<double>());
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    return buf;
  }
  return "N/A";
}

// time.asctime(time.localtime(t)), as FLARE's session list prints times: "Mon Jan  5 10:20:30 2026".
std::string asctime_of(std::chrono::system_clock::time_point tp) {
  std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

// A steady-clock instant on the wall clock.
std::chrono::system_clock::time_point wall_time(std::chrono::steady_clock::time_point tp) {
  return std::chrono::system_clock::now() -
         std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::steady_clock::now() - tp);
}

// Python's str(float) for a number of seconds.
std::string py_float(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, ec == std::errc() ? end : buf);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

security::Person submitter_of(const config::Value& meta) {
  return security::Person{str_of(meta, "submitter_name"), str_of(meta, "submitter_org"),
                          str_of(meta, "submitter_role")};
}

}  // namespace

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
                   false, [](const Argv& argv) { return argv[1] == "server"; }, bind(&ServerParent::cmd_sys_info)});
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
                     false, [](const Argv& argv) { return argv[1] == "server"; }, bind(&ServerParent::cmd_shell)});
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

// pwd/ls/cat/head/tail/grep <target> ...: FLARE checks the arguments first, then (for the server)
// the right; the command runs natively in the server's workspace root (workspace_shell.h).
config::Value ServerParent::cmd_shell(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  const std::string& target = argv[1];
  std::vector<std::string> args{argv[0]};
  args.insert(args.end(), argv.begin() + 2, argv.end());
  auto command = WorkspaceShell::parse(args);
  if (!command.ok()) return error_reply("syntax_error", command.status().message());  // checked before
  if (target != "server") {
    auto clients = client_names();
    if (std::find(clients.begin(), clients.end(), target) == clients.end()) {
      return error_reply("invalid_target", "invalid client: " + target);
    }
    // The client checks the right with its own policy (each site evaluates its own).
    auto replies = ask_clients({target}, deploy::kTopicShell, admin_order(who, WorkspaceShell::order(args)), nullptr);
    if (replies.empty()) return error_reply("invalid_target", "invalid client: " + target);
    const auto& r = replies.front().second;
    if (!r.ok()) return client_error(target, r.status());
    return ok_string(r->payload.to_string());
  }
  auto out = WorkspaceShell(opt_.kit.root).run(*command);
  if (!out.ok()) return error_reply("error", out.status().message());
  return ok_string(*out);
}

config::Value ServerParent::cmd_list_sessions(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  auto sessions = registrar_->principals("admin");
  std::stable_sort(sessions.begin(), sessions.end(),
                   [](const Principal& a, const Principal& b) { return a.name < b.name; });
  std::vector<std::vector<std::string>> rows{{"User", "Org", "Role", "Session ID", "Start", "Last Active", "Idle"}};
  const auto now = std::chrono::steady_clock::now();
  for (const auto& p : sessions) {
    const double idle = std::chrono::duration<double>(now - p.last_seen).count();
    rows.push_back({p.name, p.person.org, p.person.role, p.session_id, asctime_of(wall_time(p.registered)),
                    asctime_of(wall_time(p.last_seen)), py_float(idle)});
  }
  return reply("ok", config::Value::array({table(rows)}));
}

config::Value ServerParent::cmd_sys_info(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  if (argv[1] == "client") {
    // Each client checks the right with its own policy; a "Client: name" line and a table each.
    std::string bad;
    auto replies = ask_clients({argv.begin() + 2, argv.end()}, deploy::kTopicSysInfo, admin_order(who, ""), &bad);
    if (!bad.empty()) return error_reply("invalid_target", "invalid client: " + bad);
    if (replies.empty()) return error_reply("no_clients", "no clients available");
    config::Value items = config::Value::array();
    std::string status = "ok";  // every client refused or failed: the first one's status
    for (size_t i = 0; i < replies.size(); ++i) {
      const auto& [c, r] = replies[i];
      items.push_back({{"type", "string"}, {"data", "Client: " + c}});
      if (!r.ok()) {
        config::Value e = client_error(c, r.status());
        if (i == 0) status = e["status"].get<std::string>();
        items.push_back(e["data"][0]);
        continue;
      }
      status = "ok";
      std::vector<std::vector<std::string>> rows{{"Metrics", "Value"}};
      try {
        for (const auto& row : config::Value::parse(r->payload.to_string())) {
          rows.push_back({row.at(0).get<std::string>(), row.at(1).get<std::string>()});
        }
      } catch (const std::exception& e) {
        items.push_back({{"type", "error"}, {"data", "bad reply from " + c + ": " + e.what()}});
        continue;
      }
      items.push_back(table(rows));
    }
    return reply(status, items);
  }
  if (argv[1] != "server") {
    return ok_string("invalid target type " + argv[1] + ". Usage: sys_info server|client <client-name>");
  }
  std::vector<std::vector<std::string>> rows{{"Metrics", "Value"}};
  for (auto& [k, v] : virtual_memory()) rows.push_back({k, v});
  return reply("ok", config::Value::array({table(rows)}));
}

// show_stats / show_errors / reset_errors <job_id> server|client [clients]|all: the job must be
// running; its job processes answer (job_query).
config::Value ServerParent::cmd_job_info(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  const std::string& cmd = argv[0];
  const std::string& id = argv[1];
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_.count(id)) return error_reply("job_not_running", "Job_id: " + id + " is not running.");
  }
  return job_query(cmd, id, argv[2], {argv.begin() + 3, argv.end()});
}

// show_stats / show_errors / reset_errors of a running job: the server job's answer (target server
// or all), then every client job's by client (client or all; the job's clients unless named).
// show_stats shows FLARE's stats dicts; show_errors the last lines of each job process's
// log_error.txt since its last reset_errors.
config::Value ServerParent::job_query(const std::string& cmd, const std::string& id, const std::string& target,
                                      const std::vector<std::string>& names) {
  const std::string_view topic = cmd == "show_stats"    ? deploy::kTopicShowStats
                                 : cmd == "show_errors" ? deploy::kTopicShowErrors
                                                        : deploy::kTopicResetErrors;
  // One job process's answer as the console shows it.
  auto shown = [&](const config::Value& answer) -> config::Value {
    if (cmd == "reset_errors") return "errors reset";
    if (cmd == "show_errors" && answer.is_array() && answer.empty()) return "no errors";
    return answer;
  };
  config::Value items = config::Value::array();
  if (target != "client") {
    auto r = cell_->request("server." + id, std::string(deploy::kChannelJobCommand), std::string(topic),
                            cellnet::Message{}, opt_.admin_timeout);
    if (!r.ok()) return error_reply("error", "no answer from the server job of " + id + ": " + r.status().message());
    config::Value answer;
    try {
      answer = config::Value::parse(r->payload.to_string());
    } catch (const std::exception& e) {
      return error_reply("error", std::string("bad answer from the server job of ") + id + ": " + e.what());
    }
    if (cmd == "show_stats") {
      items.push_back({{"type", "dict"}, {"data", answer}});
    } else {
      items.push_back({{"type", "dict"}, {"data", {{"server", shown(answer)}}}});
    }
  }
  if (target != "server") {
    std::vector<std::string> targets = names;
    if (targets.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = running_.find(id);
      if (it != running_.end()) targets = it->second->clients;
    }
    cellnet::Message order;
    order.headers.set(deploy::kHdrJobId, id);
    std::string bad;
    auto replies = ask_clients(targets, topic, order, &bad);
    if (!bad.empty()) return error_reply("invalid_target", "invalid client: " + bad);
    if (replies.empty()) return error_reply("no_clients", "no responses from clients");
    config::Value by_client = config::Value::object();
    for (const auto& [c, r] : replies) {
      if (!r.ok()) {
        by_client[c] = "failed: " + r.status().message();
        continue;
      }
      try {
        by_client[c] = shown(config::Value::parse(r->payload.to_string()));
      } catch (const std::exception& e) {
        by_client[c] = std::string("failed: bad answer: ") + e.what();
      }
    }
    items.push_back({{"type", "dict"}, {"data", by_client}});
  }
  return reply("ok", items);
}

config::Value ServerParent::cmd_remove_client(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  // A removed client that is still alive registers again at its next heartbeat, as in FLARE.
  return forget_client(who, argv, " removed.");
}

config::Value ServerParent::cmd_check_status(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  config::Value items = config::Value::array();
  std::map<std::string, std::string> apps;  // job → app name
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, j] : running_) apps[id] = "app_server";
  }
  if (argv[1] == "server") {
    items.push_back({{"type", "string"}, {"data", std::string("Engine status: ") +
                                                      (shutdown_requested_ ? "stopping" : "started")}});
    std::vector<std::vector<std::string>> rows{{"job_id", "app name"}};
    for (const auto& [id, app] : apps) rows.push_back({id, app});
    items.push_back(table(rows));
    auto clients = registrar_->principals("client");
    items.push_back({{"type", "string"}, {"data", "Registered clients: " + std::to_string(clients.size()) + " "}});
    std::vector<std::vector<std::string>> crows{{"client", "fqcn", "fqsn", "leaf", "token", "last connect time"}};
    std::sort(clients.begin(), clients.end(), [](const Principal& a, const Principal& b) { return a.name < b.name; });
    for (const auto& c : clients) {
      auto ago = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - c.last_seen);
      crows.push_back({c.name, c.fqcn, c.name, "True", c.token, std::to_string(ago.count()) + " s ago"});
    }
    items.push_back(table(crows));
    return reply("ok", items);
  }
  std::vector<std::vector<std::string>> rows{{"client", "app_name", "job_id", "status"}};
  std::set<std::string> wanted(argv.begin() + 2, argv.end());
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& name : client_names()) {
    if (!wanted.empty() && !wanted.count(name)) continue;
    auto it = client_jobs_.find(name);
    if (it == client_jobs_.end() || it->second.empty()) {
      rows.push_back({name, "?", "no jobs", "No Jobs"});
      continue;
    }
    for (const auto& j : it->second) rows.push_back({name, "app_" + name, j, "running"});
  }
  items.push_back(table(rows));
  return reply("ok", items);
}

config::Value ServerParent::cmd_list_jobs(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  bool detailed = false, reverse = false, mine = false;
  std::string name_prefix, id_prefix;
  long max = -1;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "-d") {
      detailed = true;
    } else if (a == "-r") {
      reverse = true;
    } else if (a == "-u") {
      mine = true;
    } else if ((a == "-n" || a == "-m") && i + 1 < argv.size()) {
      if (a == "-n") {
        name_prefix = argv[++i];
      } else {
        try {
          max = std::stol(argv[++i]);
        } catch (const std::exception&) {
          return error_reply("syntax_error", "list_jobs: -m needs a number");
        }
      }
    } else if (!a.empty() && a[0] == '-') {
      return error_reply("syntax_error",
                         "Usage: list_jobs [-n name_prefix] [-d] [-u] [-r] [-m num_of_jobs] [job_id_prefix]");
    } else {
      id_prefix = a;
    }
  }
  std::vector<config::Value> jobs;
  for (auto& meta : store_->list()) {
    if (!name_prefix.empty() && str_of(meta, "name").rfind(name_prefix, 0) != 0) continue;
    if (!id_prefix.empty() && str_of(meta, "job_id").rfind(id_prefix, 0) != 0) continue;
    if (mine && str_of(meta, "submitter_name") != who.name) continue;
    jobs.push_back(std::move(meta));
  }
  if (max >= 0 && static_cast<long>(jobs.size()) > max) jobs.erase(jobs.begin(), jobs.end() - max);
  if (reverse) std::reverse(jobs.begin(), jobs.end());
  if (jobs.empty()) {
    bool filtered = !name_prefix.empty() || !id_prefix.empty() || mine;
    return ok_string(filtered ? "No jobs matching the specified criteria." : "No jobs found.");
  }
  config::Value items = config::Value::array();
  if (detailed) {
    for (const auto& j : jobs) items.push_back({{"type", "dict"}, {"data", j}});
    return reply("ok", items);
  }
  std::vector<std::vector<std::string>> rows{{"Job ID", "Name", "Status", "Submit Time", "Run Duration"}};
  for (const auto& j : jobs) {
    rows.push_back({str_of(j, "job_id"), str_of(j, "name"), str_of(j, "status"),
                    str_of(j, "submit_time_iso").empty() ? fmt_time(j.value("submit_time", 0.0))
                                                         : str_of(j, "submit_time_iso"),
                    duration_of(j)});
  }
  items.push_back(table(rows));
  return reply("ok", items);
}

config::Value ServerParent::cmd_get_job_meta(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  (void)argv;
  return reply("ok", config::Value::array({config::Value{{"type", "dict"}, {"data", *call.job_meta}}}));
}

config::Value ServerParent::cmd_abort_job(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  std::string message;
  if (Status s = abort_job(argv[1], "aborted by " + who.name, &message); !s.ok()) {
    return error_reply("error", s.message());
  }
  return ok_success(message);
}

config::Value ServerParent::cmd_delete_job(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_.count(argv[1])) {
      return error_reply("job_running", "job " + argv[1] + " is running: abort it before deleting it");
    }
  }
  if (Status s = store_->remove(argv[1]); !s.ok()) return error_reply("error", s.message());
  return ok_success("Job " + argv[1] + " deleted.");
}

config::Value ServerParent::cmd_clone_job(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  const config::Value* meta = call.job_meta;
  config::Value m = config::Value::object();
  for (const char* k : {"name", "job_folder_name", "deploy_map", "resource_spec", "min_clients", "mandatory_clients",
                        "data_storage_format"}) {
    if (meta->contains(k)) m[k] = (*meta)[k];
  }
  m["submitter_name"] = who.person.name;
  m["submitter_org"] = who.person.org;
  m["submitter_role"] = who.person.role;
  m["cloned_from"] = argv[1];
  auto id = store_->create(m, store_->data_path(argv[1]));
  if (!id.ok()) return error_reply("error", id.status().message());
  cv_.notify_all();
  return ok_success("Cloned job " + argv[1] + " as: " + *id);
}

config::Value ServerParent::cmd_shutdown(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_.empty()) {
      return error_reply("job_running",
                         "There are still jobs running. Please let them finish or abort_job before shutdown.");
    }
  }
  auto clients = client_names();
  if (argv[1] == "server" && !clients.empty()) {
    return error_reply("clients_running", "There are still active clients. Shutdown all clients first.");
  }
  if (argv[1] == "client" || argv[1] == "all") {
    std::set<std::string> wanted(argv.begin() + 2, argv.end());
    for (const auto& c : clients) {
      if (argv[1] == "client" && !wanted.empty() && !wanted.count(c)) continue;
      cell_->request(c, std::string(deploy::kChannelAdmin), std::string(deploy::kTopicShutdown), cellnet::Message{},
                     std::chrono::milliseconds(5000))
          .status()
          .ignore();
      registrar_->remove(c);
    }
    if (argv[1] == "client") return ok_success("Shutdown requests sent to the clients.");
  }
  request_shutdown("shutdown requested by " + who.name);
  return ok_success("Flare Server has been shutdown.");
}

// ---- restart, site reports, log levels, job components, app commands ---------------------------

std::vector<std::pair<std::string, Result<cellnet::Message>>> ServerParent::ask_clients(
    const std::vector<std::string>& names, std::string_view topic, const cellnet::Message& order,
    std::string* bad_name) {
  std::vector<std::pair<std::string, Result<cellnet::Message>>> out;
  const auto clients = client_names();
  for (const auto& n : names) {
    if (std::find(clients.begin(), clients.end(), n) == clients.end()) {
      if (bad_name) *bad_name = n;
      return out;
    }
  }
  for (const auto& c : names.empty() ? clients : names) {
    out.emplace_back(c, cell_->request(c, std::string(deploy::kChannelAdmin), std::string(topic), order,
                                       opt_.admin_timeout));
  }
  return out;
}

namespace {

// FLARE's process_replies_to_table: one row per client with its answer or its error.
config::Value replies_table(const std::vector<std::pair<std::string, Result<cellnet::Message>>>& replies) {
  std::vector<std::vector<std::string>> rows{{"Client", "Response"}};
  for (const auto& [c, r] : replies) rows.push_back({c, r.ok() ? r->payload.to_string() : "error: " + r.status().message()});
  return table(rows);
}

// A client's JSON answer shown as Python's str() of it, or its error.
std::string client_answer(const Result<cellnet::Message>& r) {
  if (!r.ok()) return r.status().code() == StatusCode::kDeadlineExceeded ? "No replies" : r.status().message();
  try {
    return python_str(config::Value::parse(r->payload.to_string()));
  } catch (const std::exception& e) {
    return std::string("Bad replies: ") + e.what();
  }
}

std::string joined(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

// restart server|client|all [clients]: FLARE's training_cmds.restart. The clients are ordered to
// restart first (all of them for server/all); the server then stops without shutdown.fl and its
// watchdog starts it again.
config::Value ServerParent::cmd_restart(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_.empty()) {
      return error_reply("job_running",
                         "There are still jobs running. Please let them finish or abort_job before restart.");
    }
  }
  config::Value items = config::Value::array();
  auto restart_clients = [&](const std::vector<std::string>& names) -> std::optional<config::Value> {
    std::string bad;
    auto replies = ask_clients(names, deploy::kTopicRestart, cellnet::Message{}, &bad);
    if (!bad.empty()) return error_reply("invalid_target", "invalid client: " + bad);
    std::vector<std::string> lines;
    for (const auto& [c, r] : replies) {
      // A client that stops before its answer arrives was still ordered to restart.
      lines.push_back(c + ": " + (r.ok() ? r->payload.to_string() : "restart ordered (" + r.status().message() + ")"));
      if (r.ok() || r.status().code() != StatusCode::kFailedPrecondition) {
        registrar_->remove(c);
        std::lock_guard<std::mutex> lock(mu_);
        client_jobs_.erase(c);
      }
    }
    items.push_back({{"type", "string"}, {"data", joined(lines, "\n")}});
    return std::nullopt;
  };
  if (argv[1] == "client") {
    if (client_names().empty()) return error_reply("no_clients", "no clients available");
    if (auto err = restart_clients({argv.begin() + 2, argv.end()})) return *err;
    return reply("ok", items);
  }
  if (!client_names().empty()) {
    items.push_back({{"type", "string"}, {"data", "Trying to restart all clients before restarting server..."}});
    if (auto err = restart_clients({})) return *err;
  }
  request_restart("restart requested by " + who.name);
  items.push_back({{"type", "string"}, {"data", "Server scheduled for restart"}});
  return reply("ok", items);
}

// list_job job_id (list_job_components is accepted too): the job's stored components other than
// FLARE's data, meta, workspace and scheduled, e.g. ERRORLOG_site-1.
config::Value ServerParent::cmd_list_job_components(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  const std::string& id = argv[1];
  auto stored = store_->components(id);
  if (!stored.ok()) return error_reply("invalid_job_id", "job " + id + " does not exist");
  auto extra = extra_job_components(*stored);
  if (extra.empty()) return error_reply("no_job_compoents", "No additional job components found.");
  return ok_string(joined(extra, ", "));
}

// show_scopes server|client|all [clients]: site, scopes, default (local/privacy.json of each site).
config::Value ServerParent::cmd_show_scopes(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  std::vector<std::vector<std::string>> rows{{"site", "scopes", "default"}};
  if (argv[1] != "client") {
    ScopeInfo info = site_scopes(opt_.kit.root);
    rows.push_back({"server", joined(info.names, ", "), info.default_scope});
  }
  if (argv[1] != "server") {
    std::string bad;
    auto replies = ask_clients({argv.begin() + 2, argv.end()}, deploy::kTopicGetScopes, cellnet::Message{}, &bad);
    if (!bad.empty()) return error_reply("invalid_target", "invalid client: " + bad);
    if (replies.empty() && argv[1] == "client") return error_reply("no_clients", "no responses from clients");
    for (const auto& [c, r] : replies) {
      if (!r.ok()) {
        rows.push_back({c, "", r.status().code() == StatusCode::kDeadlineExceeded ? "no reply" : r.status().message()});
        continue;
      }
      try {
        auto body = config::Value::parse(r->payload.to_string());
        std::vector<std::string> names;
        for (const auto& n : body.value("scope_names", config::Value::array())) {
          if (n.is_string()) names.push_back(n.get<std::string>());
        }
        rows.push_back({c, joined(names, ", "), body.value("default_scope", "")});
      } catch (const std::exception& e) {
        return error_reply("error", "bad response from client " + c + ": " + e.what());
      }
    }
  }
  return reply("ok", config::Value::array({table(rows)}));
}

// report_resources server | client <client-name> ... (table Sites, Resources) and
// report_env server | client <client-name> ... | <client-name> ... (table Sites, Env).
config::Value ServerParent::cmd_report(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  const std::string& cmd = argv[0];
  const bool env = cmd == "report_env";
  (void)who;
  const std::string usage = report_usage(env);
  std::vector<std::vector<std::string>> rows{{"Sites", env ? "Env" : "Resources"}};
  if (argv[1] == "server") {
    if (argv.size() > 2) return error_reply("syntax_error", "Usage: " + usage);
    rows.push_back({"server", python_str(env ? site_env(opt_.kit.name, opt_.kit.root, opt_.kit.config_file)
                                             : site_resources(opt_.kit.root))});
    return reply("ok", config::Value::array({table(rows)}));
  }
  std::vector<std::string> names(argv.begin() + (argv[1] == "client" ? 2 : 1), argv.end());
  std::string bad;
  auto replies = ask_clients(names, env ? deploy::kTopicReportEnv : deploy::kTopicReportResources,
                             cellnet::Message{}, &bad);
  if (!bad.empty()) return error_reply("invalid_target", "invalid client: " + bad);
  if (replies.empty()) return error_reply("no_clients", "no responses from clients");
  for (const auto& [c, r] : replies) rows.push_back({c, client_answer(r)});
  return reply("ok", config::Value::array({table(rows)}));
}

// configure_site_log server|client <client-name>...|all config: the daemon's log level.
config::Value ServerParent::cmd_configure_site_log(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  const std::string& target = argv[1];
  const std::string& config = argv.back();
  auto level = parse_log_config(config);
  if (!level.ok()) return error_reply("syntax_error", level.status().message());
  config::Value items = config::Value::array();
  if (target != "client") {
    if (argv.size() != 3) return error_reply("syntax_error", "Usage: configure_site_log " + target + " config");
    log_->set_level(*level);
    log_->info("site log level set to {} by {}", config, who.name);
    items.push_back({{"type", "string"}, {"data", "successfully configured server site log"}});
  }
  if (target != "server") {
    std::string bad;
    std::vector<std::string> names(argv.begin() + 2, argv.end() - 1);
    auto replies = ask_clients(names, deploy::kTopicConfigureSiteLog, cellnet::Message::of(config), &bad);
    if (!bad.empty()) return error_reply("invalid_target", "invalid client: " + bad);
    if (replies.empty() && target == "client") return error_reply("no_clients", "no responses from clients");
    if (!replies.empty()) items.push_back(replies_table(replies));
  }
  return reply("ok", items);
}

// configure_job_log job_id server|client <client-name>...|all config: the job must be RUNNING.
config::Value ServerParent::cmd_configure_job_log(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  const std::string& id = argv[1];
  const std::string& target = argv[2];
  const std::string& config = argv.back();
  const config::Value* meta = call.job_meta;
  const std::string status = str_of(*meta, "status");
  if (status != job::run_status::kRunning) {
    return error_reply("job_not_running", "Job " + id + " must be running but is " + status);
  }
  auto level = parse_log_config(config);
  if (!level.ok()) return error_reply("syntax_error", level.status().message());
  config::Value items = config::Value::array();
  if (target != "client") {
    auto r = cell_->request("server." + id, std::string(deploy::kChannelJobCommand),
                            std::string(deploy::kTopicConfigureLog), cellnet::Message::of(config),
                            std::chrono::milliseconds(5000));
    if (!r.ok()) return error_reply("error", "cannot configure the log of server job " + id + ": " + r.status().message());
    items.push_back({{"type", "string"}, {"data", "successfully configured server job " + id + " log"}});
  }
  if (target != "server") {
    std::vector<std::string> names(argv.begin() + 3, argv.end() - 1);
    if (names.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = running_.find(id); it != running_.end()) names = it->second->clients;
    }
    cellnet::Message order = cellnet::Message::of(config);
    order.headers.set(deploy::kHdrJobId, id);
    std::string bad;
    auto replies = ask_clients(names, deploy::kTopicConfigureJobLog, order, &bad);
    if (!bad.empty()) return error_reply("invalid_target", "invalid client: " + bad);
    if (!replies.empty()) items.push_back(replies_table(replies));
  }
  return reply("ok", items);
}

// app_command job_id topic # cmd_data: the job must be running; no app of this build registers
// app command handlers, and the answer says so.
config::Value ServerParent::cmd_app_command(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  (void)who;
  const std::string& id = argv[1];
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_.count(id)) return error_reply("job_not_running", "Job_id: " + id + " is not running.");
  }
  return error_reply("error", "command execution error: no app command handler for topic '" + argv[2] +
                                  "': no app command handlers exist in this build");
}

// dead <client-name> (hidden): the client is gone; it leaves the registrar at once.
config::Value ServerParent::cmd_dead(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  return forget_client(who, argv, " is marked dead.");
}

config::Value ServerParent::forget_client(const Principal& who, const std::vector<std::string>& argv,
                                          const std::string& done) {
  const std::string& name = argv[1];
  auto clients = client_names();
  if (std::find(clients.begin(), clients.end(), name) == clients.end()) {
    return error_reply("invalid_target", "invalid client: " + name);
  }
  registrar_->remove(name);
  {
    std::lock_guard<std::mutex> lock(mu_);
    client_jobs_.erase(name);
  }
  log_->warn("client {} removed by {} ({})", name, who.name, argv[0]);
  return ok_string("Client " + name + done);
}

void ServerParent::handle_submit(const cellnet::Message& request, cellnet::Responder respond) {
  auto who = registrar_->principal_of(request.headers);
  if (!who.ok() || who->kind != "admin") {
    return respond(cellnet::Message::of(error_reply("not_authenticated", "not logged in").dump()));
  }
  auto answer = [&](const config::Value& r) {
    log_->info("admin {}: submit_job -> {}", who->name, r.value("status", "?"));
    respond(cellnet::Message::of(r.dump()));
  };
  if (Status s = authorize(*who, "submit_job", nullptr); !s.ok()) return answer(error_reply("not_authorized", s.message()));
  const std::string folder = request.headers.get_or(deploy::kHdrJobFolderName, "");
  if (folder.empty() || folder.find('/') != std::string::npos || folder == "." || folder == "..") {
    return answer(error_reply("invalid_job_def", "submit_job: missing or bad job folder name"));
  }
  // The upload is extracted into a scratch folder with the safe extractor and checked before it
  // is stored; nothing is kept when any check fails.
  auto scratch_dir = base::make_temp_dir("nvflare-upload");
  if (!scratch_dir.ok()) return answer(error_reply("internal_error", scratch_dir.status().message()));
  const fs::path scratch = *scratch_dir;
  base::ScopedRemove cleanup(scratch);
  const std::string bytes = request.payload.to_string();
  if (Status s = job::unpack_zip_from_memory(bytes, scratch / "x"); !s.ok()) {
    return answer(error_reply("invalid_job_def", "the uploaded job zip was refused: " + s.message()));
  }
  const fs::path job_dir = scratch / "x" / folder;
  std::error_code ec;
  if (!fs::is_directory(job_dir, ec)) {
    return answer(error_reply("invalid_job_def", "the uploaded zip has no folder '" + folder + "'"));
  }
  if (opt_.secure) {
    auto signer = security::verify_job_folder(job_dir, root_ca_pem_);
    if (!signer.ok()) return answer(error_reply("invalid_job_def", signer.status().message()));
    if (*signer != who->name) {
      return answer(error_reply("invalid_job_def", "the job is signed by '" + *signer + "', not by " + who->name));
    }
  }
  auto meta = config::load_file(job_dir / "meta.json");
  if (!meta.ok() || !meta->is_object()) {
    return answer(error_reply("invalid_job_def", "the job has no valid meta.json: " +
                                                     (meta.ok() ? std::string("not an object") : meta.status().message())));
  }
  if (fs::exists(job_dir, ec)) {
    for (auto it = fs::recursive_directory_iterator(job_dir, ec); it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory() && it->path().filename() == "custom" && !fs::is_empty(it->path(), ec)) {
        if (Status s = authorize(*who, "byoc", nullptr); !s.ok()) {
          return answer(error_reply("not_authorized", "the job has custom code: " + s.message()));
        }
        break;
      }
    }
  }
  config::Value m = *meta;
  if (!m.contains("name")) m["name"] = folder;
  m["job_folder_name"] = folder;
  m["submitter_name"] = who->person.name;
  m["submitter_org"] = who->person.org;
  m["submitter_role"] = who->person.role;
  fs::path zip = scratch / "job.zip";
  if (Status s = base::atomic_write(zip, bytes); !s.ok()) return answer(error_reply("internal_error", s.message()));
  auto id = store_->create(m, zip);
  if (!id.ok()) return answer(error_reply("internal_error", id.status().message()));
  cv_.notify_all();
  config::Value r = ok_success("Submitted job: " + *id);
  r["meta"] = {{"job_id", *id}};
  answer(r);
}

void ServerParent::handle_download(const cellnet::Message& request, cellnet::Responder respond) {
  auto who = registrar_->principal_of(request.headers);
  auto fail = [&](const std::string& status, const std::string& text) {
    cellnet::Message m = cellnet::Message::of("");
    m.headers.set("reply", error_reply(status, text).dump());
    respond(std::move(m));
  };
  if (!who.ok() || who->kind != "admin") return fail("not_authenticated", "not logged in");
  const std::string id = request.headers.get_or(deploy::kHdrJobId, "");
  auto meta = store_->meta(id);
  if (!meta.ok()) return fail("invalid_job_id", "Job with ID " + id + " doesn't exist");
  if (Status s = authorize(*who, "download_job", &*meta); !s.ok()) return fail("not_authorized", s.message());
  if (request.headers.get_or(deploy::kHdrComponents, "") == "true") {
    // download_job_components: the job's extra components, each as a file in the zip.
    auto stored = store_->components(id);
    auto extra = stored.ok() ? extra_job_components(*stored) : std::vector<std::string>{};
    if (extra.empty()) return fail("no_job_compoents", "No additional job components found.");
    auto dir = base::make_temp_dir("nvflare-download");
    if (!dir.ok()) return fail("internal_error", dir.status().message());
    base::ScopedRemove remove(*dir);
    std::error_code ec;
    fs::create_directories(*dir / id, ec);
    for (const auto& c : extra) fs::copy_file(store_->component_path(id, c), *dir / id / c, ec);
    auto bytes = job::pack_zip_to_string(*dir / id);
    if (!bytes.ok()) return fail("internal_error", bytes.status().message());
    cellnet::Message m = cellnet::Message::of(std::move(*bytes));
    m.headers.set("reply", ok_string("components of job " + id + ": " + joined(extra, ", ")).dump());
    return respond(std::move(m));
  }
  // One zip: meta.json, the job as submitted (job.zip) and, once finished, its workspace.
  auto scratch_dir = base::make_temp_dir("nvflare-download");
  if (!scratch_dir.ok()) return fail("internal_error", scratch_dir.status().message());
  const fs::path scratch = *scratch_dir;
  base::ScopedRemove cleanup(scratch);
  std::error_code ec;
  fs::path content = scratch / id;
  fs::create_directories(content, ec);
  base::atomic_write(content / "meta.json", config::to_pretty_json(*meta)).ignore();
  fs::copy_file(store_->data_path(id), content / "job.zip", ec);
  if (auto ws = store_->workspace_path(id)) fs::copy_file(*ws, content / "workspace.zip", ec);
  auto bytes = job::pack_zip_to_string(content);
  if (!bytes.ok()) return fail("internal_error", bytes.status().message());
  cellnet::Message m = cellnet::Message::of(std::move(*bytes));
  m.headers.set("reply", ok_string("content of job " + id).dump());
  respond(std::move(m));
}

}  // namespace nvf::runtime
