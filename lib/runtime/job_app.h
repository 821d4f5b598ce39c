// What a site's app makes, shared by every process role that runs a job (the simulator, a server
// job process, a client job process): the FLARE system variables of a config, the app's
// components and filter chains from the component registry, the timeouts the site runs with, and
// the engine options and executors derived from them. Stateless functions.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/logging.h"
#include "base/status.h"
#include "config/substitute.h"
#include "config/timeouts.h"
#include "config/value.h"
#include "fl/component_registry.h"
#include "workflows/controller.h"
#include "fl/executor.h"
#include "fl/filter.h"
#include "runtime/client_job.h"
#include "runtime/launcher_executor.h"
#include "runtime/server_job.h"

namespace nvf::runtime {

/// The variables every config may use: SITE_NAME, WORKSPACE, JOB_ID, SECURE_MODE, APP_DIR, ...
config::VarMap system_vars(const std::string& site, const std::filesystem::path& workspace,
                           const std::filesystem::path& app_dir, const std::string& job_id,
                           const std::string& nvflare_bin, bool secure_mode);

/// The built-in registry with every workflow and runtime component.
Result<fl::ComponentRegistry> full_registry();

/// What an app config makes: its components and its filter chains (a client's chains are built
/// here only to fail early: they run in the trainer, which gets `filter_config`).
struct SiteApp {
  std::filesystem::path config_file;  // config_fed_server.* / config_fed_client.*
  fl::ComponentSet components;
  fl::FilterChains filters;
  config::Value filter_config;
  config::EffectiveTimeouts timeouts = config::TimeoutRegistry::defaults().effective();
};

/// Builds the app in `env.app_dir` (its config/config_fed_server.* or config_fed_client.*).
/// Errors name the config file and the field.
Result<SiteApp> build_site_app(bool is_server, const config::VarMap& vars, const fl::ComponentRegistry& registry,
                               const fl::BuildEnv& env);

/// The timeouts a site runs with: the registry's defaults and the top-level keys of its config
/// (job validate has already reported bad values; a bad one keeps its default here).
config::EffectiveTimeouts timeouts_of(const std::filesystem::path& config_file, config::OverrideSource kind);
std::chrono::milliseconds ms_of(const config::EffectiveTimeouts& t, std::string_view name);

/// The server app's workflows in order. Errors: INVALID_ARGUMENT when there is none.
Result<std::vector<fl::Controller*>> workflows_of(const SiteApp& app);

/// Server job engine options from the app's timeouts (filters point into `app`).
ServerJobOptions server_job_options(const SiteApp& app, const std::string& job_id, std::vector<std::string> clients,
                                    const std::filesystem::path& run_dir, const std::filesystem::path& app_dir,
                                    base::Logger logger);

/// The client job engine for a built app; launcher executors share `slots` (null: unbounded).
std::unique_ptr<ClientJobEngine> make_client_engine(const SiteApp& app, ClientJobContext ctx, TrainerSlots* slots);

}  // namespace nvf::runtime
