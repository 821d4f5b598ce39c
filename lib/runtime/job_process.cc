#include "runtime/job_process.h"

#include "runtime/python_env.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "base/files.h"
#include "base/logging.h"
#include "base/process.h"
#include "base/signals.h"
#include "base/strings.h"
#include "cellnet/cell.h"
#include "cellnet/cell_settings.h"
#include "cellnet/socket_driver.h"
#include "runtime/deploy_protocol.h"
#include "runtime/job_app.h"
#include "runtime/site_info.h"

namespace nvf::runtime {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Calls `on_gone` when the parent's lifeline closes (the parent died), on its own thread.
class LifelineWatch {
 public:
  explicit LifelineWatch(std::function<void()> on_gone) {
    int fd = base::inherited_lifeline_fd();
    if (fd < 0 || ::pipe(stop_) != 0) return;
    thread_ = std::thread([fd, this, on_gone = std::move(on_gone)] {
      if (base::wait_for_lifeline(fd, stop_[0])) on_gone();
    });
  }
  ~LifelineWatch() {
    if (thread_.joinable()) {
      char c = 1;
      (void)!::write(stop_[1], &c, 1);
      thread_.join();
      ::close(stop_[0]);
      ::close(stop_[1]);
    }
  }

 private:
  int stop_[2] = {-1, -1};
  std::thread thread_;
};

// An abort that may arrive (signal, lifeline, order) before the engine exists: it is remembered
// and delivered once the engine is attached.
class AbortSwitch {
 public:
  void request(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    requested_ = true;
    if (why_.empty()) why_ = why;
    if (fn_) fn_(why);
  }
  void attach(std::function<void(const std::string&)> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = std::move(fn);
    if (requested_) fn_(why_);
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = nullptr;
  }
  bool requested() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requested_;
  }

 private:
  mutable std::mutex mu_;
  bool requested_ = false;
  std::string why_;
  std::function<void(const std::string&)> fn_;
};

std::unique_ptr<cellnet::Cell> make_cell(const std::string& fqcn, cellnet::DriverRegistry& drivers,
                                         const config::EffectiveTimeouts& t, base::Logger log) {
  cellnet::CellOptions co = cellnet::cell_options_from(t);
  co.fqcn = fqcn;
  co.drivers = &drivers;
  co.logger = std::move(log);
  co.reconnect_initial = 100ms;  // local links: the parent is there already
  co.reconnect_max = 1000ms;
  return std::make_unique<cellnet::Cell>(co);
}

base::Logger job_logger(const std::string& name, const fs::path& run_dir) {
  auto log = base::make_logger({name, spdlog::level::info, true, run_dir});
  return log.ok() ? *log : base::null_logger();
}

// configure_job_log: the job's log level (the parent checked the argument; checked again here).
void serve_configure_job_log(cellnet::Cell& cell, const base::Logger& log) {
  cell.register_request_handler(std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicConfigureLog),
                                [log](const cellnet::Message& m) -> Result<cellnet::Message> {
                                  NVF_ASSIGN_OR_RETURN(auto level, parse_log_config(m.payload.to_string()));
                                  log->set_level(level);
                                  log->info("log level set to {}", m.payload.to_string());
                                  return cellnet::Message::of("OK");
                                });
}

// show_errors / reset_errors: the last lines of the job's log_error.txt since the last reset (a
// mark in the file; the file is never cut).
void serve_job_errors(cellnet::Cell& cell, const fs::path& run_dir) {
  struct Mark {
    fs::path file;
    std::mutex mu;
    uintmax_t offset = 0;  // guarded by mu
  };
  auto mark = std::make_shared<Mark>();
  mark->file = run_dir / "log_error.txt";
  cell.register_request_handler(
      std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicShowErrors),
      [mark](const cellnet::Message&) -> Result<cellnet::Message> {
        uintmax_t from = 0;
        {
          std::lock_guard<std::mutex> lock(mark->mu);
          from = mark->offset;
        }
        config::Value lines = config::Value::array();
        for (const auto& l : last_lines_from(mark->file, from, 20)) lines.push_back(l);
        return cellnet::Message::of(lines.dump());
      });
  cell.register_request_handler(std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicResetErrors),
                                [mark](const cellnet::Message&) -> Result<cellnet::Message> {
                                  std::error_code ec;
                                  const uintmax_t size = fs::file_size(mark->file, ec);
                                  std::lock_guard<std::mutex> lock(mark->mu);
                                  mark->offset = ec ? 0 : size;
                                  return cellnet::Message::of("true");
                                });
}

}  // namespace

int run_server_job_process(const JobProcessOptions& o) {
  AbortSwitch stop;
  auto request_abort = [&](const std::string& why) { stop.request(why); };
  base::SignalWatcher signals([&](int) { request_abort("terminated by a signal"); });
  const fs::path run_dir = o.workspace / o.job_id;
  const fs::path app_dir = run_dir / "app_server";
  base::Logger log = job_logger("server." + o.job_id, run_dir);
  auto fail = [&](const Status& s, int code) {
    log->error("job {}: {}", o.job_id, s.message());
    return code;
  };
  auto registry = full_registry();
  if (!registry.ok()) return fail(registry.status(), deploy::kExitConfigError);
  fl::BuildEnv env{run_dir, app_dir, "server", log, o.torch_helper};
  set_python_for_components(o.nvflare_bin, env);
  auto app = build_site_app(true, system_vars("server", o.workspace, app_dir, o.job_id, o.nvflare_bin, o.secure),
                            *registry, env);
  if (!app.ok()) return fail(app.status(), deploy::kExitConfigError);
  auto workflows = workflows_of(*app);
  if (!workflows.ok()) return fail(workflows.status(), deploy::kExitConfigError);

  cellnet::DriverRegistry drivers;
  drivers.add(std::make_shared<cellnet::UdsDriver>());
  auto cell = make_cell("server." + o.job_id, drivers, app->timeouts, log);
  if (Status s = cell->start(); !s.ok()) return fail(s, deploy::kExitExecutionError);
  if (Status s = cell->connect(o.parent_url); !s.ok()) return fail(s, deploy::kExitExecutionError);
  if (Status s = cell->wait_for_peer("server", 30s); !s.ok()) return fail(s, deploy::kExitExecutionError);

  ServerJobOptions so = server_job_options(*app, o.job_id, o.clients, run_dir, app_dir, log);
  ServerJobEngine engine(*cell, so);
  if (Status s = engine.start(); !s.ok()) return fail(s, deploy::kExitExecutionError);
  serve_configure_job_log(*cell, log);
  cell->register_request_handler(std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicAbort),
                                 [&](const cellnet::Message&) {
                                   request_abort("aborted by the server");
                                   return Result<cellnet::Message>(cellnet::Message{});
                                 });
  serve_job_errors(*cell, run_dir);
  cell->register_message_handler(std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicClientLeft),
                                 [&engine](const cellnet::Message& m) {
                                   engine.client_left(m.headers.get_or(deploy::kHdrLeftClient, ""));
                                 });
  // show_stats: FLARE's ServerRunner group and the running workflow's (named by its class).
  std::vector<std::pair<std::string, std::string>> workflow_names;  // (id, class), as *workflows
  for (const auto& id : app->components.workflow_ids()) {
    if (!dynamic_cast<fl::Controller*>(app->components.find(id))) continue;
    const auto* info = app->components.info(id);
    const std::string name = info ? info->name : "";
    workflow_names.emplace_back(id, name.empty() ? id : name.substr(name.rfind('.') + 1));
  }
  cell->register_request_handler(
      std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicShowStats),
      [&](const cellnet::Message&) -> Result<cellnet::Message> {
        config::Value stats = config::Value::object();
        const int i = engine.current_workflow();
        if (i >= 0 && static_cast<size_t>(i) < workflow_names.size() && static_cast<size_t>(i) < workflows->size()) {
          stats["ServerRunner"] = {{"job_id", o.job_id}, {"status", "started"}, {"workflow", workflow_names[i].first}};
          config::Value wf = (*workflows)[i]->stats();
          if (!wf.is_null()) stats[workflow_names[i].second] = std::move(wf);
        }
        return cellnet::Message::of(stats.dump());
      });
  stop.attach([&engine](const std::string& why) { engine.abort(why); });
  Status run_status;
  {
    LifelineWatch lifeline([&] { request_abort("the server parent is gone"); });
    log->info("job {}: running with clients {}", o.job_id, base::join(o.clients, ", "));
    run_status = engine.run(*workflows);
  }
  stop.release();
  bool error = !run_status.ok() && !stop.requested();
  if (!run_status.ok()) log->error("job {} ended: {}", o.job_id, run_status.message());
  config::Value report = {{"execution_error", error}, {"error", run_status.ok() ? "" : run_status.message()}};
  cellnet::Message status = cellnet::Message::of(report.dump());
  status.headers.set(deploy::kHdrJobId, o.job_id);
  cell->request("server", std::string(deploy::kChannelParent), std::string(deploy::kTopicRunStatus), std::move(status),
                2s)
      .status()
      .ignore();
  engine.stop();
  cell->stop();
  drivers.stop_all();
  return error ? deploy::kExitExecutionError : deploy::kExitOk;
}

int run_client_job_process(const JobProcessOptions& o) {
  // Test hook (the startup-stability tests): a client job that is slow to start, as on a busy node.
  if (const char* delay = std::getenv("NVFLARE_TEST_CLIENT_JOB_START_DELAY_MS")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(base::parse_int(delay, 0, 600000).value_or(0)));
  }
  AbortSwitch stop;
  auto request_abort = [&](const std::string& why) { stop.request(why); };
  base::SignalWatcher signals([&](int) { request_abort("terminated by a signal"); });
  const fs::path run_dir = o.workspace / o.job_id;
  const fs::path app_dir = run_dir / ("app_" + o.site);
  base::Logger log = job_logger(o.site + "." + o.job_id, run_dir);
  auto fail = [&](const Status& s, int code) {
    log->error("job {}: {}", o.job_id, s.message());
    return code;
  };
  auto registry = full_registry();
  if (!registry.ok()) return fail(registry.status(), deploy::kExitConfigError);
  fl::BuildEnv env{run_dir, app_dir, o.site, log, {}};
  auto app = build_site_app(false, system_vars(o.site, o.workspace, app_dir, o.job_id, o.nvflare_bin, o.secure),
                            *registry, env);
  if (!app.ok()) return fail(app.status(), deploy::kExitConfigError);

  auto runtime_tmp = base::make_owned_temp_dir("nvflare-cj");  // the trainer's socket: short, 0700
  if (!runtime_tmp.ok()) return fail(runtime_tmp.status(), deploy::kExitExecutionError);
  const fs::path runtime_dir = *runtime_tmp;
  base::ScopedRemove remove_runtime(runtime_dir);

  cellnet::DriverRegistry drivers;
  drivers.add(std::make_shared<cellnet::UdsDriver>());
  const std::string parent_fqcn = o.parent_fqcn.empty() ? o.site : o.parent_fqcn;
  auto cell = make_cell(parent_fqcn + "." + o.job_id, drivers, app->timeouts, log);
  if (Status s = cell->start(); !s.ok()) return fail(s, deploy::kExitExecutionError);
  if (Status s = cell->connect(o.parent_url); !s.ok()) return fail(s, deploy::kExitExecutionError);
  if (Status s = cell->wait_for_peer(parent_fqcn, 30s); !s.ok()) return fail(s, deploy::kExitExecutionError);
  auto child = cell->listen("uds://" + (runtime_dir / "cj.sock").string());
  if (!child.ok()) return fail(child.status(), deploy::kExitExecutionError);

  ClientJobContext ctx;
  ctx.site_name = o.site;
  ctx.job_id = o.job_id;
  ctx.app_dir = app_dir;
  ctx.run_dir = run_dir;
  ctx.workspace = o.workspace;
  ctx.nvflare_bin = o.nvflare_bin;
  ctx.cell = cell.get();
  ctx.child_url = *child;
  ctx.logger = log;
  auto engine = make_client_engine(*app, ctx, nullptr);
  serve_configure_job_log(*cell, log);
  serve_job_errors(*cell, run_dir);
  // show_stats: FLARE's ClientRunner group. The gate closes before the engine goes.
  cellnet::HandlerGate stats_gate("the client job is ending");
  cell->register_async_request_handler(
      std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicShowStats),
      stats_gate.wrap(cellnet::AsyncRequestHandler([&](const cellnet::Message&, cellnet::Responder respond) {
        config::Value tasks = config::Value::array();
        for (const auto& t : engine->current_tasks()) tasks.push_back(t);
        respond(cellnet::Message::of(
            config::Value{{"ClientRunner", {{"job_id", o.job_id}, {"current_tasks", tasks}}}}.dump()));
      })));
  cell->register_message_handler(std::string(deploy::kChannelJobCommand), std::string(deploy::kTopicAbort),
                                 [&](const cellnet::Message&) { request_abort("aborted by the server"); });
  stop.attach([&engine](const std::string& why) { engine->abort(why); });
  Status run_status;
  {
    LifelineWatch lifeline([&] { request_abort("the client parent is gone"); });
    run_status = engine->run();
  }
  stop.release();
  if (!run_status.ok()) log->warn("job {} ended: {}", o.job_id, run_status.message());
  stats_gate.close();
  engine.reset();
  cell->stop();
  drivers.stop_all();
  return run_status.ok() || stop.requested() ? deploy::kExitOk : deploy::kExitExecutionError;
}

}  // namespace nvf::runtime
