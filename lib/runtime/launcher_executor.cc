#include "runtime/launcher_executor.h"

#include "runtime/python_env.h"

#include <signal.h>
#include <unistd.h>

#include "base/files.h"
#include "base/heap.h"
#include "base/strings.h"
#include "config/value.h"
#include "protocol/protocol.h"

namespace nvf::runtime {

using namespace protocol;  // the task/result names and the model message

using cellnet::Message;
using Clock = std::chrono::steady_clock;

Result<std::vector<std::string>> parse_command(const std::string& text) {
  std::string_view t = base::trim(text);
  std::vector<std::string> argv;
  if (!t.empty() && t.front() == '[') {
    auto v = config::parse(t, config::Format::kJson, "launcher command");
    if (!v.ok()) return v.status();
    for (const auto& item : *v) {
      if (!item.is_string()) return InvalidArgumentError("launcher command: every element must be a string");
      argv.push_back(item.get<std::string>());
    }
  } else {
    NVF_ASSIGN_OR_RETURN(argv, base::shell_split(t));
  }
  if (argv.empty()) return InvalidArgumentError("launcher command is empty");
  return argv;
}

namespace {

std::string substitute(std::string s, const fl::ExecutorContext& ctx) {
  const std::pair<std::string, std::string> vars[] = {
      {"{NVFLARE_BIN}", ctx.nvflare_bin},       {"{SITE_NAME}", ctx.site_name},
      {"{JOB_ID}", ctx.job_id},                 {"{APP_DIR}", ctx.app_dir.string()},
      {"{WORKSPACE}", ctx.workspace.string()},  {"{RUN_DIR}", ctx.run_dir.string()},
  };
  for (const auto& [k, v] : vars) {
    for (size_t pos; (pos = s.find(k)) != std::string::npos;) s.replace(pos, k.size(), v);
  }
  return s;
}

}  // namespace

LauncherExecutor::LauncherExecutor(LauncherOptions options) : opt_(std::move(options)) {}

LauncherExecutor::~LauncherExecutor() {
  gate_.close();  // waits for handlers running now
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (child_pid_ > 0 && !exit_) ::kill(-child_pid_, SIGKILL);
  }
  if (waiter_.joinable()) waiter_.join();
  if (output_.joinable()) output_.join();
}

Status LauncherExecutor::initialize(fl::ExecutorContext& ctx) {
  log_ = ctx.logger ? ctx.logger : base::null_logger();
  site_ = ctx.site_name;
  if (opt_.command.empty()) return InvalidArgumentError("the launcher has no command to run");
  auto* job = dynamic_cast<ClientJobContext*>(&ctx);
  if (!job || !job->cell || job->child_url.empty()) {
    return FailedPreconditionError("the client job offers no listener for its trainer");
  }
  if (ctx.filter_config.is_object() && !ctx.filter_config.empty()) {
    std::filesystem::path file = ctx.run_dir / kClientFiltersFile;
    NVF_RETURN_IF_ERROR(base::atomic_write(file, config::to_pretty_json(ctx.filter_config))
                            .with_context(site_ + ": cannot hand the filter chains to the trainer"));
    filters_file_ = file.string();
    log_->info("{}: the trainer runs the site's filters from {}", site_, filters_file_);
  }
  job->cell->register_async_request_handler(
      std::string(kChannelClientApi), std::string(kTopicGetTask),
      gate_.wrap([this](const Message& m, cellnet::Responder r) { on_get_task(m, std::move(r)); }));
  // Experiment tracking: the trainer's metrics go on to the server job's analytics receivers.
  cellnet::Cell* cell = job->cell;
  std::string server_job = job->server_job_fqcn;
  job->cell->register_async_request_handler(
      std::string(kChannelClientApi), std::string(kTopicLog),
      gate_.wrap([cell, server_job, site = site_](const Message& m, cellnet::Responder r) {
        if (server_job.empty()) return r(FailedPreconditionError(site + ": no server job to send metrics to"));
        Message forward;
        forward.payload = m.payload;
        forward.headers.set(std::string(kHdrClientName), site);
        cell->request_async(server_job, std::string(kChannelAux), std::string(kTopicLog), std::move(forward),
                            std::chrono::seconds(30), [r = std::move(r)](Result<Message> reply) mutable {
                              r(std::move(reply));
                            });
      }));
  job->cell->register_async_request_handler(
      std::string(kChannelClientApi), std::string(kTopicSubmitResult),
      gate_.wrap([this](const Message& m, cellnet::Responder r) { on_submit(m, std::move(r)); }));
  return Status::OK();
}

Status LauncherExecutor::launch(ClientJobContext& ctx) {
  if (waiter_.joinable()) waiter_.join();
  if (output_.joinable()) output_.join();
  base::SpawnOptions so;
  for (const auto& a : opt_.command) so.argv.push_back(substitute(a, ctx));
  so.working_dir = ctx.app_dir;
  so.new_session = true;  // its own group: stopping it stops whatever it started
  so.lifeline = true;     // it learns of our death even if we are killed
  so.capture_output = true;
  std::string fqcn = ctx.cell->fqcn() + ".trainer";
  so.env_set = {{"NVFLARE_CLIENT_URL", ctx.child_url},
                {"NVFLARE_CLIENT_FQCN", fqcn},
                {"NVFLARE_PARENT_FQCN", ctx.cell->fqcn()},
                {"NVFLARE_SITE_NAME", ctx.site_name},
                {"NVFLARE_JOB_ID", ctx.job_id},
                {"NVFLARE_PARAMS_TRANSFER_TYPE", opt_.params_transfer_type},
                {"NVFLARE_SUBMIT_RESULT_TIMEOUT_MS", std::to_string(opt_.submit_result_timeout.count())},
                {"NVFLARE_MAX_RESENDS", std::to_string(opt_.max_resends)},
                {"NVFLARE_DOWNLOAD_COMPLETE_TIMEOUT_MS", std::to_string(opt_.download_complete_timeout.count())},
                {"NVFLARE_MEMORY_GC_ROUNDS", std::to_string(opt_.memory_gc_rounds)},
                {"MALLOC_ARENA_MAX", "2"}};
  so.env_set["NVFLARE_PARAMS_EXCHANGE_FORMAT"] = opt_.params_exchange_format;
  if (!filters_file_.empty()) so.env_set[kEnvClientFilters] = filters_file_;
  prepare_python_trainer(ctx.nvflare_bin, ctx.app_dir, so.argv, so.env_set);
  for (const auto& kv : base::split(opt_.extra_env, ';', true)) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) so.env_set[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto child = base::spawn(so);
  if (!child.ok()) return child.status().with_context(site_ + ": cannot start the trainer");
  log_->info("{}: started trainer (pid {}): {}", site_, child->pid(), base::join(so.argv, " "));
  int out_fd = child->output_fd();
  pid_t pid = child->pid();
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    child_pid_ = pid;
    exit_.reset();
    one_task_done_ = false;
    gen = ++generation_;
  }
  // Both threads hold the child: its destructor closes the output pipe, which must not happen
  // while the output thread still reads it (found by TSan: the waiter thread, done first, closed
  // the descriptor under the reader's feet, and a reused descriptor could have been read).
  auto shared = std::make_shared<base::ChildProcess>(std::move(*child));
  output_ = std::thread([this, out_fd, pid, shared] {
    std::string pending;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(out_fd, buf, sizeof(buf));
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
        log_->info("[trainer {} {}] {}", site_, pid, pending.substr(0, nl));
      }
    }
    if (!pending.empty()) log_->info("[trainer {} {}] {}", site_, pid, pending);
  });
  waiter_ = std::thread([this, shared, gen] {
    auto e = shared->wait();
    std::lock_guard<std::mutex> lock(mu_);
    if (gen == generation_) exit_ = e.ok() ? *e : base::ExitInfo{};
    cv_.notify_all();
  });
  return Status::OK();
}

std::string LauncherExecutor::describe_exit_locked() const {
  if (!exit_) return "is running";
  if (exit_->signaled()) return "was killed by signal " + std::to_string(exit_->signal);
  return "exited with code " + std::to_string(exit_->exit_code);
}

void LauncherExecutor::on_get_task(const Message&, cellnet::Responder respond) {
  std::unique_lock<std::mutex> lock(mu_);
  if (end_run_ || (!opt_.launch_once && one_task_done_)) {
    lock.unlock();
    Message m;
    m.headers.set(kHdrTaskName, std::string(kTaskEndRun));
    respond(std::move(m));
    return;
  }
  parked_ = std::move(respond);
  cv_.notify_all();
}

void LauncherExecutor::on_submit(const Message& m, cellnet::Responder respond) {
  std::string result_id = m.headers.get_or("result_id", "");
  std::unique_lock<std::mutex> lock(mu_);
  if (!result_id.empty() && result_id == accepted_result_id_) {
    // A resend of a result we already have: never forward twice. Answer now if its fate is
    // known, else when it is.
    if (delivered_) {
      Status s = *delivered_;
      lock.unlock();
      respond(s.ok() ? Result<Message>(Message{}) : Result<Message>(s));
    } else {
      result_ack_ = std::move(respond);
    }
    return;
  }
  if (current_task_id_.empty() || result_) {
    lock.unlock();
    respond(FailedPreconditionError(site_ + ": no task is waiting for a result"));
    return;
  }
  accepted_result_id_ = result_id;
  delivered_.reset();
  result_ = m;
  result_ack_ = std::move(respond);
  cv_.notify_all();
}

void LauncherExecutor::result_submitted(const Status& status) {
  std::optional<cellnet::Responder> ack;
  bool trim = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivered_ = status;
    ack = std::move(result_ack_);
    result_ack_.reset();
    trim = opt_.memory_gc_rounds > 0 && ++results_relayed_ % static_cast<uint64_t>(opt_.memory_gc_rounds) == 0;
  }
  if (ack) (*ack)(status.ok() ? Result<Message>(Message{}) : Result<Message>(status));
  if (trim) base::trim_heap();  // memory_gc_rounds: the relayed result's buffers are gone
}

Result<fl::TaskResult> LauncherExecutor::execute(const fl::Task& task, fl::TaskIO&, fl::ExecutorContext& ctx) {
  auto* job = dynamic_cast<ClientJobContext*>(&ctx);
  if (!job) return FailedPreconditionError(site_ + ": the launcher runs only in a client job");
  // What the trainer gets: the task as the server sent it, its params still by reference.
  std::optional<cellnet::Manifest> manifest;
  if (!task.params.empty()) {
    NVF_ASSIGN_OR_RETURN(manifest, cellnet::Manifest::decode(task.params.encoded));
  }
  Message forward = encode_model_message(task.model, manifest);
  forward.headers.set(kHdrTaskName, task.name);
  forward.headers.set(kHdrTaskId, task.id);
  bool need_launch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (aborted_) return CancelledError(site_ + ": aborted");
    need_launch = child_pid_ < 0 || exit_.has_value() || (!opt_.launch_once && one_task_done_);
  }
  if (opt_.slots) opt_.slots->acquire();
  struct Release {
    TrainerSlots* s;
    ~Release() {
      if (s) s->release();
    }
  } release{opt_.slots};
  if (need_launch) NVF_RETURN_IF_ERROR(launch(*job));

  std::unique_lock<std::mutex> lock(mu_);
  auto init_deadline = Clock::now() + opt_.external_pre_init_timeout;
  cv_.wait_until(lock, init_deadline, [&] { return parked_.has_value() || exit_.has_value() || aborted_; });
  if (aborted_) return CancelledError(site_ + ": aborted");
  if (!parked_) {
    std::string why = exit_ ? "the trainer " + describe_exit_locked() + " before asking for a task"
                            : "the trainer did not ask for a task within " +
                                  std::to_string(opt_.external_pre_init_timeout.count()) +
                                  " ms (external_pre_init_timeout)";
    if (!exit_ && child_pid_ > 0) ::kill(-child_pid_, SIGKILL);
    return UnavailableError(site_ + ": " + why);
  }
  cellnet::Responder respond = std::move(*parked_);
  parked_.reset();
  result_.reset();
  current_task_id_ = task.id.empty() ? task.name : task.id;
  lock.unlock();
  respond(std::move(forward));

  lock.lock();
  auto pred = [&] { return result_.has_value() || exit_.has_value() || aborted_; };
  if (opt_.task_wait_timeout.count() > 0) {
    cv_.wait_for(lock, opt_.task_wait_timeout, pred);
  } else {
    cv_.wait(lock, pred);
  }
  current_task_id_.clear();
  if (aborted_) return CancelledError(site_ + ": aborted");
  if (!result_) {
    if (exit_) return AbortedError(site_ + ": the trainer " + describe_exit_locked() + " before sending a result");
    return DeadlineExceededError(site_ + ": no result from the trainer within " +
                                 std::to_string(opt_.task_wait_timeout.count()) + " ms (task_wait_timeout)");
  }
  Message out = std::move(*result_);
  result_.reset();
  one_task_done_ = true;
  lock.unlock();
  NVF_ASSIGN_OR_RETURN(ModelMessage mm, decode_model_message(out, "the result of " + site_ + "'s trainer"));
  fl::TaskResult r;
  r.model = std::move(mm.model);
  if (mm.params) r.params.encoded = mm.params->encode();
  return r;
}

void LauncherExecutor::abort() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = true;
  if (child_pid_ > 0 && !exit_) ::kill(-child_pid_, SIGKILL);
  cv_.notify_all();
}

void LauncherExecutor::stop_trainer(fl::ExecutorContext&) {
  std::unique_lock<std::mutex> lock(mu_);
  end_run_ = true;
  std::optional<cellnet::Responder> parked = std::move(parked_);
  parked_.reset();
  pid_t pid = child_pid_;
  lock.unlock();
  if (parked) {
    Message m;
    m.headers.set(kHdrTaskName, std::string(kTaskEndRun));
    (*parked)(std::move(m));
  }
  if (pid <= 0) return;
  lock.lock();
  // The trainer leaves by itself once it hears __end_run__; give it the grace period.
  if (!cv_.wait_for(lock, opt_.shutdown_grace, [&] { return exit_.has_value(); })) {
    ::kill(-pid, SIGTERM);
    if (!cv_.wait_for(lock, std::chrono::seconds(5), [&] { return exit_.has_value(); })) ::kill(-pid, SIGKILL);
  }
  // Stragglers the trainer started in its group.
  ::kill(-pid, SIGKILL);
}

void LauncherExecutor::finalize(fl::ExecutorContext& ctx) {
  stop_trainer(ctx);
  if (waiter_.joinable()) waiter_.join();
  if (output_.joinable()) output_.join();
}

}  // namespace nvf::runtime
