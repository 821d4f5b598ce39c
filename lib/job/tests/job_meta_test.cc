#include "job/job_meta.h"

#include <gtest/gtest.h>

#include <limits>

#include "test_util.h"

namespace nvf::job {
namespace {

using config::Value;
using testing::dump;
using testing::has_message;

std::vector<Finding> check(const Value& meta) {
  std::vector<Finding> findings;
  FindingSink sink(&findings, "meta.json");
  JobMeta m = parse_job_meta(meta, "meta.json", sink);
  validate_job_meta(m, "j", sink);
  return findings;
}

Value meta_with(Value deploy_map) {
  return Value{{"name", "j"}, {"deploy_map", std::move(deploy_map)}, {"min_clients", 1}};
}

TEST(JobMetaTest, ValidAllSitesMetaHasNoFindings) {
  auto f = check(meta_with({{"app", {"@ALL"}}}));
  EXPECT_TRUE(f.empty()) << dump(f);
}

TEST(JobMetaTest, ParsesFieldsAndKeepsExtraKeys) {
  std::vector<Finding> findings;
  FindingSink sink(&findings, "meta.json");
  Value raw = meta_with(
      {{"app_server", {"server"}}, {"app_site", {{"targets", {"site-1"}}, {"sites", {"site-2"}}}}});
  raw["mandatory_clients"] = {"site-1"};
  raw["custom_key"] = {{"a", 1}};
  JobMeta m = parse_job_meta(raw, "meta.json", sink);
  EXPECT_TRUE(findings.empty()) << dump(findings);
  ASSERT_EQ(m.deploy_map.size(), 2u);
  EXPECT_EQ(m.deploy_map[1].sites, (std::vector<std::string>{"site-1", "site-2"}));
  EXPECT_EQ(m.explicit_clients(), (std::vector<std::string>{"site-1", "site-2"}));
  EXPECT_EQ(m.min_clients, 1);
  EXPECT_EQ(m.extra["custom_key"]["a"], 1);
  validate_job_meta(m, "j", sink);
  EXPECT_TRUE(findings.empty()) << dump(findings);
}

TEST(JobMetaTest, EmptyDeployMap) {
  EXPECT_TRUE(has_message(check(meta_with(Value::object())), "deploy_map is empty for job j"));
}

TEST(JobMetaTest, NoSiteInDeployMap) {
  auto f = check(meta_with({{"app", Value::array()}}));
  EXPECT_TRUE(has_message(f, "No site is specified in deploy_map for job j")) << dump(f);
}

TEST(JobMetaTest, AllSitesMustBeAlone) {
  auto f = check(meta_with({{"app", {"@all", "site-1"}}}));
  EXPECT_TRUE(has_message(f, "No other site can be specified if @ALL is used for job j"))
      << dump(f);
}

TEST(JobMetaTest, MissingServer) {
  auto f = check(meta_with({{"app", {"site-1"}}}));
  EXPECT_TRUE(has_message(f, "Missing server site in deploy_map for job j")) << dump(f);
  EXPECT_EQ(f[0].field, "deploy_map");
  EXPECT_FALSE(f[0].hint.empty());
}

TEST(JobMetaTest, SiteInTwoApps) {
  auto f = check(meta_with({{"a1", {"server", "site-1"}}, {"a2", {"site-1"}}}));
  EXPECT_TRUE(
      has_message(f, "Multiple apps to be deployed to following sites ['site-1'] for job j"))
      << dump(f);
}

TEST(JobMetaTest, IllFormattedSiteName) {
  auto f = check(meta_with({{"app", {"server", "site 1"}}}));
  ASSERT_EQ(f.size(), 1u) << dump(f);
  EXPECT_EQ(f[0].field, "deploy_map.app[1]");
  EXPECT_NE(f[0].message.find("site name 'site 1' is ill-formatted"), std::string::npos);
}

TEST(JobMetaTest, MinClientsRules) {
  Value m = meta_with({{"app", {"server", "site-1", "site-2"}}});
  m["min_clients"] = 0;
  EXPECT_TRUE(has_message(check(m), "min_clients 0 must be positive for job j"));
  m["min_clients"] = 2000000;
  EXPECT_TRUE(has_message(check(m), "min_clients 2000000 must be less than 1000000  for job j"));
  m["min_clients"] = "abc";
  EXPECT_TRUE(has_message(check(m), "invalid data type for abc,can't not convert to Int"));
  m["min_clients"] = 3;
  EXPECT_TRUE(has_message(check(m), "min 3 clients required for job j, found 2."));
  m["min_clients"] = "2";  // FLARE converts strings with int()
  EXPECT_TRUE(check(m).empty());
}

TEST(JobMetaTest, ResourceSpecRules) {
  Value m = meta_with({{"app", {"@ALL"}}});
  m["resource_spec"] = {1, 2};
  EXPECT_TRUE(has_message(check(m), "Invalid resource_spec for job j"));
  m["resource_spec"] = {{"site-1", 5}};
  EXPECT_TRUE(
      has_message(check(m), "value for key site-1 in resource spec is expecting a dictionary"));
  m["resource_spec"] = {{"site-1", {{"num_of_gpus", 1}}}};
  EXPECT_TRUE(check(m).empty());
}

TEST(JobMetaTest, MandatoryClientsMustBeDeployed) {
  Value m = meta_with({{"app", {"server", "site-1"}}});
  m["mandatory_clients"] = {"site-9", "site-1", "site-8"};
  auto f = check(m);
  EXPECT_TRUE(
      has_message(f, "Mandatory clients {'site-8', 'site-9'} are not in the deploy_map for job j"))
      << dump(f);
}

TEST(JobMetaTest, ReportsEveryProblemNotJustTheFirst) {
  Value m = meta_with({{"app", {"site-1"}}});
  m["min_clients"] = 5;
  m["resource_spec"] = {{"site-1", "big"}};
  auto f = check(m);
  EXPECT_TRUE(has_message(f, "Missing server site in deploy_map for job j"));
  EXPECT_TRUE(has_message(f, "min 5 clients required for job j, found 1."));
  EXPECT_TRUE(has_message(f, "value for key site-1 in resource spec is expecting a dictionary"));
}

TEST(JobMetaTest, ClientNameRule) {
  EXPECT_TRUE(is_valid_client_name("site-1_A"));
  EXPECT_FALSE(is_valid_client_name("site.1"));
  EXPECT_FALSE(is_valid_client_name(""));
}

}  // namespace
}  // namespace nvf::job

namespace nvf::job {
namespace {

// Found by fuzz_job_meta: a float min_clients beyond int64 was cast anyway (undefined behaviour).
TEST(JobMetaTest, AHugeFloatMinClientsIsRefusedNotCast) {
  for (double v : {1.11111e126, -1e300, std::numeric_limits<double>::infinity()}) {
    config::Value m{{"name", "j"}, {"deploy_map", {{"app", {"@ALL"}}}}, {"min_clients", v}};
    std::vector<Finding> findings;
    FindingSink sink(&findings, "meta.json");
    JobMeta parsed = parse_job_meta(m, "meta.json", sink);
    EXPECT_FALSE(parsed.min_clients.has_value()) << v;
    EXPECT_NE(testing::dump(findings).find("can't not convert to Int"), std::string::npos) << testing::dump(findings);
  }
}

}  // namespace
}  // namespace nvf::job
