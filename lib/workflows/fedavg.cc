#include "workflows/fedavg.h"

#include <cstdio>
#include <mutex>
#include <set>
#include <sstream>

#include "base/heap.h"
#include "base/strings.h"

namespace nvf::workflows {

bool StopCondition::met(double v) const {
  if (op == ">=") return v >= target;
  if (op == "<=") return v <= target;
  if (op == ">") return v > target;
  if (op == "<") return v < target;
  return v == target;
}

bool StopCondition::better(double current, double best) const {
  if (op == ">=" || op == ">") return current > best;
  if (op == "<=" || op == "<") return current < best;
  return current == target && best != target;
}

Result<StopCondition> parse_stop_condition(const std::string& text) {
  std::istringstream in(text);
  StopCondition c;
  std::string number;
  if (!(in >> c.key >> c.op >> number) || (c.op != ">=" && c.op != "<=" && c.op != ">" && c.op != "<" && c.op != "=")) {
    return InvalidArgumentError("stop_cond '" + text + "' must read '<metric> <op> <number>' with op one of >= <= > < =");
  }
  char* end = nullptr;
  c.target = std::strtod(number.c_str(), &end);
  if (!end || *end) return InvalidArgumentError("stop_cond '" + text + "': '" + number + "' is not a number");
  return c;
}

namespace {

// Collects one round's results into the aggregator as they stream in.
class RoundSink : public fl::ResultSink {
 public:
  RoundSink(fl::Aggregator& agg, fl::IntimeModelSelector* selector) : agg_(agg), selector_(selector) {}

  Status on_begin(const std::string& client, const fl::FLModel& header) override {
    return agg_.accept_begin(client, header);
  }
  Status on_tensor(const std::string& client, const std::string& name, const tensor::Tensor& t) override {
    return agg_.accept_tensor(client, name, t);
  }
  void on_result(const std::string& client, const Status& status, const fl::FLModel& model) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) {
      Status s = agg_.accept_end(client);
      if (s.ok()) {
        if (selector_) selector_->add_result(client, model);
        return;
      }
      errors_[client] = s.message();
    } else {
      errors_[client] = status.message();
    }
    agg_.abandon(client);
  }
  std::map<std::string, std::string> errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

 private:
  fl::Aggregator& agg_;
  fl::IntimeModelSelector* selector_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> errors_;
};

std::string format_metrics(const std::map<std::string, double>& m) {
  std::string out;
  for (const auto& [k, v] : m) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.4g", v);
    out += (out.empty() ? "" : ", ") + k + " " + buf;
  }
  return out;
}

}  // namespace

FedAvg::FedAvg(FedAvgOptions options, fl::ModelPersistor* persistor, fl::IntimeModelSelector* selector,
               fl::Aggregator* aggregator, fl::ModelUpdater* updater)
    : opt_(std::move(options)), persistor_(persistor), selector_(selector), aggregator_(aggregator), updater_(updater) {}

void FedAvg::adopt_updater(std::unique_ptr<fl::ModelUpdater> updater) {
  own_updater_ = std::move(updater);
  updater_ = own_updater_.get();
}

Status FedAvg::run(fl::ControllerContext& ctx) {
  if (!persistor_) return FailedPreconditionError("FedAvg has no persistor: set persistor_id");
  if (!opt_.stop_cond.empty()) {
    NVF_ASSIGN_OR_RETURN(StopCondition c, parse_stop_condition(opt_.stop_cond));
    stop_ = c;
  }
  int clients = static_cast<int>(ctx.clients().size());
  if (clients < opt_.min_clients) {
    return FailedPreconditionError("FedAvg needs min_clients " + std::to_string(opt_.min_clients) + " but the job has " +
                                   std::to_string(clients) + " client(s)");
  }
  if (!aggregator_) {
    NVF_ASSIGN_OR_RETURN(own_aggregator_, fl::WeightedAggregator::create(opt_.aggregation, ctx.logger()));
    aggregator_ = own_aggregator_.get();
  }
  set_progress("init", opt_.start_round);
  NVF_ASSIGN_OR_RETURN(fl::FLModel global, persistor_->load());
  global.start_round = opt_.start_round;
  global.total_rounds = opt_.num_rounds;
  if (updater_) NVF_RETURN_IF_ERROR(updater_->start(global, opt_.num_rounds));
  ctx.logger()->info("FedAvg: {} rounds, {} clients (min {})", opt_.num_rounds, clients, opt_.min_clients);
  Status result;
  for (int r = opt_.start_round; r < opt_.start_round + opt_.num_rounds; ++r) {
    set_progress("train", r);
    bool stop = false;
    result = run_round(ctx, global, r, &stop);
    if (!result.ok() || stop) break;
    if (opt_.memory_gc_rounds > 0 && (r + 1) % opt_.memory_gc_rounds == 0) base::trim_heap();
  }
  if (Status flushed = persistor_->flush(); result.ok()) result = flushed;
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    phase_ = "finished";
  }
  return result;
}

void FedAvg::set_progress(const char* phase, int round) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  phase_ = phase;
  current_round_ = round;
}

config::Value FedAvg::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return config::Value{{"phase", phase_}, {"current_round", current_round_}, {"num_rounds", opt_.num_rounds}};
}

Status FedAvg::run_round(fl::ControllerContext& ctx, fl::FLModel& global, int round, bool* stop) {
  fl::Aggregator* agg = aggregator_;
  agg->reset(round);
  agg->expect_shapes_of(global.params);  // a malformed result is rejected whenever it arrives
  if (selector_) selector_->round_started(round);
  fl::TaskSpec task;
  task.name = opt_.task_name;
  task.wait_time_after_min_received = opt_.wait_time_after_min_received;
  task.min_responses = opt_.wait_time_after_min_received.count() > 0 ? opt_.min_clients : 0;
  task.timeout = opt_.timeout;
  global.current_round = round;
  task.data.params_type = fl::ParamsType::kFull;
  task.data.current_round = round;
  task.data.start_round = opt_.start_round;
  task.data.total_rounds = opt_.num_rounds;
  task.data.meta = global.meta;
  task.data.meta[std::string(fl::kMetaCurrentRound)] = round;
  for (const auto& [k, t] : global.params) NVF_RETURN_IF_ERROR(task.data.params.insert(k, t.share()));
  if (updater_) NVF_RETURN_IF_ERROR(updater_->prepare_task(task.data, round));
  RoundSink sink(*agg, selector_);
  NVF_ASSIGN_OR_RETURN(fl::TaskOutcome outcome, ctx.broadcast_and_wait(task, sink));
  std::vector<std::string> ok = agg->contributors();
  int human_round = round - opt_.start_round + 1;
  if (static_cast<int>(ok.size()) < opt_.min_clients) {
    std::string missing;
    auto errors = sink.errors();
    for (const auto& c : ctx.clients()) {
      if (std::find(ok.begin(), ok.end(), c) != ok.end()) continue;
      auto e = errors.find(c);
      missing += (missing.empty() ? "" : "; ") + c + (e != errors.end() ? " (" + e->second + ")" : " (no result)");
    }
    return AbortedError("round " + std::to_string(human_round) + "/" + std::to_string(opt_.num_rounds) + ": only " +
                        std::to_string(ok.size()) + " of " + std::to_string(ctx.clients().size()) +
                        " clients returned a usable result, below min_clients " + std::to_string(opt_.min_clients) +
                        "; missing: " + missing);
  }
  NVF_ASSIGN_OR_RETURN(fl::FLModel aggregated, agg->aggregate());
  // The last round's save, written while this round ran, must end before the global model changes.
  NVF_RETURN_IF_ERROR(persistor_->flush());
  std::map<std::string, double> metrics = aggregated.metrics;
  bool best = selector_ && selector_->before_aggregation();
  // FLARE's selector keeps the model the clients just evaluated (this round's global model).
  if (best) NVF_RETURN_IF_ERROR(persistor_->save_best(global));
  // The model being replaced: its memory can hold the next round's accumulators (the aggregator
  // takes a tensor only when nothing else holds it, e.g. when a DIFF update kept it as the global).
  tensor::TensorDict previous, applied;  // a FULL round frees the former, a DIFF round the latter
  for (const auto& [k, t] : global.params) NVF_RETURN_IF_ERROR(previous.insert(k, t.alias()));
  for (const auto& [k, t] : aggregated.params) NVF_RETURN_IF_ERROR(applied.insert(k, t.alias()));
  NVF_RETURN_IF_ERROR(updater_ ? updater_->update(global, std::move(aggregated), round)
                               : fl::apply_update(global, std::move(aggregated)));
  global.metrics = metrics;
  bool save = true;
  if (stop_) {
    auto it = metrics.find(stop_->key);
    bool better = it != metrics.end() && (!best_ || stop_->better(it->second, *best_));
    if (better) {
      best_ = it->second;
      rounds_without_improvement_ = 0;
    } else {
      ++rounds_without_improvement_;
    }
    save = better;
    if (it != metrics.end() && stop_->met(it->second)) *stop = true;
    if (opt_.patience > 0 && rounds_without_improvement_ >= opt_.patience) *stop = true;
  }
  if (save) {
    // Written while the next round runs; the last round waits for it.
    NVF_RETURN_IF_ERROR(persistor_->save_in_background(global, false));
    if (*stop || round + 1 >= opt_.start_round + opt_.num_rounds) NVF_RETURN_IF_ERROR(persistor_->flush());
  }
  agg->recycle(std::move(previous));
  agg->recycle(std::move(applied));
  std::string line = "round " + std::to_string(human_round) + "/" + std::to_string(opt_.num_rounds) + ": " +
                     std::to_string(ok.size()) + "/" + std::to_string(ctx.clients().size()) + " clients";
  if (!metrics.empty()) line += ", " + format_metrics(metrics);
  if (!outcome.failed.empty() || !outcome.missing.empty()) {
    std::vector<std::string> gone(outcome.failed);
    gone.insert(gone.end(), outcome.missing.begin(), outcome.missing.end());
    line += " (without " + base::join(gone, ", ") + ")";
  }
  ctx.report_progress(line);
  if (*stop) ctx.report_progress("stopping early: " + opt_.stop_cond);
  return Status::OK();
}

}  // namespace nvf::workflows
