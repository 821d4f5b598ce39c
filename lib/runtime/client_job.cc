#include "runtime/client_job.h"

#include <optional>

#include "runtime/protocol.h"

namespace nvf::runtime {

using cellnet::Message;

ClientJobEngine::ClientJobEngine(fl::ExecutorContext context, ClientJobOptions options,
                                 std::map<std::string, fl::Executor*> executors)
    : ctx_(std::move(context)), opt_(std::move(options)), executors_(std::move(executors)) {
  if (!ctx_.logger) ctx_.logger = base::null_logger();
  if (!ctx_.abort_requested) {
    ctx_.abort_requested = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      return !abort_reason_.empty();
    };
  }
}

ClientJobEngine::~ClientJobEngine() {
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
  heartbeat_ = std::thread([this] { run_heartbeats(); });
  Status status;
  auto last_answer = std::chrono::steady_clock::now();
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
      if (!wait_or_abort(opt_.retry_interval)) continue;
      continue;
    }
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
    Result<Message> result = ex ? ex->execute(name, *task, ctx_)
                                : Result<Message>(NotFoundError("no executor for task '" + name + "' at " +
                                                                ctx_.site_name));
    Message out;
    if (result.ok()) {
      out = std::move(*result);
      out.headers.set(kHdrResultCode, "ok");
    } else {
      ctx_.logger->error("{}: task {} failed: {}", ctx_.site_name, name, result.status().message());
      out.headers.set(kHdrResultCode, "EXECUTION_EXCEPTION");
      out.headers.set(kHdrResultError, result.status().message());
    }
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

}  // namespace nvf::runtime
