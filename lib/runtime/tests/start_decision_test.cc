// decide_start: the server's reading of the sites' replies to "start the job", in both modes of
// strict_start_job_reply_check.
#include <gtest/gtest.h>

#include "runtime/server_parent.h"

namespace nvf::runtime {
namespace {

const Status kOk = Status::OK();
const Status kTimeout = DeadlineExceededError("no reply within 20000 ms");

TEST(DecideStart, TimedOutSitesAreExcludedWhileMinClientsHoldsInBothModes) {
  std::map<std::string, Status> replies{{"site-1", kOk}, {"site-2", kOk}, {"site-3", kTimeout}};
  for (bool strict : {false, true}) {
    StartDecision d = decide_start(replies, strict, 2, {});
    EXPECT_TRUE(d.error.ok()) << d.error.to_string();
    EXPECT_EQ(d.active, (std::vector<std::string>{"site-1", "site-2"}));
    EXPECT_EQ(d.excluded, (std::vector<std::string>{"site-3"}));
  }
}

TEST(DecideStart, BelowMinClientsTheJobStopsNamingTheSilentSites) {
  std::map<std::string, Status> replies{{"site-1", kOk}, {"site-2", kTimeout}, {"site-3", kTimeout}};
  for (bool strict : {false, true}) {
    StartDecision d = decide_start(replies, strict, 2, {});
    EXPECT_EQ(d.error.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(d.error.message().find("1 sites started the job, fewer than min_clients 2"), std::string::npos);
    EXPECT_NE(d.error.message().find("site-2, site-3"), std::string::npos) << d.error.message();
  }
}

TEST(DecideStart, ARequiredSiteThatTimedOutStopsTheJobNamingIt) {
  std::map<std::string, Status> replies{{"site-1", kOk}, {"site-2", kOk}, {"site-3", kTimeout}};
  StartDecision strict = decide_start(replies, true, 1, {"site-3"});
  EXPECT_EQ(strict.error.message(), "required site site-3 did not confirm the start in time");
  StartDecision lenient = decide_start(replies, false, 1, {"site-3"});
  EXPECT_EQ(lenient.error.message(), "required site site-3 did not start the job");
}

TEST(DecideStart, AnErrorReplyStopsTheJobInBothModes) {
  std::map<std::string, Status> replies{{"site-1", kOk}, {"site-2", FailedPreconditionError("job x was not deployed here")}};
  for (bool strict : {false, true}) {
    StartDecision d = decide_start(replies, strict, 1, {});
    EXPECT_EQ(d.error.message(), "site site-2 could not start the job: job x was not deployed here");
  }
}

}  // namespace
}  // namespace nvf::runtime
