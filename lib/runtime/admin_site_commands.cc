// The admin commands about sites: status, sessions, the workspace shell, sys_info, reports,
// scopes, site log levels, shutdown and restart, removing clients; orders to client parents.
#include <future>

#include "cellnet/fqcn.h"
#include "runtime/admin_service_internal.h"
#include "runtime/fan_out.h"

namespace nvf::runtime {
namespace fs = std::filesystem;
using namespace admin_detail;

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

config::Value ServerParent::cmd_list_sessions(const AdminCall&) {
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

config::Value ServerParent::cmd_remove_client(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  // A removed client that is still alive registers again at its next heartbeat, as in FLARE.
  return forget_client(who, argv, " removed.");
}

config::Value ServerParent::cmd_check_status(const AdminCall& call) {
  const std::vector<std::string>& argv = call.argv;
  config::Value items = config::Value::array();
  std::map<std::string, std::string> apps;  // job → app name
  for (const auto& id : runner_->running()) apps[id] = "app_server";
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
    // Relays: a client's fqcn above names the relays it connects through.
    auto relays = registrar_->principals("relay");
    if (!relays.empty()) {
      std::sort(relays.begin(), relays.end(), [](const Principal& a, const Principal& b) { return a.fqcn < b.fqcn; });
      items.push_back({{"type", "string"}, {"data", "Registered relays: " + std::to_string(relays.size()) + " "}});
      std::vector<std::vector<std::string>> rrows{{"relay", "fqcn", "clients", "last connect time"}};
      for (const auto& r : relays) {
        size_t below = std::count_if(clients.begin(), clients.end(), [&](const Principal& c) {
          return cellnet::fqcn::is_ancestor(r.fqcn, c.fqcn);
        });
        auto ago = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - r.last_seen);
        rrows.push_back({r.name, r.fqcn, std::to_string(below), std::to_string(ago.count()) + " s ago"});
      }
      items.push_back(table(rrows));
    }
    add_unsaved_warnings(items, *store_);
    return reply("ok", items);
  }
  std::vector<std::vector<std::string>> rows{{"client", "app_name", "job_id", "status"}};
  std::set<std::string> wanted(argv.begin() + 2, argv.end());
  for (const auto& name : client_names()) {
    if (!wanted.empty() && !wanted.count(name)) continue;
    std::set<std::string> jobs = client_jobs_.last_report(name);
    if (jobs.empty()) {
      rows.push_back({name, "?", "no jobs", "No Jobs"});
      continue;
    }
    for (const auto& j : jobs) rows.push_back({name, "app_" + name, j, "running"});
  }
  items.push_back(table(rows));
  return reply("ok", items);
}

config::Value ServerParent::cmd_shutdown(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  {
    if (!runner_->running().empty()) {
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
  // All at once: a client that does not answer costs one admin_timeout, not one per client.
  return ask_all(*cell_, names.empty() ? clients : names, deploy::kChannelAdmin, topic, order, opt_.admin_timeout);
}


// restart server|client|all [clients]: FLARE's training_cmds.restart. The clients are ordered to
// restart first (all of them for server/all); the server then stops without shutdown.fl and its
// watchdog starts it again.
config::Value ServerParent::cmd_restart(const AdminCall& call) {
  const Principal& who = call.who;
  const std::vector<std::string>& argv = call.argv;
  {
    if (!runner_->running().empty()) {
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
        client_jobs_.forget(c);
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
  client_jobs_.forget(name);
  log_->warn("client {} removed by {} ({})", name, who.name, argv[0]);
  return ok_string("Client " + name + done);
}

}  // namespace nvf::runtime
