#include "runtime/client_job.h"

#include <optional>

#include "config/value.h"
#include "protocol/protocol.h"

namespace nvf::runtime {

using namespace protocol;  // the task/result names and the model message

using cellnet::Message;

ClientJobEngine::ClientJobEngine(ClientJobContext context, ClientJobOptions options,
                                 std::map<std::string, fl::Executor*> executors)
    : ctx_(std::move(context)), opt_(std::move(options)), executors_(std::move(executors)) {
  if (!ctx_.logger) ctx_.logger = base::null_logger();
  ctx_.server_job_fqcn = opt_.server_job_fqcn;
  if (!ctx_.abort_requested) {
    ctx_.abort_requested = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      return !abort_reason_.empty();
    };
  }
  ctx_.send_aux = [this](const std::string& topic, const config::Value& body,
                         std::chrono::milliseconds timeout) -> Result<config::Value> {
    Message m = Message::of(body.dump());
    m.headers.set(kHdrAuxTopic, topic);
    NVF_ASSIGN_OR_RETURN(Message reply, ctx_.cell->request(opt_.server_job_fqcn, std::string(kChannelAux),
                                                           std::string(kTopicAuxRequest), std::move(m), timeout));
    return config::parse(reply.payload.to_string(), config::Format::kJson, "aux reply of " + opt_.server_job_fqcn);
  };
}

void ClientJobEngine::handle_aux(const Message& request, cellnet::Responder respond) {
  // Only the job's workflow speaks to its executors (cells forward by name: another site's cell
  // could reach this one through the server).
  if (request.headers.get_or(cellnet::hdr::kOrigin, "") != opt_.server_job_fqcn) {
    return respond(PermissionDeniedError(ctx_.site_name + ": aux messages come only from " + opt_.server_job_fqcn));
  }
  const std::string topic = request.headers.get_or(kHdrAuxTopic, "");
  auto body = config::parse(request.payload.to_string(), config::Format::kJson, "aux message '" + topic + "'");
  if (!body.ok()) return respond(body.status());
  std::set<fl::Executor*> asked;
  for (auto& [name, ex] : executors_) {
    if (!asked.insert(ex).second) continue;
    Result<config::Value> r = ex->on_aux(topic, *body, ctx_);
    if (!r.ok() && r.status().code() == StatusCode::kNotFound) continue;
    if (!r.ok()) return respond(r.status());
    return respond(Message::of(r->dump()));
  }
  respond(NotFoundError(ctx_.site_name + ": no executor of job " + ctx_.job_id + " handles aux topic '" + topic + "'"));
}

ClientJobEngine::~ClientJobEngine() {
  gate_.close();  // waits for aux handlers running now
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

struct ClientJobEngine::Pending {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<Message>> reply;  // guarded by mu
  bool aborted = false;                  // guarded by mu
};

void ClientJobEngine::abort(const std::string& reason) {
  std::set<std::shared_ptr<Pending>> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (abort_reason_.empty()) abort_reason_ = reason.empty() ? "aborted" : reason;
    pending = pending_;
  }
  cv_.notify_all();
  for (const auto& p : pending) {
    {
      std::lock_guard<std::mutex> lock(p->mu);
      p->aborted = true;
    }
    p->cv.notify_all();
  }
  for (auto& [name, ex] : executors_) ex->abort();
}

bool ClientJobEngine::wait_or_abort(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [&] { return !abort_reason_.empty(); });
  return abort_reason_.empty();
}

Result<Message> ClientJobEngine::request_abortable(const std::string& topic, Message m,
                                                   std::chrono::milliseconds timeout) {
  auto p = std::make_shared<Pending>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!abort_reason_.empty()) return CancelledError(abort_reason_);
    pending_.insert(p);
  }
  ctx_.cell->request_async(opt_.server_job_fqcn, std::string(kChannelServerCommand), topic, std::move(m), timeout,
                           [p](Result<Message> r) {
                             {
                               std::lock_guard<std::mutex> lock(p->mu);
                               p->reply = std::move(r);
                             }
                             p->cv.notify_all();
                           });
  std::optional<Result<Message>> reply;
  {
    std::unique_lock<std::mutex> lock(p->mu);
    p->cv.wait(lock, [&] { return p->reply.has_value() || p->aborted; });
    reply = std::move(p->reply);
  }
  std::lock_guard<std::mutex> lock(mu_);
  pending_.erase(p);
  if (reply) return std::move(*reply);
  return CancelledError(abort_reason_);
}

std::vector<std::string> ClientJobEngine::current_tasks() {
  std::lock_guard<std::mutex> lock(mu_);
  if (current_task_.empty()) return {};
  return {current_task_};
}

fl::Executor* ClientJobEngine::executor_for(const std::string& task_name) const {
  auto it = executors_.find(task_name);
  if (it != executors_.end()) return it->second;
  it = executors_.find("*");
  return it != executors_.end() ? it->second : nullptr;
}

void ClientJobEngine::run_heartbeats() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, opt_.job_heartbeat_interval, [&] { return done_ || !abort_reason_.empty(); });
      if (done_ || !abort_reason_.empty()) return;
    }
    ctx_.cell->fire(opt_.server_job_fqcn, std::string(kChannelAux), std::string(kTopicJobHeartbeat), Message{})
        .ignore();
  }
}

Status ClientJobEngine::submit(Message result) {
  Status last;
  for (int attempt = 1; attempt <= opt_.submit_attempts; ++attempt) {
    Message copy;
    copy.headers = result.headers;
    copy.payload = result.payload;  // shares the bytes: one serialization for every attempt
    auto r = request_abortable(std::string(kTopicSubmitUpdate), std::move(copy), opt_.submit_task_result_timeout);
    if (r.ok()) return Status::OK();
    last = r.status();
    if (last.code() == StatusCode::kCancelled) return last;
    // A refusal is final; only transport trouble is worth another try.
    if (last.code() != StatusCode::kUnavailable && last.code() != StatusCode::kDeadlineExceeded) return last;
    ctx_.logger->warn("{}: submitting the result failed (attempt {}/{}): {}", ctx_.site_name, attempt,
                      opt_.submit_attempts, last.message());
    if (!wait_or_abort(opt_.retry_interval)) break;
  }
  return last;
}

Status ClientJobEngine::run() {
  for (auto& [name, ex] : executors_) NVF_RETURN_IF_ERROR(ex->initialize(ctx_));
  ctx_.cell->register_async_request_handler(
      std::string(kChannelAux), std::string(kTopicAuxRequest),
      gate_.wrap([this](const Message& m, cellnet::Responder r) { handle_aux(m, std::move(r)); }));
  heartbeat_ = std::thread([this] { run_heartbeats(); });
  Status status;
  auto last_answer = std::chrono::steady_clock::now();
  bool answered = false;  // the server job answered once
  std::chrono::milliseconds first_contact_wait = std::min(opt_.first_contact_retry, opt_.retry_interval);
  for (;;) {
    if (ctx_.abort_requested()) {
      std::lock_guard<std::mutex> lock(mu_);
      status = CancelledError(abort_reason_.empty() ? "aborted" : abort_reason_);
      break;
    }
    Message ask;
    ask.headers.set(kHdrClientName, ctx_.site_name);
    auto task = request_abortable(std::string(kTopicGetTask), std::move(ask), opt_.get_task_timeout);
    if (!task.ok() && task.status().code() == StatusCode::kCancelled) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!abort_reason_.empty()) {  // abort() ended the long poll
        status = CancelledError(abort_reason_);
        break;
      }
    }
    if (!task.ok()) {
      ctx_.logger->debug("{}: get_task failed: {}", ctx_.site_name, task.status().message());
      if (std::chrono::steady_clock::now() - last_answer > opt_.server_lost_timeout) {
        status = UnavailableError(
            ctx_.site_name + ": the server job " + opt_.server_job_fqcn + " did not answer for " +
            std::to_string(opt_.server_lost_timeout.count() / 1000) +
            " s (max_runner_sync_timeout): the job was aborted or has ended; last error: " + task.status().message());
        ctx_.logger->error("{}", status.message());
        break;
      }
      std::chrono::milliseconds wait = opt_.retry_interval;
      if (!answered) {
        wait = first_contact_wait;
        first_contact_wait = std::min(first_contact_wait * 2, opt_.retry_interval);
      }
      if (!wait_or_abort(wait)) continue;
      continue;
    }
    answered = true;
    last_answer = std::chrono::steady_clock::now();
    std::string name = task->headers.get_or(kHdrTaskName, "");
    if (name == kTaskEndRun) break;
    if (name == kTaskTryAgain || name.empty()) continue;
    std::string task_id = task->headers.get_or(kHdrTaskId, "");
    fl::Executor* ex = executor_for(name);
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_task_ = name;
    }
    Message out = execute(ex, name, *task);
    out.headers.set(kHdrTaskName, name);
    out.headers.set(kHdrTaskId, task_id);
    Status s = submit(std::move(out));
    if (!s.ok()) ctx_.logger->error("{}: result of task {} not delivered: {}", ctx_.site_name, name, s.message());
    if (ex) ex->result_submitted(s);
    ++tasks_done_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_task_.clear();
    }
  }
  for (auto& [name, ex] : executors_) ex->finalize(ctx_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  return status;
}

// The TaskIO of a client job: params are pulled from wherever the reference says (the server job's
// download service) and published from this job's own download service, for one receiver.
class ClientJobEngine::CellTaskIO : public fl::TaskIO {
 public:
  explicit CellTaskIO(ClientJobEngine& engine) : engine_(engine) {}
  Result<tensor::TensorDict> pull(const fl::ParamsRef& ref) override {
    if (ref.empty()) return InvalidArgumentError("the task carries no params to pull");
    NVF_ASSIGN_OR_RETURN(cellnet::Manifest m, cellnet::Manifest::decode(ref.encoded));
    return cellnet::download_tensors(*engine_.ctx_.cell, m, {});
  }
  Result<fl::ParamsRef> publish(tensor::TensorDict params) override {
    if (!engine_.downloads_) {
      engine_.downloads_ = std::make_unique<cellnet::DownloadService>(*engine_.ctx_.cell);
      NVF_RETURN_IF_ERROR(engine_.downloads_->start());
    }
    cellnet::TransactionOptions tx;
    tx.num_receivers = 1;
    NVF_ASSIGN_OR_RETURN(cellnet::Manifest m, publish_params(*engine_.downloads_, std::move(params), std::move(tx)));
    return fl::ParamsRef{m.encode()};
  }

 private:
  ClientJobEngine& engine_;
};

Message ClientJobEngine::execute(fl::Executor* ex, const std::string& name, const Message& task) {
  auto run = [&]() -> Result<Message> {
    if (!ex) return NotFoundError("no executor for task '" + name + "' at " + ctx_.site_name);
    NVF_ASSIGN_OR_RETURN(ModelMessage mm, decode_model_message(task, "task " + name + " from " + opt_.server_job_fqcn));
    fl::Task t;
    t.name = name;
    t.id = task.headers.get_or(kHdrTaskId, "");
    t.model = std::move(mm.model);
    if (mm.params) t.params.encoded = mm.params->encode();
    CellTaskIO io(*this);
    NVF_ASSIGN_OR_RETURN(fl::TaskResult r, ex->execute(t, io, ctx_));
    std::optional<cellnet::Manifest> params;
    if (!r.params.empty()) {
      NVF_ASSIGN_OR_RETURN(params, cellnet::Manifest::decode(r.params.encoded));
    }
    return encode_model_message(r.model, params);
  };
  Result<Message> result = run();
  Message out;
  if (result.ok()) {
    out = std::move(*result);
    out.headers.set(kHdrResultCode, "ok");
  } else {
    ctx_.logger->error("{}: task {} failed: {}", ctx_.site_name, name, result.status().message());
    out.headers.set(kHdrResultCode, "EXECUTION_EXCEPTION");
    out.headers.set(kHdrResultError, result.status().message());
  }
  return out;
}

}  // namespace nvf::runtime
