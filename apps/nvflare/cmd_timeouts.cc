// nvflare timeouts [--json] [--markdown]
#include <iostream>
#include <memory>

#include "commands.h"
#include "config/timeouts.h"

namespace nvf::app {
namespace {

struct TimeoutsOptions {
  bool json = false;
  bool markdown = false;
};

int run_timeouts(const TimeoutsOptions& o) {
  auto registry = config::TimeoutRegistry::defaults();
  if (o.json) {
    std::cout << config::render_timeouts_json(registry);
  } else if (o.markdown) {
    std::cout << config::render_timeouts_markdown(registry);
  } else {
    std::cout << config::render_timeouts_table(registry);
  }
  return kExitOk;
}

}  // namespace

void register_timeouts_command(CLI::App& app, AppContext& ctx) {
  auto o = std::make_shared<TimeoutsOptions>();
  CLI::App* sub = app.add_subcommand("timeouts", "list every timeout: default, unit, where set, what it bounds");
  auto* j = sub->add_flag("--json", o->json, "print the registry as JSON");
  auto* m = sub->add_flag("--markdown", o->markdown, "print the reference page (docs/timeouts.md)");
  j->excludes(m);
  sub->callback([o, &ctx] { ctx.exit_code = run_timeouts(*o); });
}

}  // namespace nvf::app
