#include "tools/simulator.h"

#include "runtime/python_env.h"
#include "workflows/tb_receiver.h"

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
#include "cellnet/fqcn.h"
#include "cellnet/inproc_driver.h"
#include "cellnet/relay_cache.h"
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
  std::string cp_fqcn;  // "site-1", or "relay-1.site-1" behind a relay
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

namespace {

// One simulator run, phase by phase: check the job, lay out the workspace, build every site's
// components, connect the cells, run the workflows, report. Each phase returns the exit code to
// stop with, or nullopt to go on.
class Simulation {
 public:
  Simulation(const SimulatorOptions& o, std::function<void(const std::string&)> print,
             std::function<void(const std::string&)> warn)
      : o_(o), print_(std::move(print)), warn_(std::move(warn)) {}
  ~Simulation() { stop(); }

  std::optional<int> check_job();
  std::optional<int> lay_out_workspace();
  std::optional<int> build_apps();
  std::optional<int> connect();
  /// Runs the workflows with the clients on their threads; `on_interrupt` receives what stops them.
  Status run(const std::function<void(std::function<void()>)>& set_interrupt);
  void stop();
  int report(Status run_status, bool interrupted, const std::string& last_round, double secs);

 private:
  int fail(const Status& s, int code) {
    warn_("simulator: " + s.message());
    return code;
  }

  const SimulatorOptions& o_;
  std::function<void(const std::string&)> print_, warn_;
  std::optional<job::JobFolder> folder_;
  std::vector<std::string> names_;
  int threads_ = 1;
  fs::path ws_, server_run_, server_app_;
  spdlog::level::level_enum level_ = spdlog::level::info;
  base::Logger server_log_;
  config::Value job_meta_;
  std::optional<runtime::SiteApp> server_app_built_;
  std::vector<fl::Controller*> workflows_;
  fs::path runtime_dir_;  // the trainers' sockets: short, 0700
  base::ScopedRemove remove_runtime_dir_;
  std::vector<std::unique_ptr<Site>> sites_;
  cellnet::DriverRegistry drivers_;
  std::unique_ptr<cellnet::Cell> sp_, sj_;
  std::vector<std::unique_ptr<cellnet::Cell>> relays_;              // --relays
  std::vector<std::unique_ptr<cellnet::RelayCache>> relay_caches_;  // after relays_: go first
  std::unique_ptr<runtime::TrainerSlots> slots_;
  std::unique_ptr<runtime::ServerJobEngine> server_;
  bool stopped_ = false;
};

// 1. The job must be valid (meta, configs, timeouts) before anything runs.
std::optional<int> Simulation::check_job() {
  auto report = validate_job(o_.job_folder);
  if (!report.ok()) return fail(report.status(), kSimSetupFailed);
  if (!report->ok()) {
    warn_(render_validation(*report));
    return fail(InvalidArgumentError("job folder " + o_.job_folder.string() + " is not valid"), kSimSetupFailed);
  }
  auto folder = job::load_job_folder(o_.job_folder);
  if (!folder.ok()) return fail(folder.status(), kSimSetupFailed);
  folder_ = std::move(*folder);
  const job::JobMeta& meta = *folder_->meta;
  std::string warning;
  auto names = resolve_client_names(o_, meta.explicit_clients(), &warning);
  if (!names.ok()) return fail(names.status(), kSimSetupFailed);
  names_ = std::move(*names);
  if (!warning.empty()) warn_("simulator: " + warning);
  threads_ = o_.threads > 0 ? o_.threads : 1;
  if (threads_ > static_cast<int>(names_.size())) {
    return fail(InvalidArgumentError("threads (" + std::to_string(threads_) +
                                     ") cannot exceed the number of clients (" + std::to_string(names_.size()) + ")"),
                kSimSetupFailed);
  }
  std::vector<std::string> without_app;
  for (const auto& n : names_) {
    if (app_for(meta, n).empty()) without_app.push_back(n);
  }
  if (!without_app.empty()) {
    return fail(InvalidArgumentError("The job does not have App to run for clients: [" +
                                     base::join(without_app, ", ") + "]"),
                kSimSetupFailed);
  }
  if (meta.min_clients && *meta.min_clients > static_cast<int64_t>(names_.size())) {
    return fail(InvalidArgumentError("the job needs min_clients " + std::to_string(*meta.min_clients) + " but " +
                                     std::to_string(names_.size()) + " client(s) were given"),
                kSimSetupFailed);
  }
  return std::nullopt;
}

// 2. Workspace: the server's app and the job's meta.json.
std::optional<int> Simulation::lay_out_workspace() {
  const job::JobMeta& meta = *folder_->meta;
  ws_ = o_.workspace;
  if (ws_.empty()) {
    ws_ = "simulator_workspace";
    warn_("simulator: no workspace given (-w): using ./simulator_workspace");
  }
  ws_ = fs::absolute(ws_).lexically_normal();
  if (Status s = prepare_workspace(ws_); !s.ok()) return fail(s, kSimSetupFailed);
  level_ = level_for(o_.log_config);
  auto server_log = base::make_logger({"server", level_, false, ws_ / "server"});
  if (!server_log.ok()) return fail(server_log.status(), kSimSetupFailed);
  server_log_ = *server_log;
  server_run_ = ws_ / "server" / kJobId;
  server_app_ = server_run_ / "app_server";
  if (Status s = base::copy_tree(o_.job_folder / app_for(meta, "server"), server_app_); !s.ok()) {
    return fail(s, kSimSetupFailed);
  }
  job_meta_ = meta.raw;
  job_meta_["job_id"] = kJobId;
  job_meta_["job_clients"] = config::Value::array();
  for (const auto& n : names_) job_meta_["job_clients"].push_back({{"name", n}});
  if (Status s = base::atomic_write(server_run_ / "meta.json", config::to_pretty_json(job_meta_)); !s.ok()) {
    return fail(s, kSimSetupFailed);
  }
  return std::nullopt;
}

// 3. Components, from the same registry a deployment uses; each site's app in its folder.
std::optional<int> Simulation::build_apps() {
  auto registry = runtime::full_registry();
  if (!registry.ok()) return fail(registry.status(), kSimSetupFailed);
  fl::BuildEnv server_env{server_run_, server_app_, "server", server_log_, {}};
  runtime::set_python_for_components(o_.nvflare_bin, server_env);
  server_env.torch_helper = find_torch_trainer(o_.nvflare_bin);  // converts TorchScript initial models
  auto server_app = runtime::build_site_app(
      true, runtime::system_vars("server", ws_ / "server", server_app_, kJobId, o_.nvflare_bin, false), *registry,
      server_env);
  if (!server_app.ok()) return fail(server_app.status(), kSimSetupFailed);
  server_app_built_ = std::move(*server_app);
  auto workflows = runtime::workflows_of(*server_app_built_);
  if (!workflows.ok()) return fail(workflows.status(), kSimSetupFailed);
  workflows_ = std::move(*workflows);
  for (const auto& n : names_) {
    auto site = std::make_unique<Site>();
    site->name = n;
    site->root = ws_ / n;
    site->run_dir = site->root / kJobId;
    site->app_dir = site->run_dir / ("app_" + n);
    auto log = base::make_logger({n, level_, false, site->root});
    if (!log.ok()) return fail(log.status(), kSimSetupFailed);
    site->log = *log;
    if (Status s = base::copy_tree(o_.job_folder / app_for(*folder_->meta, n), site->app_dir); !s.ok()) {
      return fail(s, kSimSetupFailed);
    }
    base::atomic_write(site->run_dir / "meta.json", config::to_pretty_json(job_meta_)).ignore();
    auto app = runtime::build_site_app(
        false, runtime::system_vars(n, site->root, site->app_dir, kJobId, o_.nvflare_bin, false), *registry,
        fl::BuildEnv{site->run_dir, site->app_dir, n, site->log, {}});
    if (!app.ok()) return fail(app.status(), kSimSetupFailed);
    site->app = std::move(*app);
    sites_.push_back(std::move(site));
  }
  return std::nullopt;
}

// 4. Cells: server, server job, and per site a client parent and a client job; the engines.
std::optional<int> Simulation::connect() {
  base::remove_stale_temp_dirs();
  auto runtime_tmp = base::make_owned_temp_dir("nvflare-sim");
  if (!runtime_tmp.ok()) return fail(runtime_tmp.status(), kSimSetupFailed);
  runtime_dir_ = *runtime_tmp;
  remove_runtime_dir_ = base::ScopedRemove(runtime_dir_);
  drivers_.add(std::make_shared<cellnet::InprocDriver>());
  drivers_.add(std::make_shared<cellnet::UdsDriver>());
  auto make_cell = [&](const std::string& fqcn, base::Logger log, const config::EffectiveTimeouts& t) {
    cellnet::CellOptions co = cellnet::cell_options_from(t);
    co.fqcn = fqcn;
    co.drivers = &drivers_;
    co.logger = log;
    co.reconnect_initial = 50ms;  // in-process links come back at once: no need to wait a second
    co.reconnect_max = 1000ms;
    auto cell = std::make_unique<cellnet::Cell>(co);
    cell->start().ignore();
    return cell;
  };
  const auto& server_t = server_app_built_->timeouts;
  std::string server_url = "inproc://sim-server";
  sp_ = make_cell("server", server_log_, server_t);
  // The simulator made every cell, so it knows who each is: a site's client parent cell (and the
  // cells below it: its client job, its trainer) is that site; the server job is the server.
  std::map<std::string, std::string> identities{{std::string("server.") + kJobId, "server"}};
  const int nrelays = std::max(0, o_.relays);
  for (size_t i = 0; i < sites_.size(); ++i) {
    Site& site = *sites_[i];
    site.cp_fqcn = nrelays ? "relay-" + std::to_string(i % nrelays + 1) + "." + site.name : site.name;
    identities[site.cp_fqcn] = site.name;
  }
  for (int r = 1; r <= nrelays; ++r) identities["relay-" + std::to_string(r)] = "relay-" + std::to_string(r);
  if (auto u = sp_->listen(server_url, cellnet::identify_known_cells(std::move(identities))); !u.ok()) {
    return fail(u.status(), kSimSetupFailed);
  }
  sj_ = make_cell(std::string("server.") + kJobId, server_log_, server_t);
  sj_->connect(server_url).ignore();
  // Relays: forward both ways; each serves its clients' downloads from its cache.
  for (int r = 1; r <= nrelays; ++r) {
    const std::string name = "relay-" + std::to_string(r);
    relays_.push_back(make_cell(name, server_log_, server_t));
    relays_.back()->connect(server_url).ignore();
    if (auto u = relays_.back()->listen("inproc://sim-" + name); !u.ok()) return fail(u.status(), kSimSetupFailed);
    relay_caches_.push_back(std::make_unique<cellnet::RelayCache>(*relays_.back()));
    relay_caches_.back()->install();
  }
  for (auto& relay : relays_) {
    if (Status s = relay->wait_for_peer("server", 10s); !s.ok()) return fail(s, kSimSetupFailed);
  }
  for (auto& site : sites_) {
    site->cp = make_cell(site->cp_fqcn, site->log, site->app->timeouts);
    const std::string parent = cellnet::fqcn::parent(site->cp_fqcn);
    site->cp->connect(parent.empty() ? server_url : "inproc://sim-" + parent).ignore();
    std::string cp_url = "inproc://sim-" + site->name;
    if (auto u = site->cp->listen(cp_url); !u.ok()) return fail(u.status(), kSimSetupFailed);
    site->cj = make_cell(site->cp_fqcn + "." + kJobId, site->log, site->app->timeouts);
    site->cj->connect(cp_url).ignore();
  }
  for (auto& site : sites_) {
    Status s = site->cj->wait_for_peer(site->cp_fqcn, 10s);
    const std::string parent = cellnet::fqcn::parent(site->cp_fqcn);
    if (s.ok()) s = site->cp->wait_for_peer(parent.empty() ? "server" : parent, 10s);
    if (!s.ok()) return fail(s, kSimSetupFailed);
  }
  if (Status s = sj_->wait_for_peer("server", 10s); !s.ok()) return fail(s, kSimSetupFailed);

  runtime::ServerJobOptions so =
      runtime::server_job_options(*server_app_built_, kJobId, names_, server_run_, server_app_, server_log_);
  so.progress = print_;
  server_ = std::make_unique<runtime::ServerJobEngine>(*sj_, so);
  if (Status s = server_->start(); !s.ok()) return fail(s, kSimSetupFailed);
  slots_ = std::make_unique<runtime::TrainerSlots>(threads_);
  for (auto& site : sites_) {
    auto child = site->cj->listen("uds://" + (runtime_dir_ / (site->name + ".sock")).string());
    if (!child.ok()) return fail(child.status(), kSimSetupFailed);
    runtime::ClientJobContext ctx;
    ctx.site_name = site->name;
    ctx.job_id = kJobId;
    ctx.app_dir = site->app_dir;
    ctx.run_dir = site->run_dir;
    ctx.workspace = site->root;
    ctx.nvflare_bin = o_.nvflare_bin;
    ctx.cell = site->cj.get();
    ctx.child_url = *child;
    ctx.logger = site->log;
    site->engine = runtime::make_client_engine(*site->app, ctx, slots_.get());
  }
  return std::nullopt;
}

// 5. Run: clients on their threads, the workflows here; an interrupt stops everything.
Status Simulation::run(const std::function<void(std::function<void()>)>& set_interrupt) {
  set_interrupt([this] {
    server_->abort("interrupted");
    for (auto& site : sites_) site->engine->abort("interrupted");
  });
  for (auto& site : sites_) {
    Site* s = site.get();
    s->thread = std::thread([s] { s->result = s->engine->run(); });
  }
  print_("simulator: job " + folder_->name + " with " + std::to_string(names_.size()) + " clients (" +
         base::join(names_, ", ") + "), " + std::to_string(threads_) + " training at once; workspace " + ws_.string());
  Status status = server_->run(workflows_);
  if (!status.ok()) {
    // The clients still wait for tasks: the run is over for them too.
    for (auto& site : sites_) site->engine->abort(status.message());
  }
  for (auto& site : sites_) site->thread.join();
  set_interrupt(nullptr);
  return status;
}

void Simulation::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& site : sites_) {
    if (site->thread.joinable()) site->thread.join();
  }
  if (server_) server_->stop();
  for (auto& site : sites_) {
    if (site->cj) site->cj->stop();
    if (site->cp) site->cp->stop();
  }
  for (auto& cache : relay_caches_) cache->close();
  for (auto& relay : relays_) relay->stop();
  if (sj_) sj_->stop();
  if (sp_) sp_->stop();
  drivers_.stop_all();
}

// 6. What the user sees at the end.
int Simulation::report(Status run_status, bool interrupted, const std::string& last_round, double secs) {
  char took[32];
  std::snprintf(took, sizeof(took), "%.1f", secs);
  if (interrupted) {
    print_("simulator: interrupted after " + std::string(took) + " s; every trainer was stopped");
    return kSimInterrupted;
  }
  if (!run_status.ok()) {
    warn_("simulator: the job failed: " + run_status.message());
    server_log_->error("job failed: {}", run_status.message());
    return kSimRunFailed;
  }
  std::string files = model_files(server_run_);
  std::string tb;
  for (const auto& info : server_app_built_->components.infos()) {
    auto* r = server_app_built_->components.find_as<workflows::TBAnalyticsReceiver>(info.id);
    std::error_code ec;
    if (r && fs::is_directory(r->root(), ec)) tb += "\nTensorBoard events (tensorboard --logdir):\n  " + r->root().string();
  }
  print_("simulator: finished in " + std::string(took) + " s" +
         (last_round.empty() ? std::string() : "; last " + last_round) +
         (files.empty() ? std::string() : "\nglobal model:\n  " + files) + tb);
  return kSimOk;
}

}  // namespace

int run_simulator(const SimulatorOptions& o) {
  // Signals are taken first, before any thread exists, so every thread inherits the blocked mask
  // and Ctrl-C reaches our watcher instead of killing the process with trainers left behind.
  std::atomic<bool> interrupted{false};
  std::mutex interrupt_mu;
  std::function<void()> on_interrupt;  // guarded by interrupt_mu; set once the engines exist
  auto warn = o.warn ? o.warn : [](const std::string&) {};
  base::SignalWatcher watcher([&](int sig) {
    if (interrupted.exchange(true)) return;
    warn(std::string("simulator: ") + (sig == SIGINT ? "interrupted" : "terminated") + "; stopping every trainer");
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
  const auto started = std::chrono::steady_clock::now();

  Simulation sim(o, print, warn);
  for (auto phase : {&Simulation::check_job, &Simulation::lay_out_workspace, &Simulation::build_apps,
                     &Simulation::connect}) {
    if (std::optional<int> code = (sim.*phase)()) return *code;
  }
  Status run_status = sim.run([&](std::function<void()> stop_all) {
    std::lock_guard<std::mutex> lock(interrupt_mu);
    on_interrupt = std::move(stop_all);
    if (on_interrupt && interrupted) on_interrupt();
  });
  sim.stop();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard<std::mutex> lock(last_round_mu);
  return sim.report(run_status, interrupted, last_round, secs);
}

}  // namespace nvf::tools
