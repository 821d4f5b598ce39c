// The server and client job engines over in-process cells: tasks long-polled, results pulled
// tensor by tensor into the workflow's sink, and the rules that end a task (all answered, min
// responses, dead clients).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "cellnet/download_service.h"
#include "cellnet/inproc_driver.h"
#include "runtime/client_job.h"
#include "runtime/protocol.h"
#include "runtime/server_job.h"

namespace nvf::runtime {
namespace {

using namespace std::chrono_literals;
std::atomic<int> g_net{0};

// Returns the received params plus `delta`, offered from the client job's own download service.
class AddExecutor : public fl::Executor {
 public:
  AddExecutor(cellnet::DownloadService& svc, float delta) : svc_(svc), delta_(delta) {}
  Result<cellnet::Message> execute(const std::string&, const cellnet::Message& task, fl::ExecutorContext& ctx) override {
    NVF_ASSIGN_OR_RETURN(ModelMessage mm, decode_model_message(task, "task"));
    NVF_ASSIGN_OR_RETURN(tensor::TensorDict params, cellnet::download_tensors(*ctx.cell, *mm.params, {}));
    tensor::TensorDict out;
    for (auto& [k, t] : params) {
      NVF_RETURN_IF_ERROR(t.make_owned());
      for (auto& v : t.mutable_view<float>()) v += delta_;
      NVF_RETURN_IF_ERROR(out.insert(k, std::move(t)));
    }
    fl::FLModel header;
    header.params_type = fl::ParamsType::kFull;
    header.meta["NUM_STEPS_CURRENT_ROUND"] = 2;
    cellnet::TransactionOptions tx;
    tx.num_receivers = 1;
    NVF_ASSIGN_OR_RETURN(cellnet::Manifest m, publish_params(svc_, std::move(out), std::move(tx)));
    return encode_model_message(header, m);
  }

 private:
  cellnet::DownloadService& svc_;
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
    std::lock_guard<std::mutex> lock(mu);
    results[client] = status;
  }
  std::mutex mu;
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
    ASSERT_TRUE(server_->listen(net_ + "-server").ok());
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
  // A client parent + client job cell for `site`, connected.
  cellnet::Cell* client(const std::string& site) {
    cellnet::Cell* cp = cell(site);
    cp->connect(net_ + "-server").ignore();
    EXPECT_TRUE(cp->listen(net_ + "-" + site).ok());
    cellnet::Cell* cj = cell(site + ".job");
    cj->connect(net_ + "-" + site).ignore();
    EXPECT_TRUE(cj->wait_for_peer(site, 5s).ok());
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
    auto svc = std::make_shared<cellnet::DownloadService>(*cj);
    ASSERT_TRUE(svc->start().ok());
    services_.push_back(svc);
    auto ex = std::make_shared<AddExecutor>(*svc, delta);
    executors_.push_back(ex);
    fl::ExecutorContext ctx;
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
    auto svc = std::make_shared<cellnet::DownloadService>(*cj);
    services_.push_back(svc);
    auto ex = std::make_shared<AddExecutor>(*svc, 1.0f);
    executors_.push_back(ex);
    fl::ExecutorContext ctx;
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
  std::vector<std::shared_ptr<cellnet::DownloadService>> services_;
  std::vector<std::shared_ptr<fl::Executor>> executors_;
  std::vector<std::shared_ptr<ClientJobEngine>> engines_;
  std::vector<std::thread> threads_;
  cellnet::Cell* server_ = nullptr;
  cellnet::Cell* sj_ = nullptr;
};

TEST_F(EnginesTest, AClientJobWhoseServerJobIsGoneEndsNamingTheTimeout) {
  // No server job "server.gone": as for a client job started after its job was aborted.
  ClientJobOptions co;
  co.server_job_fqcn = "server.gone";
  co.get_task_timeout = 100ms;
  co.retry_interval = 20ms;
  co.server_lost_timeout = 300ms;
  auto engine = client_engine(client("site-1"), "site-1", "gone", co);
  auto started = std::chrono::steady_clock::now();
  Status s = engine->run();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.to_string();
  EXPECT_NE(s.message().find("server.gone did not answer"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("max_runner_sync_timeout"), std::string::npos) << s.message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

// Regression: a client job asked to stop while its get_task long poll was parked at the server
// waited for the poll to end (the server's get_task wait, up to a minute), so a SIGTERMed client
// job could outlive its parent's grace. abort() now ends the poll at once.
TEST_F(EnginesTest, AbortEndsAParkedGetTaskAtOnce) {
  // A server job that parks every get_task and never answers.
  auto parked = std::make_shared<std::promise<void>>();
  auto responders = std::make_shared<std::vector<cellnet::Responder>>();
  auto mu = std::make_shared<std::mutex>();
  sj_->register_async_request_handler(std::string(kChannelServerCommand), std::string(kTopicGetTask),
                                      [parked, responders, mu](const cellnet::Message&, cellnet::Responder r) {
                                        std::lock_guard<std::mutex> lock(*mu);
                                        responders->push_back(std::move(r));
                                        if (responders->size() == 1) parked->set_value();
                                      });
  ClientJobOptions co;
  co.server_job_fqcn = "server.job";
  co.get_task_timeout = 60s;
  auto engine = client_engine(client("site-1"), "site-1", "job", co);
  auto run = std::async(std::launch::async, [&] { return engine->run(); });
  ASSERT_EQ(parked->get_future().wait_for(10s), std::future_status::ready) << "get_task never arrived";
  engine->abort("terminated by a signal");
  ASSERT_EQ(run.wait_for(10s), std::future_status::ready) << "run() still waits for the long poll";
  Status s = run.get();
  EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.to_string();
  EXPECT_NE(s.message().find("terminated by a signal"), std::string::npos) << s.message();
  std::lock_guard<std::mutex> lock(*mu);
  EXPECT_EQ(responders->size(), 1u);  // no second poll after the abort
}

TEST_F(EnginesTest, ResultsStreamIntoTheSinkFromEveryClient) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);
  run_client(client("site-2"), "site-2", 10);
  CollectingSink sink;
  auto outcome = engine.broadcast_and_wait(train_task(), sink);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->responded, (std::vector<std::string>{"site-1", "site-2"}));
  EXPECT_TRUE(outcome->missing.empty());
  EXPECT_EQ(sink.values["site-1/w"], (std::vector<double>{2, 3, 4}));
  EXPECT_EQ(sink.values["site-2/w"], (std::vector<double>{11, 12, 13}));
  EXPECT_EQ(sink.steps["site-1"], 2);
  EXPECT_TRUE(sink.results["site-2"].ok());
  engine.abort("test over");
  ASSERT_TRUE(engine.run({}).ok());  // ends the run: clients hear __end_run__
  engine.stop();
}

TEST_F(EnginesTest, AClientNeverSeenIsNotDeadBeforeTheStartupGrace) {
  ServerJobOptions o = server_options({"site-1", "site-2"});
  o.dead_client_grace_period = 100ms;
  o.dead_client_check_lead_time = 50ms;
  o.startup_grace = 1500ms;  // site-2's job is slow to start
  ServerJobEngine engine(*sj_, o);
  ASSERT_TRUE(engine.start().ok());
  auto start = std::chrono::steady_clock::now();
  run_client(client("site-1"), "site-1", 1);
  CollectingSink sink;
  auto outcome = engine.broadcast_and_wait(train_task(), sink);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->missing, std::vector<std::string>{"site-2"});
  // Declared dead only once the startup grace was over, not after the 100 ms grace of a seen client.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1500ms);
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

TEST_F(EnginesTest, SilentClientIsDeclaredDeadAndTheTaskEnds) {
  ServerJobOptions o = server_options({"site-1", "site-2"});
  o.dead_client_grace_period = 300ms;
  o.dead_client_check_lead_time = 200ms;
  o.startup_grace = 300ms;
  ServerJobEngine engine(*sj_, o);
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);
  client("site-2");  // connected, but its job never asks for a task nor sends a heartbeat
  CollectingSink sink;
  auto start = std::chrono::steady_clock::now();
  auto outcome = engine.broadcast_and_wait(train_task(), sink);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->responded, std::vector<std::string>{"site-1"});
  EXPECT_EQ(outcome->missing, std::vector<std::string>{"site-2"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

TEST_F(EnginesTest, AClientThatLeftIsNotWaitedForInThisTaskOrLaterOnes) {
  ServerJobOptions o = server_options({"site-1", "site-2"});
  o.dead_client_grace_period = std::chrono::minutes(10);  // only client_left can end the wait
  o.dead_client_check_lead_time = std::chrono::minutes(10);
  ServerJobEngine engine(*sj_, o);
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);
  client("site-2");  // connected, but its job never asks for a task
  CollectingSink sink;
  auto first = std::async(std::launch::async, [&] { return engine.broadcast_and_wait(train_task(), sink); });
  EXPECT_EQ(first.wait_for(300ms), std::future_status::timeout);  // it waits for site-2
  engine.client_left("site-2");
  ASSERT_EQ(first.wait_for(60s), std::future_status::ready) << "the task still waits for site-2";
  auto outcome = first.get();
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->responded, std::vector<std::string>{"site-1"});
  EXPECT_EQ(outcome->missing, std::vector<std::string>{"site-2"});
  EXPECT_TRUE(outcome->failed.empty());
  engine.client_left("site-9");  // not a client of this job: nothing changes
  auto second = std::async(std::launch::async, [&] { return engine.broadcast_and_wait(train_task(), sink); });
  ASSERT_EQ(second.wait_for(60s), std::future_status::ready) << "a later task waits for a client that left";
  auto later = second.get();
  ASSERT_TRUE(later.ok()) << later.status().to_string();
  EXPECT_EQ(later->responded, std::vector<std::string>{"site-1"});
  EXPECT_EQ(later->missing, std::vector<std::string>{"site-2"});
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

TEST_F(EnginesTest, MinResponsesEndTheTaskAfterTheWait) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);
  client("site-2");  // alive enough (fresh), but never answers
  fl::TaskSpec task = train_task();
  task.min_responses = 1;
  task.wait_time_after_min_received = 100ms;
  CollectingSink sink;
  auto outcome = engine.broadcast_and_wait(task, sink);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->responded, std::vector<std::string>{"site-1"});
  EXPECT_EQ(outcome->missing, std::vector<std::string>{"site-2"});
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

// Regression: run() waited its whole end_run_wait even after every client had heard __end_run__
// (hearing it did not wake the wait), so every failed simulation took 5 s longer.
TEST_F(EnginesTest, RunEndsAsSoonAsEveryClientHeardEndRun) {
  ServerJobOptions o = server_options({"site-1", "site-2"});
  o.end_run_wait = std::chrono::minutes(10);
  ServerJobEngine engine(*sj_, o);
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);
  run_client(client("site-2"), "site-2", 1);
  auto done = std::async(std::launch::async, [&] { return engine.run({}); });
  ASSERT_EQ(done.wait_for(60s), std::future_status::ready) << "run() waited for end_run_wait";
  EXPECT_TRUE(done.get().ok());
  engine.stop();
}

TEST_F(EnginesTest, LateResultIsRefusedWithAClearMessage) {
  ServerJobEngine engine(*sj_, server_options({"site-1"}));
  ASSERT_TRUE(engine.start().ok());
  cellnet::Cell* cj = client("site-1");
  cellnet::Message late = encode_model_message(fl::FLModel{}, std::nullopt);
  late.headers.set(kHdrTaskId, "job-train-99");
  auto r = cj->request("server.job", std::string(kChannelServerCommand), std::string(kTopicSubmitUpdate),
                       std::move(late), 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("late result dropped"), std::string::npos) << r.status().message();
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

}  // namespace
}  // namespace nvf::runtime
