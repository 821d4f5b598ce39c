// The admin console's rendering of server replies, compared byte for byte with what FLARE 2.7.2's
// console prints for the same reply.
#include "tools/admin_output.h"

#include <gtest/gtest.h>

#include <ctime>
#include <limits>

namespace nvf::tools {
namespace {

using config::Value;

Value reply(const std::string& json) { return Value::parse(json); }

TEST(AdminOutputTest, TwoColumnTableWidensEachColumnToItsWidestCell) {
  Value r = reply(R"({"status": "ok", "data": [{"type": "table", "rows": [
      ["Job ID", "Name"], ["abc", "a much wider name"], ["0123456789", "x"]]}], "meta": {"status": "ok"}})");
  EXPECT_EQ(render_admin_reply(r),
            "----------------------------------\n"
            "| Job ID     | Name              |\n"
            "----------------------------------\n"
            "| abc        | a much wider name |\n"
            "| 0123456789 | x                 |\n"
            "----------------------------------\n");
  EXPECT_EQ(admin_reply_exit_code(r), 0);
}

TEST(AdminOutputTest, HeaderOnlyTableEndsWithTwoBorders) {
  Value r = reply(
      R"({"status": "ok", "data": [{"type": "table", "rows": [["Job ID", "Name", "Status"]]}]})");
  EXPECT_EQ(render_admin_reply(r),
            "--------------------------\n"
            "| Job ID | Name | Status |\n"
            "--------------------------\n"
            "--------------------------\n");
}

TEST(AdminOutputTest, TableWithoutRowsIsTwoOneDashBorders) {
  EXPECT_EQ(render_admin_table(Value::array()), "-\n-\n");
}

TEST(AdminOutputTest, ShortRowsPadMissingCellsAndWidthsCountCodePoints) {
  // "é" and "☃" are one column each, as Python's len() counts them.
  Value rows = reply(R"([["Site", "Status", "Note"], ["caf\u00e9", "\u2603"], ["s"]])");
  EXPECT_EQ(render_admin_table(rows),
            "------------------------\n"
            "| Site | Status | Note |\n"
            "------------------------\n"
            "| caf\u00e9 | \u2603      |      |\n"
            "| s    |        |      |\n"
            "------------------------\n");
}

TEST(AdminOutputTest, DictIsPythonJsonWithIndentTwo) {
  Value r = reply(R"({"status": "ok", "data": [{"type": "dict", "data": {
      "name": "hello", "min_clients": 2, "deploy_map": {"app": ["@ALL"]}, "ratio": 0.5, "empty": {}, "list": [],
      "uni": "\u00e9\u007f\u2603\ud83d\ude00", "t": true, "n": null, "q": "a\"b\\c\n\t/"}}]})");
  EXPECT_EQ(render_admin_reply(r),
            "{\n"
            "  \"name\": \"hello\",\n"
            "  \"min_clients\": 2,\n"
            "  \"deploy_map\": {\n"
            "    \"app\": [\n"
            "      \"@ALL\"\n"
            "    ]\n"
            "  },\n"
            "  \"ratio\": 0.5,\n"
            "  \"empty\": {},\n"
            "  \"list\": [],\n"
            "  \"uni\": \"\\u00e9\\u007f\\u2603\\ud83d\\ude00\",\n"
            "  \"t\": true,\n"
            "  \"n\": null,\n"
            "  \"q\": \"a\\\"b\\\\c\\n\\t/\"\n"
            "}\n");
}

TEST(AdminOutputTest, FloatsPrintAsPythonRepr) {
  const std::pair<double, const char*> cases[] = {
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {0.0001, "0.0001"},
      {1e-5, "1e-05"},
      {123.0, "123.0"},
      {-0.0, "-0.0"},
      {1.5e-7, "1.5e-07"},
      {0.1, "0.1"},
      {1700000000.123456, "1700000000.123456"},
      {1e22, "1e+22"},
      {123456789012345678.0, "1.2345678901234568e+17"},
      {0.0, "0.0"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
      {-std::numeric_limits<double>::infinity(), "-Infinity"},
  };
  for (const auto& [x, text] : cases) EXPECT_EQ(python_json_dumps(Value(x)), text) << x;
  EXPECT_EQ(python_json_dumps(reply(R"({"a": [1, 2], "b": {"c": 1.0}})"), -1),
            R"({"a": [1, 2], "b": {"c": 1.0}})");
}

TEST(AdminOutputTest, ErrorPrintsWithPrefixAndExitsOne) {
  Value r = reply(
      R"({"status": "invalid_job_id", "data": [{"type": "error", "data": "job abc does not exist"}],
                      "meta": {"status": "invalid_job_id", "info": "abc"}})");
  EXPECT_EQ(render_admin_reply(r), "Error: job abc does not exist\n");
  EXPECT_EQ(admin_reply_exit_code(r), 1);
}

TEST(AdminOutputTest, StringsPrintAsLinesAndSuccessItemsPrintNothing) {
  Value r = reply(R"({"status": "ok", "data": [{"type": "string", "data": "Submitted job: 6b1c"},
      {"type": "success", "data": ""}, {"type": "success", "data": "not shown"}, {"type": "token", "data": "t"},
      "not an item", {"type": "string", "data": ""}]})");
  EXPECT_EQ(render_admin_reply(r), "Submitted job: 6b1c\n\n");
}

TEST(AdminOutputTest, ItemsPrintInOrder) {
  Value r = reply(R"({"status": "ok", "data": [{"type": "string", "data": "Engine status: started"},
      {"type": "table", "rows": [["job_id", "app name"]]}, {"type": "string", "data": "Registered clients: 0 "}]})");
  EXPECT_EQ(render_admin_reply(r),
            "Engine status: started\n"
            "---------------------\n"
            "| job_id | app name |\n"
            "---------------------\n"
            "---------------------\n"
            "Registered clients: 0 \n");
}

TEST(AdminOutputTest, ReplyWithoutDataIsReportedAsIncorrect) {
  EXPECT_EQ(render_admin_reply(reply(R"({"status": "ok"})")), "Response is not correct.\n");
  EXPECT_EQ(render_admin_reply(reply("[1]")), "Response is not correct.\n");
  EXPECT_EQ(render_admin_reply(reply(R"({"status": "ok", "data": []})")), "");
}

TEST(AdminOutputTest, ExitCodesFollowTheStatus) {
  EXPECT_EQ(admin_reply_exit_code(reply(R"({"status": "ok", "data": []})")), 0);
  EXPECT_EQ(admin_reply_exit_code(reply(R"({"status": "not_authorized", "data": []})")), 3);
  EXPECT_EQ(admin_reply_exit_code(reply(R"({"status": "not_authenticated", "data": []})")), 3);
  EXPECT_EQ(admin_reply_exit_code(reply(R"({"status": "syntax_error", "data": []})")), 1);
  EXPECT_EQ(admin_reply_exit_code(reply(R"({"status": "job_running", "data": []})")), 1);
  // FLARE's server puts the status in meta.
  EXPECT_EQ(admin_reply_exit_code(reply(R"({"data": [], "meta": {"status": "not_authorized"}})")),
            3);
  EXPECT_EQ(admin_reply_exit_code(reply(R"({"data": [], "meta": {"status": "ok"}})")), 0);
  // No status anywhere: an error item decides.
  EXPECT_EQ(admin_reply_exit_code(reply(R"({"data": [{"type": "string", "data": "x"}]})")), 0);
  EXPECT_EQ(admin_reply_exit_code(reply(R"({"data": [{"type": "error", "data": "x"}]})")), 1);
  EXPECT_EQ(admin_reply_exit_code(reply("null")), 1);
}

std::chrono::system_clock::time_point local_time(int y, int mon, int d, int h, int min, int s,
                                                 int usec) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = min;
  tm.tm_sec = s;
  tm.tm_isdst = -1;
  return std::chrono::system_clock::from_time_t(std::mktime(&tm)) + std::chrono::microseconds(usec);
}

TEST(AdminOutputTest, DoneLinePrintsMicrosecondsAndLocalTimeAsPython) {
  EXPECT_EQ(
      admin_done_line(std::chrono::microseconds(15234), local_time(2026, 1, 15, 10, 20, 30, 123)),
      "Done [15234 usecs] 2026-01-15 10:20:30.000123");
  // Python's str(datetime) leaves out a zero fraction.
  EXPECT_EQ(admin_done_line(std::chrono::microseconds(7), local_time(2026, 7, 4, 23, 59, 59, 0)),
            "Done [7 usecs] 2026-07-04 23:59:59");
}

}  // namespace
}  // namespace nvf::tools
