// The provisioned `local/authorization.json.default` must be the policy the daemons fall back to.
#include <gtest/gtest.h>

#include "config/value.h"
#include "security/authorization.h"
#include "tools/provision_internal.h"

namespace nvf::tools {
namespace {

using security::AuthorizationPolicy;
using security::Person;

TEST(ProvisionAuthorizationTest, DefaultFileGivesTheDecisionsOfTheDefaultPolicy) {
  // Exactly the text `nvflare provision` writes (write_json → to_pretty_json).
  std::string text = config::to_pretty_json(provision::default_authorization_json());
  auto provisioned = AuthorizationPolicy::parse(text, "local/authorization.json.default");
  ASSERT_TRUE(provisioned.ok()) << provisioned.status().to_string();
  AuthorizationPolicy builtin = AuthorizationPolicy::default_policy();
  EXPECT_EQ(provisioned->roles(), builtin.roles());

  const std::vector<std::string> roles = {"project_admin", "org_admin", "lead", "member", "guest"};
  const std::vector<std::string> rights = {
      "submit_job", "clone_job",      "manage_job", "download_job", "view",
      "operate",    "shell_commands", "byoc",       "abort_job",    "delete_job",
      "ls",         "list_jobs",      "sys_info",   "app_command",  "download_job_components"};
  const Person submitter{"lead@a.org", "a.org", "lead"};
  const Person other_org{"lead@b.org", "b.org", "lead"};
  const std::vector<const Person*> submitters = {nullptr, &submitter, &other_org};
  int allowed = 0, denied = 0;
  for (const std::string& role : roles) {
    for (const char* name : {"lead@a.org", "x@a.org"}) {
      Person user{name, "a.org", role};
      for (const char* site_org : {"a.org", "b.org"}) {
        for (const Person* sub : submitters) {
          for (const std::string& right : rights) {
            bool p = provisioned->authorize(right, user, site_org, sub).ok();
            bool b = builtin.authorize(right, user, site_org, sub).ok();
            EXPECT_EQ(p, b) << role << " " << name << " " << right << " at " << site_org;
            (b ? allowed : denied)++;
          }
        }
      }
    }
  }
  EXPECT_GT(allowed, 100);
  EXPECT_GT(denied, 100);
}

}  // namespace
}  // namespace nvf::tools
