// Commands of the command tree whose implementation is not part of this build yet. They accept
// FLARE 2.7.2's flags (so `--help` documents them) and exit kExitNotAvailable with a message.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"

namespace nvf::app {
namespace {

struct PendingOptions {
  std::vector<std::string> words;
  std::string text;
  int number = 0;
  bool flag = false;
};

void not_available(AppContext& ctx, const std::string& command) {
  std::cerr << "nvflare " << command << " is not available in this build yet.\n"
            << "Available now: nvflare simulator, nvflare train, nvflare provision, nvflare poc, nvflare "
               "server, nvflare client, nvflare admin, nvflare authz_preview, nvflare job, nvflare "
               "config, nvflare timeouts, nvflare preflight_check.\n";
  ctx.exit_code = kExitNotAvailable;
}

// The options struct is shared by every pending command and kept alive by their callbacks.
CLI::App* pending(CLI::App& parent, AppContext& ctx, const std::string& name, const std::string& desc,
                  const std::string& full_name, std::shared_ptr<PendingOptions> keep) {
  CLI::App* sub = parent.add_subcommand(name, desc + " [not in this build yet]");
  sub->callback([&ctx, full_name, keep] { not_available(ctx, full_name); });
  return sub;
}

}  // namespace

void register_pending_commands(CLI::App& app, AppContext& ctx) {
  auto o = std::make_shared<PendingOptions>();

  CLI::App* relay = pending(app, ctx, "relay", "the long-running relay process of a startup kit", "relay", o);
  relay->allow_extras();
}

}  // namespace nvf::app
