// The job processes of a deployment (DESIGN §2): `nvflare _server_job` (FLARE's SJ) runs a job's
// server app with the ServerJobEngine, `nvflare _client_job` (FLARE's CJ) runs a site's client
// app with the ClientJobEngine. Each connects to its parent over a Unix socket in the parent's
// 0700 runtime directory, stops when its parent dies (lifeline) or on SIGTERM / an abort order,
// and returns FLARE's process exit codes (deploy_protocol.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace nvf::runtime {

struct JobProcessOptions {
  std::filesystem::path workspace;   // the site's workspace (kit root); the run dir is <workspace>/<job_id>
  std::string job_id;
  std::string site;                  // client job: the site name
  std::string parent_url;            // the parent's internal listener
  std::string parent_fqcn;           // client job: the client parent's cell ("site-1", "R1.site-1");
                                     // the job's cell is <parent_fqcn>.<job_id>. Empty: the site name
  std::vector<std::string> clients;  // server job: the job's active client sites
  bool secure = true;
  std::string nvflare_bin;
  std::filesystem::path torch_helper;  // converts TorchScript initial models (server job)
};

int run_server_job_process(const JobProcessOptions& options);
int run_client_job_process(const JobProcessOptions& options);

}  // namespace nvf::runtime
