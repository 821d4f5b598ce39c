#include "runtime/server_job.h"

#include <algorithm>
#include <future>

#include "base/strings.h"
#include "config/value.h"
#include "cellnet/fqcn.h"
#include "protocol/protocol.h"

namespace nvf::runtime {

using namespace protocol;  // the task/result names and the model message

using Clock = std::chrono::steady_clock;
using cellnet::Message;

namespace {

std::string client_of(const Message& m) {
  // The site the edge authenticated (the server parent's listener from the sender's token, the
  // simulator's from the cells it made), never a part of the sender's cell name: a site behind a
  // relay is "R1.site-1". A frame that reached us without it is from no client.
  return m.headers.get_or(cellnet::hdr::kAuthenticated, "");
}

Status unidentified(const Message& m) {
  return UnauthenticatedError("a request from cell '" + m.headers.get_or(cellnet::hdr::kOrigin, "?") +
                              "' carries no authenticated site: it did not come through a listener that "
                              "identifies its sender");
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
  cell_.register_async_request_handler(
      std::string(kChannelAux), std::string(kTopicAuxRequest),
      gate_.wrap([this](const Message& m, cellnet::Responder r) { handle_aux(m, std::move(r)); }));
  cell_.register_async_request_handler(
      std::string(kChannelAux), std::string(kTopicLog),
      gate_.wrap([this](const Message& m, cellnet::Responder r) { handle_log(m, std::move(r)); }));
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
    bool waited = false;
    for (const auto& id : live_) {
      ActiveTask& t = *tasks_.at(id);
      if (t.done || !t.targets.count(client) || t.ok.count(client) || t.failed.count(client)) continue;
      log_->warn("client {} left: task {} no longer waits for it, and later tasks go without it", client, t.name);
      t.gone.insert(client);
      check_done_locked(t, Clock::now());
      waited = true;
    }
    // Nothing waits for it now (e.g. its client job ended with the run): later tasks go without it.
    if (!waited) log_->info("client {} left: later tasks go without it", client);
  }
  cv_.notify_all();
}

// A trainer's metrics (forwarded by its client job) go to every analytics receiver.
void ServerJobEngine::handle_log(const Message& request, cellnet::Responder respond) {
  const std::string client = client_of(request);
  if (client.empty()) return respond(unidentified(request));
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto metrics = fl::parse_metric_message(request.payload.to_string(), client, now);
  if (!metrics.ok()) {
    log_->warn("{}", metrics.status().message());
    return respond(metrics.status());
  }
  Status first;
  {
    std::lock_guard<std::mutex> lock(analytics_mu_);
    for (const auto& m : *metrics) {
      for (auto* r : opt_.analytics) {
        Status s = r->record(m);
        if (!s.ok() && first.ok()) first = s;
      }
    }
  }
  if (!first.ok()) log_->warn("recording a metric from {}: {}", client, first.message());
  respond(first.ok() ? Result<Message>(Message{}) : Result<Message>(first));
}

void ServerJobEngine::stop() {
  gate_.close();  // waits for handlers running now
  {
    std::lock_guard<std::mutex> lock(analytics_mu_);
    for (auto* r : opt_.analytics) r->close();
  }
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
  pullers_.stop(false);  // pulls queued now never run: they touch no sink
  {
    std::lock_guard<std::mutex> lock(mu_);
    pulls_stopped_ = true;  // a wait() for the pulls of a task may end now
  }
  cv_.notify_all();
  downloads_.stop();
  const cellnet::DownloadServiceStats served = downloads_.stats();
  log_->info("download service: served {} chunks, {} bytes", served.chunks_served, served.bytes_served);
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
  for (auto* l : opt_.end_run_listeners) l->end_run();
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

Message ServerJobEngine::task_message_locked(const ActiveTask& task, const std::string& client) const {
  Message m;
  auto own = task.own_payload.find(client);
  m.payload.append(own != task.own_payload.end() ? own->second : task.payload);
  m.headers.set(kHdrTaskName, task.name);
  m.headers.set(kHdrTaskId, task.id);
  return m;
}

void ServerJobEngine::handle_get_task(const Message& request, cellnet::Responder respond) {
  std::string client = client_of(request);
  if (client.empty()) return respond(unidentified(request));
  Message reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    touch_locked(client);
    job_cells_[client] = request.headers.get_or(cellnet::hdr::kOrigin, "");
    if (ended_ || stopping_) {
      told_end_run_.insert(client);
      cv_.notify_all();  // run() waits for every client to hear this
      reply = control_reply(kTaskEndRun);
    } else if (std::find(opt_.clients.begin(), opt_.clients.end(), client) == opt_.clients.end()) {
      reply = control_reply(kTaskEndRun);
      log_->warn("get_task from {}, which is not a client of job {}", client, opt_.job_id);
    } else {
      if (ActiveTask* t = next_task_locked(client)) {
        t->sent.insert(client);
        reply = task_message_locked(*t, client);
      } else {
        parked_.push_back(Parked{client, std::move(respond), Clock::now() + opt_.get_task_wait});
        cv_.notify_all();
        return;
      }
    }
  }
  respond(std::move(reply));
}

ServerJobEngine::ActiveTask* ServerJobEngine::next_task_locked(const std::string& client) {
  for (const auto& id : live_) {
    ActiveTask& t = *tasks_.at(id);
    if (!t.done && t.targets.count(client) && !t.sent.count(client) && !t.gone.count(client)) return &t;
  }
  return nullptr;
}

void ServerJobEngine::serve_parked_locked(std::vector<std::pair<cellnet::Responder, Message>>& out) {
  for (auto p = parked_.begin(); p != parked_.end();) {
    if (ActiveTask* t = next_task_locked(p->client)) {
      t->sent.insert(p->client);
      out.emplace_back(std::move(p->respond), task_message_locked(*t, p->client));
      p = parked_.erase(p);
    } else {
      ++p;
    }
  }
}

void ServerJobEngine::handle_submit(const Message& request, cellnet::Responder respond) {
  std::string client = client_of(request);
  if (client.empty()) return respond(unidentified(request));
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
    if (task.gone.count(client)) {  // it left, or did not fetch the task in time: not waited for
      respond(FailedPreconditionError("task " + task_id + " no longer waits for a result from " + client));
      return;
    }
    ++task.in_flight;  // the task's wait() returns only once this pull has ended
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
  ActiveTask* task = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    task = tasks_.at(task_id).get();  // counted in flight: it stays live until this ends
    if (task->done) {
      --task->in_flight;
      cv_.notify_all();
      respond(FailedPreconditionError("task " + task_id + " ended while its result was arriving"));
      return;
    }
    sink = task->sink;
    task_name = task->name;
  }
  // A task that ends while its result streams in stops the pull at the next tensor: nothing
  // reaches a sink after the task's wait() has returned.
  auto still_live = [this, task]() -> Status {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return CancelledError("the server job of " + opt_.job_id + " is stopping");
    return task->done ? CancelledError("task " + task->id + " ended while this result was arriving") : Status::OK();
  };
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
      status = pull_filtered(client, task_name, std::move(decoded->model), decoded->params, *sink, header, still_live);
    } else {
      header = std::move(decoded->model);
      status = still_live();
      if (status.ok()) status = sink->on_begin(client, header);
      if (status.ok() && decoded->params) {
        TensorStreamConsumer consumer([&](const std::string& name, tensor::Tensor t) {
          NVF_RETURN_IF_ERROR(still_live());
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
    answer_locked(*task, client, status.ok());
    --task->in_flight;
  }
  cv_.notify_all();
  respond(status.ok() ? Result<Message>(Message{}) : Result<Message>(status));
}

Status ServerJobEngine::pull_filtered(const std::string& client, const std::string& task_name, fl::FLModel model,
                                      const std::optional<cellnet::Manifest>& params, fl::ResultSink& sink,
                                      fl::FLModel& header, const std::function<Status()>& live) {
  header = fl::header_of(model);  // what on_result reports if the pull fails
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
  NVF_RETURN_IF_ERROR(live());
  NVF_RETURN_IF_ERROR(sink.on_begin(client, header));
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto& [name, t] = tensors[i];
    NVF_RETURN_IF_ERROR(live());
    NVF_RETURN_IF_ERROR(sink.on_tensor(client, name, t));
    t = tensor::Tensor();  // each tensor goes as soon as the sink has it
  }
  return Status::OK();
}

void ServerJobEngine::answer_locked(ActiveTask& task, const std::string& client, bool ok) {
  task.gone.erase(client);  // it left while its result was arriving: the result counts, once
  (ok ? task.ok : task.failed).insert(client);
  check_done_locked(task, Clock::now());
}

void ServerJobEngine::check_done_locked(ActiveTask& task, Clock::time_point now) {
  if (task.done) return;
  if (task.assignment_timeout.count() > 0 && now - task.created >= task.assignment_timeout) {
    for (const auto& c : task.targets) {
      if (!task.sent.count(c) && task.gone.insert(c).second) {
        log_->warn("task {}: {} did not fetch it within {} ms (task_assignment_timeout): not waited for", task.name, c,
                   task.assignment_timeout.count());
      }
    }
  }
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

// The handle of a task: waits for it, cancels it. The engine outlives every handle it gave out
// (the controller's tasks end before run() returns).
class ServerJobEngine::Handle : public fl::TaskHandle {
 public:
  Handle(ServerJobEngine& engine, ActiveTask& task) : engine_(engine), task_(task), id_(task.id) {}
  ~Handle() override {
    cancel();  // a task still running ends with its handle (a no-op once it has ended)
    wait().status().ignore();
  }
  const std::string& id() const override { return id_; }
  bool done() const override {
    std::lock_guard<std::mutex> lock(engine_.mu_);
    return task_.done;
  }
  Result<fl::TaskOutcome> wait() override {
    std::lock_guard<std::mutex> lock(wait_mu_);  // concurrent waits: one finish(), one outcome
    if (!outcome_) outcome_ = engine_.finish(task_);
    return *outcome_;
  }
  void cancel() override {
    {
      std::lock_guard<std::mutex> lock(engine_.mu_);
      if (task_.done) return;
      engine_.log_->info("task {} ({}) cancelled by its workflow", task_.name, id_);
      task_.done = true;
    }
    engine_.cv_.notify_all();
  }

 private:
  ServerJobEngine& engine_;
  ActiveTask& task_;  // owned by engine_.tasks_, never erased while the engine lives
  const std::string id_;
  std::mutex wait_mu_;
  std::optional<Result<fl::TaskOutcome>> outcome_;  // guarded by wait_mu_
};

Result<std::unique_ptr<fl::TaskHandle>> ServerJobEngine::broadcast(const fl::TaskSpec& spec, fl::ResultSink& sink) {
  auto task = std::make_unique<ActiveTask>();
  std::vector<std::string> targets = spec.targets.empty() ? opt_.clients : spec.targets;
  for (const auto& t : targets) {
    if (std::find(opt_.clients.begin(), opt_.clients.end(), t) == opt_.clients.end()) {
      return InvalidArgumentError("task " + spec.name + ": target '" + t + "' is not a client of job " + opt_.job_id);
    }
  }
  task->targets.insert(targets.begin(), targets.end());
  for (const auto& [t, data] : spec.per_target) {
    if (!task->targets.count(t)) {
      return InvalidArgumentError("task " + spec.name + ": per-target data for '" + t + "', which is not a target");
    }
  }
  task->name = spec.name;
  task->min_responses = spec.min_responses;
  task->wait_after_min = spec.wait_time_after_min_received;
  task->assignment_timeout = spec.assignment_timeout;
  task->created = Clock::now();
  if (spec.timeout.count() > 0) {
    task->has_deadline = true;
    task->deadline = task->created + spec.timeout;
  }
  task->sink = &sink;
  // The shared data is offered once for every target without data of its own (one transaction;
  // views share the global model's memory); each per-target model in a transaction of its own.
  size_t shared_receivers = 0;
  for (const auto& t : task->targets) shared_receivers += spec.per_target.count(t) ? 0 : 1;
  auto encode = [&](const fl::FLModel& source, size_t receivers, const std::string& target) -> Result<cellnet::Slice> {
    NVF_ASSIGN_OR_RETURN(fl::FLModel data, fl::view_of(source));
    if (opt_.filters) {
      // Filters replace the tensors they change: the model behind the views stays as it is.
      fl::FilterContext ctx{spec.name, "server", target, fl::FilterKind::kTaskData, fl::FilterDirection::kOut, log_};
      NVF_RETURN_IF_ERROR(opt_.filters->apply(data, ctx).with_context("task_data_filters of task " + spec.name));
    }
    tensor::TensorDict views = std::move(data.params);
    std::optional<cellnet::Manifest> manifest;
    if (views.size() > 0) {
      cellnet::TransactionOptions tx;
      tx.num_receivers = receivers;
      tx.idle_timeout = opt_.download_idle_timeout;
      std::string tx_id;
      NVF_ASSIGN_OR_RETURN(manifest, publish_params(downloads_, std::move(views), std::move(tx), &tx_id));
      task->tx_ids.push_back(tx_id);
    }
    data.params = tensor::TensorDict();
    return encode_model_message(data, manifest).payload.flatten();
  };
  auto release = [&] {
    for (const auto& id : task->tx_ids) downloads_.delete_transaction(id).ignore();
  };
  if (shared_receivers > 0) {
    auto payload = encode(spec.data, shared_receivers, "");
    if (!payload.ok()) return release(), payload.status();
    task->payload = std::move(*payload);
  }
  for (const auto& [target, data] : spec.per_target) {
    auto payload = encode(data, 1, target);
    if (!payload.ok()) return release(), payload.status();
    task->own_payload[target] = std::move(*payload);
  }

  std::vector<std::pair<cellnet::Responder, Message>> serve;
  ActiveTask* raw = task.get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    task->id = opt_.job_id + "-" + spec.name + "-" + std::to_string(++task_counter_);
    for (const auto& c : left_) {
      if (task->targets.count(c)) task->gone.insert(c);  // it quit: no result will come
    }
    check_done_locked(*task, Clock::now());
    live_.push_back(task->id);
    tasks_[task->id] = std::move(task);
    serve_parked_locked(serve);
  }
  cv_.notify_all();
  for (auto& [respond, m] : serve) respond(std::move(m));
  return std::unique_ptr<fl::TaskHandle>(new Handle(*this, *raw));
}

Result<fl::TaskOutcome> ServerJobEngine::finish(ActiveTask& task) {
  fl::TaskOutcome outcome;
  std::vector<std::string> tx_ids;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return task.done || !abort_reason_.empty() || stopping_; });
    task.done = true;
    // A pull in flight stops at its next tensor (receive_result's still_live): wait for it, so
    // that nothing writes into the sink once the workflow has moved on.
    cv_.wait(lock, [&] { return task.in_flight == 0 || pulls_stopped_; });
    outcome.responded.assign(task.ok.begin(), task.ok.end());
    outcome.failed.assign(task.failed.begin(), task.failed.end());
    for (const auto& c : task.targets) {
      if (!task.ok.count(c) && !task.failed.count(c)) outcome.missing.push_back(c);
    }
    outcome.aborted = !abort_reason_.empty() || stopping_;
    live_.erase(std::remove(live_.begin(), live_.end(), task.id), live_.end());
    task.payload = cellnet::Slice();
    task.own_payload.clear();
    tx_ids.swap(task.tx_ids);
  }
  // Targets that never pulled have missed the task: release the task's model now rather than
  // after the idle timeout (the global model of every round would pile up otherwise).
  for (const auto& id : tx_ids) downloads_.delete_transaction(id).ignore();
  if (!outcome.missing.empty()) {
    log_->warn("task {}: no result from {}", task.name,
               join(std::set<std::string>(outcome.missing.begin(), outcome.missing.end())));
  }
  if (outcome.aborted) {
    std::lock_guard<std::mutex> lock(mu_);
    return CancelledError(abort_reason_.empty() ? "job stopped" : abort_reason_);
  }
  return outcome;
}

// ---------------------------------------------------------------- aux messages

void ServerJobEngine::set_aux_handler(const std::string& topic, fl::AuxHandler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  aux_handlers_[topic] = std::move(handler);
}

void ServerJobEngine::handle_aux(const Message& request, cellnet::Responder respond) {
  std::string client = client_of(request);
  if (client.empty()) return respond(unidentified(request));
  std::string topic = request.headers.get_or(kHdrAuxTopic, "");
  fl::AuxHandler handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    touch_locked(client);
    auto it = aux_handlers_.find(topic);
    if (it != aux_handlers_.end()) handler = it->second;
  }
  if (!handler) return respond(NotFoundError("the server job of " + opt_.job_id + " handles no aux topic '" + topic + "'"));
  auto body = config::parse(request.payload.to_string(), config::Format::kJson, "aux message from " + client);
  if (!body.ok()) return respond(body.status());
  Result<config::Value> reply = handler(client, *body);
  if (!reply.ok()) return respond(reply.status());
  respond(Message::of(reply->dump()));
}

std::map<std::string, Result<config::Value>> ServerJobEngine::send_aux(const std::vector<std::string>& targets,
                                                                       const std::string& topic,
                                                                       const config::Value& body,
                                                                       std::chrono::milliseconds timeout) {
  std::map<std::string, Result<config::Value>> out;
  std::map<std::string, std::future<Result<Message>>> pending;
  const std::string payload = body.dump();
  for (const auto& target : targets) {
    std::string cell;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = job_cells_.find(target);
      if (it != job_cells_.end()) cell = it->second;
    }
    if (cell.empty()) {
      out.emplace(target, UnavailableError(target + " has not fetched a task of job " + opt_.job_id +
                                           " yet: its job cell is not known"));
      continue;
    }
    Message m = Message::of(payload);
    m.headers.set(kHdrAuxTopic, topic);
    auto promise = std::make_shared<std::promise<Result<Message>>>();
    pending.emplace(target, promise->get_future());
    cell_.request_async(cell, std::string(kChannelAux), std::string(kTopicAuxRequest), std::move(m), timeout,
                        [promise](Result<Message> r) { promise->set_value(std::move(r)); });
  }
  for (auto& [target, future] : pending) {  // the requests run concurrently: one timeout in all
    Result<Message> r = future.get();
    if (!r.ok()) {
      out.emplace(target, r.status().with_context("aux '" + topic + "' to " + target));
      continue;
    }
    out.emplace(target, config::parse(r->payload.to_string(), config::Format::kJson, "aux reply of " + target));
  }
  return out;
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
    for (const auto& id : live_) {
      ActiveTask& t = *tasks_.at(id);
      if (t.done) continue;
      check_done_locked(t, now);
      if (t.done) cv_.notify_all();
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
