#include "job/job_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <regex>
#include <set>
#include <thread>

#include "base/files.h"
#include "test_util.h"

namespace nvf::job {
namespace {
namespace fs = std::filesystem;

using config::Value;
using testing::read_text;
using testing::TempDir;
using testing::write_text;

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

Value read_meta_file(const fs::path& p) { return Value::parse(read_text(p)); }

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "jobs-storage";
    zip_ = tmp_.path() / "job.zip";
    write_text(zip_, "PK\x03\x04 pretend zip bytes");
    reopen();
  }

  void reopen() {
    store_.reset();
    abandoned_.clear();
    warnings_.clear();
    auto s = JobStore::open(root_, &abandoned_, &warnings_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
  }

  std::string create(const std::string& name) {
    Value meta = {{"name", name},
                  {"deploy_map", {{"app", {"@ALL"}}}},
                  {"min_clients", 1},
                  {"submitter_name", "admin@nvidia.com"},
                  {"submitter_org", "nvidia"},
                  {"submitter_role", "project_admin"},
                  {"job_folder_name", name}};
    auto id = store_->create(meta, zip_);
    EXPECT_TRUE(id.ok()) << id.status().to_string();
    return id.ok() ? *id : "";
  }

  std::string status(const std::string& id) {
    auto m = store_->meta(id);
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    return m.ok() ? (*m)["status"].get<std::string>() : "";
  }

  TempDir tmp_;
  fs::path root_, zip_;
  std::unique_ptr<JobStore> store_;
  std::vector<std::string> abandoned_, warnings_;
};

TEST_F(JobStoreTest, CreateAddsFlareServerFields) {
  std::string id = create("hello-numpy");
  EXPECT_TRUE(is_valid_job_id(id)) << id;
  EXPECT_EQ(id[14], '4');  // uuid version 4
  auto m = store_->meta(id);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)["job_id"], id);
  EXPECT_EQ((*m)["name"], "hello-numpy");
  EXPECT_EQ((*m)["status"], "SUBMITTED");
  EXPECT_EQ((*m)["start_time"], "");
  EXPECT_EQ((*m)["duration"], "N/A");
  EXPECT_EQ((*m)["data_storage_format"], 2);
  EXPECT_EQ((*m)["submitter_org"], "nvidia");
  ASSERT_TRUE((*m)["submit_time"].is_number_float());
  double t = (*m)["submit_time"].get<double>();
  double now = static_cast<double>(std::time(nullptr));
  EXPECT_NEAR(t, now, 5.0);
  std::string iso = (*m)["submit_time_iso"].get<std::string>();
  EXPECT_TRUE(
      std::regex_match(iso, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d)")))
      << iso;
  EXPECT_EQ(read_text(store_->data_path(id)), read_text(zip_));
  EXPECT_EQ(read_meta_file(root_ / id / "meta"), *m);
  EXPECT_FALSE(store_->is_scheduled(id));
}

// Proves: create_by_moving stores the zip's bytes without writing them again (the file is moved:
// same inode, the source is gone) and a missing zip is NOT_FOUND naming it.
TEST_F(JobStoreTest, CreateByMovingTakesTheFileItself) {
  struct stat before {};
  ASSERT_EQ(::stat(zip_.c_str(), &before), 0);
  const std::string bytes = read_text(zip_);
  auto id = store_->create_by_moving({{"name", "moved"}, {"job_folder_name", "moved"}}, zip_);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_FALSE(fs::exists(zip_));
  EXPECT_EQ(read_text(store_->data_path(*id)), bytes);
  struct stat after {};
  ASSERT_EQ(::stat(store_->data_path(*id).c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  auto missing = store_->create_by_moving({{"name", "x"}}, zip_);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("job.zip"), std::string::npos);
}

// Proves: an upload's checked extraction moves into the store with the zip (same inode, nothing
// written again) and is handed, once, to the deploy that claims it; a job without one, a clone's
// case, has nothing to take.
TEST_F(JobStoreTest, AKeptExtractionIsMovedInAndTakenOnce) {
  auto upload = store_->make_upload_dir();
  ASSERT_TRUE(upload.ok()) << upload.status().to_string();
  EXPECT_EQ(upload->parent_path(), root_);
  fs::path zip = *upload / "job.zip";
  fs::rename(zip_, zip);
  write_text(*upload / "x" / "moved" / "app" / "custom" / "big.bin", "checkpoint bytes");
  struct stat before {};
  ASSERT_EQ(::stat((*upload / "x" / "moved" / "app" / "custom" / "big.bin").c_str(), &before), 0);
  auto id = store_->create_by_moving({{"name", "moved"}, {"job_folder_name", "moved"}}, zip, *upload / "x");
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_FALSE(fs::exists(*upload / "x"));
  // Not a component: the layout users see is FLARE's.
  EXPECT_EQ(*store_->components(*id), (std::vector<std::string>{"data", "meta"}));
  fs::path dest = tmp_.path() / "run" / "_job";
  fs::create_directories(dest.parent_path());
  ASSERT_TRUE(store_->take_unpacked(*id, dest));
  struct stat after {};
  ASSERT_EQ(::stat((dest / "moved" / "app" / "custom" / "big.bin").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(read_text(dest / "moved" / "app" / "custom" / "big.bin"), "checkpoint bytes");
  EXPECT_FALSE(store_->take_unpacked(*id, tmp_.path() / "run" / "again"));
  EXPECT_FALSE(fs::exists(tmp_.path() / "run" / "again"));
  write_text(zip_, "PK\x03\x04 another zip");
  EXPECT_FALSE(store_->take_unpacked(create("plain"), tmp_.path() / "run" / "plain"));
  EXPECT_FALSE(store_->take_unpacked("0b1e7a9e-1111-4222-8333-444455556666", tmp_.path() / "run" / "unknown"));
}

// Proves: an extraction no deploy claimed does not outlive its job's end, nor a crash before it,
// and a destination it cannot move to leaves nothing of it behind.
TEST_F(JobStoreTest, AKeptExtractionGoesWhenTheJobFinishesOrCannotBeMoved) {
  auto kept_job = [&](const std::string& name) {
    auto upload = store_->make_upload_dir();
    EXPECT_TRUE(upload.ok());
    write_text(*upload / "job.zip", "PK\x03\x04 pretend");
    write_text(*upload / "x" / name / "meta.json", "{}");
    auto id = store_->create_by_moving({{"name", name}}, *upload / "job.zip", *upload / "x");
    EXPECT_TRUE(id.ok());
    fs::remove_all(*upload);
    EXPECT_TRUE(fs::is_directory(root_ / *id / ".unpacked"));
    return *id;
  };
  std::string aborted = kept_job("aborted");
  ASSERT_TRUE(store_->set_status(aborted, std::string(run_status::kFinishedAborted)).ok());
  EXPECT_FALSE(fs::exists(root_ / aborted / ".unpacked"));

  std::string crashed = kept_job("crashed");
  ASSERT_TRUE(store_->set_status(crashed, std::string(run_status::kFinishedCanNotSchedule)).ok());
  write_text(root_ / crashed / ".unpacked" / "crashed" / "meta.json", "{}");  // as if the drop never ran
  std::string waiting = kept_job("waiting");
  reopen();
  EXPECT_FALSE(fs::exists(root_ / crashed / ".unpacked"));
  EXPECT_TRUE(fs::exists(root_ / waiting / ".unpacked"));  // still SUBMITTED: its deploy will want it

  EXPECT_FALSE(store_->take_unpacked(waiting, tmp_.path() / "no-such-folder" / "_job"));
  EXPECT_FALSE(fs::exists(root_ / waiting / ".unpacked"));
  EXPECT_EQ(names_in(root_), (std::set<std::string>{aborted, crashed, waiting}));
}

TEST_F(JobStoreTest, CreateListUpdateReopenKeepsEveryJob) {
  std::string a = create("a"), b = create("b"), c = create("c");
  ASSERT_TRUE(store_->update(b, Value{{"job_clients", {"site-1", "site-2"}}, {"name", "b2"}}).ok());
  auto listed = store_->list();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0]["job_id"], a);
  EXPECT_EQ(listed[1]["job_id"], b);
  EXPECT_EQ(listed[2]["job_id"], c);
  EXPECT_EQ(listed[1]["name"], "b2");
  EXPECT_EQ(listed[1]["job_clients"], Value({"site-1", "site-2"}));
  EXPECT_EQ(listed[1]["deploy_map"], Value({{"app", {"@ALL"}}}));  // untouched keys stay

  reopen();
  EXPECT_TRUE(abandoned_.empty());
  EXPECT_TRUE(warnings_.empty());
  EXPECT_EQ(store_->list(), listed);
  EXPECT_EQ(read_text(store_->data_path(c)), read_text(zip_));
}

TEST_F(JobStoreTest, RunningAndDispatchedJobsAreAbandonedOnReopen) {
  std::string running = create("r"), dispatched = create("d"), done = create("f"),
              waiting = create("w");
  ASSERT_TRUE(store_->set_status(running, "RUNNING").ok());
  ASSERT_TRUE(store_->set_status(dispatched, "DISPATCHED").ok());
  ASSERT_TRUE(store_->set_status(done, "FINISHED:COMPLETED").ok());

  reopen();
  std::vector<std::string> expected = {running, dispatched};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(abandoned_, expected);
  EXPECT_EQ(status(running), "FINISHED:ABANDONED");
  EXPECT_EQ(status(dispatched), "FINISHED:ABANDONED");
  EXPECT_EQ(status(done), "FINISHED:COMPLETED");
  EXPECT_EQ(status(waiting), "SUBMITTED");
  EXPECT_EQ(read_meta_file(root_ / running / "meta")["status"], "FINISHED:ABANDONED");
}

// Regression: a failed status write was dropped (the runner ignored it), so a job whose
// FINISHED:COMPLETED could not be written became FINISHED:ABANDONED at the next start. The change
// is now kept in memory, reported, and written by flush() once the disk is back.
TEST_F(JobStoreTest, AStatusThatCouldNotBeWrittenIsKeptReportedAndSavedByFlush) {
  std::string id = create("j");
  ASSERT_TRUE(store_->set_status(id, "RUNNING").ok());
  bool disk_full = true;
  store_->set_writer_for_testing([&](const fs::path& p, std::string_view text) -> Status {
    if (disk_full) return InternalError("cannot write " + p.string() + ": No space left on device");
    return base::atomic_write(p, text);
  });
  Status s = store_->set_status(id, "FINISHED:COMPLETED");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("job " + id), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No space left on device"), std::string::npos) << s.message();
  // What the admin sees is the status the job reached; the file on disk is the old one, whole.
  EXPECT_EQ(status(id), "FINISHED:COMPLETED");
  EXPECT_EQ(read_meta_file(root_ / id / "meta")["status"], "RUNNING");
  auto unsaved = store_->unsaved();
  ASSERT_EQ(unsaved.size(), 1u);
  EXPECT_NE(unsaved[id].find("No space left on device"), std::string::npos);
  EXPECT_FALSE(store_->flush().ok());  // still full

  disk_full = false;
  ASSERT_TRUE(store_->flush().ok());
  EXPECT_TRUE(store_->unsaved().empty());
  reopen();
  EXPECT_TRUE(abandoned_.empty());
  EXPECT_EQ(status(id), "FINISHED:COMPLETED");
}

TEST_F(JobStoreTest, CorruptedMetaIsSkippedAndKeptOnDisk) {
  std::string good = create("good"), bad = create("bad"), other = create("other");
  write_text(root_ / bad / "meta", "{\"job_id\": ");
  Value m = read_meta_file(root_ / other / "meta");
  m["job_id"] = "someone-else";
  write_text(root_ / other / "meta", m.dump());
  fs::create_directories(root_ / "no-meta");

  reopen();
  ASSERT_EQ(warnings_.size(), 3u);
  std::string all = warnings_[0] + "\n" + warnings_[1] + "\n" + warnings_[2];
  EXPECT_NE(all.find((root_ / bad).string()), std::string::npos) << all;
  EXPECT_NE(all.find("job_id does not name its folder " + other), std::string::npos) << all;
  EXPECT_NE(all.find((root_ / "no-meta").string()), std::string::npos) << all;
  auto listed = store_->list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["job_id"], good);
  EXPECT_EQ(store_->meta(bad).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->meta(bad).status().message(), "job " + bad + " not found");
  EXPECT_EQ(read_text(root_ / bad / "meta"), "{\"job_id\": ");
  EXPECT_TRUE(fs::exists(root_ / bad / "data"));
  EXPECT_TRUE(fs::exists(root_ / "no-meta"));
}

TEST_F(JobStoreTest, RemoveRefusesARunningJob) {
  std::string id = create("r");
  ASSERT_TRUE(store_->set_status(id, "RUNNING").ok());
  Status s = store_->remove(id);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "job " + id + " is running, could not be deleted at this time.");
  EXPECT_TRUE(fs::exists(root_ / id / "data"));
  ASSERT_TRUE(store_->set_status(id, "DISPATCHED").ok());
  EXPECT_EQ(store_->remove(id).code(), StatusCode::kFailedPrecondition);

  ASSERT_TRUE(store_->set_status(id, "FINISHED:ABORTED").ok());
  ASSERT_TRUE(store_->remove(id).ok());
  EXPECT_FALSE(fs::exists(root_ / id));
  EXPECT_TRUE(names_in(root_).empty());
  EXPECT_TRUE(store_->list().empty());
  EXPECT_EQ(store_->remove(id).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->data_path(id).empty());
}

TEST_F(JobStoreTest, WritesLeaveNoTempFilesBehind) {
  std::string id = create("j");
  EXPECT_EQ(names_in(root_), std::set<std::string>{id});
  EXPECT_EQ(names_in(root_ / id), (std::set<std::string>{"data", "meta"}));
  ASSERT_TRUE(store_->update(id, Value{{"custom", 1}}).ok());
  ASSERT_TRUE(store_->set_status(id, "DISPATCHED").ok());
  ASSERT_TRUE(store_->set_status(id, "RUNNING").ok());
  ASSERT_TRUE(store_->set_status(id, "FINISHED:COMPLETED").ok());
  fs::path ws = tmp_.path() / "ws.zip";
  write_text(ws, "workspace zip");
  ASSERT_TRUE(store_->save_workspace(id, ws).ok());
  EXPECT_EQ(names_in(root_), std::set<std::string>{id});
  EXPECT_EQ(names_in(root_ / id),
            (std::set<std::string>{"data", "meta", "scheduled", "workspace"}));
}

TEST_F(JobStoreTest, OpenRemovesLeftoversOfInterruptedWrites) {
  std::string id = create("j");
  write_text(root_ / ("." + id + ".creating") / "data", "half");
  write_text(root_ / ".0b1e7a9e-1111-4222-8333-444455556666.deleting" / "meta", "{}");
  write_text(root_ / id / ".meta.tmp12345", "{\"job_id\"");
  write_text(root_ / ".upload-Ab12Cd" / "job.zip", "half an upload");
  reopen();
  EXPECT_EQ(names_in(root_), std::set<std::string>{id});
  EXPECT_EQ(names_in(root_ / id), (std::set<std::string>{"data", "meta"}));
  EXPECT_EQ(warnings_.size(), 3u);
  EXPECT_EQ(store_->list().size(), 1u);
}

TEST_F(JobStoreTest, SetStatusSetsStartTimeDurationAndScheduledTag) {
  std::string id = create("j");
  ASSERT_TRUE(store_->set_status(id, "DISPATCHED").ok());
  EXPECT_TRUE(store_->is_scheduled(id));
  ASSERT_TRUE(store_->set_status(id, "RUNNING").ok());
  auto m = store_->meta(id);
  std::string start = (*m)["start_time"].get<std::string>();
  EXPECT_TRUE(std::regex_match(start, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?)")))
      << start;
  ASSERT_TRUE(store_->set_status(id, "FINISHED:COMPLETED").ok());
  std::string d = (*store_->meta(id))["duration"].get<std::string>();
  EXPECT_TRUE(std::regex_match(d, std::regex(R"(0:00:0\d(\.\d{6})?)"))) << d;

  // A run that started long ago: Python's str(timedelta) with days.
  std::string old = create("old");
  ASSERT_TRUE(store_->update(old, Value{{"start_time", "2000-01-01 00:00:00.250000"}}).ok());
  ASSERT_TRUE(store_->set_status(old, "FINISHED:ABORTED").ok());
  d = (*store_->meta(old))["duration"].get<std::string>();
  EXPECT_TRUE(std::regex_match(d, std::regex(R"(\d+ days, \d{1,2}:\d\d:\d\d(\.\d{6})?)"))) << d;

  // Never started: duration stays "N/A"; abandoned keeps whatever it had.
  std::string never = create("never");
  ASSERT_TRUE(store_->set_status(never, "FINISHED:CAN_NOT_SCHEDULE").ok());
  EXPECT_EQ((*store_->meta(never))["duration"], "N/A");
  EXPECT_TRUE(store_->is_scheduled(never));
}

TEST_F(JobStoreTest, RejectsUnknownStatusAndJobIdChanges) {
  std::string id = create("j");
  EXPECT_EQ(store_->set_status(id, "FINISHED").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->update(id, Value{{"status", "DONE"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->update(id, Value{{"job_id", "x"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->update(id, Value::array()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->set_status("nope", "RUNNING").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->update("nope", Value::object()).code(), StatusCode::kNotFound);
  EXPECT_EQ(status(id), "SUBMITTED");
}

TEST_F(JobStoreTest, WorkspaceIsSavedAndFound) {
  std::string id = create("j");
  EXPECT_FALSE(store_->workspace_path(id).has_value());
  fs::path ws = tmp_.path() / "ws.zip";
  write_text(ws, "the server run dir, zipped");
  ASSERT_TRUE(store_->save_workspace(id, ws).ok());
  auto p = store_->workspace_path(id);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, root_ / id / "workspace");
  EXPECT_EQ(read_text(*p), "the server run dir, zipped");
  EXPECT_EQ(store_->save_workspace("nope", ws).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->save_workspace(id, tmp_.path() / "missing.zip").code(), StatusCode::kNotFound);
  EXPECT_EQ(read_text(*p), "the server run dir, zipped");
}

// Proves: a workspace saved by moving is the file itself (same inode, the source gone), replacing
// one saved before; an unknown job or a missing file is NOT_FOUND and leaves the file in place.
TEST_F(JobStoreTest, AWorkspaceSavedByMovingIsTheFileItself) {
  std::string id = create("j");
  fs::path ws = tmp_.path() / "ws.zip";
  write_text(ws, "first");
  ASSERT_TRUE(store_->save_workspace(id, ws).ok());
  write_text(ws, "the server run dir, zipped, large");
  struct stat before {};
  ASSERT_EQ(::stat(ws.c_str(), &before), 0);
  EXPECT_EQ(store_->save_workspace_by_moving("0b1e7a9e-1111-4222-8333-444455556666", ws).code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(fs::exists(ws));
  ASSERT_TRUE(store_->save_workspace_by_moving(id, ws).ok());
  EXPECT_FALSE(fs::exists(ws));
  struct stat after {};
  ASSERT_EQ(::stat(store_->workspace_path(id)->c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(read_text(*store_->workspace_path(id)), "the server run dir, zipped, large");
  Status missing = store_->save_workspace_by_moving(id, tmp_.path() / "missing.zip");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound) << missing.to_string();
  EXPECT_NE(missing.message().find("missing.zip"), std::string::npos);
}

TEST_F(JobStoreTest, UnknownIdsNeverNamePaths) {
  EXPECT_TRUE(store_->data_path("../../etc").empty());
  EXPECT_FALSE(store_->workspace_path("..").has_value());
  EXPECT_EQ(store_->remove("..").code(), StatusCode::kNotFound);
  EXPECT_TRUE(fs::exists(root_));
}

TEST_F(JobStoreTest, FailedCreateLeavesNothing) {
  auto id = store_->create(Value{{"name", "x"}}, tmp_.path() / "missing.zip");
  EXPECT_EQ(id.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->create(Value::array(), zip_).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(names_in(root_).empty());
  EXPECT_TRUE(store_->list().empty());
}

TEST_F(JobStoreTest, CreateFromBytesStoresThem) {
  auto id = store_->create_from_bytes(Value{{"name", "mem"}}, "zip bytes");
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(read_text(store_->data_path(*id)), "zip bytes");
  EXPECT_EQ(status(*id), "SUBMITTED");
}

TEST_F(JobStoreTest, ConcurrentCreatesAndListsKeepEveryJob) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 8; ++i) {
        auto id = store_->create(Value{{"name", "t" + std::to_string(t)}}, zip_);
        EXPECT_TRUE(id.ok());
        if (id.ok()) {
          EXPECT_TRUE(store_->set_status(*id, "DISPATCHED").ok());
        }
        EXPECT_GE(store_->list().size(), static_cast<size_t>(i + 1));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store_->list().size(), 32u);
  reopen();
  EXPECT_EQ(store_->list().size(), 32u);
  EXPECT_EQ(abandoned_.size(), 32u);
}

TEST(JobStatusTest, FinishedAndKnownStatuses) {
  EXPECT_TRUE(is_finished("FINISHED:COMPLETED"));
  EXPECT_TRUE(is_finished("FINISHED:ABANDONED"));
  EXPECT_FALSE(is_finished("RUNNING"));
  EXPECT_FALSE(is_finished("SUBMITTED"));
  EXPECT_TRUE(is_known_status("FINISHED:CAN_NOT_SCHEDULE"));
  EXPECT_FALSE(is_known_status("finished:completed"));
  EXPECT_TRUE(is_valid_job_id("0b1e7a9e-1111-4222-8333-444455556666"));
  EXPECT_FALSE(is_valid_job_id("0b1e7a9e-1111-4222-8333-44445555666"));
  EXPECT_FALSE(is_valid_job_id("../1e7a9e-1111-4222-8333-444455556666"));
}

}  // namespace
}  // namespace nvf::job
