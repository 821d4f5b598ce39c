// Private to `nvflare provision`: the validated project model and the generators of each kit file.
// Plain data and pure functions; safe from any thread.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/value.h"

namespace nvf::tools::provision {

struct Participant {
  std::string name;
  std::string type;  // server | client | relay | admin
  std::string org;
  std::string role;  // admin only
  int fed_learn_port = 8002;
  int admin_port = 8002;
  std::string default_host;             // server: name unless set
  std::vector<std::string> host_names;  // server: extra SAN names
  std::string connection_security = "mtls";
  int num_of_gpus = 0;
  int mem_per_gpu_in_gib = 0;
  bool allow_error_sending = true;
  // connect_to (client, relay, admin): the parent relay's name ("" = the server), and the host,
  // port and connection security that override the parent's own ("" / 0 = the parent's).
  std::string connect_to;
  std::string connect_host;
  int connect_port = 0;
  std::string connect_security;
  // listening_host (relay: required; client: accepted, gets the files FLARE gives it).
  bool listening = false;
  std::string listen_scheme = "grpc";
  std::string listen_host = "localhost";
  std::vector<std::string> listen_host_names;
  int listen_port = 0;
  std::string listen_security;  // "" = the participant's connection_security
  /// The cell name: a relay's parents' names and its own, dotted ("relay-1.relay-2"); a client's
  /// relay's fqcn and its name; else its name. Set by parse_project.
  std::string fqcn;
};

struct Project {
  std::string name;
  std::string description;
  std::vector<Participant> participants;
  std::string scheme = "grpc";
  std::string config_folder = "config";
  std::string download_job_url = "http://download.server.com/";
  bool poc = false;  // POC mode: admin kits log in by certificate without a user name
  const Participant& server() const;
  /// The participant called `name`, or null.
  const Participant* find(const std::string& name) const;
};

/// Validates a parsed project.yml; `source` names the file in messages; `warn` gets FLARE's
/// warnings (truncated project name, unsupported builders). Errors: INVALID_ARGUMENT.
Result<Project> parse_project(const config::Value& yml, const std::string& source,
                              const std::function<void(const std::string&)>& warn);

/// The sample project.yml text (FLARE's lighter/project.yml, api_version 3).
std::string sample_project_yml();

// startup/ configuration files (FLARE's StaticFileBuilder shapes).
config::Value fed_server_json(const Project& p);
config::Value fed_client_json(const Project& p, const Participant& client);
config::Value fed_admin_json(const Project& p, const Participant& admin);
config::Value fed_relay_json(const Project& p, const Participant& relay);

// local/ files.
config::Value server_resources_json(const Project& p);
config::Value client_resources_json(const Participant& client);
config::Value admin_resources_json();
config::Value default_authorization_json();
config::Value log_config_json();
config::Value privacy_sample_json();
/// local/comm_config.json of a relay (its listener) or of a client behind a relay / listening.
config::Value comm_config_json(const Project& p, const Participant& part);
/// local/relay__resources.json of a client behind a relay: the relay it connects to.
config::Value relay_resources_json(const Project& p, const Participant& client);

// Scripts; `nvflare_bin` is the fallback recorded at provisioning time.
std::string sub_start_sh(const Project& p, const Participant& part, const std::string& nvflare_bin);
std::string start_sh();
std::string stop_fl_sh();
std::string fl_admin_sh(const std::string& nvflare_bin);
std::string start_all_sh(const Project& p);
std::string readme_txt(const Participant& part);

}  // namespace nvf::tools::provision
