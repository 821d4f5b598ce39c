#include "runtime/scheduler.h"

#include <algorithm>

#include "job/finding.h"
#include "runtime/meta_fields.h"

namespace nvf::runtime {
job::JobMeta parse_stored_meta(const config::Value& meta) {
  std::vector<job::Finding> ignored;
  job::FindingSink sink(&ignored, "meta");
  return job::parse_job_meta(meta, "meta", sink);
}

std::map<std::string, std::string> apps_by_site(const job::JobMeta& meta, const std::vector<std::string>& all_clients) {
  std::map<std::string, std::string> out;
  std::string all_app;
  for (const auto& e : meta.deploy_map) {
    for (const auto& s : e.sites) {
      if (job::is_all_sites(s)) {
        all_app = e.app;
      } else {
        out[s] = e.app;
      }
    }
  }
  if (!all_app.empty()) {
    if (!out.count("server")) out["server"] = all_app;
    for (const auto& c : all_clients) {
      if (!out.count(c)) out[c] = all_app;
    }
  }
  return out;
}

bool can_start(const config::Value& meta, const std::vector<std::string>& clients) {
  job::JobMeta m = parse_stored_meta(meta);
  auto registered = [&](const std::string& c) { return std::find(clients.begin(), clients.end(), c) != clients.end(); };
  for (const auto& r : m.mandatory_clients) {
    if (!registered(r)) return false;  // wait for it
  }
  int available = 0;
  for (const auto& [site, app] : apps_by_site(m, clients)) {
    if (site != "server" && registered(site)) ++available;
  }
  return available >= std::max<int64_t>(1, m.min_clients.value_or(1));
}

std::vector<std::string> jobs_to_start(const std::vector<config::Value>& stored, const std::set<std::string>& running,
                                       const std::vector<std::string>& clients, int max_jobs) {
  std::vector<std::string> out;
  size_t busy = running.size();
  for (const auto& meta : stored) {
    if (static_cast<int>(busy) >= max_jobs) break;
    const std::string id = str_of(meta, "job_id");
    if (str_of(meta, "status") != "SUBMITTED" || running.count(id)) continue;
    if (!can_start(meta, clients)) continue;
    out.push_back(id);
    ++busy;
  }
  return out;
}

}  // namespace nvf::runtime
