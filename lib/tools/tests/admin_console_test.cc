// The interactive admin console driven through a fake session: FLARE's help, confirmations,
// built-in commands, Done lines, output redirection and how a session ends.
#include "tools/admin_console.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "base/files.h"

namespace nvf::tools {
namespace {

namespace fs = std::filesystem;

class FakeSession : public AdminConsoleSession {
 public:
  Result<config::Value> execute(const std::string& line) override {
    lines.push_back(line);
    if (fail) return UnavailableError("cannot reach the server");
    return reply;
  }
  void set_timeout(double seconds) override { timeouts.push_back(seconds); }
  void logout() override { ++logouts; }

  std::vector<std::string> lines;
  std::vector<double> timeouts;
  int logouts = 0;
  bool fail = false;
  config::Value reply =
      config::Value::parse(R"({"status": "ok", "data": [{"type": "string", "data": "fine"}]})");
};

class AdminConsoleTest : public ::testing::Test {
 protected:
  // Runs the console over `input` (not a terminal); returns what it printed.
  std::string run(const std::string& input) {
    std::istringstream in(input);
    std::ostringstream out;
    StreamLineReader reader(in, out);
    AdminConsoleOptions o;
    o.user_name = "admin@nvidia.com";
    o.upload_dir = "/kit/transfer";
    o.download_dir = "/kit/transfer";
    AdminConsole console(session_, reader, out, o);
    status_ = console.run();
    return out.str();
  }
  // Output with each Done line's numbers masked.
  static std::string masked(const std::string& s) {
    return std::regex_replace(
        s, std::regex(R"(Done \[\d+ usecs\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?)"),
        "Done [N usecs] T");
  }

  FakeSession session_;
  Status status_;
};

TEST_F(AdminConsoleTest, HelpListsTheConsoleAndServerCommandsInFlaresTables) {
  std::string out = run("?\n");
  EXPECT_EQ(out.substr(0, out.find("\nServer Commands")),
            "Client Initiated / Overseer Commands\n"
            "------------------------------------------------------\n"
            "| Command | Description                              |\n"
            "------------------------------------------------------\n"
            "| bye     | exit from the client                     |\n"
            "| help    | get command help information             |\n"
            "| lpwd    | print local work dir of the admin client |\n"
            "| timeout | set/show command timeout                 |\n"
            "| info    | show folder setup info                   |\n"
            "------------------------------------------------------\n");
  // Server commands: one row each, the first column as wide as the longest command name.
  const std::string pad(std::string("download_job_components").size() - std::string("check_status").size(), ' ');
  EXPECT_NE(out.find("| check_status" + pad + " | check status of the FL server/client"), std::string::npos)
      << out;
  EXPECT_NE(out.find("| ls" + std::string(pad.size() + 10, ' ') + " | list files in work dir"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("list_sessions"), std::string::npos) << "hidden commands are not listed";
  EXPECT_EQ(run("help\n"), out);
  EXPECT_TRUE(session_.lines.empty());
}

TEST_F(AdminConsoleTest, QuestionMarkWithACommandShowsItsDescriptionAndUsage) {
  EXPECT_EQ(run("? check_status\n"),
            "Server Commands\n---------------\nCommand: check_status\nDescription: check status of "
            "the FL "
            "server/client\nUsage: check_status server|client\n\n");
  EXPECT_EQ(run("? bye\n"),
            "Client Commands\n---------------\nCommand: bye\nDescription: exit from the client\n"
            "Usage: bye\n\n");
  EXPECT_EQ(run("? nope\n"), "Undefined command nope\n");
}

TEST_F(AdminConsoleTest, AServerCommandPrintsTheReplyAndTheDoneLine) {
  EXPECT_EQ(masked(run("check_status server\n")), "fine\nDone [N usecs] T\n");
  EXPECT_EQ(session_.lines, (std::vector<std::string>{"check_status server"}));
  EXPECT_EQ(session_.logouts, 1) << "the end of input logs out, as bye";
  EXPECT_TRUE(status_.ok());
}

TEST_F(AdminConsoleTest, AbortJobAsksYesOrNoAndOnlyYesRunsIt) {
  EXPECT_EQ(run("abort_job 42\nn\n"), "Are you sure (y/N): ");
  EXPECT_TRUE(session_.lines.empty());
  EXPECT_EQ(masked(run("abort_job 42\nY\n")), "Are you sure (y/N): fine\nDone [N usecs] T\n");
  EXPECT_EQ(session_.lines, (std::vector<std::string>{"abort_job 42"}));
}

TEST_F(AdminConsoleTest, DeleteJobAndShutdownNeedTheAdminsUserName) {
  EXPECT_EQ(run("delete_job 42\nsomeone@else.org\n"),
            "Confirm with User Name: user name mismatch\n");
  EXPECT_TRUE(session_.lines.empty());
  EXPECT_EQ(masked(run("delete_job 42\nadmin@nvidia.com\n")),
            "Confirm with User Name: fine\nDone [N usecs] T\n");
  EXPECT_EQ(session_.lines, (std::vector<std::string>{"delete_job 42"}));
}

TEST_F(AdminConsoleTest, AShutdownOfTheServerEndsTheConsoleWithGoodbye) {
  std::string out = masked(run("shutdown all\nadmin@nvidia.com\ncheck_status server\n"));
  EXPECT_EQ(out, "Confirm with User Name: fine\nDone [N usecs] T\nGoodbye!\n");
  EXPECT_EQ(session_.lines, (std::vector<std::string>{"shutdown all"}));
  EXPECT_EQ(session_.logouts, 0);
}

TEST_F(AdminConsoleTest, ByeLogsOutAndEndsAndLaterLinesAreNotRun) {
  EXPECT_EQ(run("bye\nlist_jobs\n"), "");
  EXPECT_EQ(session_.logouts, 1);
  EXPECT_TRUE(session_.lines.empty());
}

TEST_F(AdminConsoleTest, UnknownCommandsAreNotSent) {
  EXPECT_EQ(run("frobnicate now\n\n   \n"), "Undefined command frobnicate\n");
  EXPECT_TRUE(session_.lines.empty());
}

TEST_F(AdminConsoleTest, TimeoutShowsSetsAndUnsetsTheCommandTimeout) {
  EXPECT_EQ(run("timeout\ntimeout 5\ntimeout\ntimeout 0\ntimeout x\ntimeout -1\n"),
            "not set\ncommand timeout is set to 5.0\n5.0\ncommand timeout is unset\n"
            "invalid timeout value - must be float number >= 0.0\n"
            "invalid timeout value - must be float number >= 0.0\n");
  EXPECT_EQ(session_.timeouts, (std::vector<double>{5, 0}));
}

TEST_F(AdminConsoleTest, InfoShowsTheUploadAndDownloadFolders) {
  EXPECT_EQ(masked(run("info\n")),
            "Local Upload Source: /kit/transfer\nLocal Download Destination: /kit/transfer\n\nDone "
            "[N usecs] T\n");
}

TEST_F(AdminConsoleTest, PropsAfterAHashAreNotSentAndQuotedLinesAreKept) {
  run("check_status server # verbose\nget_job_meta \"a b\"\n");
  EXPECT_EQ(session_.lines,
            (std::vector<std::string>{"check_status server", "get_job_meta \"a b\""}));
}

TEST_F(AdminConsoleTest, RedirectionWritesTheFileAndDoubleAngleWritesOnlyTheFile) {
  auto dir = base::make_temp_dir("nvf-console");
  ASSERT_TRUE(dir.ok());
  base::ScopedRemove cleanup(*dir);
  const fs::path both = *dir / "both.txt", only = *dir / "only.txt";
  std::string out =
      masked(run("list_jobs >" + both.string() + "\nlist_jobs -r >>" + only.string() + "\n"));
  EXPECT_EQ(out, "fine\nDone [N usecs] T\nDone [N usecs] T\n");
  EXPECT_EQ(*base::read_file(both), "fine\n");
  EXPECT_EQ(*base::read_file(only), "fine\n");
  EXPECT_EQ(session_.lines, (std::vector<std::string>{"list_jobs", "list_jobs -r"}));
}

TEST_F(AdminConsoleTest, FailuresPrintErrorLines) {
  session_.fail = true;
  EXPECT_EQ(run("list_jobs\n"), "Error: cannot reach the server\n");
  session_.fail = false;
  session_.reply = config::Value::parse(
      R"({"status": "not_authorized", "data": [{"type": "error", "data": "user 'm' is not authorized for 'ls'"}]})");
  EXPECT_EQ(masked(run("ls server\n")),
            "Error: user 'm' is not authorized for 'ls'\nDone [N usecs] T\n");
}

TEST_F(AdminConsoleTest, ASessionTheServerNoLongerKnowsEndsTheConsole) {
  session_.reply = config::Value::parse(
      R"({"status": "not_authenticated", "data": [{"type": "error", "data": "not logged in"}]})");
  EXPECT_EQ(run("list_jobs\nlist_jobs\n"), "Error: not logged in\n");
  EXPECT_EQ(status_.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(session_.lines.size(), 1u);
}

}  // namespace
}  // namespace nvf::tools
