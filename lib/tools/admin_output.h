// The admin console's output: how one server reply to an admin command is printed, and the exit
// code it maps to. The server answers every command with a JSON reply
//   {"status": "ok" | "error" | "not_authorized" | ..., "data": [items], "meta": {...}}
// whose items are {"type": "string"|"success"|"error"|"dict", "data": ...} or
// {"type": "table", "rows": [[header...], [cell...], ...]}. This prints them byte for byte as
// FLARE 2.7.2's console (AdminClient.print_resp and fuel/hci/table.py) does:
//   string   the text and a newline
//   error    "Error: <text>" and a newline
//   dict     json.dumps(data, indent=2) and a newline (non-ASCII escaped as \uXXXX, Python floats)
//   table    a border of '-', "| c1 | c2 |" rows padded to each column's widest cell, a border
//            after the first (header) row and one at the end (so a header-only table ends with
//            two borders, and a table without rows prints "-" twice)
//   success  nothing: FLARE's server sends visible text as a string item and its success item
//            (usually empty) only sets the status; the console never prints it
// Other item types (command, token, shutdown) and items that are not objects print nothing; a
// reply without "data" prints "Response is not correct.".
// Stateless functions; any thread.
#pragma once

#include <chrono>
#include <string>

#include "config/value.h"

namespace nvf::tools {

/// FLARE-console text for one reply (ends with a newline when non-empty).
std::string render_admin_reply(const config::Value& reply);

/// The reply's status: "status" at the top, else meta.status (where FLARE's server puts it); ""
/// when neither is a string.
std::string admin_reply_status(const config::Value& reply);

/// The process exit code for a reply: 0 for "ok", 3 for not_authorized/not_authenticated, 1
/// otherwise. A reply without a status is 0 unless it holds an error item.
int admin_reply_exit_code(const config::Value& reply);

/// The console's "Done [N usecs] <datetime>" line (no newline): N is `took` in microseconds and
/// the datetime is `now` in local time as Python prints datetime.now(): "2026-01-15
/// 10:20:30.000123" (without the fraction when it is zero).
std::string admin_done_line(std::chrono::microseconds took,
                            std::chrono::system_clock::time_point now);

/// One table as FLARE's Table.write prints it (see above); rows may differ in length (missing cells
/// print as a blank). Widths count Unicode code points, as Python's len() does.
std::string render_admin_table(const config::Value& rows);

/// json.dumps(value, indent=2) as Python writes it (ensure_ascii, ", "/": " separators, float repr,
/// NaN/Infinity). indent < 0 is the compact one-line form (json.dumps(value)).
std::string python_json_dumps(const config::Value& value, int indent = 2);

}  // namespace nvf::tools
