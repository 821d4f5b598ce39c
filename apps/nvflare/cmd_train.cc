// nvflare train [--add DELTA | trainer options]: the built-in trainer (a Client API program).
// --add runs here without LibTorch; everything else runs the LibTorch trainer `nvflare-train`
// installed beside this binary (DESIGN §4.3: only training processes load LibTorch).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include "commands.h"
#include "tools/train_add.h"
#include "tools/user_config.h"

namespace nvf::app {
namespace {

struct TrainCli {
  double add = 0;
  bool has_add = false;
};

int exec_torch_trainer(const std::vector<std::string>& args) {
  auto helper = tools::find_torch_trainer(tools::self_exe());
  if (helper.empty()) {
    std::cerr << "Error: the LibTorch trainer nvflare-train is not installed beside " << tools::self_exe().string()
              << "\n(it is built with LibTorch; install nvflare with NVF_WITH_TORCH=ON, or use --add)\n";
    return kExitError;
  }
  std::vector<std::string> argv = {helper.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  ::execv(helper.c_str(), raw.data());
  std::cerr << "Error: cannot run the LibTorch trainer " << helper.string() << ": " << std::strerror(errno)
            << "\n(it is built with LibTorch; install nvflare with NVF_WITH_TORCH=ON, or use --add)\n";
  return kExitError;
}

}  // namespace

void register_train_command(CLI::App& app, AppContext& ctx) {
  auto c = std::make_shared<TrainCli>();
  CLI::App* train = app.add_subcommand(
      "train", "the built-in trainer: --add DELTA (no LibTorch), or LibTorch training (see nvflare-train --help)");
  train->add_option("--add", c->add, "add DELTA to every received weight (numpy-style jobs, benchmarks)");
  train->allow_extras();
  train->callback([c, train, &ctx] {
    if (train->count("--add") > 0) {
      ctx.exit_code = report(tools::run_add_trainer(c->add));
      return;
    }
    ctx.exit_code = exec_torch_trainer(train->remaining());
  });
}

}  // namespace nvf::app
