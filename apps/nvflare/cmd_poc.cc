// nvflare poc {prepare, prepare-jobs-dir, start, stop, clean}.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "runtime/startup_kit.h"
#include "tools/admin_console.h"
#include "tools/poc.h"
#include "tools/user_config.h"

namespace nvf::app {

runtime::DriverFactory external_driver_factory();  // cmd_daemon.cc

namespace {

struct PocCliOptions {
  int number_of_clients = 2;
  std::vector<std::string> clients;
  bool he = false;
  std::string project_input;
  std::string docker_image;
  bool debug = false;
  std::string service, exclude;  // start / stop
  std::string text;                // prepare-jobs-dir -j
  std::vector<std::string> words;  // start --gpu (accepted, unused)
};

void print_line(const std::string& line) { std::cout << line << std::endl; }

bool ask(const std::string& prompt) {
  std::cout << prompt << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) {
    std::cout << "\n";
    return false;
  }
  return answer == "y" || answer == "Y";
}

int run_prepare(const PocCliOptions& o) {
  auto config_path = tools::user_config_path();
  auto config = tools::load_user_config(config_path);
  if (!config.ok()) return report(config.status());
  if (o.he) std::cerr << "warning: -he is accepted but HE is not part of this build; ignored\n";
  if (!o.docker_image.empty()) std::cerr << "warning: -d is accepted but ignored in this build\n";
  tools::PocPrepareOptions p;
  p.workspace = tools::poc_workspace(*config);
  p.number_of_clients = o.number_of_clients;
  p.clients = o.clients;
  p.project_input = o.project_input;
  p.nvflare_bin = tools::self_exe().string();
  p.user_config = config_path;
  p.confirm = ask;
  p.print = print_line;
  p.warn = [](const std::string& line) { std::cerr << line << std::endl; };
  auto prod = tools::poc_prepare(p);
  return report(prod.status());
}

int run_service(const PocCliOptions& o, bool start) {
  auto config = tools::load_user_config(tools::user_config_path());
  if (!config.ok()) return report(config.status());
  tools::PocServiceOptions so;
  so.workspace = tools::poc_workspace(*config);
  so.only = o.service;
  so.exclude = o.exclude;
  so.nvflare_bin = tools::self_exe().string();
  so.print = print_line;
  so.warn = [](const std::string& line) { std::cerr << line << std::endl; };
  so.console = [](const std::filesystem::path& admin_dir) -> Status {
    NVF_ASSIGN_OR_RETURN(runtime::AdminKit kit, runtime::load_admin_kit(admin_dir, "fed_admin.json"));
    return tools::run_admin_console(kit, external_driver_factory(), std::chrono::seconds(10));
  };
  return report(start ? tools::poc_start(so) : tools::poc_stop(so));
}


int run_prepare_jobs_dir(const PocCliOptions& o) {
  auto config = tools::load_user_config(tools::user_config_path());
  if (!config.ok()) return report(config.status());
  return report(tools::poc_prepare_jobs_dir(tools::poc_workspace(*config), o.text, ask, print_line));
}

int run_clean() {
  auto config = tools::load_user_config(tools::user_config_path());
  if (!config.ok()) return report(config.status());
  return report(tools::poc_clean(tools::poc_workspace(*config), print_line));
}

}  // namespace

void register_poc_command(CLI::App& app, AppContext& ctx) {
  auto o = std::make_shared<PocCliOptions>();
  CLI::App* poc = app.add_subcommand("poc", "a local proof-of-concept federation");
  poc->require_subcommand(1);

  CLI::App* prep = poc->add_subcommand("prepare", "create the POC workspace");
  prep->add_option("-n,--number_of_clients", o->number_of_clients, "number of clients (2)");
  prep->add_option("-c,--clients", o->clients, "client names (overrides -n)");
  prep->add_flag("--he", o->he, "with homomorphic encryption (also -he); not in this build");
  prep->add_option("-i,--project_input", o->project_input, "a project.yml to use (ignores -n/-c)");
  prep->add_option("-d,--docker_image", o->docker_image, "docker image; accepted, unused");
  prep->add_flag("--debug", o->debug, "debug output (also -debug)");
  prep->callback([o, &ctx] { ctx.exit_code = run_prepare(*o); });

  CLI::App* pjd = poc->add_subcommand("prepare-jobs-dir", "link a jobs dir as the admin's transfer (upload) dir");
  pjd->add_option("-j,--jobs_dir", o->text, "jobs directory")->required();
  pjd->add_flag("--debug", o->debug, "debug output (also -debug)");
  pjd->callback([o, &ctx] { ctx.exit_code = run_prepare_jobs_dir(*o); });
  for (const char* verb : {"start", "stop"}) {
    bool is_start = std::string(verb) == "start";
    CLI::App* sub = poc->add_subcommand(verb, is_start ? "start the POC server and clients (each by its start.sh)"
                                                       : "stop the POC clients and server");
    sub->add_option("-p,--service", o->service, "one participant (all)");
    sub->add_option("--ex,--exclude", o->exclude, "exclude one participant (also -ex)");
    if (is_start) sub->add_option("--gpu", o->words, "GPU ids (also -gpu); accepted, unused (CPU build)");
    sub->add_flag("--debug", o->debug, "debug output (also -debug)");
    sub->callback([o, &ctx, is_start] { ctx.exit_code = run_service(*o, is_start); });
  }

  CLI::App* clean = poc->add_subcommand("clean", "remove the POC workspace");
  clean->add_flag("--debug", o->debug, "debug output (also -debug)");
  clean->callback([&ctx] { ctx.exit_code = run_clean(); });
}

}  // namespace nvf::app
