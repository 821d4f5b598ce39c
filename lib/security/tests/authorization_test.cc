#include "security/authorization.h"

#include <gtest/gtest.h>

#include "base/files.h"
#include "test_util.h"

namespace nvf::security {
namespace {

const Person kProjectAdmin{"admin@nvidia.com", "nvidia", "project_admin"};
const Person kOrgAdminA{"oa@a.org", "a.org", "org_admin"};
const Person kOrgAdminB{"ob@b.org", "b.org", "org_admin"};
const Person kLeadA{"lead@a.org", "a.org", "lead"};
const Person kLead2A{"lead2@a.org", "a.org", "lead"};
const Person kMemberA{"m@a.org", "a.org", "member"};

bool allowed(const AuthorizationPolicy& p, const std::string& right, const Person& user,
             const std::string& site_org = "a.org", const Person* submitter = &kLeadA) {
  return p.authorize(right, user, site_org, submitter).ok();
}

AuthorizationPolicy parse_ok(const std::string& text) {
  auto p = AuthorizationPolicy::parse(text, "authorization.json");
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return p.ok() ? *p : AuthorizationPolicy();
}

std::string parse_error(const std::string& text) {
  auto p = AuthorizationPolicy::parse(text, "site-1/local/authorization.json");
  EXPECT_FALSE(p.ok());
  if (p.ok()) return "";
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("site-1/local/authorization.json"), std::string::npos)
      << p.status().message();
  return p.status().message();
}

// One row of cli-and-formats §5.4, evaluated at a site of org a.org for a job submitted by
// lead@a.org.
struct Row {
  std::string right;
  bool project_admin, org_admin, lead_submitter, lead_other, member;
};

TEST(AuthorizationTest, DefaultPolicyIsTheProvisionedTable) {
  const std::vector<Row> table = {
      {"submit_job", true, false, true, true, false},
      {"clone_job", true, false, true, false, false},
      {"manage_job", true, true, true, false, false},
      {"download_job", true, true, true, false, false},
      {"view", true, true, true, true, true},
      {"operate", true, true, true, true, false},
      {"shell_commands", true, true, true, true, false},
      {"byoc", true, false, true, true, false},
  };
  AuthorizationPolicy p = AuthorizationPolicy::default_policy();
  for (const Row& r : table) {
    EXPECT_EQ(allowed(p, r.right, kProjectAdmin), r.project_admin) << r.right;
    EXPECT_EQ(allowed(p, r.right, kOrgAdminA), r.org_admin) << r.right;
    EXPECT_EQ(allowed(p, r.right, kLeadA), r.lead_submitter) << r.right;
    EXPECT_EQ(allowed(p, r.right, kLead2A), r.lead_other) << r.right;
    EXPECT_EQ(allowed(p, r.right, kMemberA), r.member) << r.right;
  }
  EXPECT_EQ(p.roles(), (std::vector<std::string>{"lead", "member", "org_admin", "project_admin"}));
}

TEST(AuthorizationTest, DefaultPolicySiteAndSubmitterOrgs) {
  AuthorizationPolicy p = AuthorizationPolicy::default_policy();
  // o:site: an org admin or lead operates only the sites of their own org.
  EXPECT_TRUE(allowed(p, "operate", kOrgAdminA, "a.org"));
  EXPECT_FALSE(allowed(p, "operate", kOrgAdminA, "b.org"));
  EXPECT_FALSE(allowed(p, "shell_commands", kLeadA, "b.org"));
  EXPECT_TRUE(allowed(p, "shell_commands", kProjectAdmin, "b.org"));
  // o:submitter: an org admin manages only jobs submitted from their org.
  EXPECT_FALSE(allowed(p, "manage_job", kOrgAdminB, "b.org", &kLeadA));
  EXPECT_TRUE(allowed(p, "download_job", kOrgAdminB, "b.org", &kOrgAdminB));
}

TEST(AuthorizationTest, DeniedMessageNamesUserRoleAndRight) {
  Status s =
      AuthorizationPolicy::default_policy().authorize("submit_job", kMemberA, "a.org", nullptr);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "user 'm@a.org' (role member) is not authorized for 'submit_job'");
}

TEST(AuthorizationTest, UnknownRoleIsDeniedAndSuperBypasses) {
  AuthorizationPolicy p = AuthorizationPolicy::default_policy();
  EXPECT_FALSE(allowed(p, "view", Person{"g@a.org", "a.org", "guest"}));
  EXPECT_TRUE(allowed(p, "shell_commands", Person{"t@x.org", "x.org", "Super"}, "a.org"));
  EXPECT_FALSE(allowed(AuthorizationPolicy(), "view", kProjectAdmin));
}

TEST(AuthorizationTest, AllowAllAllowsEveryone) {
  AuthorizationPolicy p = AuthorizationPolicy::allow_all();
  EXPECT_TRUE(p.allows_all());
  EXPECT_TRUE(allowed(p, "shell_commands", Person{"x", "", ""}, "b.org", nullptr));
  EXPECT_FALSE(AuthorizationPolicy::default_policy().allows_all());
}

TEST(AuthorizationTest, CommandsFallBackToTheirCategory) {
  AuthorizationPolicy p = AuthorizationPolicy::default_policy();
  EXPECT_TRUE(allowed(p, "abort_job", kLeadA));
  EXPECT_FALSE(allowed(p, "abort_job", kLead2A));
  EXPECT_TRUE(allowed(p, "list_jobs", kMemberA));
  EXPECT_FALSE(allowed(p, "ls", kLeadA, "b.org"));
  EXPECT_TRUE(allowed(p, "ls", kLeadA, "a.org"));
  EXPECT_TRUE(allowed(p, "download_job_components", kLeadA));
  // app_command is in no category: only a role's "*" grants it.
  EXPECT_FALSE(allowed(p, "app_command", kLeadA));
  EXPECT_TRUE(allowed(p, "app_command", kProjectAdmin));
}

TEST(AuthorizationTest, CommandEntryOverridesItsCategory) {
  auto p = parse_ok(R"({"format_version": "1.0", "permissions": {
      "lead": {"abort_job": "none", "manage_job": "any"}}})");
  EXPECT_FALSE(allowed(p, "abort_job", kLeadA));
  EXPECT_TRUE(allowed(p, "delete_job", kLeadA));
  EXPECT_TRUE(allowed(p, "manage_job", kLeadA));
}

TEST(AuthorizationTest, StarEntryWinsOverNamedRights) {
  auto p = parse_ok(R"({"format_version": "1.0", "permissions": {
      "lead": {"*": "o:site", "view": "none"}}})");
  EXPECT_TRUE(allowed(p, "view", kLeadA, "a.org"));
  EXPECT_FALSE(allowed(p, "view", kLeadA, "b.org"));
  EXPECT_TRUE(allowed(p, "submit_job", kLeadA, "a.org"));
}

TEST(AuthorizationTest, BlocksOnlyAllowWhenNoneMatches) {
  auto p = parse_ok(R"({"format_version": "1.0", "permissions": {
      "lead": {"view": "not o:b.org", "operate": "not any", "byoc": "not none"}}})");
  EXPECT_TRUE(allowed(p, "view", kLeadA));
  EXPECT_FALSE(allowed(p, "view", Person{"x@b.org", "b.org", "lead"}));
  EXPECT_FALSE(allowed(p, "operate", kLeadA));
  EXPECT_TRUE(allowed(p, "byoc", kLeadA));
}

TEST(AuthorizationTest, ListAllowsOnAnyMatchAndBlocksFirst) {
  auto p = parse_ok(R"({"format_version": "1.0", "permissions": {
      "member": {"view": ["o:a.org", "n:carol@b.org"],
                 "submit_job": ["any", "not n:eve@a.org"]}}})");
  EXPECT_TRUE(allowed(p, "view", kMemberA));
  EXPECT_TRUE(allowed(p, "view", Person{"carol@b.org", "b.org", "member"}));
  EXPECT_FALSE(allowed(p, "view", Person{"dave@b.org", "b.org", "member"}));
  EXPECT_TRUE(allowed(p, "submit_job", kMemberA));
  EXPECT_FALSE(allowed(p, "submit_job", Person{"eve@a.org", "a.org", "member"}));
}

TEST(AuthorizationTest, NamesOrgsRolesAndExpressionsAreNormalised) {
  auto p = parse_ok(R"({"format_version": "1.0", "permissions": {
      " Lead ": {"VIEW": "  Org:A.ORG  ", "submit_job": "NAME:Lead@A.org", "byoc": "ALL",
                 "operate": "No", "clone_job": "NOT   O:site"}}})");
  Person lead{"  LEAD@a.org", "a.ORG ", "LEAD"};
  EXPECT_TRUE(allowed(p, "view", lead));
  EXPECT_TRUE(allowed(p, "View", lead));
  EXPECT_TRUE(allowed(p, "submit_job", lead));
  EXPECT_TRUE(allowed(p, "byoc", lead));
  EXPECT_FALSE(allowed(p, "operate", lead));
  EXPECT_FALSE(allowed(p, "clone_job", lead, "A.Org"));
  EXPECT_TRUE(allowed(p, "clone_job", lead, "b.org"));
}

TEST(AuthorizationTest, RoleWithOneExpressionCoversEveryRight) {
  auto p = parse_ok(R"({"format_version": "1.0", "permissions": {"lead": ["o:a.org"]}})");
  EXPECT_TRUE(allowed(p, "shell_commands", kLeadA));
  EXPECT_TRUE(allowed(p, "anything", kLeadA));
  EXPECT_FALSE(allowed(p, "view", Person{"x@b.org", "b.org", "lead"}));
}

TEST(AuthorizationTest, SubmitterConditionsNeverMatchWithoutAJob) {
  auto p = parse_ok(R"({"format_version": "1.0", "permissions": {
      "lead": {"manage_job": "n:submitter", "download_job": "o:submitter",
               "view": "not o:submitter"}}})");
  Person nameless{"", "", "lead"};
  EXPECT_FALSE(allowed(p, "manage_job", nameless, "a.org", nullptr));
  EXPECT_FALSE(allowed(p, "download_job", nameless, "a.org", nullptr));
  EXPECT_TRUE(allowed(p, "view", nameless, "a.org", nullptr));
  EXPECT_TRUE(allowed(p, "manage_job", kLeadA, "a.org", &kLeadA));
  EXPECT_FALSE(allowed(p, "view", kLead2A, "a.org", &kLeadA));
}

TEST(AuthorizationTest, ParseErrorsNameSourceAndField) {
  EXPECT_NE(parse_error("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error("{}").find("policy definition is empty"), std::string::npos);
  EXPECT_NE(parse_error("[]").find("policy definition must be a dict but got list"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"permissions": {"lead": "any"}})").find("format_version"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"format_version": 1.0, "permissions": {"lead": "any"}})")
                .find("missing or invalid policy format_version: must be 1.0"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"format_version": "1.0"})").find("missing permissions"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"format_version": "1.0", "permissions": ["lead"]})")
                .find("permissions: expect a dict but got list"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"format_version": "1.0", "permissions": {"lead": 3}})")
                .find("permissions.lead: expect a str, list or dict but got int"),
            std::string::npos);
  std::string m =
      parse_error(R"({"format_version": "1.0", "permissions": {"lead": {"view": "o:a:b"}}})");
  EXPECT_NE(m.find("permissions.lead.view: bad condition expression \"o:a:b\""), std::string::npos)
      << m;
  m = parse_error(R"({"format_version": "1.0", "permissions": {"lead": {"view": "x:foo"}}})");
  EXPECT_NE(m.find("bad condition expression \"x:foo\": invalid type \"x\""), std::string::npos)
      << m;
  m = parse_error(R"({"format_version": "1.0", "permissions": {"lead": {"view": "everyone"}}})");
  EXPECT_NE(m.find("bad condition expression \"everyone\""), std::string::npos) << m;
  m = parse_error(R"({"format_version": "1.0", "permissions": {"lead": {"view": []}}})");
  EXPECT_NE(m.find("permissions.lead.view: bad condition expression - no conditions specified"),
            std::string::npos)
      << m;
  m = parse_error(R"({"format_version": "1.0", "permissions": {"lead": {"view": 1}}})");
  EXPECT_NE(m.find("expect str or list but got int"), std::string::npos) << m;
  m = parse_error(R"({"format_version": "1.0", "permissions": {"lead": {"view": ["any", 2]}}})");
  EXPECT_NE(m.find("permissions.lead.view[1]: expression must be a str but got int"),
            std::string::npos)
      << m;
}

class AuthorizationFileTest : public test_util::TempDirTest {};

TEST_F(AuthorizationFileTest, LoadsAFileAndNamesItInErrors) {
  auto missing = AuthorizationPolicy::load(root_ / "authorization.json");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(base::atomic_write(root_ / "authorization.json",
                                 R"({"format_version": "1.0", "permissions": {"member": "any"}})")
                  .ok());
  auto p = AuthorizationPolicy::load(root_ / "authorization.json");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_TRUE(allowed(*p, "shell_commands", kMemberA));

  ASSERT_TRUE(base::atomic_write(root_ / "bad.json", R"({"format_version": "1.0"})").ok());
  auto bad = AuthorizationPolicy::load(root_ / "bad.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find((root_ / "bad.json").string()), std::string::npos)
      << bad.status().message();
}

TEST(RightForCommandTest, MapsCommandsToFlareCategories) {
  EXPECT_EQ(right_for_command("abort_job"), "manage_job");
  EXPECT_EQ(right_for_command("delete_job"), "manage_job");
  EXPECT_EQ(right_for_command("configure_job_log"), "manage_job");
  EXPECT_EQ(right_for_command("list_jobs"), "view");
  EXPECT_EQ(right_for_command("get_job_meta"), "view");
  EXPECT_EQ(right_for_command("check_status"), "view");
  EXPECT_EQ(right_for_command("shutdown"), "operate");
  EXPECT_EQ(right_for_command("configure_site_log"), "operate");
  EXPECT_EQ(right_for_command("ls"), "shell_commands");
  EXPECT_EQ(right_for_command("grep"), "shell_commands");
  EXPECT_EQ(right_for_command("download_job"), "download_job");
  EXPECT_EQ(right_for_command("download_job_components"), "download_job");
  EXPECT_EQ(right_for_command("submit_job"), "submit_job");
  EXPECT_EQ(right_for_command("clone_job"), "clone_job");
  EXPECT_EQ(right_for_command("app_command"), "app_command");
  EXPECT_EQ(right_for_command("bye"), "");
  EXPECT_EQ(right_for_command("_cert_login"), "");
  EXPECT_EQ(right_for_command("help"), "");
}

}  // namespace
}  // namespace nvf::security
