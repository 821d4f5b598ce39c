#include "tools/provision.h"

#include <algorithm>

#include <regex>
#include <string>
#include <limits>

#include "base/files.h"
#include "config/value.h"
#include "security/folder_signature.h"
#include "security/pki.h"
#include "tools/provision_internal.h"
#include "base/strings.h"

namespace nvf::tools {
namespace {

namespace fs = std::filesystem;
using config::Value;
using provision::Participant;
using provision::Project;

using Credentials = std::map<std::string, security::Credential>;

// The number after the highest prod_NN under `root` (0 when there is none).
Result<int> next_prod_index(const fs::path& root) {
  int next = 0;
  std::error_code ec;
  static const std::regex kProd(R"(^prod_(\d+)$)");
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::smatch m;
    std::string name = it->path().filename().string();
    if (std::regex_match(name, m, kProd)) {
      // prod_<huge> counts as past the last index, not as a number that overflows.
      next = std::max(next, static_cast<int>(base::parse_int(m[1].str(), 0, 1000).value_or(1000)) + 1);
    }
  }
  if (next > 99) {
    return ResourceExhaustedError(root.string() +
                                  " already holds prod_99; move old prod_NN folders away");
  }
  return next;
}

// state/cert.json: {"root_cert", "root_pri_key", "<subject>": {"cert", "pri_key"}}.
Result<Value> load_state(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return Value::object();
  NVF_ASSIGN_OR_RETURN(std::string text, base::read_file(file));
  Value v = Value::parse(text, nullptr, false);
  if (!v.is_object() || !v.contains("root_cert") || !v.contains("root_pri_key")) {
    return DataLossError(file.string() +
                         " is not a valid certificate state file; delete the workspace's state/ "
                         "folder to provision from scratch (all certificates will change)");
  }
  return v;
}

security::CertRequest request_for(const Participant& p) {
  security::CertRequest r;
  r.common_name = p.name;
  r.org = p.org;
  if (p.type == "admin") r.role = p.role;
  if (p.type == "server") {
    r.host_names.push_back(p.default_host);
    for (const std::string& h : p.host_names) {
      if (h != p.default_host) r.host_names.push_back(h);
    }
    // Clients and admins set the TLS target name to the server's identity (its name), so the
    // certificate names it too, whatever host the server is reached at.
    if (std::find(r.host_names.begin(), r.host_names.end(), p.name) == r.host_names.end()) {
      r.host_names.push_back(p.name);
    }
  }
  return r;
}

// The server-type certificate a listening relay or client shows its children: SAN = its
// listening host, its host_names and its name (the children's TLS target name).
security::CertRequest listener_request_for(const Participant& p) {
  security::CertRequest r;
  r.common_name = p.name;
  r.org = p.org;
  r.host_names.push_back(p.listen_host);
  for (const std::string& h : p.listen_host_names) {
    if (std::find(r.host_names.begin(), r.host_names.end(), h) == r.host_names.end()) r.host_names.push_back(h);
  }
  if (std::find(r.host_names.begin(), r.host_names.end(), p.name) == r.host_names.end()) {
    r.host_names.push_back(p.name);
  }
  return r;
}

// The key in state/cert.json of a participant's listener certificate.
std::string listener_key(const Participant& p) { return p.name + ":server"; }

// The root CA and every participant's credential, reused from `state` when present.
Result<Credentials> make_credentials(const Project& project, Value& state) {
  Credentials out;
  security::Credential ca;
  if (state.contains("root_cert")) {
    ca = {state["root_cert"].get<std::string>(), state["root_pri_key"].get<std::string>()};
  } else {
    NVF_ASSIGN_OR_RETURN(ca, security::make_root_ca(project.name));
    state["root_cert"] = ca.cert_pem;
    state["root_pri_key"] = ca.key_pem;
  }
  out["__root__"] = ca;
  for (const Participant& p : project.participants) {
    if (state.contains(p.name) && state[p.name].is_object()) {
      security::Credential c{state[p.name].value("cert", ""), state[p.name].value("pri_key", "")};
      if (p.type == "admin") {
        NVF_ASSIGN_OR_RETURN(security::CertInfo info, security::describe_certificate(c.cert_pem));
        if (info.role != p.role) {
          return FailedPreconditionError(
              p.name + "'s previous role is " + info.role + " but is now " + p.role +
              ". Please delete existing workspace and provision from scratch.");
        }
      }
      out[p.name] = c;
      continue;
    }
    auto cred = security::issue_certificate(ca, request_for(p));
    if (!cred.ok()) return cred.status().with_context("certificate for " + p.name);
    state[p.name] = Value{{"cert", cred->cert_pem}, {"pri_key", cred->key_pem}};
    out[p.name] = *cred;
  }
  for (const Participant& p : project.participants) {
    if (!p.listening) continue;
    const std::string key = listener_key(p);
    if (state.contains(key) && state[key].is_object()) {
      out[key] = security::Credential{state[key].value("cert", ""), state[key].value("pri_key", "")};
      continue;
    }
    auto cred = security::issue_certificate(ca, listener_request_for(p));
    if (!cred.ok()) return cred.status().with_context("listener certificate for " + p.name);
    state[key] = Value{{"cert", cred->cert_pem}, {"pri_key", cred->key_pem}};
    out[key] = *cred;
  }
  return out;
}

Status write_json(const fs::path& path, const Value& v) {
  return base::atomic_write(path, config::to_pretty_json(v));
}
Status write_exe(const fs::path& path, const std::string& text) {
  return base::atomic_write(path, text, 0755);
}

Status write_kit(const fs::path& dir, const Project& project, const Participant& p,
                 const Credentials& creds, const std::string& nvflare_bin) {
  fs::path startup = dir / "startup", local = dir / "local";
  NVF_RETURN_IF_ERROR(base::make_dirs(startup));
  NVF_RETURN_IF_ERROR(base::make_dirs(local));
  NVF_RETURN_IF_ERROR(base::make_dirs(dir / "transfer"));
  const security::Credential& ca = creds.at("__root__");
  const security::Credential& mine = creds.at(p.name);
  std::string kind = p.type == "server" ? "server" : "client";
  NVF_RETURN_IF_ERROR(base::atomic_write(startup / "rootCA.pem", ca.cert_pem));
  NVF_RETURN_IF_ERROR(base::atomic_write(startup / (kind + ".crt"), mine.cert_pem));
  NVF_RETURN_IF_ERROR(security::write_private_key(startup / (kind + ".key"), mine.key_pem));
  if (p.listening) {
    const security::Credential& listener = creds.at(listener_key(p));
    NVF_RETURN_IF_ERROR(base::atomic_write(startup / "server.crt", listener.cert_pem));
    NVF_RETURN_IF_ERROR(security::write_private_key(startup / "server.key", listener.key_pem));
  }
  if (p.type == "relay") {
    NVF_RETURN_IF_ERROR(write_json(startup / "fed_relay.json", provision::fed_relay_json(project, p)));
    NVF_RETURN_IF_ERROR(write_exe(startup / "start.sh", provision::start_sh()));
    NVF_RETURN_IF_ERROR(write_exe(startup / "sub_start.sh", provision::sub_start_sh(project, p, nvflare_bin)));
    NVF_RETURN_IF_ERROR(write_exe(startup / "stop_fl.sh", provision::stop_fl_sh()));
    NVF_RETURN_IF_ERROR(write_json(local / "log_config.json.default", provision::log_config_json()));
    NVF_RETURN_IF_ERROR(write_json(local / "comm_config.json", provision::comm_config_json(project, p)));
  } else if (p.type == "admin") {
    NVF_RETURN_IF_ERROR(
        write_json(startup / "fed_admin.json", provision::fed_admin_json(project, p)));
    NVF_RETURN_IF_ERROR(write_exe(startup / "fl_admin.sh", provision::fl_admin_sh(nvflare_bin)));
    NVF_RETURN_IF_ERROR(base::atomic_write(startup / "readme.txt", provision::readme_txt(p)));
    NVF_RETURN_IF_ERROR(
        write_json(local / "resources.json.default", provision::admin_resources_json()));
  } else {
    Value fed = p.type == "server" ? provision::fed_server_json(project)
                                   : provision::fed_client_json(project, p);
    NVF_RETURN_IF_ERROR(write_json(startup / ("fed_" + kind + ".json"), fed));
    NVF_RETURN_IF_ERROR(write_exe(startup / "start.sh", provision::start_sh()));
    NVF_RETURN_IF_ERROR(
        write_exe(startup / "sub_start.sh", provision::sub_start_sh(project, p, nvflare_bin)));
    NVF_RETURN_IF_ERROR(write_exe(startup / "stop_fl.sh", provision::stop_fl_sh()));
    NVF_RETURN_IF_ERROR(base::atomic_write(dir / "readme.txt", provision::readme_txt(p)));
    Value resources = p.type == "server" ? provision::server_resources_json(project)
                                         : provision::client_resources_json(p);
    NVF_RETURN_IF_ERROR(write_json(local / "resources.json.default", resources));
    NVF_RETURN_IF_ERROR(
        write_json(local / "authorization.json.default", provision::default_authorization_json()));
    NVF_RETURN_IF_ERROR(
        write_json(local / "log_config.json.default", provision::log_config_json()));
    NVF_RETURN_IF_ERROR(
        write_json(local / "privacy.json.sample", provision::privacy_sample_json()));
    if (p.type == "client" && !p.connect_to.empty()) {
      NVF_RETURN_IF_ERROR(
          write_json(local / "relay__resources.json", provision::relay_resources_json(project, p)));
    }
    if (p.type == "client" && (p.listening || !p.connect_to.empty())) {
      NVF_RETURN_IF_ERROR(write_json(local / "comm_config.json", provision::comm_config_json(project, p)));
    }
  }
  NVF_RETURN_IF_ERROR(security::sign_folder(startup, ca.key_pem));
  return security::sign_folder(local, ca.key_pem);
}

Status build(const fs::path& wip, const Project& project, const Credentials& creds,
             const ProvisionOptions& o) {
  for (const Participant& p : project.participants) {
    NVF_RETURN_IF_ERROR(write_kit(wip / p.name, project, p, creds, o.nvflare_bin));
  }
  if (o.gen_scripts)
    NVF_RETURN_IF_ERROR(write_exe(wip / "start_all.sh", provision::start_all_sh(project)));
  return Status::OK();
}

}  // namespace

Status generate_sample_project(const fs::path& path,
                               const std::function<void(const std::string&)>& print) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    return AlreadyExistsError(path.string() +
                              " already exists; edit it and run 'nvflare provision -p " +
                              path.string() + "', or remove it to generate a new sample");
  }
  NVF_RETURN_IF_ERROR(base::atomic_write(path, provision::sample_project_yml()));
  if (print) {
    print(path.string() +
          " was generated.  Please edit it to fit your FL configuration. Once done please run "
          "'nvflare provision -p " +
          path.filename().string() + "' to perform the provisioning");
  }
  return Status::OK();
}

Result<fs::path> run_provision(const ProvisionOptions& o) {
  fs::path project_file = fs::absolute(o.project_file).lexically_normal();
  if (o.print) o.print("Project yaml file: " + project_file.string() + ".");
  NVF_ASSIGN_OR_RETURN(Value yml, config::load_file(project_file));
  NVF_ASSIGN_OR_RETURN(Project project,
                       provision::parse_project(yml, project_file.filename().string(), o.warn));
  project.poc = o.poc;
  if (o.poc) {
    // FLARE's POC: everything runs on this machine, whatever host names the project uses; the
    // server's name stays in its certificate beside "localhost".
    for (auto& part : project.participants) {
      if (part.listening && part.listen_host != "localhost") {  // relays too run here
        if (std::find(part.listen_host_names.begin(), part.listen_host_names.end(), part.listen_host) ==
            part.listen_host_names.end()) {
          part.listen_host_names.push_back(part.listen_host);
        }
        part.listen_host = "localhost";
      }
      part.connect_host.clear();
      if (part.type != "server" || part.default_host == "localhost") continue;
      if (std::find(part.host_names.begin(), part.host_names.end(), part.default_host) == part.host_names.end()) {
        part.host_names.push_back(part.default_host);
      }
      part.default_host = "localhost";
    }
  }

  fs::path root = fs::absolute(o.workspace).lexically_normal() / project.name;
  NVF_ASSIGN_OR_RETURN(int index, next_prod_index(root));
  fs::path state_file = root / "state" / "cert.json";
  NVF_ASSIGN_OR_RETURN(Value state, load_state(state_file));
  NVF_ASSIGN_OR_RETURN(Credentials creds, make_credentials(project, state));

  char name[16];
  std::snprintf(name, sizeof(name), "prod_%02d", index);
  fs::path prod = root / name;
  fs::path wip = root / "wip";
  std::error_code ec;
  fs::remove_all(wip, ec);
  Status s = build(wip, project, creds, o);
  if (s.ok()) s = base::make_dirs(root / "state");
  if (s.ok()) s = base::atomic_write(state_file, state.dump(4) + "\n", 0600);
  if (s.ok()) {
    fs::rename(wip, prod, ec);
    if (ec) s = base::errno_status(ec.value(), "cannot move the kits into", prod);
  }
  if (!s.ok()) {
    fs::remove_all(wip, ec);
    fs::remove_all(prod, ec);
    return Status(s.code(), "Exception " + s.message() +
                                " raised during provision.  Incomplete prod_n folder removed.");
  }
  if (o.print) o.print("INFO: Generated results can be found under " + prod.string() + ". ");
  return prod;
}

}  // namespace nvf::tools
