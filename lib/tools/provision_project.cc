// project.yml (api_version 3): validation into the Project model, and FLARE's sample file.
#include <algorithm>
#include <regex>
#include <set>
#include <string>

#include "base/strings.h"
#include "tools/provision_internal.h"

namespace nvf::tools::provision {
namespace {

using config::Value;

const std::regex kHostName(
    R"(^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$)");
const std::regex kSiteName(R"(^[A-Za-z0-9_-]+$)");
const std::regex kEmail(R"(^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$)");
const std::regex kOrgOrRole(R"(^[A-Za-z0-9_]+$)");
const std::set<std::string> kRoles = {"project_admin", "org_admin", "lead", "member"};

std::string scalar_text(const Value& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "None";
  return v.dump();
}

Result<std::string> string_field(const Value& part, const char* key, const std::string& where) {
  auto it = part.find(key);
  if (it == part.end() || it->is_null())
    return InvalidArgumentError(where + ": missing participant " + key);
  if (!it->is_string() && !it->is_number()) {
    return InvalidArgumentError(where + ": participant " + key + " must be a string, got " +
                                config::python_type_name(*it));
  }
  return scalar_text(*it);
}

Result<int> port_field(const Value& part, const char* key, int fallback, const std::string& where) {
  auto it = part.find(key);
  if (it == part.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 65535) {
    return InvalidArgumentError(where + ": " + key + " must be a port number (1-65535), got " +
                                scalar_text(*it));
  }
  return it->get<int>();
}

Status check_name(const Participant& p, const std::string& where) {
  if (p.type == "server" && !std::regex_match(p.name, kHostName)) {
    return InvalidArgumentError(where + ": server name '" + p.name +
                                "' is not a valid host name (letters, digits, "
                                "'-' and '.')");
  }
  if ((p.type == "client" || p.type == "relay") && !std::regex_match(p.name, kSiteName)) {
    return InvalidArgumentError(where + ": " + p.type + " name '" + p.name +
                                "' may contain only letters, digits, '-' and '_'");
  }
  if (p.type == "admin" && !std::regex_match(p.name, kEmail)) {
    return InvalidArgumentError(where + ": admin name '" + p.name + "' must be an e-mail address");
  }
  if (!std::regex_match(p.org, kOrgOrRole)) {
    return InvalidArgumentError(where + ": org '" + p.org +
                                "' may contain only letters, digits and '_'");
  }
  return Status::OK();
}

Result<Participant> parse_participant(const Value& v, const std::string& where,
                                      const std::string& project_conn_sec,
                                      const std::function<void(const std::string&)>& warn) {
  if (!v.is_object()) return InvalidArgumentError(where + ": a participant must be a mapping");
  Participant p;
  NVF_ASSIGN_OR_RETURN(p.name, string_field(v, "name", where));
  std::string at = where + " ('" + p.name + "')";
  NVF_ASSIGN_OR_RETURN(p.type, string_field(v, "type", at));
  NVF_ASSIGN_OR_RETURN(p.org, string_field(v, "org", at));
  if (p.type == "overseer") {
    return InvalidArgumentError(at +
                                ": type 'overseer' is not supported in api_version 3; remove it");
  }
  if (p.type != "server" && p.type != "client" && p.type != "admin" && p.type != "relay") {
    return InvalidArgumentError(at + ": unknown participant type '" + p.type +
                                "' (use server, client, relay or admin)");
  }
  NVF_RETURN_IF_ERROR(check_name(p, at));
  p.connection_security =
      v.contains("connection_security") ? scalar_text(v["connection_security"]) : project_conn_sec;
  if (p.connection_security != "clear" && p.connection_security != "tls" &&
      p.connection_security != "mtls") {
    return InvalidArgumentError(at + ": connection_security must be clear, tls or mtls, got '" +
                                p.connection_security + "'");
  }
  if (p.type == "admin") {
    NVF_ASSIGN_OR_RETURN(p.role, string_field(v, "role", at));
    if (!std::regex_match(p.role, kOrgOrRole)) {
      return InvalidArgumentError(at + ": role '" + p.role +
                                  "' may contain only letters, digits and '_'");
    }
    if (kRoles.count(p.role) == 0 && warn) {
      warn("WARNING: " + at + ": role '" + p.role +
           "' is not one of project_admin, org_admin, lead, member");
    }
  }
  if (p.type == "server") {
    NVF_ASSIGN_OR_RETURN(p.fed_learn_port, port_field(v, "fed_learn_port", 8002, at));
    NVF_ASSIGN_OR_RETURN(p.admin_port, port_field(v, "admin_port", p.fed_learn_port, at));
    p.default_host = v.contains("default_host") ? scalar_text(v["default_host"]) : p.name;
    if (v.contains("host_names")) {
      if (!v["host_names"].is_array())
        return InvalidArgumentError(at + ": host_names must be a list");
      for (const Value& h : v["host_names"]) p.host_names.push_back(scalar_text(h));
    }
  }
  if (v.contains("connect_to") && !v["connect_to"].is_null()) {
    if (p.type == "server") return InvalidArgumentError(at + ": connect_to does not apply to the server");
    const Value& c = v["connect_to"];
    if (c.is_string()) {
      p.connect_host = c.get<std::string>();
    } else if (c.is_object()) {
      if (c.contains("name")) p.connect_to = scalar_text(c["name"]);
      if (c.contains("host")) p.connect_host = scalar_text(c["host"]);
      NVF_ASSIGN_OR_RETURN(p.connect_port, port_field(c, "port", 0, at + ": connect_to"));
      if (c.contains("connection_security")) p.connect_security = scalar_text(c["connection_security"]);
    } else {
      return InvalidArgumentError(at + ": connect_to must be a host name or a mapping {name, host, port, "
                                  "connection_security}");
    }
    if (!p.connect_security.empty() && p.connect_security != "clear" && p.connect_security != "tls" &&
        p.connect_security != "mtls") {
      return InvalidArgumentError(at + ": connect_to.connection_security must be clear, tls or mtls, got '" +
                                  p.connect_security + "'");
    }
  }
  if (v.contains("listening_host") && !v["listening_host"].is_null()) {
    if (p.type != "relay" && p.type != "client") {
      return InvalidArgumentError(at + ": listening_host applies to relays and clients only");
    }
    const Value& l = v["listening_host"];
    p.listening = true;
    if (l.is_string()) {
      p.listen_host = l.get<std::string>();
    } else if (l.is_object()) {
      if (l.contains("scheme")) p.listen_scheme = scalar_text(l["scheme"]);
      if (l.contains("default_host")) p.listen_host = scalar_text(l["default_host"]);
      if (l.contains("host_names")) {
        if (!l["host_names"].is_array()) return InvalidArgumentError(at + ": listening_host.host_names must be a list");
        for (const Value& h : l["host_names"]) p.listen_host_names.push_back(scalar_text(h));
      }
      NVF_ASSIGN_OR_RETURN(p.listen_port, port_field(l, "port", 0, at + ": listening_host"));
      if (l.contains("connection_security")) p.listen_security = scalar_text(l["connection_security"]);
    } else {
      return InvalidArgumentError(at + ": listening_host must be a host name or a mapping {scheme, host_names, "
                                  "default_host, port, connection_security}");
    }
    if (!std::regex_match(p.listen_host, kHostName)) {
      return InvalidArgumentError(at + ": listening_host.default_host '" + p.listen_host + "' is not a host name");
    }
    if (!p.listen_security.empty() && p.listen_security != "clear" && p.listen_security != "tls" &&
        p.listen_security != "mtls") {
      return InvalidArgumentError(at + ": listening_host.connection_security must be clear, tls or mtls, got '" +
                                  p.listen_security + "'");
    }
  }
  if (p.type == "relay" && (!p.listening || p.listen_port == 0)) {
    return InvalidArgumentError(at + ": a relay needs listening_host with a port, e.g. listening_host: "
                                "{default_host: relay1.example.com, port: 8102}; its children connect there");
  }
  if (p.type == "client") {
    if (v.contains("capacity") && v["capacity"].is_object()) {
      p.num_of_gpus = v["capacity"].value("num_of_gpus", 0);
      p.mem_per_gpu_in_gib = v["capacity"].value("mem_per_gpu_in_GiB", 0);
    }
    if (v.contains("allow_error_sending"))
      p.allow_error_sending =
          v["allow_error_sending"].is_boolean() && v["allow_error_sending"].get<bool>();
  }
  return p;
}

void read_builders(const Value& yml, Project& project, const std::string& source,
                   const std::function<void(const std::string&)>& warn) {
  static const std::set<std::string> kSupported = {
      "nvflare.lighter.impl.workspace.WorkspaceBuilder",
      "nvflare.lighter.impl.static_file.StaticFileBuilder", "nvflare.lighter.impl.cert.CertBuilder",
      "nvflare.lighter.impl.signature.SignatureBuilder"};
  if (!yml.contains("builders") || !yml["builders"].is_array()) return;
  for (const Value& b : yml["builders"]) {
    std::string path = b.is_object() && b.contains("path") ? scalar_text(b["path"]) : "";
    if (kSupported.count(path) == 0) {
      if (warn)
        warn("WARNING: " + source + ": builder '" + path +
             "' is not supported by this build; skipped");
      continue;
    }
    if (path.ends_with("StaticFileBuilder") && b.contains("args") && b["args"].is_object()) {
      const Value& a = b["args"];
      if (a.contains("scheme") && a["scheme"].is_string())
        project.scheme = a["scheme"].get<std::string>();
      if (a.contains("config_folder") && a["config_folder"].is_string()) {
        project.config_folder = a["config_folder"].get<std::string>();
      }
      if (a.contains("download_job_url") && a["download_job_url"].is_string()) {
        project.download_job_url = a["download_job_url"].get<std::string>();
      }
    }
  }
}

}  // namespace

const Participant* Project::find(const std::string& name) const {
  for (const Participant& p : participants) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

namespace {

// Each relay's and client's cell name from the chain of connect_to names: "relay-1.relay-2.site-3".
// Errors: a connect_to naming no relay, a cycle.
Status resolve_tiers(Project& project, const std::string& source) {
  const std::string server = project.server().name;
  for (Participant& p : project.participants) {
    if (p.connect_to == server) p.connect_to.clear();
  }
  for (Participant& p : project.participants) {
    if (p.type != "relay" && p.type != "client" && p.type != "admin") {
      p.fqcn = p.name;
      continue;
    }
    std::vector<std::string> chain{p.name};
    const Participant* at = &p;
    while (!at->connect_to.empty()) {
      const Participant* parent = project.find(at->connect_to);
      const std::string where = source + ": participant '" + at->name + "': connect_to '" + at->connect_to + "'";
      if (!parent) return InvalidArgumentError(where + " names no participant of the project");
      if (parent->type != "relay") {
        return InvalidArgumentError(where + " is a " + parent->type + "; a participant connects to the server or a relay");
      }
      if (at->type == "admin") return InvalidArgumentError(where + ": admins connect to the server, not to a relay");
      if (std::find(chain.begin(), chain.end(), parent->name) != chain.end()) {
        return InvalidArgumentError(where + " makes a loop of relays (" + base::join(chain, " -> ") + " -> " +
                                    parent->name + ")");
      }
      chain.push_back(parent->name);
      at = parent;
    }
    std::reverse(chain.begin(), chain.end());
    p.fqcn = base::join(chain, ".");
  }
  return Status::OK();
}

}  // namespace

const Participant& Project::server() const {
  for (const Participant& p : participants) {
    if (p.type == "server") return p;
  }
  NVF_CHECK(false && "a validated project has a server");
  return participants.front();
}

Result<Project> parse_project(const Value& yml, const std::string& source,
                              const std::function<void(const std::string&)>& warn) {
  if (!yml.is_object()) return InvalidArgumentError(source + ": a project file must be a mapping");
  Value version = yml.contains("api_version") ? yml["api_version"] : Value();
  if (!(version.is_number_integer() && version.get<int64_t>() == 3)) {
    return InvalidArgumentError("API version expected 3 but found " + scalar_text(version));
  }
  Project project;
  if (!yml.contains("name") || !yml["name"].is_string() || yml["name"].get<std::string>().empty()) {
    return InvalidArgumentError(source + ": the project needs a 'name'");
  }
  project.name = yml["name"].get<std::string>();
  if (project.name.size() > 63) {
    if (warn)
      warn("WARNING: project name '" + project.name + "' is longer than 63 characters; truncated");
    project.name.resize(63);
  }
  if (yml.contains("description")) project.description = scalar_text(yml["description"]);
  std::string conn_sec =
      yml.contains("connection_security") ? scalar_text(yml["connection_security"]) : "mtls";
  if (!yml.contains("participants") || !yml["participants"].is_array()) {
    return InvalidArgumentError(source + ": 'participants' must be a list");
  }
  std::set<std::string> names;
  int servers = 0;
  const Value& parts = yml["participants"];
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string where = source + ": participants[" + std::to_string(i) + "]";
    NVF_ASSIGN_OR_RETURN(Participant p, parse_participant(parts[i], where, conn_sec, warn));
    if (!names.insert(p.name).second) {
      return InvalidArgumentError(where + ": the name '" + p.name +
                                  "' is used by another participant");
    }
    if (p.type == "server") ++servers;
    project.participants.push_back(std::move(p));
  }
  if (servers != 1) {
    return InvalidArgumentError(source +
                                ": a project needs exactly one server participant, found " +
                                std::to_string(servers));
  }
  NVF_RETURN_IF_ERROR(resolve_tiers(project, source));
  read_builders(yml, project, source, warn);
  return project;
}

std::string sample_project_yml() {
  return R"(api_version: 3
name: example_project
description: NVIDIA FLARE sample project yaml file

participants:
  # Change the name of the server (server1) to the Fully Qualified Domain Name
  # (FQDN) of the server, for example: server1.example.com.
  # Ensure that the FQDN is correctly mapped in the /etc/hosts file.
  - name: server1
    type: server
    org: nvidia
    fed_learn_port: 8002
    admin_port: 8003
  - name: site-1
    type: client
    org: nvidia
  - name: site-2
    type: client
    org: nvidia
  - name: admin@nvidia.com
    type: admin
    org: nvidia
    role: project_admin

# The same methods in all builders are called in their order defined in builders section
builders:
  - path: nvflare.lighter.impl.workspace.WorkspaceBuilder
    args:
      template_file:
        - master_template.yml
  - path: nvflare.lighter.impl.static_file.StaticFileBuilder
    args:
      # config_folder can be set to inform NVIDIA FLARE where to get configuration
      config_folder: config

      # scheme for communication driver: grpc (gRPC over HTTP/2), or tcp (frames on TLS sockets:
      # the least CPU per byte, for large models). http runs on gRPC here.
      scheme: grpc

      # when docker_image is set to a docker image name, docker.sh will be generated on server/client/admin
      # docker_image:

      # download_job_url is set to http://download.server.com/ as default in fed_server.json.  You can override this
      # to different url.
      # download_job_url: http://download.server.com/

  - path: nvflare.lighter.impl.cert.CertBuilder
  - path: nvflare.lighter.impl.signature.SignatureBuilder
)";
}

}  // namespace nvf::tools::provision
