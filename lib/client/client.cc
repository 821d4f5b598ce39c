// The Client API behind include/nvflare/client.h.
#include "nvflare/client.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>
#include <limits>

#include "base/heap.h"
#include "base/process.h"
#include "cellnet/cell.h"
#include "cellnet/download_service.h"
#include "cellnet/downloader.h"
#include "cellnet/socket_driver.h"
#include "config/value.h"
#include "fl/filter.h"
#include "protocol/protocol.h"
#include "tensor/accumulate.h"
#include "base/strings.h"

namespace nvflare {

using nvf::cellnet::Message;
namespace cn = nvf::cellnet;
namespace rt = nvf::protocol;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

Result<ClientConfig> ClientConfig::from_environment() {
  ClientConfig c;
  c.url = env("NVFLARE_CLIENT_URL");
  c.fqcn = env("NVFLARE_CLIENT_FQCN");
  c.parent_fqcn = env("NVFLARE_PARENT_FQCN");
  c.site_name = env("NVFLARE_SITE_NAME");
  c.job_id = env("NVFLARE_JOB_ID");
  for (auto [name, value] : {std::pair{"NVFLARE_CLIENT_URL", &c.url}, {"NVFLARE_CLIENT_FQCN", &c.fqcn},
                             {"NVFLARE_PARENT_FQCN", &c.parent_fqcn}}) {
    if (value->empty()) {
      return nvf::FailedPreconditionError(std::string(name) +
                                          " is not set: this program must be started by an nvflare client job "
                                          "(nvflare simulator, or a job's launcher)");
    }
  }
  if (auto t = env("NVFLARE_PARAMS_TRANSFER_TYPE"); !t.empty()) c.params_transfer_type = t;
  // Numbers from the environment the launcher sets: one out of range keeps the default.
  constexpr int64_t kDay = 24LL * 3600 * 1000;
  if (auto t = nvf::base::parse_int(env("NVFLARE_SUBMIT_RESULT_TIMEOUT_MS"), 0, kDay)) {
    c.submit_result_timeout = std::chrono::milliseconds(*t);
  }
  if (auto t = nvf::base::parse_int(env("NVFLARE_MAX_RESENDS"), 0, 1000000)) c.max_resends = static_cast<int>(*t);
  if (auto t = nvf::base::parse_int(env("NVFLARE_DOWNLOAD_COMPLETE_TIMEOUT_MS"), 0, kDay)) {
    c.download_complete_timeout = std::chrono::milliseconds(*t);
  }
  c.filters_file = env("NVFLARE_CLIENT_FILTERS");
  if (auto t = nvf::base::parse_int(env("NVFLARE_MEMORY_GC_ROUNDS"), 0, 1000000000)) c.memory_gc_rounds = static_cast<int>(*t);
  if (auto t = env("NVFLARE_REUSE_MODEL_MEMORY"); !t.empty()) c.reuse_model_memory = t != "0" && t != "false";
  return c;
}

class Client::Impl {
 public:
  explicit Impl(ClientConfig cfg) : cfg_(std::move(cfg)) {}
  ~Impl() { shutdown(); }

  // The site's filter chains, built from the file the launcher wrote (client side: data IN,
  // results OUT).
  Status load_filters() {
    if (cfg_.filters_file.empty()) return Status::OK();
    NVF_ASSIGN_OR_RETURN(nvf::config::Value cfg, nvf::config::load_file(cfg_.filters_file));
    auto log = nvf::base::make_logger({"nvflare.client.filters", spdlog::level::info, true, {}});
    log_ = log.ok() ? *log : nvf::base::null_logger();
    nvf::fl::BuildEnv env;
    env.site_name = cfg_.site_name;
    env.logger = log_;
    NVF_ASSIGN_OR_RETURN(filters_, nvf::fl::build_filter_chains(cfg, nvf::fl::ComponentRegistry::builtin(),
                                                                cfg_.filters_file, env, false));
    return Status::OK();
  }

  Status run_filters(nvf::fl::FilterKind kind, FLModel& model) {
    nvf::fl::FilterDirection dir = nvf::fl::default_filter_direction(kind, false);
    if (!filters_.has(kind, task_name_, dir)) return Status::OK();
    nvf::fl::FilterContext ctx{task_name_, cfg_.site_name, "server", kind, dir, log_};
    return filters_.apply(model, ctx).with_context(std::string(nvf::fl::filter_kind_key(kind)) + " of task " +
                                                   task_name_ + " at " + cfg_.site_name);
  }

  Status connect() {
    NVF_RETURN_IF_ERROR(load_filters());
    auto url = cn::parse_url(cfg_.url);
    if (!url.ok()) return url.status();
    if (url->scheme == "uds") drivers_.add(std::make_shared<cn::UdsDriver>());
    else drivers_.add(std::make_shared<cn::TcpDriver>());
    cn::CellOptions o;
    o.fqcn = cfg_.fqcn;
    o.drivers = &drivers_;
    o.callback_threads = 2;
    o.reconnect_initial = std::chrono::milliseconds(100);
    o.reconnect_max = std::chrono::milliseconds(1000);
    cell_ = std::make_unique<cn::Cell>(o);
    NVF_RETURN_IF_ERROR(cell_->start());
    NVF_RETURN_IF_ERROR(cell_->connect(cfg_.url));
    NVF_RETURN_IF_ERROR(cell_->wait_for_peer(cfg_.parent_fqcn, cfg_.connect_timeout)
                            .with_context("connecting to the client job at " + cfg_.url));
    downloads_ = std::make_unique<cn::DownloadService>(*cell_);
    NVF_RETURN_IF_ERROR(downloads_->start());
    watch_lifeline();
    return Status::OK();
  }

  // A trainer must not outlive its client job, however that job ended.
  void watch_lifeline() {
    int fd = nvf::base::inherited_lifeline_fd();
    if (fd < 0) return;
    if (::pipe(stop_pipe_) != 0) return;
    lifeline_ = std::thread([fd, stop = stop_pipe_[0]] {
      if (nvf::base::wait_for_lifeline(fd, stop)) {
        std::fprintf(stderr, "nvflare client: the client job went away; exiting\n");
        std::_Exit(71);
      }
    });
  }

  Result<std::optional<FLModel>> receive() {
    if (!running_) return std::optional<FLModel>();
    for (;;) {
      auto r = cell_->request(cfg_.parent_fqcn, std::string(rt::kChannelClientApi), std::string(rt::kTopicGetTask),
                              Message{}, std::chrono::hours(24));
      if (!r.ok()) {
        if (r.status().code() == nvf::StatusCode::kDeadlineExceeded) continue;
        running_ = false;
        return r.status().with_context("waiting for a task from " + cfg_.parent_fqcn);
      }
      std::string name = r->headers.get_or(rt::kHdrTaskName, "");
      if (name == rt::kTaskEndRun) {
        running_ = false;
        return std::optional<FLModel>();
      }
      if (name == rt::kTaskTryAgain) continue;
      task_name_ = name;
      NVF_ASSIGN_OR_RETURN(rt::ModelMessage mm, rt::decode_model_message(*r, "task from " + cfg_.parent_fqcn));
      FLModel model = std::move(mm.model);
      const bool reuse = cfg_.reuse_model_memory && name == "train";
      if (mm.params) {
        cn::DownloadOptions d;
        // reuse_model_memory: the last train model's tensors take this one's bytes.
        auto params = cn::download_tensors(*cell_, *mm.params, d, [&](const cn::DownloadItem& item) {
          return reuse ? take_matching(last_train_, item.name, *item.dtype, item.shape, false)
                       : std::optional<nvf::tensor::Tensor>();
        });
        if (!params.ok()) return params.status().with_context("pulling the global model");
        model.params = std::move(*params);
        if (reuse) {
          last_train_ = nvf::tensor::TensorDict();
          for (const auto& [k, t] : model.params) NVF_RETURN_IF_ERROR(last_train_.insert(k, t.alias()));
        }
      }
      NVF_RETURN_IF_ERROR(run_filters(nvf::fl::FilterKind::kTaskData, model));
      received_ = nvf::tensor::TensorDict();
      if (cfg_.params_transfer_type == "DIFF") {
        for (const auto& [k, t] : model.params) {
          // The copy DIFF is taken against: in the memory of the last diff this API sent, when
          // nothing else holds it any more.
          auto c = take_matching(sent_diff_, k, t.dtype(), t.shape(), true);
          if (c) {
            std::memcpy(c->mutable_data(), t.data(), t.nbytes());
          } else {
            NVF_ASSIGN_OR_RETURN(c, t.clone());
          }
          NVF_RETURN_IF_ERROR(received_.insert(k, std::move(*c)));
        }
      }
      sent_diff_ = nvf::tensor::TensorDict();
      return std::optional<FLModel>(std::move(model));
    }
  }

  // A tensor of `pool` named `name` with this dtype and shape, owned, taken out of the pool; with
  // `unshared`, only when nothing else holds its memory.
  static std::optional<nvf::tensor::Tensor> take_matching(nvf::tensor::TensorDict& pool, const std::string& name,
                                                          nvf::tensor::DType dtype, const nvf::tensor::Shape& shape,
                                                          bool unshared) {
    nvf::tensor::Tensor* t = pool.find(name);
    if (!t || !t->is_owned() || t->nbytes() == 0 || t->dtype() != dtype || t->shape() != shape) return std::nullopt;
    if (unshared && t->keep_alive().use_count() != 2) return std::nullopt;  // the pool's plus the probe's
    nvf::tensor::Tensor out = std::move(*t);
    pool.erase(name);
    return out;
  }

  // new − received, computed in the memory of the received copy: a DIFF costs no extra model.
  Result<nvf::tensor::TensorDict> diff_params(const FLModel& model) {
    namespace t = nvf::tensor;
    t::TensorDict out;
    size_t common = 0;
    for (const auto& [k, v] : model.params) {
      t::Tensor* base = received_.find(k);
      if (!base || !t::is_floating(v.dtype())) {
        NVF_RETURN_IF_ERROR(out.insert(k, v.share()));  // not in the model received: sent as it is
        continue;
      }
      ++common;
      if ((base->dtype() == t::DType::kF32 || base->dtype() == t::DType::kF64) && base->is_owned() &&
          base->shape() == v.shape()) {
        NVF_RETURN_IF_ERROR(t::scale(*base, -1.0, k));
        NVF_RETURN_IF_ERROR(t::accumulate(*base, v, 1.0, k));
        NVF_RETURN_IF_ERROR(sent_diff_.insert(k, base->alias()));
        NVF_RETURN_IF_ERROR(out.insert(k, std::move(*base)));
      } else {
        NVF_ASSIGN_OR_RETURN(t::Tensor d, v.clone());
        NVF_RETURN_IF_ERROR(t::accumulate(d, *base, -1.0, k));
        NVF_RETURN_IF_ERROR(out.insert(k, std::move(d)));
      }
    }
    received_ = t::TensorDict();
    if (common == 0 && !model.params.empty()) {
      return nvf::InvalidArgumentError("params_transfer_type DIFF: the result shares no parameter with the model "
                                       "received");
    }
    return out;
  }

  Status send(const FLModel& model) {
    FLModel out = nvf::fl::header_of(model);  // what is sent: the header, and views of (or the DIFF of) the params
    if (!model.params.empty()) {
      // DIFF is taken against the params the task brought (a submit_model task brings none: the
      // local model goes as it is).
      if (cfg_.params_transfer_type == "DIFF" && model.params_type != ParamsType::kDiff && !received_.empty()) {
        NVF_ASSIGN_OR_RETURN(out.params, diff_params(model));
        out.params_type = ParamsType::kDiff;
      } else {
        for (const auto& [k, t] : model.params) NVF_RETURN_IF_ERROR(out.params.insert(k, t.share()));
        if (out.params_type == ParamsType::kNone) out.params_type = ParamsType::kFull;
      }
    }
    // Result filters see exactly what the server would get (FLARE filters the executor's result).
    NVF_RETURN_IF_ERROR(run_filters(nvf::fl::FilterKind::kTaskResult, out));
    std::optional<cn::Manifest> manifest;
    std::string tx_id;
    if (!out.params.empty()) {
      cn::TransactionOptions tx;
      tx.num_receivers = 1;
      tx.idle_timeout = cfg_.download_complete_timeout;
      NVF_ASSIGN_OR_RETURN(manifest, rt::publish_params(*downloads_, std::move(out.params), std::move(tx), &tx_id));
      out.params = nvf::tensor::TensorDict();
    }
    Message m = rt::encode_model_message(out, manifest);
    m.headers.set("result_id", cfg_.fqcn + "-" + std::to_string(++sends_));
    nvf::Status last;
    for (int attempt = 0; attempt <= cfg_.max_resends; ++attempt) {
      Message copy;
      copy.headers = m.headers;
      copy.payload = m.payload;  // one serialization, reused by every resend
      auto r = cell_->request(cfg_.parent_fqcn, std::string(rt::kChannelClientApi),
                              std::string(rt::kTopicSubmitResult), std::move(copy), cfg_.submit_result_timeout);
      if (r.ok()) {
        // The server has the result: its memory is no longer served (and may take the next model).
        if (!tx_id.empty()) downloads_->delete_transaction(tx_id).ignore();
        // FLARE's memory_gc_rounds: the round's buffers are gone; give the memory back.
        if (cfg_.memory_gc_rounds > 0 && ++sent_ % static_cast<uint64_t>(cfg_.memory_gc_rounds) == 0) nvf::base::trim_heap();
        return Status::OK();
      }
      last = r.status();
      if (last.code() != nvf::StatusCode::kDeadlineExceeded) break;
    }
    return last.with_context("sending the result to " + cfg_.parent_fqcn);
  }

  Status log_metric(nvf::config::Value body) {
    if (!body.contains("tag") || body["tag"].get<std::string>().empty()) {
      return nvf::InvalidArgumentError("log: the tag is empty");
    }
    body["site"] = cfg_.site_name;
    auto r = cell_->request(cfg_.parent_fqcn, std::string(rt::kChannelClientApi), std::string(rt::kTopicLog),
                            Message::of(body.dump()), std::chrono::seconds(30));
    return r.ok() ? Status::OK() : r.status().with_context("sending metric '" + body["tag"].get<std::string>() + "'");
  }

  void shutdown() {
    if (downloads_) downloads_->stop();
    if (cell_) cell_->stop();
    drivers_.stop_all();
    if (lifeline_.joinable()) {
      if (::write(stop_pipe_[1], "x", 1) < 0) {
      }
      lifeline_.join();
      ::close(stop_pipe_[0]);
      ::close(stop_pipe_[1]);
    }
  }

  ClientConfig cfg_;
  nvf::fl::FilterChains filters_;
  nvf::base::Logger log_ = nvf::base::null_logger();
  cn::DriverRegistry drivers_;
  std::unique_ptr<cn::Cell> cell_;
  std::unique_ptr<cn::DownloadService> downloads_;
  nvf::tensor::TensorDict received_;
  nvf::tensor::TensorDict last_train_;  // reuse_model_memory: the last train task's params (shares)
  nvf::tensor::TensorDict sent_diff_;   // the last DIFF sent (shares): memory for the next DIFF base
  std::string task_name_;
  bool running_ = true;
  uint64_t sends_ = 0;
  uint64_t sent_ = 0;  // results the client job acknowledged
  int stop_pipe_[2] = {-1, -1};
  std::thread lifeline_;
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::connect(const ClientConfig& config) {
  auto impl = std::make_unique<Impl>(config);
  NVF_RETURN_IF_ERROR(impl->connect());
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<std::optional<FLModel>> Client::receive() { return impl_->receive(); }
Status Client::send(const FLModel& model) { return impl_->send(model); }
Status Client::log_scalar(const std::string& tag, double value, int64_t step) {
  return impl_->log_metric(nvf::config::Value{{"type", "SCALAR"}, {"tag", tag}, {"value", value}, {"step", step}});
}
Status Client::log_scalars(const std::string& tag, const std::map<std::string, double>& values, int64_t step) {
  nvf::config::Value v = nvf::config::Value::object();
  for (const auto& [k, x] : values) v[k] = x;
  return impl_->log_metric(nvf::config::Value{{"type", "SCALARS"}, {"tag", tag}, {"values", v}, {"step", step}});
}
bool Client::is_running() const { return impl_->running_; }
const std::string& Client::site_name() const { return impl_->cfg_.site_name; }
const std::string& Client::job_id() const { return impl_->cfg_.job_id; }
const std::string& Client::task_name() const { return impl_->task_name_; }
void Client::shutdown() { impl_->shutdown(); }

// ---- the process-wide client (a training program is one client) ----

namespace {
std::mutex g_mu;
std::unique_ptr<Client>& default_client() {
  static std::unique_ptr<Client> client;
  return client;
}
}  // namespace

Status init() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (default_client()) return Status::OK();
  NVF_ASSIGN_OR_RETURN(ClientConfig cfg, ClientConfig::from_environment());
  NVF_ASSIGN_OR_RETURN(default_client(), Client::connect(cfg));
  return Status::OK();
}

#define NVF_REQUIRE_INIT(ret)                                                                         \
  if (!default_client()) {                                                                            \
    ret;                                                                                              \
  }

Result<std::optional<FLModel>> receive() {
  NVF_REQUIRE_INIT(return nvf::FailedPreconditionError("call nvflare::init() first"));
  return default_client()->receive();
}
Status send(const FLModel& model) {
  NVF_REQUIRE_INIT(return nvf::FailedPreconditionError("call nvflare::init() first"));
  return default_client()->send(model);
}
Status log_scalar(const std::string& tag, double value, int64_t step) {
  if (!default_client()) return nvf::FailedPreconditionError("nvflare::log_scalar: call nvflare::init() first");
  return default_client()->log_scalar(tag, value, step);
}
Status log_scalars(const std::string& tag, const std::map<std::string, double>& values, int64_t step) {
  if (!default_client()) return nvf::FailedPreconditionError("nvflare::log_scalars: call nvflare::init() first");
  return default_client()->log_scalars(tag, values, step);
}
bool is_running() { return default_client() && default_client()->is_running(); }
std::string site_name() { return default_client() ? default_client()->site_name() : ""; }
std::string job_id() { return default_client() ? default_client()->job_id() : ""; }
std::string task_name() { return default_client() ? default_client()->task_name() : ""; }
bool is_train() { return task_name() == "train"; }
bool is_evaluate() { return task_name() == "validate"; }
bool is_submit_model() { return task_name() == "submit_model"; }
void shutdown() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (default_client()) default_client()->shutdown();
  default_client().reset();
}

}  // namespace nvflare
