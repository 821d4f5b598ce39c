// nvflare-train: the built-in LibTorch trainer behind `nvflare train` (a Client API program).
// Each train task it evaluates the received global model on its validation split (FLARE's
// "accuracy"), trains locally and sends the new weights with NUM_STEPS_CURRENT_ROUND; with
// --algorithm scaffold each step is corrected and Δc is sent (nvflare/scaffold.h); --fedprox-mu
// adds FedProx's term. A validate task answers accuracy and loss of the received model; a
// submit_model task sends the weights of the last train task.
// Also `--export-initial FILE`: writes a model's initial weights as safetensors (servers never
// load LibTorch, so they ask this program for a TorchScript model's weights).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <limits>

#include "base/heap.h"
#include "nvflare/client.h"
#include "nvflare/scaffold.h"
#include "tensor/safetensors.h"
#include "trainer/local_trainer.h"
#include "base/strings.h"

namespace {

int site_number(const std::string& site) {
  auto dash = site.rfind('-');
  if (dash == std::string::npos) return 0;
  return static_cast<int>(nvf::base::parse_int(site.substr(dash + 1), 0, 1000000).value_or(0));
}

int fail(const nvf::Status& s) {
  std::cerr << "nvflare train: " << s.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  nvf::base::configure_process_heap();
  nvf::trainer::TrainOptions o;
  std::string export_path;
  CLI::App app{"nvflare train: the built-in LibTorch trainer (run by a job's launcher)", "nvflare train"};
  app.add_option("--model", o.model, "simple_network, mlp, or a TorchScript file");
  app.add_option("--data", o.data, "synthetic, a CIFAR-10 binary dir, tensors:X,Y or a CSV file");
  app.add_option("--epochs", o.epochs, "local epochs per round");
  app.add_option("--batch-size,--batch_size", o.batch_size, "batch size");
  app.add_option("--lr", o.lr, "learning rate");
  app.add_option("--momentum", o.momentum, "SGD momentum");
  app.add_option("--optimizer", o.optimizer, "sgd or adam");
  app.add_option("--fedprox-mu,--fedprox_mu", o.fedprox_mu, "FedProx proximal term weight");
  app.add_option("--val-fraction,--val_fraction", o.val_fraction, "share of the data kept for validation");
  app.add_option("--seed", o.seed, "seed of the data and the shuffles");
  app.add_option("--max-samples,--max_samples", o.max_samples, "use at most this many samples (0: all)");
  app.add_option("--threads", o.threads, "LibTorch threads");
  app.add_option("--site-index,--site_index", o.site_index, "site number for synthetic data (default: from the site name)");
  app.add_option("--export-initial", export_path, "write the model's initial weights to this safetensors file");
  std::string algorithm = "fedavg";
  app.add_option("--algorithm", algorithm, "fedavg (also FedProx with --fedprox-mu) or scaffold")
      ->check(CLI::IsMember({"fedavg", "scaffold"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (!export_path.empty()) {
    auto params = nvf::trainer::export_initial_params(o.model, o.seed);
    if (!params.ok()) return fail(params.status());
    nvf::Status s = nvf::tensor::write_safetensors(export_path, *params, {});
    return s.ok() ? 0 : fail(s);
  }

  if (auto s = nvflare::init(); !s.ok()) return fail(s);
  if (o.site_index == 0) o.site_index = site_number(nvflare::site_name());
  auto trainer = nvf::trainer::LocalTrainer::create(o);
  if (!trainer.ok()) return fail(trainer.status());
  nvflare::Scaffold scaffold;
  nvf::tensor::TensorDict local;  // the weights of the last train task (submit_model sends them)
  while (nvflare::is_running()) {
    auto task = nvflare::receive();
    if (!task.ok()) return fail(task.status());
    if (!*task) break;
    nvflare::FLModel& global = **task;
    if (nvflare::is_evaluate()) {
      auto m = (*trainer)->evaluate(global.params);
      if (!m.ok()) return fail(m.status());
      nvflare::FLModel out;
      out.metrics["accuracy"] = m->accuracy;
      out.metrics["loss"] = m->loss;
      std::printf("%s: validate %s: accuracy %.4f\n", nvflare::site_name().c_str(),
                  (global.meta.contains("_model_owner_") && global.meta["_model_owner_"].is_string()
                       ? global.meta["_model_owner_"].get<std::string>()
                       : std::string("model"))
                      .c_str(),
                  m->accuracy);
      std::fflush(stdout);
      if (auto s = nvflare::send(out); !s.ok()) return fail(s);
      continue;
    }
    if (nvflare::is_submit_model()) {
      nvflare::FLModel out;
      out.params_type = nvflare::ParamsType::kFull;
      if (local.empty()) {
        auto init = (*trainer)->initial_params();
        if (!init.ok()) return fail(init.status());
        local = std::move(init).value();
      }
      for (const auto& [k, t] : local) {
        if (auto s = out.params.insert(k, t.share()); !s.ok()) return fail(s);
      }
      if (auto s = nvflare::send(out); !s.ok()) return fail(s);
      continue;
    }
    if (algorithm == "scaffold") {
      if (auto s = scaffold.begin_round(global); !s.ok()) return fail(s);
      if (auto s = (*trainer)->set_step_correction(scaffold.correction()); !s.ok()) return fail(s);
    }
    auto result = (*trainer)->train(global.params);
    if (!result.ok()) return fail(result.status());
    nvflare::FLModel out;
    out.params = std::move(result->params);
    out.params_type = nvflare::ParamsType::kFull;
    out.current_round = global.current_round;
    if (algorithm == "scaffold") {
      if (auto s = scaffold.end_round(out.params, result->steps, o.lr, out); !s.ok()) return fail(s);
    }
    local = nvf::tensor::TensorDict();
    for (const auto& [k, t] : out.params) {
      if (k.rfind(std::string(nvf::fl::kScaffoldCDiffPrefix), 0) == 0) continue;
      if (auto s = local.insert(k, t.share()); !s.ok()) return fail(s);
    }
    out.metrics["accuracy"] = result->eval_before.accuracy;
    out.metrics["loss"] = result->eval_before.loss;
    out.metrics["train_loss"] = result->train.loss;
    out.meta["NUM_STEPS_CURRENT_ROUND"] = result->steps;
    std::printf("%s: round %d: accuracy of the global model %.4f, train loss %.4f, %lld steps\n",
                nvflare::site_name().c_str(), global.current_round + 1, result->eval_before.accuracy,
                result->train.loss, static_cast<long long>(result->steps));
    std::fflush(stdout);
    if (auto s = nvflare::send(out); !s.ok()) return fail(s);
  }
  nvflare::shutdown();
  return 0;
}
