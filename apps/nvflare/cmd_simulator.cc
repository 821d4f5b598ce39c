// nvflare simulator JOB_FOLDER [-w WORKSPACE] [-n N | -c a,b] [-t THREADS] [-l LOG_CONFIG] [-m MAX]
#include <iostream>
#include <memory>

#include "base/strings.h"
#include "commands.h"
#include "tools/simulator.h"
#include "tools/user_config.h"

namespace nvf::app {
namespace {

struct SimulatorCli {
  std::string job_folder;
  std::string workspace;
  int n_clients = 0;
  std::string clients;
  int threads = 0;
  std::string gpu;
  std::string log_config = "concise";
  int max_clients = 100;
  int relays = 0;
  bool end_run_for_all = false;
};

int run(const SimulatorCli& c, int verbose) {
  tools::SimulatorOptions o;
  o.job_folder = c.job_folder;
  o.workspace = c.workspace;
  o.n_clients = c.n_clients;
  if (!c.clients.empty()) o.clients = base::split(c.clients, ',', true);
  o.threads = c.threads;
  o.log_config = c.log_config;
  if (verbose > 0 && c.log_config == "concise") o.log_config = verbose > 1 ? "trace" : "debug";
  o.max_clients = c.max_clients;
  o.relays = c.relays;
  o.nvflare_bin = tools::self_exe().string();
  o.print = [](const std::string& line) { std::cout << line << std::endl; };
  o.warn = [](const std::string& line) { std::cerr << line << std::endl; };
  if (!c.gpu.empty()) o.warn("simulator: -gpu is ignored: this build trains on the CPU");
  return tools::run_simulator(o);
}

}  // namespace

void register_simulator_command(CLI::App& app, AppContext& ctx) {
  auto c = std::make_shared<SimulatorCli>();
  CLI::App* sim = app.add_subcommand("simulator", "run a job with the server and N clients on this machine");
  sim->add_option("job_folder", c->job_folder, "job folder (contains meta.json)")->required();
  sim->add_option("-w,--workspace", c->workspace, "workspace (default ./simulator_workspace)");
  sim->add_option("-n,--n_clients", c->n_clients, "number of clients site-1..site-N");
  sim->add_option("-c,--clients", c->clients, "comma-separated client names");
  sim->add_option("-t,--threads", c->threads, "clients that train at once (default 1)");
  sim->add_option("--gpu", c->gpu, "GPU groups (ignored: CPU build; also -gpu)");
  sim->add_option("-l,--log_config", c->log_config, "concise, full, verbose or a level name");
  sim->add_option("-m,--max_clients", c->max_clients, "upper bound on the client count (100)");
  sim->add_option("--relays", c->relays, "put the clients behind this many in-process relays (default 0)")
      ->check(CLI::Range(0, 100));
  sim->add_flag("--end_run_for_all", c->end_run_for_all, "accepted for compatibility");
  sim->callback([c, &ctx] { ctx.exit_code = run(*c, ctx.verbose); });
}

}  // namespace nvf::app
