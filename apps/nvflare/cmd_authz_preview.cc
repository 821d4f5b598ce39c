// nvflare authz_preview -p authorization.json: FLARE's interactive evaluator of an authorization
// policy. Parsing only; the previewer is tools::AuthzPreview.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "tools/authz_preview.h"
#include "tools/line_reader.h"

namespace nvf::app {

void register_authz_preview_command(CLI::App& app, AppContext& ctx) {
  auto policy = std::make_shared<std::string>();
  CLI::App* a =
      app.add_subcommand("authz_preview", "evaluate an authorization policy interactively");
  a->add_option("-p,--policy", *policy, "authz policy file (authorization.json)")->required();
  a->callback([policy, &ctx] {
    auto input = tools::make_stdin_reader({}, {"bye", "eval_right", "help", "show_config",
                                               "show_rights", "show_role_rights", "show_roles"});
    Status s = tools::run_authz_preview(*policy, *input, std::cout);
    if (!s.ok() && s.code() == StatusCode::kInvalidArgument) {
      std::cout << "Policy config error: " << s.message() << "\n";
      ctx.exit_code = kExitError;
      return;
    }
    ctx.exit_code = report(s);
  });
}

}  // namespace nvf::app
