// nvflare provision (-g | -p PROJECT_FILE) [-w WORKSPACE] [-c CUSTOM_FOLDER] [-s]
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "tools/provision.h"
#include "tools/user_config.h"

namespace nvf::app {
namespace {

struct ProvisionCliOptions {
  bool generate = false;
  std::string project_file;
  std::string workspace = "workspace";
  std::string custom_folder = ".";
  bool gen_scripts = false;
};

int run_provision_command(const ProvisionCliOptions& o) {
  if (o.generate)
    return report(tools::generate_sample_project(
        "project.yml", [](const std::string& line) { std::cout << line << "\n"; }));
  tools::ProvisionOptions p;
  p.project_file = o.project_file;
  p.workspace = o.workspace;
  p.custom_folder = o.custom_folder;
  p.gen_scripts = o.gen_scripts;
  p.nvflare_bin = tools::self_exe().string();
  p.print = [](const std::string& line) { std::cout << line << std::endl; };
  p.warn = [](const std::string& line) { std::cerr << line << std::endl; };
  return report(tools::run_provision(p).status());
}

}  // namespace

void register_provision_command(CLI::App& app, AppContext& ctx) {
  auto o = std::make_shared<ProvisionCliOptions>();
  CLI::App* sub =
      app.add_subcommand("provision", "create PKI and signed startup kits from project.yml");
  auto* g = sub->add_flag("-g,--generate", o->generate,
                          "write a sample project.yml in the current folder");
  auto* p = sub->add_option("-p,--project_file", o->project_file, "the project file (project.yml)");
  g->excludes(p);
  sub->add_option("-w,--workspace", o->workspace, "output root (workspace)");
  sub->add_option("-c,--custom_folder", o->custom_folder,
                  "custom builders folder (.); accepted, unused");
  sub->add_flag("-s,--gen_scripts", o->gen_scripts, "write prod_NN/start_all.sh");
  sub->callback([o, &ctx] {
    if (!o->generate && o->project_file.empty()) {
      throw CLI::ValidationError(
          "one of the arguments -g/--generate -p/--project_file is required");
    }
    ctx.exit_code = run_provision_command(*o);
  });
}

}  // namespace nvf::app
