#include "runtime/server_job.h"

#include <algorithm>

#include "base/strings.h"
#include "cellnet/fqcn.h"
#include "runtime/protocol.h"

namespace nvf::runtime {

using Clock = std::chrono::steady_clock;
using cellnet::Message;

namespace {

std::string client_of(const Message& m) {
  // The sender's site is the root of its cell name ("site-1.job" → "site-1"); trusted over any header.
  return cellnet::fqcn::root(m.headers.get_or(cellnet::hdr::kOrigin, ""));
}

Message control_reply(std::string_view task_name) {
  Message m;
  m.headers.set(kHdrTaskName, std::string(task_name));
  return m;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}

}  // namespace

ServerJobEngine::ServerJobEngine(cellnet::Cell& cell, ServerJobOptions options)
    : cell_(cell),
      opt_(std::move(options)),
      log_(opt_.logger ? opt_.logger : base::null_logger()),
      downloads_(cell),
      pullers_("sj-pull", opt_.download_threads) {}

ServerJobEngine::~ServerJobEngine() { stop(); }

Status ServerJobEngine::start() {
  started_at_ = Clock::now();
  NVF_RETURN_IF_ERROR(downloads_.start());
  pullers_.start();
  cell_.register_async_request_handler(
      std::string(kChannelServerCommand), std::string(kTopicGetTask),
      gate_.wrap([this](const Message& m, cellnet::Responder r) { handle_get_task(m, std::move(r)); }));
  cell_.register_async_request_handler(
      std::string(kChannelServerCommand), std::string(kTopicSubmitUpdate),
      gate_.wrap([this](const Message& m, cellnet::Responder r) { handle_submit(m, std::move(r)); }));
  cell_.register_message_handler(std::string(kChannelAux), std::string(kTopicJobHeartbeat),
                                 gate_.wrap([this](const Message& m) {
                                   std::lock_guard<std::mutex> lock(mu_);
                                   touch_locked(client_of(m));
                                 }));
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;  // clients are "seen" only once they talk to us (see dead_locked)
  }
  monitor_ = std::thread([this] { run_monitor(); });
  return Status::OK();
}

void ServerJobEngine::client_left(const std::string& client) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (std::find(opt_.clients.begin(), opt_.clients.end(), client) == opt_.clients.end()) return;
    if (!left_.insert(client).second) return;
    auto it = tasks_.find(active_task_);
    if (it != tasks_.end() && !it->second->done && it->second->targets.count(client) &&
        !it->second->ok.count(client) && !it->second->failed.count(client)) {
      log_->warn("client {} left: task {} no longer waits for it, and later tasks go without it", client,
                 it->second->name);
      it->second->gone.insert(client);
      check_done_locked(*it->second, Clock::now());
    } else {
      // Nothing waits for it now (e.g. its client job ended with the run): later tasks go without it.
      log_->info("client {} left: later tasks go without it", client);
    }
  }
  cv_.notify_all();
}

void ServerJobEngine::stop() {
  gate_.close();  // waits for handlers running now
  std::vector<Parked> parked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    parked.swap(parked_);
  }
  cv_.notify_all();
  for (auto& p : parked) p.respond(control_reply(kTaskEndRun));
  if (monitor_.joinable()) monitor_.join();
  pullers_.stop(false);
  downloads_.stop();
}

void ServerJobEngine::abort(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (abort_reason_.empty()) abort_reason_ = reason.empty() ? "aborted" : reason;
  }
  cv_.notify_all();
}

bool ServerJobEngine::abort_requested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !abort_reason_.empty() || stopping_;
}

void ServerJobEngine::report_progress(const std::string& line) {
  log_->info("{}", line);
  if (opt_.progress) opt_.progress(line);
}

void ServerJobEngine::touch_locked(const std::string& client) { last_seen_[client] = Clock::now(); }

bool ServerJobEngine::dead_locked(const std::string& client, Clock::time_point now) const {
  auto it = last_seen_.find(client);
  if (it == last_seen_.end()) return now - started_at_ > opt_.startup_grace;  // never seen: still starting?
  return now - it->second > opt_.dead_client_grace_period;
}

Status ServerJobEngine::run(const std::vector<fl::Controller*>& workflows) {
  Status result;
  for (size_t i = 0; i < workflows.size(); ++i) {
    current_workflow_ = static_cast<int>(i);
    result = workflows[i]->run(*this);
    if (!result.ok()) break;
  }
  current_workflow_ = -1;
  std::vector<Parked> parked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    parked.swap(parked_);
    for (const auto& p : parked) told_end_run_.insert(p.client);
  }
  for (auto& p : parked) p.respond(control_reply(kTaskEndRun));
  // Give every client a chance to hear __end_run__ before the job goes away.
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, opt_.end_run_wait, [&] {
    if (stopping_) return true;
    auto now = Clock::now();
    for (const auto& c : opt_.clients) {
      if (!told_end_run_.count(c) && !dead_locked(c, now)) return false;
    }
    return true;
  });
  return result;
}

Message ServerJobEngine::task_message_locked(const ActiveTask& task) const {
  Message m;
  m.payload.append(task.payload);
  m.headers.set(kHdrTaskName, task.name);
  m.headers.set(kHdrTaskId, task.id);
  return m;
}

void ServerJobEngine::handle_get_task(const Message& request, cellnet::Responder respond) {
  std::string client = client_of(request);
  Message reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    touch_locked(client);
    if (ended_ || stopping_) {
      told_end_run_.insert(client);
      cv_.notify_all();  // run() waits for every client to hear this
      reply = control_reply(kTaskEndRun);
    } else if (std::find(opt_.clients.begin(), opt_.clients.end(), client) == opt_.clients.end()) {
      reply = control_reply(kTaskEndRun);
      log_->warn("get_task from {}, which is not a client of job {}", client, opt_.job_id);
    } else {
      auto it = tasks_.find(active_task_);
      if (it != tasks_.end() && !it->second->done && it->second->targets.count(client) &&
          !it->second->sent.count(client)) {
        it->second->sent.insert(client);
        reply = task_message_locked(*it->second);
      } else {
        parked_.push_back(Parked{client, std::move(respond), Clock::now() + opt_.get_task_wait});
        cv_.notify_all();
        return;
      }
    }
  }
  respond(std::move(reply));
}

void ServerJobEngine::serve_parked_locked(std::vector<std::pair<cellnet::Responder, Message>>& out) {
  auto it = tasks_.find(active_task_);
  if (it == tasks_.end() || it->second->done) return;
  ActiveTask& task = *it->second;
  for (auto p = parked_.begin(); p != parked_.end();) {
    if (task.targets.count(p->client) && !task.sent.count(p->client)) {
      task.sent.insert(p->client);
      out.emplace_back(std::move(p->respond), task_message_locked(task));
      p = parked_.erase(p);
    } else {
      ++p;
    }
  }
}

void ServerJobEngine::handle_submit(const Message& request, cellnet::Responder respond) {
  std::string client = client_of(request);
  std::string task_id = request.headers.get_or(kHdrTaskId, "");
  {
    std::lock_guard<std::mutex> lock(mu_);
    touch_locked(client);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second->done) {
      log_->warn("late or unknown result from {} for task {}: dropped", client, task_id);
      respond(FailedPreconditionError("task " + task_id + " is not running any more (late result dropped)"));
      return;
    }
    ActiveTask& task = *it->second;
    if (!task.targets.count(client) || task.ok.count(client) || task.failed.count(client)) {
      respond(AlreadyExistsError("result from " + client + " for task " + task_id + " was already received"));
      return;
    }
  }
  // Pull the params off the handler thread: a download may take a while.
  pullers_.post([this, client, task_id, request, respond = std::move(respond)]() mutable {
    receive_result(client, task_id, std::move(request), std::move(respond));
  });
}

void ServerJobEngine::receive_result(std::string client, std::string task_id, Message request,
                                     cellnet::Responder respond) {
  fl::ResultSink* sink = nullptr;
  std::string task_name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second->done) {
      respond(FailedPreconditionError("task " + task_id + " ended while its result was arriving"));
      return;
    }
    sink = it->second->sink;
    task_name = it->second->name;
  }
  const bool filtered =
      opt_.filters && opt_.filters->has(fl::FilterKind::kTaskResult, task_name, fl::FilterDirection::kIn);
  Status status;
  fl::FLModel header;
  std::string rc = request.headers.get_or(kHdrResultCode, "ok");
  if (rc != "ok") {
    status = AbortedError(client + " failed the task: " + request.headers.get_or(kHdrResultError, rc));
  } else {
    auto decoded = decode_model_message(request, "result from " + client);
    if (!decoded.ok()) {
      status = decoded.status();
    } else if (filtered) {
      status = pull_filtered(client, task_name, std::move(decoded->model), decoded->params, *sink, header);
    } else {
      header = std::move(decoded->model);
      status = sink->on_begin(client, header);
      if (status.ok() && decoded->params) {
        TensorStreamConsumer consumer([&](const std::string& name, tensor::Tensor t) {
          return sink->on_tensor(client, name, t);
        });
        status = cellnet::download(cell_, *decoded->params, opt_.download, consumer);
        if (!status.ok()) status = status.with_context("pulling the result of " + client);
      }
    }
  }
  if (!status.ok()) log_->warn("result of {} rejected: {}", client, status.message());
  sink->on_result(client, status, header);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(task_id);
    if (it != tasks_.end()) answer_locked(*it->second, client, status.ok());
  }
  cv_.notify_all();
  respond(status.ok() ? Result<Message>(Message{}) : Result<Message>(status));
}

Status ServerJobEngine::pull_filtered(const std::string& client, const std::string& task_name, fl::FLModel model,
                                      const std::optional<cellnet::Manifest>& params, fl::ResultSink& sink,
                                      fl::FLModel& header) {
  header.params_type = model.params_type;  // what on_result reports if the pull fails
  header.meta = model.meta;
  header.metrics = model.metrics;
  header.current_round = model.current_round;
  header.start_round = model.start_round;
  header.total_rounds = model.total_rounds;
  if (params) {
    TensorStreamConsumer consumer([&](const std::string& name, tensor::Tensor t) {
      return model.params.insert(name, std::move(t));
    });
    NVF_RETURN_IF_ERROR(cellnet::download(cell_, *params, opt_.download, consumer)
                            .with_context("pulling the result of " + client));
  }
  fl::FilterContext ctx{task_name, "server", client, fl::FilterKind::kTaskResult, fl::FilterDirection::kIn, log_};
  NVF_RETURN_IF_ERROR(opt_.filters->apply(model, ctx).with_context("task_result_filters on the result of " + client));
  tensor::TensorDict tensors = std::move(model.params);
  model.params = tensor::TensorDict();
  header = std::move(model);
  NVF_RETURN_IF_ERROR(sink.on_begin(client, header));
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto& [name, t] = tensors[i];
    NVF_RETURN_IF_ERROR(sink.on_tensor(client, name, t));
    t = tensor::Tensor();  // each tensor goes as soon as the sink has it
  }
  return Status::OK();
}

void ServerJobEngine::answer_locked(ActiveTask& task, const std::string& client, bool ok) {
  (ok ? task.ok : task.failed).insert(client);
  check_done_locked(task, Clock::now());
}

void ServerJobEngine::check_done_locked(ActiveTask& task, Clock::time_point now) {
  if (task.done) return;
  size_t answered = task.ok.size() + task.failed.size() + task.gone.size();
  if (answered >= task.targets.size()) {
    task.done = true;
    return;
  }
  if (task.min_responses > 0 && static_cast<int>(task.ok.size()) >= task.min_responses) {
    if (!task.min_was_reached) {
      task.min_was_reached = true;
      task.min_reached = now;
    }
    if (now - task.min_reached >= task.wait_after_min) {
      task.done = true;
      return;
    }
  }
  if (task.has_deadline && now >= task.deadline) {
    task.done = true;
    return;
  }
  if (now - task.created >= opt_.dead_client_check_lead_time) {
    bool all_dead = true;
    std::vector<std::string> dead;
    for (const auto& c : task.targets) {
      if (task.ok.count(c) || task.failed.count(c) || task.gone.count(c)) continue;
      if (!dead_locked(c, now)) all_dead = false;
      dead.push_back(c);
    }
    if (all_dead) {
      task.done = true;
      log_->warn("task {}: the clients it still waits for are declared dead: {} (no activity for {} ms since they "
                 "were last seen, or {} ms from the start when never seen)",
                 task.name, base::join(dead, ", "), opt_.dead_client_grace_period.count(), opt_.startup_grace.count());
    }
  }
}

Result<fl::TaskOutcome> ServerJobEngine::broadcast_and_wait(const fl::TaskSpec& spec, fl::ResultSink& sink) {
  auto task = std::make_unique<ActiveTask>();
  std::vector<std::string> targets = spec.targets.empty() ? opt_.clients : spec.targets;
  task->targets.insert(targets.begin(), targets.end());
  task->name = spec.name;
  task->min_responses = spec.min_responses;
  task->wait_after_min = spec.wait_time_after_min_received;
  task->created = Clock::now();
  if (spec.timeout.count() > 0) {
    task->has_deadline = true;
    task->deadline = task->created + spec.timeout;
  }
  task->sink = &sink;
  // One download transaction serves every target; views share the global model's memory.
  fl::FLModel data;
  data.params_type = spec.data.params_type;
  data.metrics = spec.data.metrics;
  data.meta = spec.data.meta;
  data.current_round = spec.data.current_round;
  data.start_round = spec.data.start_round;
  data.total_rounds = spec.data.total_rounds;
  for (const auto& [name, t] : spec.data.params) NVF_RETURN_IF_ERROR(data.params.insert(name, t.share()));
  if (opt_.filters) {
    // Filters replace the tensors they change: the global model behind the views stays as it is.
    fl::FilterContext ctx{spec.name, "server", "", fl::FilterKind::kTaskData, fl::FilterDirection::kOut, log_};
    NVF_RETURN_IF_ERROR(opt_.filters->apply(data, ctx).with_context("task_data_filters of task " + spec.name));
  }
  tensor::TensorDict views = std::move(data.params);
  std::optional<cellnet::Manifest> manifest;
  std::string tx_id;
  if (views.size() > 0) {
    cellnet::TransactionOptions tx;
    tx.num_receivers = targets.size();
    tx.idle_timeout = opt_.download_idle_timeout;
    NVF_ASSIGN_OR_RETURN(manifest, publish_params(downloads_, std::move(views), std::move(tx), &tx_id));
  }
  data.params = tensor::TensorDict();
  Message encoded = encode_model_message(data, manifest);
  task->payload = encoded.payload.flatten();

  std::vector<std::pair<cellnet::Responder, Message>> serve;
  ActiveTask* raw = task.get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    task->id = opt_.job_id + "-" + spec.name + "-" + std::to_string(++task_counter_);
    active_task_ = task->id;
    for (const auto& c : left_) {
      if (task->targets.count(c)) task->gone.insert(c);  // it quit: no result will come
    }
    check_done_locked(*task, Clock::now());
    tasks_[task->id] = std::move(task);
    serve_parked_locked(serve);
  }
  cv_.notify_all();
  for (auto& [respond, m] : serve) respond(std::move(m));

  fl::TaskOutcome outcome;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return raw->done || !abort_reason_.empty() || stopping_; });
    raw->done = true;
    outcome.responded.assign(raw->ok.begin(), raw->ok.end());
    outcome.failed.assign(raw->failed.begin(), raw->failed.end());
    for (const auto& c : raw->targets) {
      if (!raw->ok.count(c) && !raw->failed.count(c)) outcome.missing.push_back(c);
    }
    outcome.aborted = !abort_reason_.empty() || stopping_;
    active_task_.clear();
  }
  // Targets that never pulled have missed the task: release the task's model now rather than
  // after the idle timeout (the global model of every round would pile up otherwise).
  if (!tx_id.empty()) downloads_.delete_transaction(tx_id).ignore();
  if (!outcome.missing.empty()) {
    log_->warn("task {}: no result from {}", spec.name,
               join(std::set<std::string>(outcome.missing.begin(), outcome.missing.end())));
  }
  if (outcome.aborted) {
    std::lock_guard<std::mutex> lock(mu_);
    return CancelledError(abort_reason_.empty() ? "job stopped" : abort_reason_);
  }
  return outcome;
}

void ServerJobEngine::run_monitor() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto now = Clock::now();
    auto wake = now + std::chrono::milliseconds(500);
    std::vector<cellnet::Responder> expired;
    for (auto p = parked_.begin(); p != parked_.end();) {
      if (p->deadline <= now) {
        expired.push_back(std::move(p->respond));
        p = parked_.erase(p);
      } else {
        wake = std::min(wake, p->deadline);
        ++p;
      }
    }
    auto it = tasks_.find(active_task_);
    if (it != tasks_.end() && !it->second->done) {
      check_done_locked(*it->second, now);
      if (it->second->done) cv_.notify_all();
    }
    lock.unlock();
    for (auto& r : expired) {
      Message m = control_reply(kTaskTryAgain);
      m.headers.set(kHdrWaitTime, "0");
      r(std::move(m));
    }
    lock.lock();
    cv_.wait_until(lock, wake);
  }
}

}  // namespace nvf::runtime
