// What the server parent learns of its clients' job processes from their heartbeats (FLARE's
// client-job sync, 2.7.2's rules): each heartbeat lists the jobs a client runs. A job it runs but
// should not (unknown, or it is not one of the job's clients) is to be aborted there; a job it
// lists for the first time is "seen"; a running job it took part in and no longer lists is "lost"
// (its client job is gone) — only once it was seen, unless require_previous_report is off
// (sync_client_jobs_require_previous_report), and each loss is told once. A client also lists the
// jobs whose client job ended by itself (exit 0: the run is over there); such a job is "finished"
// at that client, never lost.
//
// Pure bookkeeping: no socket, no process; the server parent acts on what it returns.
// Threads: every method may be called from any thread (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace nvf::runtime {

class ClientJobTracker {
 public:
  explicit ClientJobTracker(bool require_previous_report) : require_previous_report_(require_previous_report) {}

  /// The job was scheduled (it is deploying: no client takes part in it yet).
  void job_scheduled(const std::string& job);
  /// These clients take part in the job (from deploy on: they may start their client jobs
  /// before the server job runs).
  void job_clients(const std::string& job, const std::vector<std::string>& clients);
  /// The job's process started with these clients taking part: from now on a client that stops
  /// reporting it is lost.
  void job_running(const std::string& job, const std::vector<std::string>& clients);
  void job_ended(const std::string& job);

  struct Heartbeat {
    std::vector<std::string> abort_jobs;  // jobs the client runs but should not
    std::vector<std::string> first_seen;  // jobs the client reports running for the first time
    std::vector<std::string> lost;        // running jobs whose client job at this client is gone
    std::vector<std::string> finished;    // running jobs whose client job at this client ended well
  };
  Heartbeat heartbeat(const std::string& client, const std::set<std::string>& reported,
                      const std::set<std::string>& finished = {});

  /// The running jobs `client` takes part in (it quit: they stop waiting for it).
  std::vector<std::string> jobs_of(const std::string& client) const;
  /// The jobs in `client`'s last heartbeat (check_status).
  std::set<std::string> last_report(const std::string& client) const;
  /// The client left the registry (removed, restarted): its last report is dropped.
  void forget(const std::string& client);

 private:
  struct Job {
    bool running = false;
    std::vector<std::string> clients;
    std::set<std::string> seen, lost;
  };
  static bool takes_part(const Job& job, const std::string& client);

  const bool require_previous_report_;
  mutable std::mutex mu_;
  std::map<std::string, Job> jobs_;                                // scheduled or running
  std::map<std::string, std::set<std::string>> reports_;          // client -> its last heartbeat
};

}  // namespace nvf::runtime
