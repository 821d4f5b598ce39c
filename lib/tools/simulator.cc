#include "tools/simulator.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/files.h"
#include "base/signals.h"
#include "base/logging.h"
#include "base/strings.h"
#include "cellnet/cell.h"
#include "cellnet/cell_settings.h"
#include "cellnet/inproc_driver.h"
#include "cellnet/socket_driver.h"
#include "config/substitute.h"
#include "config/timeouts.h"
#include "fl/component_registry.h"
#include "fl/filter.h"
#include "job/job_folder.h"
#include "runtime/client_job.h"
#include "runtime/launcher_executor.h"
#include "runtime/job_app.h"
#include "runtime/server_job.h"
#include "tools/job_commands.h"
#include "tools/user_config.h"
#include "workflows/fedavg.h"

namespace nvf::tools {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kJobId = "simulate_job";

// The app a site runs, from the deploy_map (an explicit site beats @ALL).
std::string app_for(const job::JobMeta& meta, const std::string& site) {
  std::string all;
  for (const auto& e : meta.deploy_map) {
    for (const auto& s : e.sites) {
      if (s == site) return e.app;
      if (job::is_all_sites(s)) all = e.app;
    }
  }
  return all;
}

struct Site {
  std::string name;
  fs::path root, run_dir, app_dir;
  base::Logger log;
  std::optional<runtime::SiteApp> app;
  std::unique_ptr<cellnet::Cell> cp, cj;
  std::unique_ptr<runtime::ClientJobEngine> engine;
  std::thread thread;
  Status result;
};

spdlog::level::level_enum level_for(const std::string& log_config) {
  if (log_config == "verbose") return spdlog::level::debug;
  if (log_config.empty() || log_config == "concise" || log_config == "full") return spdlog::level::info;
  auto l = base::parse_log_level(log_config);
  return l.ok() ? *l : spdlog::level::info;
}

std::string model_files(const fs::path& run_dir) {
  std::vector<std::string> out;
  for (const char* rel : {"app_server/FL_global_model.pt", "app_server/FL_global_model.safetensors",
                          "app_server/best_FL_global_model.pt", "models/server.npy", "models/server.safetensors"}) {
    if (fs::exists(run_dir / rel)) out.push_back((run_dir / rel).string());
  }
  return base::join(out, "\n  ");
}

}  // namespace

Result<std::vector<std::string>> resolve_client_names(const SimulatorOptions& o,
                                                      const std::vector<std::string>& deploy_map_sites,
                                                      std::string* warning) {
  std::vector<std::string> names;
  if (!o.clients.empty()) {
    names = o.clients;
  } else if (o.n_clients > 0) {
    for (int i = 1; i <= o.n_clients; ++i) names.push_back("site-" + std::to_string(i));
  } else if (!deploy_map_sites.empty()) {
    names = deploy_map_sites;
  } else {
    names = {"site-1", "site-2"};
    if (warning) *warning = "no clients given (-n or -c): using site-1 and site-2";
  }
  for (const auto& n : names) {
    if (!job::is_valid_client_name(n) || n == "server") {
      return InvalidArgumentError("invalid client name '" + n + "': use letters, digits, '-' and '_'");
    }
  }
  if (static_cast<int>(names.size()) > o.max_clients) {
    return InvalidArgumentError(std::to_string(names.size()) + " clients exceed the maximum of " +
                                std::to_string(o.max_clients) + " (raise it with -m)");
  }
  return names;
}

Status prepare_workspace(const fs::path& ws) {
  std::error_code ec;
  if (fs::exists(ws, ec)) {
    if (!fs::is_directory(ws, ec)) return FailedPreconditionError("workspace " + ws.string() + " is not a directory");
    bool empty = fs::directory_iterator(ws, ec) == fs::directory_iterator();
    if (!empty && !fs::exists(ws / kSimulatorMarker, ec)) {
      return FailedPreconditionError("workspace " + ws.string() +
                                     " exists and was not made by the simulator; nothing was deleted. Choose "
                                     "another -w, or remove that folder yourself");
    }
    for (const auto& entry : fs::directory_iterator(ws, ec)) {
      std::string name = entry.path().filename().string();
      if (name == "startup" || name == "local" || name == kSimulatorMarker) continue;
      fs::remove_all(entry.path(), ec);
      if (ec) return base::errno_status(ec.value(), "cannot clean", entry.path());
    }
  }
  NVF_RETURN_IF_ERROR(base::make_dirs(ws));
  return base::atomic_write(ws / kSimulatorMarker, "This folder is an nvflare simulator workspace.\n");
}

int run_simulator(const SimulatorOptions& o) {
  // Signals are taken first, before any thread exists, so every thread inherits the blocked mask
  // and Ctrl-C reaches our watcher instead of killing the process with trainers left behind.
  std::atomic<bool> interrupted{false};
  std::mutex interrupt_mu;
  std::function<void()> on_interrupt;  // guarded by interrupt_mu; set once the engines exist
  auto warn_early = o.warn ? o.warn : [](const std::string&) {};
  base::SignalWatcher watcher([&](int sig) {
    if (interrupted.exchange(true)) return;
    warn_early(std::string("simulator: ") + (sig == SIGINT ? "interrupted" : "terminated") +
               "; stopping every trainer");
    std::lock_guard<std::mutex> lock(interrupt_mu);
    if (on_interrupt) on_interrupt();
  });
  std::string last_round;  // the last progress line of a round, for the summary
  std::mutex last_round_mu;
  auto print_out = o.print ? o.print : [](const std::string&) {};
  auto print = [&](const std::string& line) {
    if (line.rfind("round ", 0) == 0) {
      std::lock_guard<std::mutex> lock(last_round_mu);
      last_round = line;
    }
    print_out(line);
  };
  auto warn = o.warn ? o.warn : [](const std::string&) {};
  auto fail = [&](const Status& s, int code) {
    warn("simulator: " + s.message());
    return code;
  };
  auto started = std::chrono::steady_clock::now();

  // 1. The job must be valid (meta, configs, timeouts) before anything runs.
  auto report = validate_job(o.job_folder);
  if (!report.ok()) return fail(report.status(), kSimSetupFailed);
  if (!report->ok()) {
    warn(render_validation(*report));
    return fail(InvalidArgumentError("job folder " + o.job_folder.string() + " is not valid"), kSimSetupFailed);
  }
  auto folder = job::load_job_folder(o.job_folder);
  if (!folder.ok()) return fail(folder.status(), kSimSetupFailed);
  const job::JobMeta& meta = *folder->meta;
  std::string warning;
  auto names = resolve_client_names(o, meta.explicit_clients(), &warning);
  if (!names.ok()) return fail(names.status(), kSimSetupFailed);
  if (!warning.empty()) warn("simulator: " + warning);
  int threads = o.threads > 0 ? o.threads : 1;
  if (threads > static_cast<int>(names->size())) {
    return fail(InvalidArgumentError("threads (" + std::to_string(threads) + ") cannot exceed the number of clients (" +
                                     std::to_string(names->size()) + ")"),
                kSimSetupFailed);
  }
  std::vector<std::string> without_app;
  for (const auto& n : *names) {
    if (app_for(meta, n).empty()) without_app.push_back(n);
  }
  if (!without_app.empty()) {
    return fail(InvalidArgumentError("The job does not have App to run for clients: [" + base::join(without_app, ", ") + "]"),
                kSimSetupFailed);
  }
  if (meta.min_clients && *meta.min_clients > static_cast<int64_t>(names->size())) {
    return fail(InvalidArgumentError("the job needs min_clients " + std::to_string(*meta.min_clients) + " but " +
                                     std::to_string(names->size()) + " client(s) were given"),
                kSimSetupFailed);
  }

  // 2. Workspace.
  fs::path ws = o.workspace;
  if (ws.empty()) {
    ws = "simulator_workspace";
    warn("simulator: no workspace given (-w): using ./simulator_workspace");
  }
  ws = fs::absolute(ws).lexically_normal();
  if (Status s = prepare_workspace(ws); !s.ok()) return fail(s, kSimSetupFailed);
  auto level = level_for(o.log_config);
  auto server_log = base::make_logger({"server", level, false, ws / "server"});
  if (!server_log.ok()) return fail(server_log.status(), kSimSetupFailed);
  fs::path server_run = ws / "server" / kJobId;
  fs::path server_app = server_run / "app_server";
  std::string server_app_name = app_for(meta, "server");
  if (Status s = base::copy_tree(o.job_folder / server_app_name, server_app); !s.ok()) return fail(s, kSimSetupFailed);
  config::Value job_meta = meta.raw;
  job_meta["job_id"] = kJobId;
  job_meta["job_clients"] = config::Value::array();
  for (const auto& n : *names) job_meta["job_clients"].push_back({{"name", n}});
  if (Status s = base::atomic_write(server_run / "meta.json", config::to_pretty_json(job_meta)); !s.ok()) {
    return fail(s, kSimSetupFailed);
  }

  // 3. Components, from the same registry a deployment uses.
  auto registry = runtime::full_registry();
  if (!registry.ok()) return fail(registry.status(), kSimSetupFailed);
  fl::BuildEnv server_env{server_run, server_app, "server", *server_log, {}};
  server_env.torch_helper = find_torch_trainer(o.nvflare_bin);  // converts TorchScript initial models
  auto server_app_built = runtime::build_site_app(
      true, runtime::system_vars("server", ws / "server", server_app, kJobId, o.nvflare_bin, false), *registry,
      server_env);
  if (!server_app_built.ok()) return fail(server_app_built.status(), kSimSetupFailed);
  auto workflows = runtime::workflows_of(*server_app_built);
  if (!workflows.ok()) return fail(workflows.status(), kSimSetupFailed);

  auto runtime_tmp = base::make_temp_dir("nvflare-sim");
  if (!runtime_tmp.ok()) return fail(runtime_tmp.status(), kSimSetupFailed);
  const fs::path runtime_dir = *runtime_tmp;
  base::ScopedRemove remove_runtime(runtime_dir);

  std::vector<std::unique_ptr<Site>> sites;
  for (const auto& n : *names) {
    auto site = std::make_unique<Site>();
    site->name = n;
    site->root = ws / n;
    site->run_dir = site->root / kJobId;
    site->app_dir = site->run_dir / ("app_" + n);
    auto log = base::make_logger({n, level, false, site->root});
    if (!log.ok()) return fail(log.status(), kSimSetupFailed);
    site->log = *log;
    if (Status s = base::copy_tree(o.job_folder / app_for(meta, n), site->app_dir); !s.ok()) return fail(s, kSimSetupFailed);
    base::atomic_write(site->run_dir / "meta.json", config::to_pretty_json(job_meta)).ignore();
    auto app = runtime::build_site_app(
        false, runtime::system_vars(n, site->root, site->app_dir, kJobId, o.nvflare_bin, false), *registry,
        fl::BuildEnv{site->run_dir, site->app_dir, n, site->log, {}});
    if (!app.ok()) return fail(app.status(), kSimSetupFailed);
    site->app = std::move(*app);
    sites.push_back(std::move(site));
  }

  // 4. Cells: server, server job, and per site a client parent and a client job.
  cellnet::DriverRegistry drivers;
  drivers.add(std::make_shared<cellnet::InprocDriver>());
  drivers.add(std::make_shared<cellnet::UdsDriver>());
  const auto& server_t = server_app_built->timeouts;
  auto make_cell = [&](const std::string& fqcn, base::Logger log, const config::EffectiveTimeouts& t) {
    cellnet::CellOptions co = cellnet::cell_options_from(t);
    co.fqcn = fqcn;
    co.drivers = &drivers;
    co.logger = log;
    co.reconnect_initial = 50ms;  // in-process links come back at once: no need to wait a second
    co.reconnect_max = 1000ms;
    auto cell = std::make_unique<cellnet::Cell>(co);
    cell->start().ignore();
    return cell;
  };
  std::string server_url = "inproc://sim-server";
  auto sp = make_cell("server", *server_log, server_t);
  // The simulator made every cell, so it knows who each is: a site's client parent cell (and the
  // cells below it: its client job, its trainer) is that site; the server job is the server.
  std::map<std::string, std::string> identities{{std::string("server.") + kJobId, "server"}};
  for (const auto& site : sites) identities[site->name] = site->name;
  if (auto u = sp->listen(server_url, cellnet::identify_known_cells(std::move(identities))); !u.ok()) {
    return fail(u.status(), kSimSetupFailed);
  }
  auto sj = make_cell(std::string("server.") + kJobId, *server_log, server_t);
  sj->connect(server_url).ignore();
  runtime::TrainerSlots slots(threads);
  for (auto& site : sites) {
    site->cp = make_cell(site->name, site->log, site->app->timeouts);
    site->cp->connect(server_url).ignore();
    std::string cp_url = "inproc://sim-" + site->name;
    if (auto u = site->cp->listen(cp_url); !u.ok()) return fail(u.status(), kSimSetupFailed);
    site->cj = make_cell(site->name + "." + kJobId, site->log, site->app->timeouts);
    site->cj->connect(cp_url).ignore();
  }
  for (auto& site : sites) {
    Status s = site->cj->wait_for_peer(site->name, 10s);
    if (s.ok()) s = site->cp->wait_for_peer("server", 10s);
    if (!s.ok()) return fail(s, kSimSetupFailed);
  }
  if (Status s = sj->wait_for_peer("server", 10s); !s.ok()) return fail(s, kSimSetupFailed);

  runtime::ServerJobOptions so =
      runtime::server_job_options(*server_app_built, kJobId, *names, server_run, server_app, *server_log);
  so.progress = print;
  runtime::ServerJobEngine server(*sj, so);
  if (Status s = server.start(); !s.ok()) return fail(s, kSimSetupFailed);

  for (auto& site : sites) {
    auto child = site->cj->listen("uds://" + (runtime_dir / (site->name + ".sock")).string());
    if (!child.ok()) return fail(child.status(), kSimSetupFailed);
    runtime::ClientJobContext ctx;
    ctx.site_name = site->name;
    ctx.job_id = kJobId;
    ctx.app_dir = site->app_dir;
    ctx.run_dir = site->run_dir;
    ctx.workspace = site->root;
    ctx.nvflare_bin = o.nvflare_bin;
    ctx.cell = site->cj.get();
    ctx.child_url = *child;
    ctx.logger = site->log;
    site->engine = runtime::make_client_engine(*site->app, ctx, &slots);
  }

  // 5. Run: clients on their threads, the workflows here; Ctrl-C stops everything.
  Status run_status;
  {
    {
      std::lock_guard<std::mutex> lock(interrupt_mu);
      on_interrupt = [&] {
        server.abort("interrupted");
        for (auto& site : sites) site->engine->abort("interrupted");
      };
      if (interrupted) on_interrupt();
    }
    for (auto& site : sites) {
      Site* s = site.get();
      s->thread = std::thread([s] { s->result = s->engine->run(); });
    }
    print("simulator: job " + folder->name + " with " + std::to_string(names->size()) + " clients (" +
          base::join(*names, ", ") + "), " + std::to_string(threads) + " training at once; workspace " + ws.string());
    run_status = server.run(*workflows);
    if (!run_status.ok()) {
      // The clients still wait for tasks: the run is over for them too.
      for (auto& site : sites) site->engine->abort(run_status.message());
    }
    for (auto& site : sites) site->thread.join();
    std::lock_guard<std::mutex> lock(interrupt_mu);
    on_interrupt = nullptr;
  }
  server.stop();
  for (auto& site : sites) {
    site->cj->stop();
    site->cp->stop();
  }
  sj->stop();
  sp->stop();
  drivers.stop_all();

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char took[32];
  std::snprintf(took, sizeof(took), "%.1f", secs);
  if (interrupted) {
    print("simulator: interrupted after " + std::string(took) + " s; every trainer was stopped");
    return kSimInterrupted;
  }
  if (!run_status.ok()) {
    warn("simulator: the job failed: " + run_status.message());
    (*server_log)->error("job failed: {}", run_status.message());
    return kSimRunFailed;
  }
  std::string files = model_files(server_run);
  print("simulator: finished in " + std::string(took) + " s" +
        (last_round.empty() ? std::string() : "; last " + last_round) +
        (files.empty() ? std::string() : "\nglobal model:\n  " + files));
  return kSimOk;
}

}  // namespace nvf::tools
