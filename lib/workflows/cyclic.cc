#include "workflows/cyclic.h"

#include <algorithm>

#include "base/strings.h"
#include "workflows/aggregator.h"
#include "workflows/collect_sink.h"

namespace nvf::workflows {

Cyclic::Cyclic(CyclicOptions options, fl::ModelPersistor* persistor)
    : opt_(std::move(options)),
      persistor_(persistor),
      rng_(opt_.seed ? opt_.seed : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())) {}

config::Value Cyclic::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return config::Value{{"phase", phase_}, {"current_round", current_round_}, {"num_rounds", opt_.num_rounds}};
}

std::vector<std::string> Cyclic::round_order(const std::vector<std::string>& clients, const std::string& last) {
  std::vector<std::string> order = opt_.sites.empty() ? clients : opt_.sites;
  if (opt_.order == "RANDOM" || opt_.order == "RANDOM_WITHOUT_SAME_IN_A_ROW") {
    std::shuffle(order.begin(), order.end(), rng_);
    if (opt_.order == "RANDOM_WITHOUT_SAME_IN_A_ROW" && order.size() > 1 && order.front() == last) {
      std::rotate(order.begin(), order.begin() + 1, order.end());
    }
  }
  return order;
}

Status Cyclic::run(fl::ControllerContext& ctx) {
  if (!persistor_) return FailedPreconditionError("Cyclic has no persistor: set persistor_id");
  const std::vector<std::string> clients = ctx.clients();
  if (clients.size() < 2) {
    return FailedPreconditionError("Cyclic needs at least 2 clients but the job has " + std::to_string(clients.size()));
  }
  for (const auto& s : opt_.sites) {
    if (std::find(clients.begin(), clients.end(), s) == clients.end()) {
      return FailedPreconditionError("Cyclic: order names '" + s + "', which is not a client of the job (clients: " +
                                     base::join(clients, ", ") + ")");
    }
  }
  NVF_ASSIGN_OR_RETURN(fl::FLModel global, persistor_->load());
  global.total_rounds = opt_.num_rounds;
  ctx.logger()->info("Cyclic: {} rounds over {} clients, order {}", opt_.num_rounds, clients.size(), opt_.order);
  std::string last;
  for (int r = 0; r < opt_.num_rounds; ++r) {
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      phase_ = "train";
      current_round_ = r;
    }
    const std::vector<std::string> order = round_order(clients, last);
    fl::TaskSpec task;
    task.name = opt_.task_name;
    task.assignment_timeout = opt_.task_assignment_timeout;
    task.timeout = opt_.task_timeout;
    auto fill = [&](fl::TaskSpec& t) -> Status {
      t.data = fl::FLModel();
      t.data.params_type = fl::ParamsType::kFull;
      t.data.current_round = r;
      t.data.total_rounds = opt_.num_rounds;
      t.data.meta = global.meta;
      t.data.meta[std::string(fl::kMetaCurrentRound)] = r;
      for (const auto& [k, v] : global.params) NVF_RETURN_IF_ERROR(t.data.params.insert(k, v.share()));
      return Status::OK();
    };
    NVF_RETURN_IF_ERROR(fill(task));
    fl::CollectSink sink;
    std::vector<std::string> passed, skipped;
    std::map<std::string, std::string> errors;
    auto step = [&](const std::string& site, const fl::TaskOutcome& outcome, fl::TaskSpec& next) -> Result<bool> {
      auto results = sink.take();
      auto it = results.find(site);
      if (it != results.end() && it->second.status.ok() && !outcome.responded.empty()) {
        fl::FLModel result = std::move(it->second.model);
        std::map<std::string, double> metrics = result.metrics;
        Status applied = result.params_type == fl::ParamsType::kNone
                             ? InvalidArgumentError("the result carries no weights")
                             : fl::apply_update(global, std::move(result));
        if (applied.ok()) {
          global.metrics = metrics;
          passed.push_back(site);
          last = site;
          NVF_RETURN_IF_ERROR(fill(next));
          return true;
        }
        errors[site] = applied.message();
      } else if (it != results.end() && !it->second.status.ok()) {
        errors[site] = it->second.status.message();
      } else {
        errors[site] = outcome.failed.empty() ? "no result (did not fetch the task in time, or left)" : "failed";
      }
      skipped.push_back(site);
      ctx.logger()->warn("Cyclic round {}: {} is skipped: {}", r + 1, site, errors[site]);
      NVF_RETURN_IF_ERROR(fill(next));  // the model goes on unchanged
      return true;
    };
    NVF_RETURN_IF_ERROR(ctx.relay_and_wait(task, order, sink, step).status());
    if (passed.empty()) {
      std::string why;
      for (const auto& [site, e] : errors) why += (why.empty() ? "" : "; ") + site + ": " + e;
      return AbortedError("Cyclic round " + std::to_string(r + 1) + "/" + std::to_string(opt_.num_rounds) +
                          ": no site returned a usable result (" + why + ")");
    }
    if ((r + 1) % std::max(1, opt_.persist_every_n_rounds) == 0 || r + 1 == opt_.num_rounds) {
      NVF_RETURN_IF_ERROR(persistor_->save(global, false));
    }
    std::string line = "round " + std::to_string(r + 1) + "/" + std::to_string(opt_.num_rounds) + ": " +
                       base::join(passed, " -> ");
    if (!skipped.empty()) line += " (skipped " + base::join(skipped, ", ") + ")";
    ctx.report_progress(line);
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  phase_ = "finished";
  return Status::OK();
}

}  // namespace nvf::workflows
