#include "cellnet_grpc/grpc_driver.h"

#include <grpc/support/log.h>

#include <cstdio>
#include <cstdlib>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "cellnet_grpc/grpc_client_internal.h"
#include "cellnet_grpc/grpc_server_internal.h"

namespace nvf::cellnet_grpc {
namespace {

using std::chrono::milliseconds;

// The watchdog looks at in-flight writes this often: a quarter of send_timeout, within bounds.
milliseconds watchdog_period(milliseconds send_timeout) {
  return std::clamp(send_timeout / 4, milliseconds(5), milliseconds(1000));
}

// gRPC 1.51 (epoll1 iomgr) runs every callback-API reactor on one process-wide "callback
// alternative" completion queue, reference-counted by the servers and channels that use it. When
// the last one goes away gRPC shuts that queue down and joins its threads, and the next driver
// starts a new one; that teardown races late completions and aborts the process ("assertion
// failed: prior > 0" in grpc_cq_internal_unref) when drivers come and go, as in tests and the
// simulator. So the first driver creates one idle, port-less callback server that is never
// destroyed (deliberately leaked: destroying it at exit would run the same teardown). It also
// keeps gRPC's library initialized.
// gRPC's own log lines ("Handshake failed with fatal error ...") repeat, less clearly, what our
// connect errors already say; they reach stderr only when NVFLARE_GRPC_LOG is set.
void grpc_log(gpr_log_func_args* args) {
  static const bool kShow = std::getenv("NVFLARE_GRPC_LOG") != nullptr;
  if (kShow) std::fprintf(stderr, "grpc: %s:%d: %s\n", args->file, args->line, args->message);
}

void keep_grpc_alive() {
  static const bool kKept = [] {
    gpr_set_log_function(grpc_log);
    auto* service = new grpc::CallbackGenericService();
    grpc::ServerBuilder builder;
    builder.RegisterCallbackGenericService(service);
    grpc::Server* server = builder.BuildAndStart().release();
    return server != nullptr;
  }();
  (void)kKept;
}

class GrpcDriver final : public cellnet::Driver {
 public:
  explicit GrpcDriver(cellnet::DriverOptions options)
      : options_(std::move(options)), clients_(std::make_shared<StreamRegistry>()) {
    watchdog_ = std::thread([this] { watch_writes(); });
  }
  ~GrpcDriver() override { stop(); }

  std::vector<std::string> schemes() const override { return {"grpc", "grpcs"}; }

  Result<std::unique_ptr<cellnet::Listener>> listen(const std::string& url,
                                                    cellnet::ConnectionHandler* handler) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return UnavailableError("cannot listen on " + url + ": the gRPC driver is stopped");
    }
    NVF_ASSIGN_OR_RETURN(auto core, ListenerCore::start(url, handler, options_));
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) {
      core->stop();
      return UnavailableError("cannot listen on " + url + ": the gRPC driver is stopped");
    }
    std::erase_if(listeners_, [](const std::weak_ptr<ListenerCore>& w) { return w.expired(); });
    listeners_.push_back(core);
    return std::unique_ptr<cellnet::Listener>(new GrpcListener(std::move(core)));
  }

  Result<std::shared_ptr<cellnet::Connection>> connect(const std::string& url, cellnet::ConnectionHandler* handler,
                                                       milliseconds timeout) override {
    return connect_stream(url, handler, timeout, options_, clients_);
  }

  void stop() override {
    std::vector<std::shared_ptr<ListenerCore>> listeners;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      for (auto& w : listeners_) {
        if (auto core = w.lock()) listeners.push_back(std::move(core));
      }
      listeners_.clear();
    }
    cv_.notify_all();
    for (auto& core : listeners) core->stop();
    clients_->close_all(UnavailableError("the gRPC driver stopped"));
    clients_->wait_empty();
    if (watchdog_.joinable()) watchdog_.join();
    clients_->release_retired();
  }

 private:
  // Closes connections whose write has waited longer than send_timeout (peer not reading).
  void watch_writes() {
    const milliseconds period = watchdog_period(options_.send_timeout);
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopped_) {
      cv_.wait_for(lock, period, [this] { return stopped_; });
      if (stopped_) break;
      std::vector<std::shared_ptr<StreamRegistry>> registries{clients_};
      for (auto& w : listeners_) {
        if (auto core = w.lock()) registries.push_back(core->registry());
      }
      lock.unlock();
      clients_->release_retired();
      for (const auto& registry : registries) {
        for (const auto& conn : registry->snapshot()) {
          milliseconds age = conn->current_write_age();
          if (age > options_.send_timeout) {
            conn->abort(DeadlineExceededError("write to " + conn->describe() + " not done after " +
                                              std::to_string(age.count()) + " ms (send_timeout " +
                                              std::to_string(options_.send_timeout.count()) +
                                              " ms): the peer is not reading"));
          }
        }
      }
      lock.lock();
    }
  }

  const cellnet::DriverOptions options_;
  const std::shared_ptr<StreamRegistry> clients_;
  std::mutex mu_;
  std::condition_variable cv_;                        // guarded by mu_: wakes the watchdog
  std::vector<std::weak_ptr<ListenerCore>> listeners_;  // guarded by mu_
  bool stopped_ = false;                              // guarded by mu_
  std::thread watchdog_;
};

}  // namespace

std::unique_ptr<cellnet::Driver> make_grpc_driver(cellnet::DriverOptions options) {
  keep_grpc_alive();
  return std::make_unique<GrpcDriver>(std::move(options));
}

}  // namespace nvf::cellnet_grpc
