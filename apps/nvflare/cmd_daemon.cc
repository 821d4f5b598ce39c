// nvflare server / nvflare client: the long-running processes of a startup kit (what sub_start.sh
// runs), and the hidden job processes they spawn (_server_job, _client_job). Parsing only.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/heap.h"
#include "base/logging.h"
#include "base/signals.h"
#include "base/strings.h"
#include "cellnet/composite_driver.h"
#include "cellnet/socket_driver.h"
#include "cellnet_grpc/grpc_driver.h"
#include "cellnet_tls/tls_driver.h"
#include "commands.h"
#include "config/timeouts.h"
#include "runtime/client_parent.h"
#include "runtime/job_process.h"
#include "runtime/relay.h"
#include "runtime/server_parent.h"
#include "tools/user_config.h"

namespace nvf::app {
namespace fs = std::filesystem;

// The drivers between hosts: gRPC (grpc, grpcs: the default scheme), TLS sockets (stcp) and plain
// TCP (tcp), chosen by each URL's scheme (runtime::url_scheme maps a kit's scheme onto them).
runtime::DriverFactory external_driver_factory() {
  return [](const cellnet::DriverOptions& o) {
    std::vector<std::shared_ptr<cellnet::Driver>> drivers;
    drivers.push_back(cellnet_grpc::make_grpc_driver(o));
    drivers.push_back(cellnet_tls::make_stcp_driver(o));
    drivers.push_back(std::make_shared<cellnet::TcpDriver>(o));
    return std::shared_ptr<cellnet::Driver>(std::make_shared<cellnet::CompositeDriver>(std::move(drivers)));
  };
}

namespace {

struct DaemonOptions {
  std::string workspace;
  std::string config = "fed_server.json";
  std::vector<std::string> set;
};

// --set key=value pairs. Errors: INVALID_ARGUMENT naming the pair.
Result<std::map<std::string, std::string>> parse_sets(const std::vector<std::string>& sets) {
  std::map<std::string, std::string> out;
  for (const auto& s : sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) return InvalidArgumentError("--set " + s + ": expected key=value");
    out[s.substr(0, eq)] = s.substr(eq + 1);
  }
  return out;
}

bool truthy(const std::map<std::string, std::string>& m, const std::string& key, bool dflt) {
  auto it = m.find(key);
  if (it == m.end()) return dflt;
  std::string v = base::to_lower(it->second);
  return v == "true" || v == "1" || v == "yes";
}

std::chrono::milliseconds seconds_setting(const std::map<std::string, std::string>& m, const std::string& key,
                                          std::chrono::milliseconds dflt) {
  auto it = m.find(key);
  if (it == m.end()) return dflt;
  // Up to a year; anything else (not a number, NaN, out of range) keeps the default.
  auto s = nvf::base::parse_double(it->second, 0, 365.0 * 24 * 3600);
  return s ? std::chrono::milliseconds(static_cast<int64_t>(*s * 1000)) : dflt;
}

template <typename Daemon>
int run_daemon(Daemon& daemon, const fs::path& workspace, base::Logger log) {
  std::atomic<bool> signalled{false};
  base::SignalWatcher signals([&](int sig) {
    signalled = true;
    daemon.request_shutdown(sig == SIGINT ? "interrupted" : "terminated");
  });
  if (Status s = daemon.start(); !s.ok()) {
    log->error("{}", s.message());
    daemon.stop();
    return kExitError;
  }
  daemon.wait();
  daemon.stop();
  if (daemon.restart_requested()) {
    // The admin `restart`: no shutdown.fl, so that the watchdog of sub_start.sh starts us again.
    log->info("stopped for a restart");
    return kExitOk;
  }
  if (!signalled) {
    // An ordered shutdown: the watchdog of sub_start.sh must not start us again.
    base::atomic_write(workspace / "shutdown.fl", "shutdown\n").ignore();
  }
  log->info("stopped");
  return kExitOk;
}

Result<base::Logger> daemon_logger(const std::string& name, const fs::path& ws, int verbose) {
  return base::make_logger({name, base::level_for_verbosity(verbose), true, ws});
}

int run_server(const DaemonOptions& o, int verbose) {
  auto sets = parse_sets(o.set);
  if (!sets.ok()) return report(sets.status());
  auto kit = runtime::load_server_kit(o.workspace, o.config);
  if (!kit.ok()) return report(kit.status());
  auto log = daemon_logger("server", kit->root, verbose);
  if (!log.ok()) return report(log.status());
  runtime::ServerParentOptions so;
  so.kit = *kit;
  so.secure = truthy(*sets, "secure_train", true);
  so.nvflare_bin = tools::self_exe().string();
  so.external_driver = external_driver_factory();
  so.logger = *log;
  so.heart_beat_timeout = seconds_setting(*sets, "heart_beat_timeout", so.heart_beat_timeout);
  so.strict_start_job_reply_check = truthy(*sets, "strict_start_job_reply_check", false);
  so.sync_client_jobs_require_previous_report = truthy(*sets, "sync_client_jobs_require_previous_report", true);
  runtime::ServerParent server(so);
  return run_daemon(server, kit->root, *log);
}

int run_client(const DaemonOptions& o, int verbose) {
  auto sets = parse_sets(o.set);
  if (!sets.ok()) return report(sets.status());
  std::string uid = sets->count("uid") ? sets->at("uid") : "";
  auto kit = runtime::load_client_kit(o.workspace, o.config, uid);
  if (!kit.ok()) return report(kit.status());
  auto log = daemon_logger(kit->name, kit->root, verbose);
  if (!log.ok()) return report(log.status());
  runtime::ClientParentOptions co;
  co.kit = *kit;
  co.secure = truthy(*sets, "secure_train", true);
  co.nvflare_bin = tools::self_exe().string();
  co.external_driver = external_driver_factory();
  co.logger = *log;
  co.heart_beat_interval = seconds_setting(*sets, "heart_beat_interval", co.heart_beat_interval);
  runtime::ClientParent client(co);
  return run_daemon(client, kit->root, *log);
}

int run_relay(const DaemonOptions& o, int verbose) {
  // A relay holds no model, only frames in flight and its cache: freed memory goes back to the
  // kernel sooner than in the processes that reuse model-sized buffers (decision 023).
  base::configure_process_heap(4u << 20);
  auto sets = parse_sets(o.set);
  if (!sets.ok()) return report(sets.status());
  auto kit = runtime::load_relay_kit(o.workspace, o.config);
  if (!kit.ok()) return report(kit.status());
  auto log = daemon_logger(kit->name, kit->root, verbose);
  if (!log.ok()) return report(log.status());
  runtime::RelayOptions ro;
  ro.kit = *kit;
  ro.secure = truthy(*sets, "secure_train", true);
  ro.external_driver = external_driver_factory();
  ro.logger = *log;
  ro.heart_beat_interval = seconds_setting(*sets, "heart_beat_interval", ro.heart_beat_interval);
  ro.cache_max_bytes = static_cast<uint64_t>(
      config::TimeoutRegistry::defaults().effective().get("relay_cache_max_bytes").value_or(0));
  if (sets->count("relay_cache_max_bytes")) {
    auto n = base::parse_int(sets->at("relay_cache_max_bytes"), 0, int64_t{1} << 40);
    if (!n) {
      return report(InvalidArgumentError("--set relay_cache_max_bytes=" + sets->at("relay_cache_max_bytes") +
                                         ": expected a number of bytes (0 turns the relay's cache off)"));
    }
    ro.cache_max_bytes = static_cast<uint64_t>(*n);
  }
  runtime::Relay relay(ro);
  return run_daemon(relay, kit->root, *log);
}

struct JobOptions {
  std::string workspace, job_id, site, parent, parent_fqcn, clients;
  bool insecure = false;
};

}  // namespace

void register_daemon_commands(CLI::App& app, AppContext& ctx) {
  for (const char* role : {"server", "client", "relay"}) {
    auto o = std::make_shared<DaemonOptions>();
    const std::string r = role;
    if (r == "client") o->config = "fed_client.json";
    if (r == "relay") o->config = "fed_relay.json";
    CLI::App* d = app.add_subcommand(role, std::string("run the ") + role + " of a startup kit (what sub_start.sh runs)");
    d->add_option("-m,--workspace", o->workspace, "the participant's folder (holds startup/)")->required();
    d->add_option("-s,--fed_" + std::string(role) + "," + "--config", o->config,
                  std::string("startup/ config file (") + o->config + ")");
    d->add_option("--set", o->set, "key=value settings (secure_train, uid, heart_beat_interval, ...)")
        ->expected(0, 1 << 20);
    d->callback([o, &ctx, r] {
      ctx.exit_code = r == "server"   ? run_server(*o, ctx.verbose)
                      : r == "client" ? run_client(*o, ctx.verbose)
                                      : run_relay(*o, ctx.verbose);
    });
  }
  for (const char* role : {"_server_job", "_client_job"}) {
    auto o = std::make_shared<JobOptions>();
    bool is_server = std::string(role) == "_server_job";
    CLI::App* j = app.add_subcommand(role, "");  // hidden: spawned by the daemons
    j->group("");
    j->add_option("--workspace", o->workspace)->required();
    j->add_option("--job-id", o->job_id)->required();
    j->add_option("--parent", o->parent)->required();
    j->add_option("--site", o->site);
    j->add_option("--parent-fqcn", o->parent_fqcn);
    j->add_option("--clients", o->clients);
    j->add_flag("--insecure", o->insecure);
    j->callback([o, &ctx, is_server] {
      runtime::JobProcessOptions jo;
      jo.workspace = o->workspace;
      jo.job_id = o->job_id;
      jo.site = o->site;
      jo.parent_url = o->parent;
      jo.parent_fqcn = o->parent_fqcn.empty() ? o->site : o->parent_fqcn;
      jo.clients = base::split(o->clients, ',', true);
      jo.secure = !o->insecure;
      jo.nvflare_bin = tools::self_exe().string();
      jo.torch_helper = tools::find_torch_trainer(jo.nvflare_bin);
      ctx.exit_code = is_server ? runtime::run_server_job_process(jo) : runtime::run_client_job_process(jo);
    });
  }
}

}  // namespace nvf::app
