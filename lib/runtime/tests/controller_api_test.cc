// The controller API (workflows/controller.h) as the server job engine implements it, against
// client job engines with native executors over in-process cells: handles, several live tasks,
// per-target data, send-and-wait, relay with an assignment timeout, aux messages both ways, a
// slow pull that must not outlive its task's wait, and a whole example workflow.
#include <condition_variable>

#include "runtime/tests/engines_fixture.h"
#include "workflows/fedavg.h"
#include "workflows/persistor.h"

namespace nvf::runtime {
namespace {

using namespace protocol;
using namespace engines_test;
using namespace std::chrono_literals;

fl::FLModel model_of(std::vector<float> w) {
  fl::FLModel m;
  m.params_type = fl::ParamsType::kFull;
  EXPECT_TRUE(m.params.insert("w", tensor::Tensor::from_vector<float>({static_cast<int64_t>(w.size())}, w)).ok());
  return m;
}

TEST_F(EnginesTest, BroadcastReturnsAHandleAndTwoTasksRunAtOnce) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);
  run_client(client("site-2"), "site-2", 10);
  CollectingSink a, b;
  fl::TaskSpec ta = train_task(), tb = train_task();
  tb.name = "validate";
  tb.data = model_of({5, 5, 5});
  auto ha = engine.broadcast(ta, a);
  auto hb = engine.broadcast(tb, b);  // both live now: each client fetches the older first
  ASSERT_TRUE(ha.ok() && hb.ok());
  EXPECT_NE((*ha)->id(), (*hb)->id());
  auto ob = (*hb)->wait();
  auto oa = (*ha)->wait();
  ASSERT_TRUE(oa.ok() && ob.ok()) << oa.status().to_string() << ob.status().to_string();
  EXPECT_TRUE((*ha)->done());
  EXPECT_EQ(oa->responded, (std::vector<std::string>{"site-1", "site-2"}));
  EXPECT_EQ(ob->responded, (std::vector<std::string>{"site-1", "site-2"}));
  EXPECT_EQ(a.values["site-1/w"], (std::vector<double>{2, 3, 4}));
  EXPECT_EQ(b.values["site-1/w"], (std::vector<double>{6, 6, 6}));
  EXPECT_EQ(b.values["site-2/w"], (std::vector<double>{15, 15, 15}));
  EXPECT_EQ((*ha)->wait()->responded, oa->responded);  // a second wait() gives the same outcome
  engine.abort("test over");
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

TEST_F(EnginesTest, PerTargetDataGoesToItsTargetAlone) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);
  run_client(client("site-2"), "site-2", 1);
  CollectingSink sink;
  fl::TaskSpec task = train_task();  // [1, 2, 3] for site-1
  task.per_target["site-2"] = model_of({10, 20, 30});
  auto outcome = engine.broadcast_and_wait(task, sink);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(sink.values["site-1/w"], (std::vector<double>{2, 3, 4}));
  EXPECT_EQ(sink.values["site-2/w"], (std::vector<double>{11, 21, 31}));

  task.per_target["site-9"] = model_of({1});
  auto bad = engine.broadcast(task, sink);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("per-target data for 'site-9', which is not a target"), std::string::npos);
  task.per_target.clear();
  task.targets = {"site-3"};
  bad = engine.broadcast(task, sink);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("target 'site-3' is not a client of job job"), std::string::npos);
  engine.abort("test over");
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

TEST_F(EnginesTest, CancelEndsATaskAndItsSilentTargetsAreMissing) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);  // site-2 never runs
  CollectingSink sink;
  auto h = engine.broadcast(train_task(), sink);
  ASSERT_TRUE(h.ok());
  {  // wait for site-1's result, then give up on site-2
    std::unique_lock<std::mutex> lock(sink.mu);
    ASSERT_TRUE(sink.cv.wait_for(lock, 10s, [&] { return sink.results.count("site-1") > 0; }));
  }
  (*h)->cancel();
  auto outcome = (*h)->wait();
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->responded, (std::vector<std::string>{"site-1"}));
  EXPECT_EQ(outcome->missing, (std::vector<std::string>{"site-2"}));
  engine.abort("test over");
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

TEST_F(EnginesTest, SendAndWaitGoesToOneTarget) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);
  run_client(client("site-2"), "site-2", 10);
  CollectingSink sink;
  auto outcome = engine.send_and_wait(train_task(), "site-2", sink);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->responded, (std::vector<std::string>{"site-2"}));
  EXPECT_EQ(sink.values.count("site-1/w"), 0u);
  EXPECT_EQ(sink.values["site-2/w"], (std::vector<double>{11, 12, 13}));
  engine.abort("test over");
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

// A throw-away workflow on the controller API: the model goes to each client in turn, each
// result becoming the next client's task (Cyclic's core). Under 40 lines.
class EachInTurn : public fl::Controller {
 public:
  explicit EachInTurn(std::vector<float> start) : model_(std::move(start)) {}
  Status run(fl::ControllerContext& ctx) override {
    fl::TaskSpec task;
    task.data = model_of(model_);
    task.assignment_timeout = 500ms;  // a client that does not come is skipped
    CollectingSink sink;
    auto step = [&](const std::string& site, const fl::TaskOutcome& outcome, fl::TaskSpec& next) -> Result<bool> {
      if (outcome.responded.empty()) return true;  // skipped: the same model goes on
      std::lock_guard<std::mutex> lock(sink.mu);
      const auto& w = sink.values[site + "/w"];
      model_.assign(w.begin(), w.end());
      next.data = model_of(model_);
      return true;
    };
    NVF_ASSIGN_OR_RETURN(order_, ctx.relay_and_wait(task, ctx.clients(), sink, step));
    return Status::OK();
  }
  std::vector<float> model_;
  std::vector<std::string> order_;  // the clients that answered, in turn
};

TEST_F(EnginesTest, AnExampleWorkflowSendsTheModelToEachClientInTurnAndSkipsOneThatDoesNotCome) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2", "site-3"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);
  run_client(client("site-3"), "site-3", 10);  // site-2 never comes
  EachInTurn wf({1, 2, 3});
  ASSERT_TRUE(engine.run({&wf}).ok());
  EXPECT_EQ(wf.order_, (std::vector<std::string>{"site-1", "site-3"}));
  EXPECT_EQ(wf.model_, (std::vector<float>{12, 13, 14}));  // +1 at site-1, +10 at site-3
  engine.stop();
}

// FedAvg on the controller API with a model-update hook of its own (a server optimizer's place):
// the hook gets the round's aggregate and decides the next global model.
class InMemoryPersistor : public fl::ModelPersistor {
 public:
  Result<fl::FLModel> load() override { return model_of({1, 2, 3}); }
  Status save(const fl::FLModel& global, bool) override {
    saved = global.params.find("w")->to_doubles();
    return Status::OK();
  }
  Status save_best(const fl::FLModel&) override { return Status::OK(); }
  std::vector<double> saved;
};

// Moves the global model halfway towards the aggregate: w += 0.5 · (aggregate − w).
class HalfStep : public fl::ModelUpdater {
 public:
  Status update(fl::FLModel& global, fl::FLModel aggregated, int round) override {
    rounds.push_back(round);
    auto g = global.params.find("w")->to_doubles();
    auto a = aggregated.params.find("w")->to_doubles();
    std::vector<float> next;
    for (size_t i = 0; i < g.size(); ++i) next.push_back(static_cast<float>(g[i] + 0.5 * (a[i] - g[i])));
    global = model_of(next);
    return Status::OK();
  }
  std::vector<int> rounds;
};

TEST_F(EnginesTest, FedAvgHandsEachRoundsAggregateToItsModelUpdater) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 2);
  run_client(client("site-2"), "site-2", 4);
  InMemoryPersistor persistor;
  HalfStep updater;
  workflows::FedAvgOptions o;
  o.min_clients = 2;
  o.num_rounds = 2;
  workflows::FedAvg fedavg(o, &persistor, nullptr, nullptr, &updater);
  ASSERT_TRUE(engine.run({&fedavg}).ok());
  EXPECT_EQ(updater.rounds, (std::vector<int>{0, 1}));
  // Each round the clients add 2 and 4 (equal weights): the aggregate is w + 3, the step w + 1.5.
  EXPECT_EQ(persistor.saved, (std::vector<double>{4, 5, 6}));
  engine.stop();
}

// A persistor whose saves stay pending until flush(), as a large model's background save does;
// it records the order of saves, flushes and model updates.
class PendingSavePersistor : public InMemoryPersistor {
 public:
  Status save_in_background(const fl::FLModel& global, bool is_best) override {
    EXPECT_FALSE(pending) << "a second save while one is pending";
    events.push_back("save");
    pending = true;
    return save(global, is_best);
  }
  Status flush() override {
    if (pending) events.push_back("flush");
    pending = false;
    return Status::OK();
  }
  bool pending = false;
  std::vector<std::string> events;
};

class RecordingHalfStep : public HalfStep {
 public:
  explicit RecordingHalfStep(PendingSavePersistor& p) : p_(p) {}
  Status update(fl::FLModel& global, fl::FLModel aggregated, int round) override {
    EXPECT_FALSE(p_.pending) << "the global model changed while its save was being written";
    p_.events.push_back("update");
    return HalfStep::update(global, std::move(aggregated), round);
  }
  PendingSavePersistor& p_;
};

// Proves: FedAvg saves each round's model in the background, waits for that save before it
// changes the global model again, and waits for the last save before the last round ends.
TEST_F(EnginesTest, FedAvgWaitsForABackgroundSaveBeforeTheModelChanges) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 2);
  run_client(client("site-2"), "site-2", 4);
  PendingSavePersistor persistor;
  RecordingHalfStep updater(persistor);
  workflows::FedAvgOptions o;
  o.min_clients = 2;
  o.num_rounds = 3;
  workflows::FedAvg fedavg(o, &persistor, nullptr, nullptr, &updater);
  ASSERT_TRUE(engine.run({&fedavg}).ok());
  EXPECT_EQ(persistor.events, (std::vector<std::string>{"update", "save", "flush", "update", "save", "flush",
                                                         "update", "save", "flush"}));
  EXPECT_EQ(persistor.saved, (std::vector<double>{5.5, 6.5, 7.5}));
  engine.stop();
}

// An executor that also speaks aux: it answers "ping" with its site, and during a task asks the
// workflow's "hello" handler and keeps the reply.
class AuxExecutor : public AddExecutor {
 public:
  AuxExecutor() : AddExecutor(1) {}
  Result<config::Value> on_aux(const std::string& topic, const config::Value& body, fl::ExecutorContext& ctx) override {
    if (topic != "ping") return AddExecutor::on_aux(topic, body, ctx);
    return config::Value{{"pong", ctx.site_name}, {"n", body.value("n", 0) + 1}};
  }
  Result<fl::TaskResult> execute(const fl::Task& task, fl::TaskIO& io, fl::ExecutorContext& ctx) override {
    NVF_ASSIGN_OR_RETURN(config::Value reply, ctx.send_aux("hello", config::Value{{"from", ctx.site_name}}, 5s));
    {
      std::lock_guard<std::mutex> lock(mu);
      replies.push_back(reply.dump());
    }
    return AddExecutor::execute(task, io, ctx);
  }
  std::mutex mu;
  std::vector<std::string> replies;
};

TEST_F(EnginesTest, AuxMessagesGoBothWaysBetweenTheWorkflowAndTheExecutors) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  std::mutex mu;
  std::vector<std::string> hellos;
  engine.set_aux_handler("hello", [&](const std::string& client, const config::Value& body) -> Result<config::Value> {
    std::lock_guard<std::mutex> lock(mu);
    hellos.push_back(client + ":" + body.value("from", ""));
    return config::Value{{"welcome", client}};
  });
  auto ex = std::make_shared<AuxExecutor>();
  run_client(client("site-1", "R1.site-1"), "site-1", ex);
  // Before site-1 fetched a task its job cell is not known; site-2 never comes.
  auto early = engine.send_aux({"site-2"}, "ping", config::Value{{"n", 1}}, 1s);
  EXPECT_EQ(early.at("site-2").status().code(), StatusCode::kUnavailable);

  CollectingSink sink;
  fl::TaskSpec task = train_task();
  task.targets = {"site-1"};
  ASSERT_TRUE(engine.broadcast_and_wait(task, sink).ok());
  EXPECT_EQ(hellos, (std::vector<std::string>{"site-1:site-1"}));  // the name it authenticated as
  EXPECT_EQ(ex->replies, (std::vector<std::string>{R"({"welcome":"site-1"})"}));

  auto replies = engine.send_aux({"site-1"}, "ping", config::Value{{"n", 41}}, 5s);
  ASSERT_TRUE(replies.at("site-1").ok()) << replies.at("site-1").status().to_string();
  EXPECT_EQ(*replies.at("site-1"), (config::Value{{"pong", "site-1"}, {"n", 42}}));
  auto unknown = engine.send_aux({"site-1"}, "nobody-handles-this", config::Value::object(), 5s);
  ASSERT_FALSE(unknown.at("site-1").ok());
  EXPECT_NE(unknown.at("site-1").status().message().find("site-1: no executor of job job handles aux topic "
                                                         "'nobody-handles-this'"),
            std::string::npos)
      << unknown.at("site-1").status().to_string();
  engine.abort("test over");
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

// A sink whose first tensor blocks until released, to hold a pull in flight.
class BlockingSink : public CollectingSink {
 public:
  Status on_tensor(const std::string& client, const std::string& name, const tensor::Tensor& t) override {
    entered.set_value();
    release.wait_for(30s);
    return CollectingSink::on_tensor(client, name, t);
  }
  std::promise<void> entered;
  std::shared_future<void> release;
};

// Regression (use after free): a round's wait could return while a slow pull still wrote into its
// sink, a local of the round. Now a task's wait() returns only once no pull feeds its sink, and a
// pull stops at the next tensor once its task has ended.
TEST_F(EnginesTest, AWaitDoesNotReturnWhileAPullStillFeedsTheSink) {
  ServerJobEngine engine(*sj_, server_options({"site-1"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);
  std::promise<void> release;
  auto sink = std::make_unique<BlockingSink>();
  sink->release = release.get_future().share();
  fl::TaskSpec task = train_task();
  ASSERT_TRUE(task.data.params.insert("v", tensor::Tensor::from_vector<float>({2}, {7, 8})).ok());
  auto h = engine.broadcast(task, *sink);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(sink->entered.get_future().wait_for(10s), std::future_status::ready);
  (*h)->cancel();  // the task ends while its only result is being pulled
  auto waited = std::async(std::launch::async, [&] { return (*h)->wait(); });
  EXPECT_EQ(waited.wait_for(200ms), std::future_status::timeout) << "wait() returned with a pull in flight";
  release.set_value();
  ASSERT_EQ(waited.wait_for(10s), std::future_status::ready);
  auto outcome = waited.get();
  ASSERT_TRUE(outcome.ok());
  {
    std::lock_guard<std::mutex> lock(sink->mu);
    ASSERT_EQ(sink->results.count("site-1"), 1u);  // on_result came before wait() returned
    EXPECT_NE(sink->results["site-1"].message().find("ended while this result was arriving"), std::string::npos)
        << sink->results["site-1"].to_string();
    EXPECT_EQ(sink->values.size(), 1u);  // the second tensor never reached the sink
  }
  EXPECT_EQ(outcome->failed, (std::vector<std::string>{"site-1"}));
  sink.reset();  // the round's sink goes away: nothing may touch it now
  engine.abort("test over");
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

// Regression: a client that left while its result was being pulled was counted twice (as gone and
// then as answered), so a task of two targets ended with the other one still to answer.
TEST_F(EnginesTest, AClientThatLeavesWhileItsResultArrivesCountsOnce) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1"), "site-1", 1);  // site-2 is slow: it has not come yet
  std::promise<void> release;
  auto sink = std::make_unique<BlockingSink>();
  sink->release = release.get_future().share();
  auto h = engine.broadcast(train_task(), *sink);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(sink->entered.get_future().wait_for(10s), std::future_status::ready);
  engine.client_left("site-1");  // while its result streams in
  release.set_value();
  {
    std::unique_lock<std::mutex> lock(sink->mu);
    ASSERT_TRUE(sink->cv.wait_for(lock, 10s, [&] { return sink->results.count("site-1") > 0; }));
  }
  auto waited = std::async(std::launch::async, [&] { return (*h)->wait(); });
  EXPECT_EQ(waited.wait_for(300ms), std::future_status::timeout) << "the task ended without site-2";
  (*h)->cancel();
  auto outcome = waited.get();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->responded, (std::vector<std::string>{"site-1"}));
  EXPECT_EQ(outcome->missing, (std::vector<std::string>{"site-2"}));
  engine.abort("test over");
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

}  // namespace
}  // namespace nvf::runtime
