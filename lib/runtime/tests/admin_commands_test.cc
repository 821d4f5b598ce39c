// The admin command table without a server or a socket: lookup, the order of the checks
// (arguments, job, right), client-checked commands, and the exception barrier.
#include "runtime/admin_commands.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

namespace nvf::runtime {
namespace {

using Argv = std::vector<std::string>;

class AdminCommandsTest : public ::testing::Test {
 protected:
  AdminCommandsTest()
      : table_(
            [this](const Principal& who, const std::string& right, const config::Value* meta) -> Status {
              asked_.push_back(right + (meta ? "@" + meta->value("job_id", "?") : ""));
              return refuse_.count(right) ? PermissionDeniedError(who.name + " may not " + right) : Status::OK();
            },
            [](const std::string& id) -> Result<config::Value> {
              if (id != "J1") return NotFoundError("no job " + id);
              return config::Value{{"job_id", "J1"}};
            },
            nullptr) {
    who_.name = "admin@a.org";
    auto usage = [](const Argv& argv) {
      return argv.size() == 2 ? config::Value() : admin::error_reply("syntax_error", "Usage: get_job_meta job_id");
    };
    EXPECT_TRUE(table_
                    .add({"get_job_meta", "get_job_meta job_id", "view", false, usage, true, nullptr,
                          [](const AdminCall& c) { return admin::ok_string("meta of " + (*c.job_meta)["job_id"].get<std::string>()); }})
                    .ok());
    EXPECT_TRUE(table_
                    .add({"check_status", "check_status server|client", "view", true,
                          [](const Argv& argv) {
                            return argv.size() == 2 ? config::Value() : admin::error_reply("syntax_error", "Usage: check_status");
                          },
                          false, nullptr, [](const AdminCall&) { return admin::ok_string("status"); }})
                    .ok());
    EXPECT_TRUE(table_
                    .add({"ls", "ls server|<client> ...", "ls", false, nullptr, false,
                          [](const Argv& argv) { return argv.size() > 1 && argv[1] == "server"; },
                          [](const AdminCall& c) { return admin::ok_string("ls " + c.argv[1]); }})
                    .ok());
    EXPECT_TRUE(table_
                    .add({"boom", "boom: throws", "", false, nullptr, false, nullptr,
                          [](const AdminCall& c) -> config::Value {
                            return admin::ok_string(std::to_string(std::stoi(c.argv.at(1))));  // throws on bad input
                          }})
                    .ok());
    EXPECT_TRUE(table_.add({"_hidden", "", "", false, nullptr, false, nullptr,
                            [](const AdminCall&) { return admin::ok_string("hidden"); }})
                    .ok());
  }
  std::string text(const config::Value& r) { return r["data"][0]["data"].get<std::string>(); }

  Principal who_;
  std::vector<std::string> asked_;
  std::set<std::string> refuse_;
  AdminCommandTable table_;
};

TEST_F(AdminCommandsTest, AnUnknownCommandListsTheVisibleOnes) {
  table_.also_available({"submit_job"});
  auto r = table_.run(who_, {"frobnicate"});
  EXPECT_EQ(r["status"], "syntax_error");
  EXPECT_EQ(text(r), "Command frobnicate not found. Available: get_job_meta, check_status, ls, boom, submit_job");
  EXPECT_TRUE(asked_.empty());
  EXPECT_EQ(table_.add({"ls", "again", "", false, nullptr, false, nullptr, [](const AdminCall&) { return config::Value(); }})
                .code(),
            StatusCode::kAlreadyExists);
}

TEST_F(AdminCommandsTest, ArgumentsThenTheJobThenTheRight) {
  auto r = table_.run(who_, {"get_job_meta"});
  EXPECT_EQ(r["status"], "syntax_error");
  EXPECT_TRUE(asked_.empty());  // a bad command line is refused before anyone is asked
  r = table_.run(who_, {"get_job_meta", "J9"});
  EXPECT_EQ(r["status"], "invalid_job_id");
  EXPECT_EQ(text(r), "Job with ID J9 doesn't exist");
  EXPECT_TRUE(asked_.empty());
  refuse_ = {"view"};
  r = table_.run(who_, {"get_job_meta", "J1"});
  EXPECT_EQ(r["status"], "not_authorized");
  EXPECT_EQ(text(r), "admin@a.org may not view");
  EXPECT_EQ(asked_, (std::vector<std::string>{"view@J1"}));  // the right is checked against the job
  refuse_.clear();
  EXPECT_EQ(text(table_.run(who_, {"get_job_meta", "J1"})), "meta of J1");
}

TEST_F(AdminCommandsTest, SomeRightsAreCheckedBeforeTheArguments) {
  refuse_ = {"view"};
  auto r = table_.run(who_, {"check_status"});  // bad arguments, but the right comes first (FLARE's order)
  EXPECT_EQ(r["status"], "not_authorized");
  refuse_.clear();
  EXPECT_EQ(table_.run(who_, {"check_status"})["status"], "syntax_error");
}

TEST_F(AdminCommandsTest, CommandsForAClientLeaveTheRightToTheClient) {
  refuse_ = {"ls"};
  EXPECT_EQ(table_.run(who_, {"ls", "server"})["status"], "not_authorized");
  auto r = table_.run(who_, {"ls", "site-1"});
  EXPECT_EQ(r["status"], "ok");
  EXPECT_EQ(text(r), "ls site-1");
  EXPECT_EQ(asked_, (std::vector<std::string>{"ls"}));  // asked once, for the server's own workspace
}

// Regression: whether the server checks the right was asked before the argument check, and the
// shell commands' question read argv[1] of `ls` alone (past the end of the command line).
TEST_F(AdminCommandsTest, WhoChecksTheRightIsAskedOnlyOfACheckedCommandLine) {
  ASSERT_TRUE(table_
                  .add({"cat", "cat server|<client> file", "cat", false,
                        [](const Argv& argv) {
                          return argv.size() < 2 ? admin::error_reply("syntax_error", "syntax error: missing target")
                                                 : config::Value();
                        },
                        false, [](const Argv& argv) { return argv.at(1) == "server"; },
                        [](const AdminCall&) { return admin::ok_string("cat"); }})
                  .ok());
  auto r = table_.run(who_, {"cat"});
  EXPECT_EQ(r["status"], "syntax_error");
  EXPECT_EQ(text(r), "syntax error: missing target");
  EXPECT_TRUE(asked_.empty());
}

// Regression: an out-of-range number in an admin command ended the daemon
// (std::out_of_range from a conversion, on a handler thread). The table's barrier answers instead.
TEST_F(AdminCommandsTest, AHandlerThatThrowsGetsAnErrorReplyAndTheNextCommandRuns) {
  auto r = table_.run(who_, {"boom", "99999999999999999999"});
  EXPECT_EQ(r["status"], "error");
  EXPECT_NE(text(r).find("command boom failed: stoi"), std::string::npos) << text(r);
  r = table_.run(who_, {"boom"});  // argv.at(1): std::out_of_range
  EXPECT_EQ(r["status"], "error");
  EXPECT_EQ(text(table_.run(who_, {"boom", "7"})), "7");
  EXPECT_EQ(text(table_.run(who_, {"_hidden"})), "hidden");
}

}  // namespace
}  // namespace nvf::runtime
