// The server and client job engines over in-process cells: tasks long-polled, results pulled
// tensor by tensor into the workflow's sink, and the rules that end a task (all answered, min
// responses, dead clients).
#include "runtime/tests/engines_fixture.h"

namespace nvf::runtime {
namespace {

using namespace protocol;
using namespace engines_test;
using namespace std::chrono_literals;


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

// Regression: the client jobs start before their server job, so a client job's first get_task
// could find no server job yet and then waited a whole retry_interval (500 ms) before asking
// again, delaying the first task. Until the first answer it now asks again soon. The retry
// interval here is a minute: only the quick first retries let the task arrive in time.
TEST_F(EnginesTest, AClientJobAheadOfItsServerJobAsksAgainSoon) {
  // The server parent: the first get_task finds no server job (as the real route's "no route").
  auto refused = std::make_shared<std::atomic<int>>(0);
  server_->intercept_forwarded(std::string(kChannelServerCommand), std::string(kTopicGetTask),
                                [refused](const cellnet::Message&, cellnet::Responder r) {
                                  if (refused->fetch_add(1) > 0) return false;  // forwarded
                                  r(UnavailableError("no route from server to server.job"));
                                  return true;
                                });
  auto asked = std::make_shared<std::promise<void>>();
  auto once = std::make_shared<std::atomic<bool>>(false);
  sj_->register_request_handler(std::string(kChannelServerCommand), std::string(kTopicGetTask),
                                [asked, once](const cellnet::Message&) -> Result<cellnet::Message> {
                                  if (!once->exchange(true)) asked->set_value();
                                  cellnet::Message m;
                                  m.headers.set(kHdrTaskName, std::string(kTaskEndRun));
                                  return m;
                                });
  ClientJobOptions co;
  co.server_job_fqcn = "server.job";
  co.retry_interval = 60s;
  auto engine = client_engine(client("site-1"), "site-1", "job", co);
  auto run = std::async(std::launch::async, [&] { return engine->run(); });
  ASSERT_EQ(asked->get_future().wait_for(20s), std::future_status::ready)
      << "the client job waited the whole retry_interval after finding no server job";
  ASSERT_EQ(run.wait_for(20s), std::future_status::ready);
  EXPECT_TRUE(run.get().ok());
  EXPECT_EQ(refused->load(), 2);
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

// Sites behind relays have cell names like "R1.site-1": the server job knows them by the name
// their listener authenticated, and results, steps and outcome are keyed by it.
TEST_F(EnginesTest, SitesBehindRelayStyleCellNamesAreIdentifiedByTheirSiteName) {
  ServerJobEngine engine(*sj_, server_options({"site-1", "site-2"}));
  ASSERT_TRUE(engine.start().ok());
  run_client(client("site-1", "R1.site-1"), "site-1", 1);
  run_client(client("site-2", "R1.R2.site-2"), "site-2", 10);
  CollectingSink sink;
  auto outcome = engine.broadcast_and_wait(train_task(), sink);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->responded, (std::vector<std::string>{"site-1", "site-2"}));
  EXPECT_EQ(sink.values["site-1/w"], (std::vector<double>{2, 3, 4}));
  EXPECT_EQ(sink.values["site-2/w"], (std::vector<double>{11, 12, 13}));
  engine.abort("test over");
  ASSERT_TRUE(engine.run({}).ok());
  engine.stop();
}

// A get_task that reached the server job without an authenticated site (here: from a cell the
// listener does not know) is refused by name, not served to whatever its cell name suggests.
TEST_F(EnginesTest, AClientWhoseCellNameIsNotKnownIsRefused) {
  ServerJobEngine engine(*sj_, server_options({"site-1"}));
  ASSERT_TRUE(engine.start().ok());
  cellnet::Cell* liar = cell("site-1");  // named like site-1, but not made by client(): unknown
  liar->connect(net_ + "-server").ignore();
  ASSERT_TRUE(liar->wait_for_peer("server", 5s).ok());
  auto r = liar->request("server.job", std::string(kChannelServerCommand), std::string(kTopicGetTask),
                         cellnet::Message{}, 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << r.status().to_string();
  EXPECT_NE(r.status().message().find("unknown cell 'site-1'"), std::string::npos) << r.status().message();
  engine.stop();
}

TEST_F(EnginesTest, AClientNeverSeenIsNotDeadBeforeTheStartupGrace) {
  ServerJobOptions o = server_options({"site-1", "site-2"});
  o.dead_client_grace_period = 100ms;
  o.dead_client_check_lead_time = 50ms;
  o.startup_grace = 1500ms;  // site-2's job is slow to start
  ServerJobEngine engine(*sj_, o);
  // Before the engine starts its startup grace: the bound below must hold however slow the test
  // runs (measured from after start(), it missed by a few ms under TSan).
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine.start().ok());
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
