#include "runtime/client_job_tracker.h"

#include <algorithm>

namespace nvf::runtime {

bool ClientJobTracker::takes_part(const Job& job, const std::string& client) {
  return std::find(job.clients.begin(), job.clients.end(), client) != job.clients.end();
}

void ClientJobTracker::job_scheduled(const std::string& job) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_[job];
}

void ClientJobTracker::job_clients(const std::string& job, const std::vector<std::string>& clients) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_[job].clients = clients;
}

void ClientJobTracker::job_running(const std::string& job, const std::vector<std::string>& clients) {
  std::lock_guard<std::mutex> lock(mu_);
  Job& j = jobs_[job];
  j.running = true;
  j.clients = clients;
}

void ClientJobTracker::job_ended(const std::string& job) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.erase(job);
}

ClientJobTracker::Heartbeat ClientJobTracker::heartbeat(const std::string& client,
                                                        const std::set<std::string>& reported,
                                                        const std::set<std::string>& finished) {
  Heartbeat out;
  std::lock_guard<std::mutex> lock(mu_);
  reports_[client] = reported;
  for (const auto& id : reported) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || !takes_part(it->second, client)) {
      out.abort_jobs.push_back(id);
    } else if (it->second.seen.insert(client).second) {
      out.first_seen.push_back(id);
    }
  }
  for (auto& [id, job] : jobs_) {
    if (!job.running || reported.count(id) || job.lost.count(client) || !takes_part(job, client)) continue;
    if (finished.count(id)) {
      job.lost.insert(client);  // gone too, but told as finished
      out.finished.push_back(id);
      continue;
    }
    // 2.7.2's startup grace: only a client that was once seen running the job counts as lost.
    if (job.seen.count(client) || !require_previous_report_) {
      job.lost.insert(client);
      out.lost.push_back(id);
    }
  }
  return out;
}

std::vector<std::string> ClientJobTracker::jobs_of(const std::string& client) const {
  std::vector<std::string> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, job] : jobs_) {
    if (takes_part(job, client)) out.push_back(id);
  }
  return out;
}

std::set<std::string> ClientJobTracker::last_report(const std::string& client) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = reports_.find(client);
  return it == reports_.end() ? std::set<std::string>() : it->second;
}

void ClientJobTracker::forget(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  reports_.erase(client);
}

}  // namespace nvf::runtime
