// nvflare job {list_templates, create, show_variables, validate, submit}
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "job/config_override.h"
#include "job/job_create.h"
#include "job/job_variables.h"
#include "job/templates.h"
#include "tools/job_commands.h"
#include "tools/user_config.h"

namespace nvf::app {
namespace {
namespace fs = std::filesystem;

struct JobOptions {
  std::string job_folder = "./current_job";
  std::string template_name = "sag_pt";
  std::string script_dir;
  std::string templates_dir;
  std::vector<std::vector<std::string>> config_files;
  bool force = false;
  bool debug = false;
};

Result<fs::path> templates_root(const std::string& explicit_dir) {
  NVF_ASSIGN_OR_RETURN(tools::UserConfig cfg, tools::load_user_config(tools::user_config_path()));
  std::optional<fs::path> dir;
  if (!explicit_dir.empty()) dir = explicit_dir;
  return tools::find_templates_dir(dir, cfg);
}

Status run_list_templates(const JobOptions& o) {
  NVF_ASSIGN_OR_RETURN(fs::path root, templates_root(o.templates_dir));
  NVF_ASSIGN_OR_RETURN(auto templates, job::list_templates(root));
  std::cout << job::render_templates_table(templates);
  return Status::OK();
}

Result<std::vector<job::ConfigOverride>> parse_overrides(const std::vector<std::vector<std::string>>& groups) {
  std::vector<job::ConfigOverride> out;
  for (const auto& g : groups) {
    if (g.empty()) return InvalidArgumentError("-f needs a config file name, e.g. -f config_fed_client.conf k=v");
    job::ConfigOverride ov;
    ov.file = g[0];
    ov.assignments.assign(g.begin() + 1, g.end());
    out.push_back(std::move(ov));
  }
  return out;
}

Status print_validation(const fs::path& dir) {
  NVF_ASSIGN_OR_RETURN(tools::ValidationReport report, tools::validate_job(dir));
  std::cout << tools::render_validation(report);
  if (!report.ok()) {
    return InvalidArgumentError("job folder " + dir.string() + " has " + std::to_string(report.errors) +
                                " error(s); fix them and run `nvflare job validate -j " + dir.string() + "`");
  }
  return Status::OK();
}

Status run_create(const JobOptions& o) {
  job::CreateJobOptions c;
  c.job_folder = o.job_folder;
  c.template_name = o.template_name;
  NVF_ASSIGN_OR_RETURN(c.templates_root, templates_root(o.templates_dir));
  if (!o.script_dir.empty()) c.script_dir = fs::path(o.script_dir);
  NVF_ASSIGN_OR_RETURN(c.overrides, parse_overrides(o.config_files));
  c.force = o.force;
  NVF_ASSIGN_OR_RETURN(job::CreateJobResult r, job::create_job(c));
  if (!r.warning.empty()) std::cout << r.warning << "\n";
  std::cout << job::render_variables_table(c.job_folder, r.variables);
  if (!r.configs_written) return Status::OK();
  std::cout << "\ncreated job folder " << c.job_folder.string() << " from template " << r.template_name << "\n";
  return print_validation(c.job_folder);
}

Status run_show_variables(const JobOptions& o) {
  NVF_ASSIGN_OR_RETURN(auto rows, job::show_variables(o.job_folder));
  std::cout << job::render_variables_table(o.job_folder, rows);
  return Status::OK();
}

}  // namespace

void register_job_command(CLI::App& app, AppContext& ctx) {
  auto o = std::make_shared<JobOptions>();
  CLI::App* job = app.add_subcommand("job", "create, inspect, validate and submit job folders");
  job->require_subcommand(1);

  CLI::App* lt = job->add_subcommand("list_templates", "list the job templates");
  lt->add_option("-d,--job_templates_dir", o->templates_dir, "job templates directory");
  lt->add_flag("--debug", o->debug, "debug output (also -debug)");
  lt->callback([o, &ctx] { ctx.exit_code = report(run_list_templates(*o)); });

  CLI::App* cr = job->add_subcommand("create", "create a job folder from a template");
  cr->add_option("-j,--job_folder", o->job_folder, "job folder to create (./current_job)");
  cr->add_option("-w,--template", o->template_name, "template name or folder (sag_pt = fedavg_pt)");
  cr->add_option("--sd,--script_dir", o->script_dir, "folder copied into each app's custom/ (also -sd)");
  cr->add_option("-f,--config_file", o->config_files,
                 "CONFIG_FILE key=value ...: set keys in a config of the new job (repeatable)")
      ->allow_extra_args()
      ->expected(1, 1 << 20);
  cr->add_option("--job_templates_dir", o->templates_dir, "job templates directory");
  cr->add_flag("--force", o->force, "replace an existing job folder's configs (also -force)");
  cr->add_flag("--debug", o->debug, "debug output (also -debug)");
  cr->callback([o, &ctx] { ctx.exit_code = report(run_create(*o)); });

  CLI::App* sv = job->add_subcommand("show_variables", "list the keys that -f can set in a job folder");
  sv->add_option("-j,--job_folder", o->job_folder, "job folder (./current_job)");
  sv->add_flag("--debug", o->debug, "debug output (also -debug)");
  sv->callback([o, &ctx] { ctx.exit_code = report(run_show_variables(*o)); });

  CLI::App* va = job->add_subcommand("validate", "check a job folder: meta, deploy_map, configs, timeouts");
  va->add_option("-j,--job_folder", o->job_folder, "job folder (./current_job)");
  va->add_flag("--debug", o->debug, "debug output (also -debug)");
  va->callback([o, &ctx] { ctx.exit_code = report(print_validation(o->job_folder)); });

  register_job_submit(job, ctx);
}

}  // namespace nvf::app
