// nvflare preflight_check -p KIT_DIR: checks a startup kit before it is started (tools/preflight.h)
// and prints one row per check. Parsing only.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "tools/preflight.h"

namespace nvf::app {

runtime::DriverFactory external_driver_factory();  // cmd_daemon.cc

namespace {

struct PreflightCommandOptions {
  std::string package_path;
  double timeout = 10;
  bool debug = false;
};

int run_preflight_check(const PreflightCommandOptions& o) {
  tools::PreflightOptions po;
  po.kit_dir = o.package_path;
  po.external_driver = external_driver_factory();
  po.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout * 1000));
  auto r = tools::run_preflight(po);
  if (!r.ok()) return report(r.status());
  std::cout << tools::render_preflight(*r);
  return r->passed() ? kExitOk : kExitError;
}

}  // namespace

void register_preflight_command(CLI::App& app, AppContext& ctx) {
  auto o = std::make_shared<PreflightCommandOptions>();
  CLI::App* pre = app.add_subcommand("preflight_check", "check a startup kit before starting it");
  pre->add_option("-p,--package_path", o->package_path,
                  "the participant's startup kit folder (holds startup/), e.g. prod_00/site-1")
      ->required();
  pre->add_option("--timeout", o->timeout, "seconds for each network check (10)");
  pre->add_flag("--debug", o->debug, "accepted for FLARE compatibility (also -debug)");
  pre->callback([o, &ctx] { ctx.exit_code = run_preflight_check(*o); });
}

}  // namespace nvf::app
