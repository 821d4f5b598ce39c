// `nvflare authz_preview`: decisions, tables and help as FLARE's previewer prints them.
#include "tools/authz_preview.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace nvf::tools {
namespace {

constexpr const char* kPolicy = R"({
  "format_version": "1.0",
  "permissions": {
    "project_admin": "any",
    "lead": {"submit_job": "any", "manage_job": "n:submitter", "view": "any", "operate": "o:site",
             "shell_commands": ["o:site", "not n:mallory@a.org"], "ls": "none"},
    "member": {"view": "any"}
  }
})";

class AuthzPreviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = AuthzPreview::parse(kPolicy, "authorization.json");
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    preview_ = std::make_unique<AuthzPreview>(*std::move(p));
  }
  std::string eval(const std::string& line) {
    bool stop = false;
    std::string out = preview_->handle_line(line, &stop);
    EXPECT_FALSE(stop);
    return out;
  }
  std::unique_ptr<AuthzPreview> preview_;
};

TEST_F(AuthzPreviewTest, EvalRightDecidesAsTheServerWould) {
  EXPECT_EQ(eval("eval_right a.org submit_job bob@a.org:a.org:lead"), "True\n");
  EXPECT_EQ(eval("eval_right a.org submit_job mem@a.org:a.org:member"), "False\n");
  EXPECT_EQ(eval("eval_right a.org abort_job bob@a.org:a.org:lead bob@a.org:a.org:lead"), "True\n");
  EXPECT_EQ(eval("eval_right a.org abort_job bob@a.org:a.org:lead eve@b.org:b.org:lead"),
            "False\n");
  EXPECT_EQ(eval("eval_right a.org abort_job bob@a.org:a.org:lead"), "False\n")
      << "no submitter: n:submitter fails";
  EXPECT_EQ(eval("eval_right a.org cat bob@a.org:a.org:lead"), "True\n");   // o:site
  EXPECT_EQ(eval("eval_right b.org cat bob@a.org:a.org:lead"), "False\n");  // another site's org
  EXPECT_EQ(eval("eval_right a.org cat mallory@a.org:a.org:lead"), "False\n");  // blocked
  EXPECT_EQ(eval("eval_right a.org ls bob@a.org:a.org:lead"),
            "False\n");  // the command overrides its category
  EXPECT_EQ(eval("eval_right a.org anything x:y:project_admin"), "True\n");
  EXPECT_EQ(eval("eval_right a.org view x:y:super"), "False\n")
      << "the previewer has no test hook for super";
}

TEST_F(AuthzPreviewTest, EvalRightAlsoTakesOneWordPerField) {
  EXPECT_EQ(eval("eval_right a.org bob@a.org a.org lead submit_job"), "True\n");
  EXPECT_EQ(eval("eval_right a.org bob@a.org a.org lead abort_job bob@a.org a.org lead"), "True\n");
  EXPECT_EQ(eval("eval_right a.org bob@a.org a.org lead abort_job eve@b.org b.org lead"),
            "False\n");
}

TEST_F(AuthzPreviewTest, EvalRightExplainsBadInput) {
  EXPECT_EQ(eval("eval_right a.org submit_job"),
            "Usage: eval_right site_org right_name user_name:org:role [submitter_name:org:role]\n"
            "   or: eval_right site_org user_name user_org user_role right_name [submitter_name "
            "submitter_org "
            "submitter_role]\n");
  EXPECT_EQ(eval("eval_right a.org submit_job bob"),
            "Error: bad user spec: must be like name:org:role\n");
  EXPECT_EQ(eval("eval_right a.org submit_job a:b:c d:e"),
            "Error: bad submitter spec: must be like name:org:role\n");
}

TEST_F(AuthzPreviewTest, ShowRolesRightsAndRoleRightsListThePolicy) {
  EXPECT_EQ(eval("show_roles"),
            "-----------------\n| role          |\n-----------------\n| lead          |\n| member  "
            "      |\n"
            "| project_admin |\n-----------------\n");
  std::string rights = eval("show_rights");
  for (const char* r : {"| *  ", "| manage_job ", "| abort_job ", "| delete_job ", "| view ",
                        "| list_jobs ", "| shell_commands ", "| ls ", "| submit_job "}) {
    EXPECT_NE(rights.find(r), std::string::npos) << r << "\n" << rights;
  }
  std::string rr = eval("show_role_rights");
  EXPECT_NE(rr.find("| lead          | cat                | ['o:site', 'not n:mallory@a.org'] |"),
            std::string::npos)
      << rr;
  EXPECT_NE(rr.find("| lead          | ls                 | none "), std::string::npos) << rr;
  EXPECT_NE(rr.find("| project_admin | *                  | any "), std::string::npos) << rr;
}

TEST_F(AuthzPreviewTest, ShowConfigPrintsThePolicyAsJsonDumpsWithIndentOne) {
  std::string out = eval("show_config");
  EXPECT_EQ(
      out.rfind(
          "{\n \"format_version\": \"1.0\",\n \"permissions\": {\n  \"project_admin\": \"any\",\n",
          0),
      0u)
      << out;
  EXPECT_NE(out.find("  \"lead\": {\n   \"submit_job\": \"any\",\n"), std::string::npos) << out;
  EXPECT_NE(
      out.find("   \"shell_commands\": [\n    \"o:site\",\n    \"not n:mallory@a.org\"\n   ],"),
      std::string::npos)
      << out;
}

TEST_F(AuthzPreviewTest, HelpUnknownSyntaxAndByeBehaveAsPythonsCmd) {
  EXPECT_EQ(eval("?"),
            "\nDocumented commands (type help "
            "<topic>):\n========================================\nbye  help\n\n"
            "Undocumented commands:\n======================\n"
            "eval_right  show_config  show_role_rights  show_rights  show_roles\n\n");
  EXPECT_EQ(eval("help bye"), "Exits from the client.\n");
  EXPECT_EQ(eval("? eval_right"), "*** No help on eval_right\n");
  EXPECT_EQ(eval("frob x"), "*** Unknown syntax: frob x\n");
  EXPECT_EQ(eval(""), "");
  bool stop = false;
  EXPECT_EQ(preview_->handle_line("bye", &stop), "");
  EXPECT_TRUE(stop);
}

TEST(AuthzPreviewLoadTest, ABadPolicyIsRefusedWithTheFieldNamed) {
  auto p = AuthzPreview::parse(
      R"({"format_version": "1.0", "permissions": {"lead": {"view": "o:a:b"}}})", "x.json");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("permissions.lead.view: bad condition expression \"o:a:b\""),
            std::string::npos)
      << p.status().message();
}

TEST(AuthzPreviewRunTest, PipedLinesGetOnlyTheAnswers) {
  std::istringstream in(
      "eval_right a.org submit_job bob@a.org:a.org:lead\nshow_roles\nbye\neval_right x y z\n");
  std::ostringstream out;
  StreamLineReader reader(in, out);
  auto dir = ::testing::TempDir() + "authz_preview_run_test.json";
  {
    std::ofstream f(dir);
    f << kPolicy;
  }
  ASSERT_TRUE(run_authz_preview(dir, reader, out).ok());
  EXPECT_EQ(out.str(),
            "True\n-----------------\n| role          |\n-----------------\n| lead          |\n| "
            "member        |\n"
            "| project_admin |\n-----------------\n");
}

}  // namespace
}  // namespace nvf::tools
