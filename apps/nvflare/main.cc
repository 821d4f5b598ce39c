// nvflare: one binary for every FLARE command. Parsing only; each command calls the library.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "base/heap.h"
#include "base/version.h"
#include "commands.h"
#include "security/openssl_process.h"
#include "tools/cli_args.h"

int main(int argc, char** argv) {
  using namespace nvf::app;
  nvf::security::init_openssl_for_process();  // before any thread or library touches OpenSSL
  nvf::base::configure_process_heap();
  std::vector<std::string> args(argv, argv + argc);
  args = nvf::tools::rewrite_single_dash_options(args);

  CLI::App app{"nvflare: federated learning runtime and toolchain (FLARE " NVF_FLARE_COMPAT_VERSION
               " compatible)",
               "nvflare"};
  app.require_subcommand(0, 1);
  app.fallthrough(false);
  AppContext ctx;
  bool show_version = false;
  app.add_flag("-V,--version", show_version, "print the version and exit");
  app.add_flag("-v,--verbose", ctx.verbose, "more log output: -v debug, -vv trace (before the command)");

  register_simulator_command(app, ctx);
  register_poc_command(app, ctx);
  register_preflight_command(app, ctx);
  register_authz_preview_command(app, ctx);
  register_admin_command(app, ctx);
  register_daemon_commands(app, ctx);
  register_provision_command(app, ctx);
  register_job_command(app, ctx);
  register_config_command(app, ctx);
  register_timeouts_command(app, ctx);
  register_train_command(app, ctx);
  register_recipe_command(app, ctx);

  try {
    std::vector<std::string> rest(args.rbegin(), args.rend() - 1);  // CLI11 parses a reversed vector
    app.parse(rest);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    // argparse's shape: usage line, "error: ..." and exit 2.
    std::string where = "nvflare";
    for (const CLI::App* sub = &app; sub != nullptr;) {
      auto subs = sub->get_subcommands();
      if (subs.empty()) break;
      sub = subs.front();
      where += " " + sub->get_name();
    }
    std::cerr << "usage: " << where << " [-h]\n"
              << "error: " << where << ": " << e.what() << "\n"
              << "Run '" << where << " --help' for the full usage.\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "Error: " << e.what() << "\n";
    return kExitError;
  }

  if (show_version) {
    std::cout << "NVFlare version is " << NVF_VERSION << " (native C++; FLARE " NVF_FLARE_COMPAT_VERSION
              << " compatible)\n";
    return kExitOk;
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return kExitOk;
  }
  return ctx.exit_code;
}
