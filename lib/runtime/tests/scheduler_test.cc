// The scheduler's decisions without a server: which stored jobs start, given the registered
// clients, min_clients, mandatory clients, @ALL and max_jobs.
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

namespace nvf::runtime {
namespace {

config::Value job(const std::string& id, const std::string& status, config::Value deploy_map, int min_clients = 1,
                  std::vector<std::string> mandatory = {}) {
  config::Value m{{"job_id", id}, {"name", id}, {"status", status}, {"deploy_map", std::move(deploy_map)},
                  {"min_clients", min_clients}};
  if (!mandatory.empty()) m["mandatory_clients"] = mandatory;
  return m;
}
config::Value to_all() { return config::Value{{"app", config::Value::array({"@ALL"})}}; }
config::Value to(std::vector<std::string> sites) {
  config::Value d{{"app", config::Value::array({"server"})}};
  for (const auto& s : sites) d["app"].push_back(s);
  return d;
}

TEST(SchedulerTest, SubmittedJobsStartInOrderUpToMaxJobs) {
  std::vector<config::Value> stored{job("a", "SUBMITTED", to_all()), job("b", "RUNNING", to_all()),
                                    job("c", "SUBMITTED", to_all()), job("d", "SUBMITTED", to_all())};
  EXPECT_EQ(jobs_to_start(stored, {"b"}, {"site-1"}, 3), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(jobs_to_start(stored, {"b"}, {"site-1"}, 1), std::vector<std::string>{});
  EXPECT_EQ(jobs_to_start(stored, {}, {"site-1"}, 10), (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_EQ(jobs_to_start(stored, {"a"}, {"site-1"}, 10), (std::vector<std::string>{"c", "d"}));  // a runs already
}

TEST(SchedulerTest, AJobWaitsForItsClientsAndLaterJobsMayGoFirst) {
  std::vector<config::Value> stored{job("needs-2", "SUBMITTED", to({"site-1", "site-2"}), 2),
                                    job("needs-1", "SUBMITTED", to({"site-1"}), 1)};
  EXPECT_EQ(jobs_to_start(stored, {}, {"site-1"}, 4), std::vector<std::string>{"needs-1"});
  EXPECT_EQ(jobs_to_start(stored, {}, {"site-1", "site-2"}, 4), (std::vector<std::string>{"needs-2", "needs-1"}));
  EXPECT_EQ(jobs_to_start(stored, {}, {}, 4), std::vector<std::string>{});  // no client at all: nothing starts
  // A registered client that the deploy_map does not name does not count.
  EXPECT_EQ(jobs_to_start(stored, {}, {"site-1", "site-9"}, 4), std::vector<std::string>{"needs-1"});
}

TEST(SchedulerTest, MandatoryClientsMustBeRegistered) {
  config::Value m = job("j", "SUBMITTED", to_all(), 1, {"site-3"});
  EXPECT_FALSE(can_start(m, {"site-1", "site-2"}));
  EXPECT_TRUE(can_start(m, {"site-1", "site-3"}));
}

TEST(SchedulerTest, AppsBySiteAppliesAllToEveryClientAndTheServer) {
  config::Value meta{{"deploy_map", {{"app_a", config::Value::array({"site-1"})},
                                     {"app_b", config::Value::array({"@ALL"})}}}};
  auto apps = apps_by_site(parse_stored_meta(meta), {"site-1", "site-2"});
  EXPECT_EQ(apps, (std::map<std::string, std::string>{{"server", "app_b"}, {"site-1", "app_a"}, {"site-2", "app_b"}}));
}

}  // namespace
}  // namespace nvf::runtime
