// The job scheduler's decisions (FLARE's DefaultJobScheduler, without its resource checks), as pure
// functions over the job store's metas and the registered clients, so that they are tested without
// a server or a socket. The server parent asks them every schedule_interval and starts what they
// name. Stateless.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/value.h"
#include "job/job_meta.h"

namespace nvf::runtime {

/// A stored meta as a JobMeta (its problems are not reported here: submit validated it).
job::JobMeta parse_stored_meta(const config::Value& meta);

/// The app each site runs: {site: app}, "server" included; @ALL entries apply to `all_clients`.
std::map<std::string, std::string> apps_by_site(const job::JobMeta& meta, const std::vector<std::string>& all_clients);

/// A job may start now when every mandatory client is registered and at least min_clients (at
/// least 1) of the clients its deploy_map names (@ALL: every registered client) are registered.
bool can_start(const config::Value& meta, const std::vector<std::string>& registered_clients);

/// The SUBMITTED jobs to start now, in the store's order, while fewer than `max_jobs` run: a job
/// that cannot start yet waits and later ones may start before it. `running`: ids of running jobs.
std::vector<std::string> jobs_to_start(const std::vector<config::Value>& stored, const std::set<std::string>& running,
                                       const std::vector<std::string>& registered_clients, int max_jobs);

}  // namespace nvf::runtime
