// The server parent's heartbeat bookkeeping without a server: jobs to abort at a client, jobs
// first seen, and jobs whose client job is gone (2.7.2's startup grace included).
#include "runtime/client_job_tracker.h"

#include <gtest/gtest.h>

namespace nvf::runtime {
namespace {

using V = std::vector<std::string>;

TEST(ClientJobTrackerTest, AJobAClientShouldNotRunIsToBeAbortedThere) {
  ClientJobTracker t(true);
  t.job_scheduled("j1");  // deploying: nobody takes part yet
  auto beat = t.heartbeat("site-1", {"j1", "old"});
  EXPECT_EQ(beat.abort_jobs, (V{"j1", "old"}));
  t.job_running("j1", {"site-1", "site-2"});
  beat = t.heartbeat("site-3", {"j1"});  // not one of its clients
  EXPECT_EQ(beat.abort_jobs, V{"j1"});
  EXPECT_EQ(t.last_report("site-3"), std::set<std::string>{"j1"});
}

// Regression: clients take part in a job from deploy on. Their client jobs may report it while the
// server still starts the others (start_job_timeout), and must not be told to abort it then.
TEST(ClientJobTrackerTest, AJobIsNotAbortedAtItsClientsWhileItStarts) {
  ClientJobTracker t(true);
  t.job_scheduled("j1");
  t.job_clients("j1", {"site-1", "site-2"});
  auto beat = t.heartbeat("site-1", {"j1"});
  EXPECT_TRUE(beat.abort_jobs.empty());
  EXPECT_EQ(beat.first_seen, V{"j1"});
  EXPECT_EQ(t.jobs_of("site-2"), V{"j1"});       // a client quitting now is told to the job
  EXPECT_TRUE(t.heartbeat("site-2", {}).lost.empty());  // not running yet: nothing is lost
}

TEST(ClientJobTrackerTest, AClientJobThatWasSeenAndIsGoneIsLostOnce) {
  ClientJobTracker t(true);
  t.job_running("j1", {"site-1", "site-2"});
  // Not seen yet (slow to start): not lost however often it is missing.
  EXPECT_TRUE(t.heartbeat("site-1", {}).lost.empty());
  auto beat = t.heartbeat("site-1", {"j1"});
  EXPECT_EQ(beat.first_seen, V{"j1"});
  EXPECT_TRUE(t.heartbeat("site-1", {"j1"}).first_seen.empty());  // seen once
  EXPECT_EQ(t.heartbeat("site-1", {}).lost, V{"j1"});
  EXPECT_TRUE(t.heartbeat("site-1", {}).lost.empty());  // told once
  EXPECT_EQ(t.jobs_of("site-2"), V{"j1"});
  t.job_ended("j1");
  EXPECT_TRUE(t.jobs_of("site-2").empty());
  EXPECT_EQ(t.heartbeat("site-2", {"j1"}).abort_jobs, V{"j1"});  // ended: still running there → abort
}

TEST(ClientJobTrackerTest, WithoutTheStartupGraceAMissingJobIsLostAtOnce) {
  ClientJobTracker t(false);  // sync_client_jobs_require_previous_report = false
  t.job_running("j1", {"site-1"});
  EXPECT_EQ(t.heartbeat("site-1", {}).lost, V{"j1"});
  t.forget("site-1");
  EXPECT_TRUE(t.last_report("site-1").empty());
}

// Regression: a client job that ended by itself (the run is over at that site) while the server job
// still wraps up was reported as "gone" with a warning, as if it had died.
TEST(ClientJobTrackerTest, AClientJobThatFinishedIsNotLost) {
  ClientJobTracker t(true);
  t.job_running("j1", {"site-1", "site-2"});
  EXPECT_EQ(t.heartbeat("site-1", {"j1"}).first_seen, V{"j1"});
  auto beat = t.heartbeat("site-1", {}, {"j1"});
  EXPECT_TRUE(beat.lost.empty());
  EXPECT_EQ(beat.finished, V{"j1"});
  // Told once; and a finished job never turns into a lost one.
  beat = t.heartbeat("site-1", {}, {"j1"});
  EXPECT_TRUE(beat.finished.empty());
  EXPECT_TRUE(t.heartbeat("site-1", {}).lost.empty());
  // A finished job the server does not run (any more) is nothing to abort.
  t.job_ended("j1");
  EXPECT_TRUE(t.heartbeat("site-1", {}, {"j1", "old"}).abort_jobs.empty());
}

}  // namespace
}  // namespace nvf::runtime
