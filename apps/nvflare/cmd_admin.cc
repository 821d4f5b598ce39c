// nvflare admin (the interactive console), nvflare admin -c "COMMAND" and nvflare job submit: one
// admin session with the server, from an admin startup kit. Parsing only; the session is
// tools::AdminClient and the console tools::AdminConsole.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "tools/admin_client.h"
#include "tools/admin_console.h"
#include "tools/admin_output.h"
#include "tools/job_commands.h"
#include "tools/user_config.h"

namespace nvf::app {
namespace fs = std::filesystem;

runtime::DriverFactory external_driver_factory();  // cmd_daemon.cc

namespace {

struct AdminOptions {
  std::string kit_dir;
  std::string config = "fed_admin.json";
  std::string command;
  bool json = false;
  double timeout = 10;
  // job submit
  std::string job_folder = "./current_job";
  bool wait = false;
  double wait_timeout = 0;
  bool debug = false;
};

// The admin kit: -m, else the startup kit of `nvflare config -d` (FLARE searches it for
// fed_admin.json), else $NVFLARE_STARTUP_KIT_DIR.
Result<runtime::AdminKit> find_kit(const AdminOptions& o) {
  fs::path dir = o.kit_dir;
  if (dir.empty()) {
    auto cfg = tools::load_user_config(tools::user_config_path());
    if (cfg.ok() && cfg->startup_kit) dir = *cfg->startup_kit;
  }
  if (dir.empty()) {
    if (const char* env = std::getenv("NVFLARE_STARTUP_KIT_DIR")) dir = env;
  }
  if (dir.empty()) {
    return FailedPreconditionError("startup kit directory is not specified: pass -m ADMIN_KIT_DIR or set it with "
                                   "`nvflare config -d DIR` (poc prepare sets it)");
  }
  NVF_ASSIGN_OR_RETURN(fs::path kit_dir, runtime::find_admin_kit(dir));
  return runtime::load_admin_kit(kit_dir, o.config);
}

void print_reply(const config::Value& reply, bool json) {
  if (json) {
    std::cout << reply.dump(2) << "\n";
  } else {
    std::string text = tools::render_admin_reply(reply);
    std::cout << text;
  }
}

int run_admin(const AdminOptions& o) {
  auto kit = find_kit(o);
  if (!kit.ok()) return report(kit.status());
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout * 1000));
  if (o.command.empty()) return report(tools::run_admin_console(*kit, external_driver_factory(), timeout));
  auto client = tools::AdminClient::connect(*kit, external_driver_factory(), timeout);
  if (!client.ok()) return report(client.status());
  auto reply = tools::run_admin_command(**client, o.command);
  (*client)->logout();
  if (!reply.ok()) return report(reply.status());
  print_reply(*reply, o.json);
  return tools::admin_reply_exit_code(*reply);
}

int run_submit(const AdminOptions& o) {
  auto report_v = tools::validate_job(o.job_folder);
  if (!report_v.ok()) return report(report_v.status());
  if (!report_v->ok()) {
    std::cerr << tools::render_validation(*report_v);
    std::cerr << "the job was not submitted: fix the errors above\n";
    return kExitError;
  }
  auto kit = find_kit(o);
  if (!kit.ok()) return report(kit.status());
  auto client = tools::AdminClient::connect(*kit, external_driver_factory(), std::chrono::seconds(10));
  if (!client.ok()) return report(client.status());
  auto reply = (*client)->submit_job(o.job_folder);
  if (!reply.ok()) return report(reply.status());
  struct Logout {
    tools::AdminClient& c;
    ~Logout() { c.logout(); }
  } logout{**client};
  print_reply(*reply, false);
  int code = tools::admin_reply_exit_code(*reply);
  if (code != 0 || !o.wait) return code;
  std::string id = reply->value("meta", config::Value::object()).value("job_id", "");
  auto status = (*client)->wait_for_job(id, std::chrono::milliseconds(static_cast<int64_t>(o.wait_timeout * 1000)),
                                        [&](const std::string& s) { std::cout << "job " << id << ": " << s << "\n"; });
  if (!status.ok()) return report(status.status());
  return *status == "FINISHED:COMPLETED" ? kExitOk : kExitError;
}

}  // namespace

int submit_and_follow(const std::string& job_folder, const std::string& kit_dir, double timeout_s,
                      const std::filesystem::path& result_dir) {
  AdminOptions o;
  o.job_folder = job_folder;
  o.kit_dir = kit_dir;
  auto report_v = tools::validate_job(o.job_folder);
  if (!report_v.ok()) return report(report_v.status());
  if (!report_v->ok()) {
    std::cerr << tools::render_validation(*report_v) << "the job was not submitted: fix the errors above\n";
    return kExitError;
  }
  auto kit = find_kit(o);
  if (!kit.ok()) return report(kit.status());
  auto client = tools::AdminClient::connect(*kit, external_driver_factory(), std::chrono::seconds(10));
  if (!client.ok()) return report(client.status());
  struct Logout {
    tools::AdminClient& c;
    ~Logout() { c.logout(); }
  } logout{**client};
  auto reply = (*client)->submit_job(o.job_folder);
  if (!reply.ok()) return report(reply.status());
  print_reply(*reply, false);
  if (int code = tools::admin_reply_exit_code(*reply); code != 0) return code;
  const config::Value* meta = reply->is_object() && reply->contains("meta") ? &(*reply)["meta"] : nullptr;
  const std::string id = meta && meta->is_object() && meta->contains("job_id") && (*meta)["job_id"].is_string()
                             ? (*meta)["job_id"].get<std::string>()
                             : "";
  if (id.empty()) return report(InternalError("the server's reply to submit_job names no job id"));
  const double wait_s = timeout_s > 0 && timeout_s < 1e7 ? timeout_s : 0;
  auto status = (*client)->wait_for_job(id, std::chrono::milliseconds(static_cast<int64_t>(wait_s * 1000)),
                                        [&](const std::string& s) { std::cout << "job " << id << ": " << s << "\n"; });
  if (!status.ok()) return report(status.status());
  std::cout << "Job Status is: " << *status << "\n";
  auto dl = (*client)->download_job(id, result_dir);
  if (!dl.ok()) return report(dl.status());
  std::cout << "Result can be found in : " << (result_dir / id).string() << "\n";
  return *status == "FINISHED:COMPLETED" ? kExitOk : kExitError;
}

void register_admin_command(CLI::App& app, AppContext& ctx) {
  auto o = std::make_shared<AdminOptions>();
  CLI::App* a = app.add_subcommand("admin", "the admin console (or one command with -c)");
  a->add_option("-m,--admin_dir", o->kit_dir, "admin startup kit directory (default: nvflare config -d)");
  a->add_option("-s,--fed_admin", o->config, "the kit's admin config (fed_admin.json)");
  a->add_option("-c,--command", o->command, "run one command and exit (without it: the interactive console)");
  a->add_option("--timeout", o->timeout, "seconds to wait for the server (10)");
  a->add_flag("--json", o->json, "print the server's reply as JSON");
  a->callback([o, &ctx] { ctx.exit_code = run_admin(*o); });
}

void register_job_submit(CLI::App* job, AppContext& ctx) {
  auto o = std::make_shared<AdminOptions>();
  CLI::App* su = job->add_subcommand("submit", "validate, sign, zip and submit a job to the server");
  su->add_option("-j,--job_folder", o->job_folder, "job folder (./current_job)");
  su->add_option("-m,--admin_dir", o->kit_dir, "admin startup kit directory (default: nvflare config -d)");
  su->add_flag("--wait", o->wait, "follow the job; exit 0 only when it ends FINISHED:COMPLETED");
  su->add_option("--timeout", o->wait_timeout, "with --wait: give up after this many seconds (0: never)");
  su->add_flag("--debug", o->debug, "debug output (also -debug)");
  su->callback([o, &ctx] { ctx.exit_code = run_submit(*o); });
}

}  // namespace nvf::app
