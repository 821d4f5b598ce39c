// nvflare config [-d STARTUP_KIT_DIR] [-pw POC_WORKSPACE_DIR] [-jt JOB_TEMPLATES_DIR]
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "commands.h"
#include "tools/user_config.h"

namespace nvf::app {
namespace {
namespace fs = std::filesystem;

struct ConfigOptions {
  std::string startup_kit_dir;
  std::string poc_workspace_dir;
  std::string job_templates_dir;
  bool debug = false;
};

Status run_config(const ConfigOptions& o) {
  fs::path path = tools::user_config_path();
  NVF_ASSIGN_OR_RETURN(tools::UserConfig cfg, tools::load_user_config(path));
  if (o.startup_kit_dir.empty() && o.poc_workspace_dir.empty() && o.job_templates_dir.empty()) {
    std::cout << "not specifying any directory. print existing config at " << path.string() << "\n"
              << tools::render_user_config(cfg);
    return Status::OK();
  }
  std::error_code ec;
  if (!o.startup_kit_dir.empty()) {
    if (!fs::is_directory(o.startup_kit_dir, ec)) {
      return InvalidArgumentError("startup kit directory '" + o.startup_kit_dir + "' does not exist");
    }
    cfg.startup_kit = fs::absolute(o.startup_kit_dir).lexically_normal();
  }
  if (!o.job_templates_dir.empty()) {
    if (!fs::is_directory(o.job_templates_dir, ec)) {
      return InvalidArgumentError("job templates directory '" + o.job_templates_dir + "' does not exist");
    }
    cfg.job_templates = fs::absolute(o.job_templates_dir).lexically_normal();
  }
  if (!o.poc_workspace_dir.empty()) cfg.poc_workspace = fs::absolute(o.poc_workspace_dir).lexically_normal();
  NVF_RETURN_IF_ERROR(tools::save_user_config(path, cfg));
  std::cout << "new config at " << path.string() << "\n" << tools::render_user_config(cfg);
  return Status::OK();
}

}  // namespace

void register_config_command(CLI::App& app, AppContext& ctx) {
  auto o = std::make_shared<ConfigOptions>();
  CLI::App* sub = app.add_subcommand("config", "set the startup kit, POC workspace and job templates paths");
  sub->add_option("-d,--startup_kit_dir", o->startup_kit_dir, "startup kit directory (an admin kit or prod_NN)");
  sub->add_option("--pw,--poc_workspace_dir", o->poc_workspace_dir, "POC workspace directory (also -pw)");
  sub->add_option("--jt,--job_templates_dir", o->job_templates_dir, "job templates directory (also -jt)");
  sub->add_flag("--debug", o->debug, "debug output (also -debug)");
  sub->callback([o, &ctx] { ctx.exit_code = report(run_config(*o)); });
}

}  // namespace nvf::app
