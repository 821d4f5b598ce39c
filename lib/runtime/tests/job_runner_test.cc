// JobRunner against a fake client site (an in-process cell answering deploy and start) and a
// stand-in for the server job process: a shell script that reports its pid and what signals it
// gets through a FIFO, so a test sees each step of an abort without a timer.
#include "runtime/job_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <future>
#include <memory>

#include "base/files.h"
#include "cellnet/inproc_driver.h"
#include "job/archive.h"
#include "runtime/deploy_protocol.h"
#include "runtime/fan_out.h"

namespace nvf::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::atomic<int> g_net{0};

// Reads one line from a FIFO opened non-blocking, waiting up to `deadline` for it.
std::string read_line(int fd, std::chrono::milliseconds deadline) {
  std::string line;
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n == 1) {
      if (c == '\n') return line;
      line.push_back(c);
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return line;
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

class JobRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tmp = base::make_temp_dir("nvf-jr");
    ASSERT_TRUE(tmp.ok());
    dir_ = *tmp;
    drivers_.add(std::make_shared<cellnet::InprocDriver>());
    url_ = "inproc://jr" + std::to_string(++g_net);
    server_ = make_cell("server");
    ASSERT_TRUE(server_->listen(url_).ok());
    site_ = make_cell("site-1");
    for (auto topic : {deploy::kTopicDeploy, deploy::kTopicStartJob, deploy::kTopicAbortJob}) {
      site_->register_request_handler(std::string(deploy::kChannelAdmin), std::string(topic),
                                      [](const cellnet::Message&) -> Result<cellnet::Message> {
                                        return cellnet::Message::of("OK");
                                      });
    }
    site_->connect(url_).ignore();
    ASSERT_TRUE(site_->wait_for_peer("server", 5s).ok());
    ASSERT_TRUE(server_->wait_for_peer("site-1", 5s).ok());
    auto store = job::JobStore::open(dir_ / "store");
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(*store);
    fifo_ = dir_ / "events";
    ASSERT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
    fifo_fd_ = ::open(fifo_.c_str(), O_RDONLY | O_NONBLOCK);
    ASSERT_GE(fifo_fd_, 0);
  }
  void TearDown() override {
    runner_.reset();
    if (fifo_fd_ >= 0) ::close(fifo_fd_);
    for (auto it = cells_.rbegin(); it != cells_.rend(); ++it) (*it)->stop();
    drivers_.stop_all();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  cellnet::Cell* make_cell(const std::string& name) {
    cellnet::CellOptions o;
    o.fqcn = name;
    o.drivers = &drivers_;
    o.reconnect_initial = 20ms;
    cells_.push_back(std::make_unique<cellnet::Cell>(o));
    EXPECT_TRUE(cells_.back()->start().ok());
    return cells_.back().get();
  }
  // The stand-in server job: writes "started <pid>", then, for every SIGTERM it ignores,
  // "term <pid>", and never exits on its own.
  fs::path stubborn_server_job() {
    fs::path script = dir_ / "server_job.sh";
    const std::string f = fifo_.string();
    EXPECT_TRUE(base::atomic_write(script, "#!/bin/sh\n"
                                           "trap 'echo term $$ > " + f + "' TERM\n"
                                           "echo started $$ > " + f + "\n"
                                           "while :; do sleep 600 & wait $!; done\n")
                    .ok());
    fs::permissions(script, fs::perms::owner_all);
    return script;
  }
  std::string store_job() {
    fs::path folder = dir_ / "src" / "job";
    fs::create_directories(folder / "app" / "config");
    EXPECT_TRUE(base::atomic_write(folder / "meta.json", "{}").ok());
    EXPECT_TRUE(base::atomic_write(folder / "app" / "config" / "config_fed_server.json", "{}").ok());
    fs::path zip = dir_ / "job.zip";
    EXPECT_TRUE(job::pack_zip(folder, zip).ok());
    config::Value meta = {{"name", "job"},
                          {"job_folder_name", "job"},
                          {"deploy_map", {{"app", {"server", "site-1"}}}},
                          {"min_clients", 1}};
    auto id = store_->create(meta, zip);
    EXPECT_TRUE(id.ok()) << id.status().to_string();
    return id.ok() ? *id : "";
  }
  // The stand-in server job that ends at once, successfully.
  fs::path finishing_server_job() {
    fs::path script = dir_ / "done.sh";
    EXPECT_TRUE(base::atomic_write(script, "#!/bin/sh\nexit 0\n").ok());
    fs::permissions(script, fs::perms::owner_all);
    return script;
  }
  void start_runner(const fs::path& server_job) {
    runner_ = std::make_unique<JobRunner>(options(server_job), *server_, *store_, tracker_);
    runner_->set_parent_url("inproc://nowhere");
  }
  JobRunnerOptions options(const fs::path& bin) {
    JobRunnerOptions o;
    o.workspace = dir_ / "ws";
    fs::create_directories(o.workspace);
    o.secure = false;
    o.nvflare_bin = bin.string();
    o.admin_timeout = 5s;
    o.start_job_timeout = 5s;
    o.registered_clients = [] { return std::vector<std::string>{"site-1"}; };
    o.on_job_ended = [this] {
      std::lock_guard<std::mutex> lock(ended_mu_);
      if (!ended_set_) {
        ended_set_ = true;
        ended_.set_value();
      }
    };
    return o;
  }

  fs::path dir_;
  std::string url_;
  cellnet::DriverRegistry drivers_;
  std::vector<std::unique_ptr<cellnet::Cell>> cells_;
  cellnet::Cell* server_ = nullptr;
  cellnet::Cell* site_ = nullptr;
  std::unique_ptr<job::JobStore> store_;
  ClientJobTracker tracker_{false};
  std::unique_ptr<JobRunner> runner_;
  fs::path fifo_;
  int fifo_fd_ = -1;
  std::mutex ended_mu_;
  bool ended_set_ = false;
  std::promise<void> ended_;
};

// Regression: the runner terminated an aborted server job (a grace, then SIGKILL and a wait for
// the group) while holding the lock that heartbeats, check_status and the scheduler take, so a
// server job that ignores SIGTERM froze the server parent for the whole grace.
TEST_F(JobRunnerTest, WhileAStubbornServerJobIsTerminatedTheRunnerKeepsAnswering) {
  JobRunnerOptions o = options(stubborn_server_job());
  o.abort_grace = 50ms;
  o.terminate_grace = 120s;  // never reached: the test kills the job itself once it has checked
  runner_ = std::make_unique<JobRunner>(std::move(o), *server_, *store_, tracker_);
  runner_->set_parent_url("inproc://nowhere");
  const std::string id = store_job();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(runner_->start(id));
  std::string started = read_line(fifo_fd_, 30s);
  ASSERT_EQ(started.rfind("started ", 0), 0u) << started;
  const pid_t pid = static_cast<pid_t>(std::stol(started.substr(8)));
  struct KillAtExit {  // whatever fails below, the stand-in's group does not outlive the test
    pid_t pgid;
    ~KillAtExit() { ::kill(-pgid, SIGKILL); }
  } kill_at_exit{pid};

  std::string message;
  ASSERT_TRUE(runner_->abort(id, "the admin aborted it", &message).ok());
  std::string term = read_line(fifo_fd_, 30s);  // the runner's SIGTERM reached the job, which ignored it
  ASSERT_EQ(term, "term " + std::to_string(pid));

  // The termination is under way (120 s of grace left): the runner answers at once.
  auto answer = std::async(std::launch::async, [&] { return runner_->running(); });
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready) << "running() waited for the termination";
  EXPECT_EQ(answer.get(), std::set<std::string>{id});
  EXPECT_TRUE(runner_->is_running(id));

  ASSERT_EQ(::kill(-pid, SIGKILL), 0);  // its group: the shell and its sleep
  ASSERT_EQ(ended_.get_future().wait_for(30s), std::future_status::ready);
  auto meta = store_->meta(id);
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ((*meta)["status"], "FINISHED:ABORTED");
  EXPECT_EQ((*meta)["finish_reason"], "the admin aborted it");
}

// Regression: the runner ignored failed job-store writes, so a FINISHED status that could not be
// written was lost and the job became ABANDONED at the next start. The store keeps it; the runner
// logs it; a flush writes it once the disk is back.
TEST_F(JobRunnerTest, AFinishedStatusTheStoreCouldNotWriteIsNotLost) {
  start_runner(finishing_server_job());
  const std::string id = store_job();
  ASSERT_FALSE(id.empty());
  std::atomic<bool> disk_full{false};
  store_->set_writer_for_testing([&](const fs::path& p, std::string_view text) -> Status {
    if (disk_full && p.filename() == "meta") return InternalError("cannot write " + p.string() + ": No space left on device");
    return base::atomic_write(p, text);
  });
  // The disk fills up once the job runs: its FINISHED status cannot be written.
  disk_full = true;
  ASSERT_TRUE(runner_->start(id));
  ASSERT_EQ(ended_.get_future().wait_for(30s), std::future_status::ready);
  auto meta = store_->meta(id);
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ((*meta)["status"], "FINISHED:COMPLETED");
  EXPECT_EQ(store_->unsaved().count(id), 1u);

  disk_full = false;
  ASSERT_TRUE(store_->flush().ok());
  runner_.reset();  // it borrows the store
  store_.reset();
  std::vector<std::string> abandoned;
  auto reopened = job::JobStore::open(dir_ / "store", &abandoned);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(abandoned.empty());
  EXPECT_EQ((*(*reopened)->meta(id))["status"], "FINISHED:COMPLETED");
  store_ = std::move(*reopened);
}

// Proves: a job whose submit left its checked extraction in the store deploys from that extraction
// (one write of the job's bytes less), not from its zip: a file only the extraction holds reaches
// the server's app, and the store keeps nothing of it once the job ran.
TEST_F(JobRunnerTest, TheSubmitsExtractionIsDeployedInsteadOfTheZipExtractedAgain) {
  start_runner(finishing_server_job());
  fs::path folder = dir_ / "src" / "job";
  fs::create_directories(folder / "app" / "config");
  ASSERT_TRUE(base::atomic_write(folder / "meta.json", "{}").ok());
  ASSERT_TRUE(base::atomic_write(folder / "app" / "config" / "config_fed_server.json", "{}").ok());
  auto upload = store_->make_upload_dir();
  ASSERT_TRUE(upload.ok());
  ASSERT_TRUE(job::pack_zip(folder, *upload / "job.zip").ok());
  ASSERT_TRUE(job::unpack_zip(*upload / "job.zip", *upload / "x").ok());
  fs::create_directories(*upload / "x" / "job" / "app" / "custom");
  ASSERT_TRUE(base::atomic_write(*upload / "x" / "job" / "app" / "custom" / "marker", "from the extraction").ok());
  config::Value meta = {{"name", "job"},
                        {"job_folder_name", "job"},
                        {"deploy_map", {{"app", {"server", "site-1"}}}},
                        {"min_clients", 1}};
  auto id = store_->create_by_moving(meta, *upload / "job.zip", *upload / "x");
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  ASSERT_TRUE(fs::is_directory(dir_ / "store" / *id / ".unpacked"));

  ASSERT_TRUE(runner_->start(*id));
  ASSERT_EQ(ended_.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_EQ((*store_->meta(*id))["status"], "FINISHED:COMPLETED");
  EXPECT_FALSE(fs::exists(dir_ / "store" / *id / ".unpacked"));
  auto workspace = store_->workspace_path(*id);
  ASSERT_TRUE(workspace.has_value());
  ASSERT_TRUE(job::unpack_zip(*workspace, dir_ / "ws-out").ok());
  auto marker = base::read_file(dir_ / "ws-out" / "workspace" / "app_server" / "custom" / "marker");
  ASSERT_TRUE(marker.ok()) << marker.status().to_string();
  EXPECT_EQ(*marker, "from the extraction");
}

// Regression: the server parent asked client parents one after another, so a command to N clients
// of which one hangs cost N timeouts. Two sites here answer only once both have been asked: asked
// one by one, the first times out waiting for the second.
TEST_F(JobRunnerTest, ClientsAreAskedAtOnceNotOneAfterAnother) {
  cellnet::Cell* site2 = make_cell("site-2");
  std::mutex mu;
  std::vector<cellnet::Responder> held;
  auto hold_until_both = [&](const cellnet::Message&, cellnet::Responder respond) {
    std::vector<cellnet::Responder> now;
    {
      std::lock_guard<std::mutex> lock(mu);
      held.push_back(std::move(respond));
      if (held.size() == 2) now.swap(held);
    }
    for (auto& r : now) r(cellnet::Message::of("OK"));
  };
  site_->register_async_request_handler("test", "both", hold_until_both);
  site2->register_async_request_handler("test", "both", hold_until_both);
  site2->connect(url_).ignore();
  ASSERT_TRUE(site2->wait_for_peer("server", 5s).ok());
  ASSERT_TRUE(server_->wait_for_peer("site-2", 5s).ok());
  auto replies = ask_all(*server_, {"site-1", "site-2"}, "test", "both", cellnet::Message{}, 3s);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].first, "site-1");
  EXPECT_TRUE(replies[0].second.ok()) << replies[0].second.status().to_string();
  EXPECT_TRUE(replies[1].second.ok()) << replies[1].second.status().to_string();
}

}  // namespace
}  // namespace nvf::runtime
