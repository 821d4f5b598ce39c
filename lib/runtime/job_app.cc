#include "runtime/job_app.h"

#include "fl/analytics.h"

#include "cellnet/cell_settings.h"
#include "runtime/register.h"
#include "workflows/register.h"

namespace nvf::runtime {
namespace fs = std::filesystem;

config::VarMap system_vars(const std::string& site, const fs::path& workspace, const fs::path& app_dir,
                           const std::string& job_id, const std::string& nvflare_bin, bool secure_mode) {
  config::VarMap v;
  v["SITE_NAME"] = site;
  v["WORKSPACE"] = workspace.string();
  v["JOB_ID"] = job_id;
  v["SECURE_MODE"] = secure_mode;
  v["JOB_CUSTOM_DIR"] = (app_dir / "custom").string();
  v["APP_DIR"] = app_dir.string();
  v["NVFLARE_BIN"] = nvflare_bin;
  return v;
}

Result<fl::ComponentRegistry> full_registry() {
  fl::ComponentRegistry registry = fl::ComponentRegistry::builtin();
  NVF_RETURN_IF_ERROR(workflows::register_workflows(registry));
  NVF_RETURN_IF_ERROR(register_runtime_components(registry));
  return registry;
}

config::EffectiveTimeouts timeouts_of(const fs::path& config_file, config::OverrideSource kind) {
  auto t = config::TimeoutRegistry::defaults().effective();
  auto raw = config::load_file(config_file);
  if (raw.ok() && raw->is_object()) {
    std::vector<config::Finding> ignored;
    t.apply_overrides(*raw, kind, config_file.filename().string(), config::FieldPath(), &ignored);
  }
  return t;
}

std::chrono::milliseconds ms_of(const config::EffectiveTimeouts& t, std::string_view name) {
  return std::chrono::milliseconds(static_cast<int64_t>(t.resolved(name).value_or(0) * 1000));
}

Result<SiteApp> build_site_app(bool is_server, const config::VarMap& vars, const fl::ComponentRegistry& registry,
                               const fl::BuildEnv& env) {
  SiteApp app;
  NVF_ASSIGN_OR_RETURN(app.config_file,
                       config::find_config(env.app_dir / "config", is_server ? "config_fed_server" : "config_fed_client"));
  NVF_ASSIGN_OR_RETURN(config::Value raw, config::load_file(app.config_file));
  NVF_ASSIGN_OR_RETURN(config::Value resolved, config::resolve_config(raw, vars, config::current_environment(),
                                                                      app.config_file.string()));
  NVF_ASSIGN_OR_RETURN(app.components, fl::build_components(resolved, registry, app.config_file.string(), env));
  NVF_ASSIGN_OR_RETURN(app.filters,
                       fl::build_filter_chains(resolved, registry, app.config_file.string(), env, is_server));
  app.filter_config = fl::filter_config_of(resolved);
  app.timeouts = timeouts_of(app.config_file, is_server ? config::OverrideSource::kServerJobConfig
                                                        : config::OverrideSource::kClientJobConfig);
  return app;
}

Result<std::vector<fl::Controller*>> workflows_of(const SiteApp& app) {
  std::vector<fl::Controller*> workflows;
  for (fl::Component* c : app.components.workflows()) {
    if (auto* wf = dynamic_cast<fl::Controller*>(c)) workflows.push_back(wf);
  }
  if (workflows.empty()) {
    return InvalidArgumentError(app.config_file.string() + ": the server app has no workflow to run");
  }
  return workflows;
}

ServerJobOptions server_job_options(const SiteApp& app, const std::string& job_id, std::vector<std::string> clients,
                                    const fs::path& run_dir, const fs::path& app_dir, base::Logger logger) {
  ServerJobOptions so;
  so.job_id = job_id;
  so.clients = std::move(clients);
  so.run_dir = run_dir;
  so.app_dir = app_dir;
  so.logger = std::move(logger);
  so.download = cellnet::download_options_from(app.timeouts);
  so.download_idle_timeout = ms_of(app.timeouts, "tensor_min_download_timeout");
  so.dead_client_grace_period = ms_of(app.timeouts, "dead_client_grace_period");
  so.dead_client_check_lead_time = ms_of(app.timeouts, "dead_client_check_lead_time");
  so.end_run_wait = ms_of(app.timeouts, "end_run_readiness_timeout");
  so.startup_grace = ms_of(app.timeouts, "max_runner_sync_timeout");
  if (!app.filters.empty()) so.filters = &app.filters;
  for (const auto& info : app.components.infos()) {
    if (auto* r = app.components.find_as<fl::AnalyticsReceiver>(info.id)) so.analytics.push_back(r);
    if (auto* l = app.components.find_as<fl::EndRunListener>(info.id)) so.end_run_listeners.push_back(l);
  }
  return so;
}

std::unique_ptr<ClientJobEngine> make_client_engine(const SiteApp& app, ClientJobContext ctx, TrainerSlots* slots) {
  std::map<std::string, fl::Executor*> executors;
  for (const auto& b : app.components.executors()) {
    auto* ex = dynamic_cast<fl::Executor*>(b.executor);
    if (!ex) continue;
    if (auto* le = dynamic_cast<LauncherExecutor*>(ex); le && slots) le->set_slots(slots);
    for (const auto& t : b.tasks) executors[t] = ex;
  }
  ClientJobOptions co;
  co.server_job_fqcn = "server." + ctx.job_id;
  co.get_task_timeout = ms_of(app.timeouts, "get_task_timeout");
  co.submit_task_result_timeout = ms_of(app.timeouts, "submit_task_result_timeout");
  co.job_heartbeat_interval = ms_of(app.timeouts, "job_heartbeat_interval");
  co.server_lost_timeout = ms_of(app.timeouts, "max_runner_sync_timeout");
  ctx.filter_config = app.filter_config;
  return std::make_unique<ClientJobEngine>(std::move(ctx), co, executors);
}

}  // namespace nvf::runtime
