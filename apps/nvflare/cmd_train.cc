// nvflare train [--add DELTA | --model lr | trainer options]: the built-in trainers (Client API
// programs). --add and --model lr run here without LibTorch; everything else runs the LibTorch trainer `nvflare-train`
// installed beside this binary (DESIGN §4.3: only training processes load LibTorch).
#include <cstdlib>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <optional>
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

// The value after `--name` or in `--name=value` among `args`, or nullopt.
std::optional<std::string> flag_value(const std::vector<std::string>& args, const std::string& name) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind(name + "=", 0) == 0) return args[i].substr(name.size() + 1);
  }
  return std::nullopt;
}

Result<double> number_flag(const std::vector<std::string>& args, const std::string& name, double fallback) {
  auto v = flag_value(args, name);
  if (!v) return fallback;
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  if (v->empty() || !end || *end || !std::isfinite(d)) {
    return InvalidArgumentError(name + " '" + *v + "' is not a number");
  }
  return d;
}

Status run_lr(const std::vector<std::string>& args) {
  tools::LrTrainerOptions o;
  o.data = flag_value(args, "--data").value_or("synthetic");
  NVF_ASSIGN_OR_RETURN(double nf, number_flag(args, "--num-features", 13));
  NVF_ASSIGN_OR_RETURN(double seed, number_flag(args, "--seed", 0));
  NVF_ASSIGN_OR_RETURN(double site, number_flag(args, "--site-index", 0));
  if (!(nf >= 1 && nf <= 4096)) return InvalidArgumentError("--num-features must be between 1 and 4096");
  if (!(seed >= 0 && seed <= 9007199254740992.0) || !(site >= 0 && site <= 1000000)) {
    return InvalidArgumentError("--seed must be between 0 and 2^53 and --site-index between 0 and 1000000");
  }
  o.num_features = static_cast<int>(nf);
  o.seed = static_cast<uint64_t>(seed);
  o.site_index = static_cast<int>(site);
  return tools::run_lr_trainer(o);
}

}  // namespace

void register_train_command(CLI::App& app, AppContext& ctx) {
  auto c = std::make_shared<TrainCli>();
  CLI::App* train = app.add_subcommand(
      "train",
      "the built-in trainer: --add DELTA [--algorithm scaffold --lr LR] and --model lr (no LibTorch), or LibTorch "
      "training (see nvflare-train --help)");
  train->add_option("--add", c->add, "add DELTA to every received weight (numpy-style jobs, benchmarks)");
  train->allow_extras();
  train->callback([c, train, &ctx] {
    const std::vector<std::string> rest = train->remaining();
    // The built-in trainers keep no view of a train task's model beyond the round: each round's
    // model lands in the last one's memory (ClientConfig::reuse_model_memory), unless the
    // environment says otherwise.
    ::setenv("NVFLARE_REUSE_MODEL_MEMORY", "1", 0);
    if (train->count("--add") > 0) {
      tools::AddTrainerOptions o;
      o.delta = c->add;
      o.algorithm = flag_value(rest, "--algorithm").value_or("fedavg");
      auto lr = number_flag(rest, "--lr", 1.0);
      if (!lr.ok()) {
        ctx.exit_code = report(lr.status());
        return;
      }
      o.lr = *lr;
      ctx.exit_code = report(tools::run_add_trainer(o));
      return;
    }
    if (flag_value(rest, "--model") == std::optional<std::string>("lr")) {
      ctx.exit_code = report(run_lr(rest));
      return;
    }
    ctx.exit_code = exec_torch_trainer(rest);
  });
}

}  // namespace nvf::app
