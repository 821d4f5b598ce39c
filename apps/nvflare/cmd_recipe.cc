// nvflare recipe {list, show NAME, export FILE -j DIR, run FILE --env sim|poc|prod}: the Recipe
// API (tools/recipe.h). Parsing only.
#include <iostream>
#include <memory>

#include "base/files.h"
#include "commands.h"
#include "tools/job_commands.h"
#include "tools/recipe.h"
#include "tools/simulator.h"
#include "tools/user_config.h"

namespace nvf::app {
namespace {

namespace fs = std::filesystem;

struct RecipeCli {
  std::string name;
  std::string file;
  std::string job_dir = ".";
  std::string env = "sim";
  int n_clients = 0;
  int threads = 0;
  std::string workspace;
  std::string kit_dir;
  double timeout = 0;
  std::string result_dir = "./recipe_results";
};

int run_export(const RecipeCli& c) {
  auto recipe = tools::load_recipe(c.file);
  if (!recipe.ok()) return report(recipe.status());
  auto job = tools::export_recipe(*recipe, c.job_dir);
  if (!job.ok()) return report(job.status());
  auto v = tools::validate_job(*job);
  if (!v.ok()) return report(v.status());
  if (!v->ok()) {
    std::cerr << tools::render_validation(*v);
    return kExitError;
  }
  std::cout << "job folder " << job->string() << " written (recipe " << (*recipe)["recipe"].get<std::string>()
            << "); run it with `nvflare simulator " << job->string() << "` or `nvflare job submit -j " << job->string()
            << "`\n";
  return kExitOk;
}

int run_recipe(const RecipeCli& c, int verbose) {
  if (c.env != "sim" && c.env != "poc" && c.env != "prod") {
    std::cerr << "Error: --env '" << c.env << "': use sim, poc or prod\n";
    return kExitUsage;
  }
  auto recipe = tools::load_recipe(c.file);
  if (!recipe.ok()) return report(recipe.status());
  auto tmp = base::make_temp_dir("nvflare-recipe-");
  if (!tmp.ok()) return report(tmp.status());
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{*tmp};
  auto job = tools::export_recipe(*recipe, *tmp);
  if (!job.ok()) return report(job.status());
  const std::string name = (*recipe)["name"].get<std::string>();
  if (c.env != "sim") {
    if (c.env == "prod" && c.kit_dir.empty()) {
      auto cfg = tools::load_user_config(tools::user_config_path());
      if (!cfg.ok() || !cfg->startup_kit) {
        std::cerr << "Error: --env prod needs the admin startup kit: pass -m ADMIN_KIT_DIR (or set it with "
                     "`nvflare config -d DIR`)\n";
        return kExitUsage;
      }
    }
    return submit_and_follow(job->string(), c.kit_dir, c.timeout, c.result_dir);
  }
  tools::SimulatorOptions o;
  o.job_folder = *job;
  o.workspace = c.workspace.empty() ? base::temp_root() / "nvflare" / "simulation" / name : fs::path(c.workspace);
  const config::Value sites = recipe->value("per_site_config", config::Value::object());
  if (c.n_clients > 0) {
    o.n_clients = c.n_clients;
  } else if (!sites.empty()) {
    for (const auto& [site, cfg] : sites.items()) o.clients.push_back(site);  // the recipe's own sites
  } else {
    o.n_clients = static_cast<int>(recipe->value("min_clients", int64_t{2}));
  }
  const int count = o.clients.empty() ? o.n_clients : static_cast<int>(o.clients.size());
  o.threads = c.threads > 0 ? c.threads : std::min(count, 4);
  o.log_config = verbose > 0 ? (verbose > 1 ? "trace" : "debug") : "concise";
  o.nvflare_bin = tools::self_exe().string();
  o.print = [](const std::string& line) { std::cout << line << std::endl; };
  o.warn = [](const std::string& line) { std::cerr << line << std::endl; };
  const int code = tools::run_simulator(o);
  std::cout << "Job Status is: "
            << (code == tools::kSimOk ? "FINISHED:COMPLETED" : code == tools::kSimInterrupted ? "ABORTED" : "FAILED")
            << "\nResult can be found in : " << (o.workspace / "server" / "simulate_job").string() << std::endl;
  return code;
}

}  // namespace

void register_recipe_command(CLI::App& app, AppContext& ctx) {
  auto c = std::make_shared<RecipeCli>();
  CLI::App* recipe =
      app.add_subcommand("recipe", "the recipe library: algorithms as small TOML files that run anywhere");
  recipe->require_subcommand(1);
  CLI::App* list = recipe->add_subcommand("list", "the recipes of the library, one line each");
  list->callback([&ctx] {
    std::cout << tools::render_recipe_list();
    ctx.exit_code = kExitOk;
  });
  CLI::App* show = recipe->add_subcommand("show", "a recipe's parameters, defaults and what each does");
  show->add_option("name", c->name, "the recipe's name (nvflare recipe list)")->required();
  show->callback([c, &ctx] {
    auto info = tools::find_recipe(c->name);
    if (!info.ok()) {
      ctx.exit_code = report(info.status());
      return;
    }
    std::cout << tools::render_recipe(**info);
    ctx.exit_code = kExitOk;
  });
  CLI::App* exp = recipe->add_subcommand("export", "write a recipe's job folder (it passes `nvflare job validate`)");
  exp->add_option("file", c->file, "the recipe file (TOML)")->required();
  exp->add_option("-j,--job_dir", c->job_dir, "where the job folder <name> goes (default .)");
  exp->callback([c, &ctx] { ctx.exit_code = run_export(*c); });
  CLI::App* run = recipe->add_subcommand("run", "run a recipe in the simulator, on the POC system or in production");
  run->add_option("file", c->file, "the recipe file (TOML)")->required();
  run->add_option("--env", c->env, "sim (default), poc or prod");
  run->add_option("-n,--n_clients", c->n_clients, "sim: clients (default min_clients)");
  run->add_option("-t,--threads", c->threads, "sim: trainers at once");
  run->add_option("-w,--workspace", c->workspace, "sim: workspace (default <tmp>/nvflare/simulation/<name>)");
  run->add_option("-m,--admin_dir", c->kit_dir, "poc/prod: admin startup kit (default: nvflare config -d)");
  run->add_option("--timeout", c->timeout, "poc/prod: give up waiting after this many seconds (0: never)");
  run->add_option("--result_dir", c->result_dir, "poc/prod: where the job's result is downloaded (./recipe_results)");
  run->callback([c, &ctx] { ctx.exit_code = run_recipe(*c, ctx.verbose); });
}

}  // namespace nvf::app
