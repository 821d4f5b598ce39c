// The fixture of the engine tests: a server job cell and client parent + client job cells over
// the in-process driver, a native AddExecutor, and a sink that records what streams in. The
// server's listener identifies senders from the cells client() made (as the server parent does
// from tokens).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "cellnet/download_service.h"
#include "cellnet/inproc_driver.h"
#include "protocol/protocol.h"
#include "runtime/client_job.h"
#include "runtime/server_job.h"

namespace nvf::runtime::engines_test {

using namespace protocol;  // the task/result names and the model message

using namespace std::chrono_literals;
inline std::atomic<int> g_net{0};

// A native executor: returns the received params plus `delta`. No transport in sight: the task's
// params are pulled and the result's published through the TaskIO the engine gives it.
class AddExecutor : public fl::Executor {
 public:
  explicit AddExecutor(float delta) : delta_(delta) {}
  Result<fl::TaskResult> execute(const fl::Task& task, fl::TaskIO& io, fl::ExecutorContext&) override {
    NVF_ASSIGN_OR_RETURN(tensor::TensorDict params, io.pull(task.params));
    for (auto& [k, t] : params) {
      NVF_RETURN_IF_ERROR(t.make_owned());
      for (auto& v : t.mutable_view<float>()) v += delta_;
    }
    fl::TaskResult r;
    r.model.params_type = fl::ParamsType::kFull;
    r.model.meta["NUM_STEPS_CURRENT_ROUND"] = 2;
    NVF_ASSIGN_OR_RETURN(r.params, io.publish(std::move(params)));
    return r;
  }

 private:
  float delta_;
};

class CollectingSink : public fl::ResultSink {
 public:
  Status on_begin(const std::string& client, const fl::FLModel& header) override {
    std::lock_guard<std::mutex> lock(mu);
    steps[client] = fl::meta_number(header, "NUM_STEPS_CURRENT_ROUND").value_or(-1);
    return Status::OK();
  }
  Status on_tensor(const std::string& client, const std::string& name, const tensor::Tensor& t) override {
    std::lock_guard<std::mutex> lock(mu);
    values[client + "/" + name] = t.to_doubles();
    return Status::OK();
  }
  void on_result(const std::string& client, const Status& status, const fl::FLModel&) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      results[client] = status;
    }
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;  // notified on every result
  std::map<std::string, double> steps;
  std::map<std::string, std::vector<double>> values;
  std::map<std::string, Status> results;
};

class EnginesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    drivers_.add(std::make_shared<cellnet::InprocDriver>());
    net_ = "inproc://eng" + std::to_string(++g_net);
    server_ = cell("server");
    // As the server parent's listener does from tokens, this one says who each sender is, from
    // the cells client() made: identity never comes from a part of a cell name.
    ASSERT_TRUE(server_
                    ->listen(net_ + "-server",
                             [this](const cellnet::Headers& h, const cellnet::PeerInfo&) -> Result<std::string> {
                               std::lock_guard<std::mutex> lock(identities_mu_);
                               return cellnet::identify_known_cells(identities_)(h, {});
                             })
                    .ok());
    sj_ = cell("server.job");
    sj_->connect(net_ + "-server").ignore();
    ASSERT_TRUE(sj_->wait_for_peer("server", 5s).ok());
  }
  void TearDown() override {
    for (auto& t : threads_) t.join();
    for (auto it = cells_.rbegin(); it != cells_.rend(); ++it) (*it)->stop();
    drivers_.stop_all();
  }
  cellnet::Cell* cell(const std::string& name) {
    cellnet::CellOptions o;
    o.fqcn = name;
    o.drivers = &drivers_;
    o.reconnect_initial = 20ms;
    cells_.push_back(std::make_unique<cellnet::Cell>(o));
    EXPECT_TRUE(cells_.back()->start().ok());
    return cells_.back().get();
  }
  // A client parent + client job cell for `site`, connected; the parent's cell is `cell_name`
  // (the site's name, or a relay-style "R1.site-1").
  cellnet::Cell* client(const std::string& site, std::string cell_name = "") {
    if (cell_name.empty()) cell_name = site;
    {
      std::lock_guard<std::mutex> lock(identities_mu_);
      identities_[cell_name] = site;
    }
    cellnet::Cell* cp = cell(cell_name);
    cp->connect(net_ + "-server").ignore();
    EXPECT_TRUE(cp->listen(net_ + "-" + cell_name).ok());
    cellnet::Cell* cj = cell(cell_name + ".job");
    cj->connect(net_ + "-" + cell_name).ignore();
    EXPECT_TRUE(cj->wait_for_peer(cell_name, 5s).ok());
    EXPECT_TRUE(cp->wait_for_peer("server", 5s).ok());
    return cj;
  }
  ServerJobOptions server_options(std::vector<std::string> clients) {
    ServerJobOptions o;
    o.job_id = "job";
    o.clients = std::move(clients);
    o.get_task_wait = 200ms;
    o.end_run_wait = 300ms;
    return o;
  }
  // Runs a client job engine with an AddExecutor on its own thread.
  void run_client(cellnet::Cell* cj, const std::string& site, float delta) {
    run_client(cj, site, std::make_shared<AddExecutor>(delta));
  }
  // Runs a client job engine with `ex` (kept by the fixture) on its own thread.
  void run_client(cellnet::Cell* cj, const std::string& site, std::shared_ptr<fl::Executor> ex) {
    executors_.push_back(ex);
    ClientJobContext ctx;
    ctx.site_name = site;
    ctx.job_id = "job";
    ctx.cell = cj;
    ClientJobOptions co;
    co.server_job_fqcn = "server.job";
    co.job_heartbeat_interval = 50ms;
    auto engine = std::make_shared<ClientJobEngine>(ctx, co, std::map<std::string, fl::Executor*>{{"*", ex.get()}});
    engines_.push_back(engine);
    threads_.emplace_back([engine] { engine->run().ignore(); });
  }
  // A client job engine for `site` of `job` on `cj` with an AddExecutor (kept by the fixture).
  std::unique_ptr<ClientJobEngine> client_engine(cellnet::Cell* cj, const std::string& site, const std::string& job,
                                                 const ClientJobOptions& co) {
    auto ex = std::make_shared<AddExecutor>(1.0f);
    executors_.push_back(ex);
    ClientJobContext ctx;
    ctx.site_name = site;
    ctx.job_id = job;
    ctx.cell = cj;
    return std::make_unique<ClientJobEngine>(ctx, co, std::map<std::string, fl::Executor*>{{"*", ex.get()}});
  }
  fl::TaskSpec train_task() {
    fl::TaskSpec t;
    t.data.params_type = fl::ParamsType::kFull;
    EXPECT_TRUE(t.data.params.insert("w", tensor::Tensor::from_vector<float>({3}, {1, 2, 3})).ok());
    return t;
  }

  cellnet::DriverRegistry drivers_;
  std::string net_;
  std::vector<std::unique_ptr<cellnet::Cell>> cells_;
  std::vector<std::shared_ptr<fl::Executor>> executors_;
  std::vector<std::shared_ptr<ClientJobEngine>> engines_;
  std::vector<std::thread> threads_;
  cellnet::Cell* server_ = nullptr;
  cellnet::Cell* sj_ = nullptr;
  std::mutex identities_mu_;
  std::map<std::string, std::string> identities_{{"server.job", "server"}};  // cell -> identity
};

}  // namespace nvf::runtime::engines_test
