// The helpers the server parent's admin command files share (admin_service.cc,
// admin_job_commands.cc, admin_site_commands.cc): FLARE's reply shapes and formats. Internal.
#pragma once

#include <algorithm>
#include <charconv>
#include <ctime>
#include <fstream>
#include <optional>

#include "base/files.h"
#include "base/strings.h"
#include "job/archive.h"
#include "job/job_folder.h"
#include "runtime/admin_commands.h"
#include "runtime/deploy_protocol.h"
#include "runtime/meta_fields.h"
#include "runtime/server_parent.h"
#include "runtime/site_info.h"
#include "runtime/workspace_shell.h"
#include "security/job_signature.h"

namespace nvf::runtime::admin_detail {
namespace fs = std::filesystem;

using runtime::str_of;  // meta_fields.h

using admin::error_reply;
using admin::ok_string;
using admin::reply;
using admin::table;
// Visible text is a string item (the console prints no "success" item, as FLARE's).
inline config::Value ok_success(const std::string& text) { return ok_string(text); }

inline std::string report_usage(bool env) {
  return env ? "report_env server|client <client-name> ..." : "report_resources server | client <client-name> ...";
}

// A request to a client parent on behalf of admin `who` (the client authorizes them itself).
inline cellnet::Message admin_order(const Principal& who, std::string payload) {
  cellnet::Message m = cellnet::Message::of(std::move(payload));
  m.headers.set(deploy::kHdrUserName, who.person.name);
  m.headers.set(deploy::kHdrUserOrg, who.person.org);
  m.headers.set(deploy::kHdrUserRole, who.person.role);
  return m;
}

// A client's refusal or failure as the console shows it: its policy's "not authorized" (carried
// back as cellnet's "unauthenticated" return code) keeps that status; no answer in time says so.
inline config::Value client_error(const std::string& client, const Status& s) {
  if (s.code() == StatusCode::kPermissionDenied || s.code() == StatusCode::kUnauthenticated) {
    return error_reply("not_authorized", s.message());
  }
  if (s.code() == StatusCode::kDeadlineExceeded) return error_reply("error", "no reply from client " + client);
  return error_reply("error", s.message());
}

inline std::string fmt_time(double epoch) {
  if (epoch <= 0) return "";
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

inline std::string duration_of(const config::Value& meta) {
  if (meta.contains("duration") && meta["duration"].is_string()) return meta["duration"].get<std::string>();
  if (meta.contains("duration") && meta["duration"].is_number()) {
    long s = static_cast<long>(meta["duration"].get<double>());
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    return buf;
  }
  return "N/A";
}

// time.asctime(time.localtime(t)), as FLARE's session list prints times: "Mon Jan  5 10:20:30 2026".
inline std::string asctime_of(std::chrono::system_clock::time_point tp) {
  std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

// A steady-clock instant on the wall clock.
inline std::chrono::system_clock::time_point wall_time(std::chrono::steady_clock::time_point tp) {
  return std::chrono::system_clock::now() -
         std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::steady_clock::now() - tp);
}

// Python's str(float) for a number of seconds.
inline std::string py_float(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, ec == std::errc() ? end : buf);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

inline security::Person submitter_of(const config::Value& meta) {
  return security::Person{str_of(meta, "submitter_name"), str_of(meta, "submitter_org"),
                          str_of(meta, "submitter_role")};
}


// FLARE's process_replies_to_table: one row per client with its answer or its error.
inline config::Value replies_table(const std::vector<std::pair<std::string, Result<cellnet::Message>>>& replies) {
  std::vector<std::vector<std::string>> rows{{"Client", "Response"}};
  for (const auto& [c, r] : replies) rows.push_back({c, r.ok() ? r->payload.to_string() : "error: " + r.status().message()});
  return table(rows);
}

// A client's JSON answer shown as Python's str() of it, or its error.
inline std::string client_answer(const Result<cellnet::Message>& r) {
  if (!r.ok()) return r.status().code() == StatusCode::kDeadlineExceeded ? "No replies" : r.status().message();
  try {
    return python_str(config::Value::parse(r->payload.to_string()));
  } catch (const std::exception& e) {
    return std::string("Bad replies: ") + e.what();
  }
}

inline std::string joined(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// One warning line per job whose status the store could not write yet (list_jobs, check_status).
inline void add_unsaved_warnings(config::Value& items, const job::JobStore& store) {
  for (const auto& [id, why] : store.unsaved()) {
    items.push_back({{"type", "string"},
                     {"data", "Warning: the status of job " + id + " is not saved to the job store yet (" + why +
                                  "); the server retries."}});
  }
}

}  // namespace nvf::runtime::admin_detail
