#include "runtime/startup_kit.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "base/strings.h"
#include "cellnet/fqcn.h"
#include "cellnet/socket_driver.h"
#include "security/folder_signature.h"
#include "security/pki.h"
#include "security/signing.h"

namespace nvf::runtime {
namespace fs = std::filesystem;

namespace {

Result<config::Value> load_json(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    return NotFoundError(file.string() + " is missing: is this a startup kit folder (it holds startup/)?");
  }
  return config::load_file(file);
}

Result<std::string> get_string(const config::Value& v, const std::string& key, const std::string& where) {
  if (!v.is_object() || !v.contains(key) || !v[key].is_string() || v[key].get<std::string>().empty()) {
    return InvalidArgumentError(where + "." + key + " is missing or not a string");
  }
  return v[key].get<std::string>();
}

std::string get_or(const config::Value& v, const std::string& key, const std::string& dflt) {
  if (v.is_object() && v.contains(key) && v[key].is_string()) return v[key].get<std::string>();
  return dflt;
}

// "host:fl_port:admin_port" (the overseer's sp_end_point).
Result<std::pair<std::string, std::pair<int, int>>> parse_sp_end_point(const std::string& text,
                                                                      const std::string& where) {
  auto parts = base::split(text, ':');
  if (parts.size() != 3) return InvalidArgumentError(where + " '" + text + "' is not host:fl_port:admin_port");
  try {
    int fl = std::stoi(parts[1]), admin = std::stoi(parts[2]);
    if (fl <= 0 || fl > 65535 || admin <= 0 || admin > 65535) throw std::out_of_range("port");
    return std::make_pair(parts[0], std::make_pair(fl, admin));
  } catch (const std::exception&) {
    return InvalidArgumentError(where + " '" + text + "' has an invalid port");
  }
}

// overseer_agent.args.sp_end_point of fed_server.json / fed_client.json.
Result<std::pair<std::string, std::pair<int, int>>> sp_end_point_of(const config::Value& v, const std::string& f) {
  // Any part may be of the wrong type in a damaged file: each is checked before it is read.
  std::string sp;
  if (v.is_object() && v.contains("overseer_agent") && v["overseer_agent"].is_object() &&
      v["overseer_agent"].contains("args")) {
    sp = get_or(v["overseer_agent"]["args"], "sp_end_point", "");
  }
  if (sp.empty()) return InvalidArgumentError(f + ": overseer_agent.args.sp_end_point is missing");
  return parse_sp_end_point(sp, f + ": overseer_agent.args.sp_end_point");
}

// servers[0] of fed_server.json / fed_client.json.
Result<config::Value> first_server(const config::Value& v, const std::string& f) {
  if (!v.contains("servers") || !v["servers"].is_array() || v["servers"].empty()) {
    return InvalidArgumentError(f + ": servers[0] is missing");
  }
  return v["servers"][0];
}

Status check_security(const std::string& value, const std::string& where) {
  if (value == "mtls" || value == "tls" || value == "clear") return Status::OK();
  return InvalidArgumentError(where + " '" + value + "' must be mtls, tls or clear");
}

}  // namespace

Result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `scheme` of `v` (default grpc), one FLARE knows. Errors: INVALID_ARGUMENT naming `where`.
Result<std::string> scheme_of(const config::Value& v, const std::string& where) {
  if (v.is_object() && v.contains("scheme") && !v["scheme"].is_string()) {
    return InvalidArgumentError(where + ".scheme must be a string: grpc (the default) or tcp");
  }
  const std::string scheme = get_or(v, "scheme", "grpc");
  for (const char* known : {"grpc", "grpcs", "agrpc", "agrpcs", "http", "https", "tcp", "stcp", "atcp", "satcp"}) {
    if (scheme == known) return scheme;
  }
  return InvalidArgumentError(where + ".scheme '" + scheme +
                              "' is not a scheme: use grpc (the default) or tcp (TLS sockets, fastest for large models)");
}

Result<ServerKit> load_server_kit(const fs::path& root, const std::string& config_name) {
  ServerKit kit;
  kit.root = fs::absolute(root).lexically_normal();
  kit.config_file = kit.root / "startup" / config_name;
  NVF_ASSIGN_OR_RETURN(config::Value v, load_json(kit.config_file));
  const std::string f = kit.config_file.string();
  NVF_ASSIGN_OR_RETURN(config::Value s, first_server(v, f));
  const std::string w = f + ": servers[0]";
  NVF_ASSIGN_OR_RETURN(kit.project, get_string(s, "name", w));
  NVF_ASSIGN_OR_RETURN(kit.name, get_string(s, "identity", w));
  kit.server_identity = kit.name;
  kit.connection_security = get_or(s, "connection_security", "mtls");
  NVF_RETURN_IF_ERROR(check_security(kit.connection_security, w + ".connection_security"));
  kit.cert = kit.root / "startup" / get_or(s, "ssl_cert", "server.crt");
  kit.key = kit.root / "startup" / get_or(s, "ssl_private_key", "server.key");
  kit.root_ca = kit.root / "startup" / get_or(s, "ssl_root_cert", "rootCA.pem");
  if (s.contains("service")) {
    NVF_ASSIGN_OR_RETURN(kit.scheme, scheme_of(s["service"], w + ".service"));
  }
  NVF_ASSIGN_OR_RETURN(auto end, sp_end_point_of(v, f));
  kit.host = end.first;
  kit.fl_port = end.second.first;
  kit.admin_port = end.second.second;
  return kit;
}

// "host:port". Errors: INVALID_ARGUMENT naming `where`.
Result<Endpoint> parse_address(const std::string& text, const std::string& where) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return InvalidArgumentError(where + " '" + text + "' is not host:port");
  auto port = base::parse_int(text.substr(colon + 1), 1, 65535);
  if (!port) return InvalidArgumentError(where + " '" + text + "' has an invalid port");
  return Endpoint{text.substr(0, colon), static_cast<int>(*port)};
}

// {identity, fqcn, address, connection_security} of a parent relay.
Result<RelayParent> parse_relay_parent(const config::Value& v, const std::string& where) {
  RelayParent r;
  NVF_ASSIGN_OR_RETURN(r.identity, get_string(v, "identity", where));
  NVF_ASSIGN_OR_RETURN(r.fqcn, get_string(v, "fqcn", where));
  if (Status s = cellnet::fqcn::validate(r.fqcn); !s.ok()) return InvalidArgumentError(where + ".fqcn: " + s.message());
  NVF_ASSIGN_OR_RETURN(std::string address, get_string(v, "address", where));
  NVF_ASSIGN_OR_RETURN(r.endpoint, parse_address(address, where + ".address"));
  r.connection_security = get_or(v, "connection_security", "mtls");
  NVF_RETURN_IF_ERROR(check_security(r.connection_security, where + ".connection_security"));
  NVF_ASSIGN_OR_RETURN(r.scheme, scheme_of(v, where));
  return r;
}

Result<ClientKit> load_client_kit(const fs::path& root, const std::string& config_name, const std::string& uid) {
  ClientKit kit;
  kit.root = fs::absolute(root).lexically_normal();
  kit.config_file = kit.root / "startup" / config_name;
  NVF_ASSIGN_OR_RETURN(config::Value v, load_json(kit.config_file));
  const std::string f = kit.config_file.string();
  NVF_ASSIGN_OR_RETURN(config::Value s, first_server(v, f));
  NVF_ASSIGN_OR_RETURN(kit.project, get_string(s, "name", f + ": servers[0]"));
  NVF_ASSIGN_OR_RETURN(kit.server_identity, get_string(s, "identity", f + ": servers[0]"));
  if (s.contains("service")) {
    NVF_ASSIGN_OR_RETURN(kit.scheme, scheme_of(s["service"], f + ": servers[0].service"));
  }
  if (!v.contains("client") || !v["client"].is_object()) return InvalidArgumentError(f + ": client is missing");
  const auto& c = v["client"];
  kit.name = uid.empty() ? get_or(c, "fqsn", "") : uid;
  if (kit.name.empty()) return InvalidArgumentError(f + ": client.fqsn is missing (or pass --set uid=NAME)");
  kit.connection_security = get_or(c, "connection_security", "mtls");
  NVF_RETURN_IF_ERROR(check_security(kit.connection_security, f + ": client.connection_security"));
  kit.cert = kit.root / "startup" / get_or(c, "ssl_cert", "client.crt");
  kit.key = kit.root / "startup" / get_or(c, "ssl_private_key", "client.key");
  kit.root_ca = kit.root / "startup" / get_or(c, "ssl_root_cert", "rootCA.pem");
  NVF_ASSIGN_OR_RETURN(auto end, sp_end_point_of(v, f));
  kit.server = Endpoint{end.first, end.second.first};
  std::error_code ec;
  const fs::path relay_file = kit.root / "local" / "relay__resources.json";
  if (fs::exists(relay_file, ec)) {
    NVF_ASSIGN_OR_RETURN(config::Value r, load_json(relay_file));
    if (!r.is_object() || !r.contains("relay_config") || !r["relay_config"].is_object()) {
      return InvalidArgumentError(relay_file.string() + ": relay_config is missing");
    }
    NVF_ASSIGN_OR_RETURN(kit.relay, parse_relay_parent(r["relay_config"], relay_file.string() + ": relay_config"));
  }
  return kit;
}

size_t relay_depth(const RelayKit& kit) { return cellnet::fqcn::split(kit.fqcn).size() - 1; }

Result<RelayKit> load_relay_kit(const fs::path& root, const std::string& config_name) {
  RelayKit kit;
  kit.root = fs::absolute(root).lexically_normal();
  kit.config_file = kit.root / "startup" / config_name;
  NVF_ASSIGN_OR_RETURN(config::Value v, load_json(kit.config_file));
  const std::string f = kit.config_file.string();
  if (!v.is_object()) return InvalidArgumentError(f + " is not a JSON object");
  NVF_ASSIGN_OR_RETURN(kit.project, get_string(v, "project_name", f + ": field"));
  NVF_ASSIGN_OR_RETURN(kit.name, get_string(v, "identity", f + ": field"));
  NVF_ASSIGN_OR_RETURN(kit.server_identity, get_string(v, "server_identity", f + ": field"));
  NVF_ASSIGN_OR_RETURN(kit.fqcn, get_string(v, "fqcn", f + ": field"));
  if (Status s = cellnet::fqcn::validate(kit.fqcn); !s.ok()) return InvalidArgumentError(f + ": fqcn: " + s.message());
  if (cellnet::fqcn::split(kit.fqcn).back() != kit.name) {
    return InvalidArgumentError(f + ": fqcn '" + kit.fqcn + "' does not end in the relay's name '" + kit.name + "'");
  }
  kit.connection_security = get_or(v, "connection_security", "mtls");
  NVF_RETURN_IF_ERROR(check_security(kit.connection_security, f + ": connection_security"));
  kit.cert = kit.root / "startup" / get_or(v, "ssl_cert", "client.crt");
  kit.key = kit.root / "startup" / get_or(v, "ssl_private_key", "client.key");
  kit.root_ca = kit.root / "startup" / get_or(v, "ssl_root_cert", "rootCA.pem");
  kit.server_cert = kit.root / "startup" / "server.crt";
  kit.server_key = kit.root / "startup" / "server.key";
  if (!v.contains("connect_to") || !v["connect_to"].is_object()) return InvalidArgumentError(f + ": connect_to is missing");
  const config::Value& to = v["connect_to"];
  const std::string w = f + ": connect_to";
  NVF_ASSIGN_OR_RETURN(std::string parent_fqcn, get_string(to, "fqcn", w));
  NVF_ASSIGN_OR_RETURN(std::string address, get_string(to, "address", w));
  if (parent_fqcn == "server") {
    NVF_ASSIGN_OR_RETURN(kit.server, parse_address(address, w + ".address"));
    kit.connection_security = get_or(to, "connection_security", kit.connection_security);
    NVF_RETURN_IF_ERROR(check_security(kit.connection_security, w + ".connection_security"));
    NVF_ASSIGN_OR_RETURN(kit.scheme, scheme_of(to, w));
  } else {
    NVF_ASSIGN_OR_RETURN(kit.parent, parse_relay_parent(to, w));
    if (kit.fqcn != kit.parent->fqcn + "." + kit.name) {
      return InvalidArgumentError(f + ": fqcn '" + kit.fqcn + "' is not its parent's ('" + kit.parent->fqcn +
                                  "') followed by its name");
    }
  }
  if (kit.parent == std::nullopt && kit.fqcn != kit.name) {
    return InvalidArgumentError(f + ": a relay connected to the server has the fqcn '" + kit.name + "', not '" +
                                kit.fqcn + "'");
  }
  const fs::path comm = kit.root / "local" / "comm_config.json";
  NVF_ASSIGN_OR_RETURN(config::Value c, load_json(comm));
  const std::string cw = comm.string() + ": internal.resources";
  if (!c.is_object() || !c.contains("internal") || !c["internal"].is_object() ||
      !c["internal"].contains("resources") || !c["internal"]["resources"].is_object()) {
    return InvalidArgumentError(cw + " is missing: where does this relay listen?");
  }
  const config::Value& res = c["internal"]["resources"];
  kit.listen.host = get_or(res, "host", "localhost");
  if (!res.contains("port") || !res["port"].is_number_integer() || res["port"].get<int64_t>() < 1 ||
      res["port"].get<int64_t>() > 65535) {
    return InvalidArgumentError(cw + ".port is missing or not a port number (1-65535)");
  }
  kit.listen.port = res["port"].get<int>();
  kit.listen_security = get_or(res, "connection_security", "mtls");
  NVF_RETURN_IF_ERROR(check_security(kit.listen_security, cw + ".connection_security"));
  NVF_ASSIGN_OR_RETURN(kit.listen_scheme, scheme_of(c["internal"], comm.string() + ": internal"));
  return kit;
}

Result<AdminKit> load_admin_kit(const fs::path& admin_dir, const std::string& config_name) {
  AdminKit kit;
  kit.root = fs::absolute(admin_dir).lexically_normal();
  kit.config_file = kit.root / "startup" / config_name;
  NVF_ASSIGN_OR_RETURN(config::Value v, load_json(kit.config_file));
  const std::string f = kit.config_file.string();
  if (!v.contains("admin") || !v["admin"].is_object()) return InvalidArgumentError(f + ": admin is missing");
  const auto& a = v["admin"];
  const std::string w = f + ": admin";
  NVF_ASSIGN_OR_RETURN(kit.project, get_string(a, "project_name", w));
  kit.name = get_or(a, "username", "");  // empty with uid_source "cert" (POC): the certificate's CN
  NVF_ASSIGN_OR_RETURN(kit.server_identity, get_string(a, "server_identity", w));
  NVF_ASSIGN_OR_RETURN(kit.server.host, get_string(a, "host", w));
  if (!a.contains("port") || !a["port"].is_number_integer()) return InvalidArgumentError(w + ".port is missing");
  kit.server.port = a["port"].get<int>();
  kit.connection_security = get_or(a, "connection_security", "mtls");
  NVF_RETURN_IF_ERROR(check_security(kit.connection_security, w + ".connection_security"));
  NVF_ASSIGN_OR_RETURN(kit.scheme, scheme_of(a, w));
  kit.cert = kit.root / "startup" / get_or(a, "client_cert", "client.crt");
  kit.key = kit.root / "startup" / get_or(a, "client_key", "client.key");
  kit.root_ca = kit.root / "startup" / get_or(a, "ca_cert", "rootCA.pem");
  if (kit.name.empty()) {
    NVF_ASSIGN_OR_RETURN(std::string cert, read_text(kit.cert));
    auto cn = security::common_name(cert);
    if (!cn.ok()) return InvalidArgumentError(w + ".username is empty and " + kit.cert.string() + " names no user");
    kit.name = *cn;
  }
  kit.upload_dir = kit.root / get_or(a, "upload_dir", "transfer");
  kit.download_dir = kit.root / get_or(a, "download_dir", "transfer");
  // The console's settings: local/resources.json, else the provisioned default.
  std::error_code ec;
  for (const char* name : {"resources.json", "resources.json.default"}) {
    const fs::path file = kit.root / "local" / name;
    if (!fs::exists(file, ec)) continue;
    NVF_ASSIGN_OR_RETURN(config::Value r, load_json(file));
    if (!r.contains("admin") || !r["admin"].is_object()) break;
    const auto& ra = r["admin"];
    if (ra.contains("idle_timeout")) {
      const auto& t = ra["idle_timeout"];
      if (!t.is_number() || !(t.get<double>() > 0 && t.get<double>() <= 2e6)) {  // NaN too
        return InvalidArgumentError(file.string() + ": admin.idle_timeout must be a number of seconds above 0 "
                                    "(FLARE's default is 900)");
      }
      kit.idle_timeout = std::chrono::milliseconds(static_cast<int64_t>(t.get<double>() * 1000));
    }
    if (ra.contains("prompt")) {
      if (!ra["prompt"].is_string()) return InvalidArgumentError(file.string() + ": admin.prompt must be a string");
      kit.prompt = ra["prompt"].get<std::string>();
    }
    break;
  }
  return kit;
}

Result<fs::path> find_admin_kit(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "startup" / "fed_admin.json", ec)) return dir;
  std::vector<fs::path> found;  // several admins in one prod folder: the first by name
  if (fs::is_directory(dir, ec)) {
    for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (ec) break;
      if (it->path().filename() == "fed_admin.json" && it->path().parent_path().filename() == "startup") {
        found.push_back(it->path().parent_path().parent_path());
      }
    }
  }
  if (!found.empty()) return *std::min_element(found.begin(), found.end());
  return NotFoundError("no admin startup kit (startup/fed_admin.json) under " + dir.string() +
                       ": pass -m ADMIN_KIT_DIR, or set it with `nvflare config -d DIR`");
}

Status verify_kit_signatures(const fs::path& root) {
  NVF_ASSIGN_OR_RETURN(std::string root_pem, read_text(root / "startup" / "rootCA.pem"));
  Status s = security::verify_folder_signatures(root / "startup", root_pem);
  if (!s.ok()) {
    return UnauthenticatedError("the startup kit " + (root / "startup").string() +
                                " is not intact: " + s.message() + ". Use the kit as provisioned.");
  }
  const fs::path local_sig = root / "local" / security::kSignatureFile;
  std::error_code ec;
  if (!fs::exists(local_sig, ec)) return Status::OK();
  NVF_ASSIGN_OR_RETURN(config::Value sigs, config::load_file(local_sig));
  if (!sigs.is_object()) return UnauthenticatedError(local_sig.string() + " is not a JSON object");
  std::vector<std::string> bad;
  for (auto it = sigs.begin(); it != sigs.end(); ++it) {
    const fs::path file = root / "local" / it.key();
    if (!fs::is_regular_file(file, ec)) continue;  // a removed .default file is fine
    auto bytes = read_text(file);
    auto sig = it.value().is_string() ? security::base64_decode(it.value().get<std::string>())
                                      : Result<std::string>(InvalidArgumentError("not a string"));
    if (!bytes.ok() || !sig.ok() || !security::verify_pss(root_pem, *bytes, *sig).ok()) {
      bad.push_back("local/" + it.key() + ": invalid signature");
    }
  }
  if (!bad.empty()) {
    return UnauthenticatedError("the startup kit " + root.string() + " is not intact: " + base::join(bad, "; ") +
                                ". Use the kit as provisioned.");
  }
  return Status::OK();
}

cellnet::TlsConfig tls_config(const KitCommon& kit, bool is_client) {
  cellnet::TlsConfig t;
  if (kit.connection_security == "clear") return t;
  t.mode = kit.connection_security == "tls" ? cellnet::TlsConfig::Mode::kTls : cellnet::TlsConfig::Mode::kMtls;
  t.root_ca_path = kit.root_ca.string();
  if (!is_client || t.mode == cellnet::TlsConfig::Mode::kMtls) {
    t.cert_path = kit.cert.string();
    t.key_path = kit.key.string();
  }
  if (is_client) t.target_name = kit.server_identity;
  return t;
}

std::string url_scheme(const std::string& scheme, const std::string& connection_security) {
  const bool clear = connection_security == "clear";
  if (scheme == "tcp" || scheme == "stcp" || scheme == "atcp" || scheme == "satcp") return clear ? "tcp" : "stcp";
  return clear ? "grpc" : "grpcs";
}

std::string relay_url(const RelayParent& r) {
  return url_scheme(r.scheme, r.connection_security) + "://" + r.endpoint.host + ":" +
         std::to_string(r.endpoint.port);
}

cellnet::TlsConfig tls_config_for_relay(const KitCommon& kit, const RelayParent& relay) {
  KitCommon k = kit;
  k.connection_security = relay.connection_security;
  k.server_identity = relay.identity;
  return tls_config(k, true);
}

std::string server_url(const KitCommon& kit, const Endpoint& e) {
  return url_scheme(kit.scheme, kit.connection_security) + "://" + e.host + ":" +
         std::to_string(e.port);
}

Result<DaemonCell> make_daemon_cell(const std::string& fqcn, const KitCommon& kit, bool is_client,
                                    const DriverFactory& external_driver, base::Logger logger) {
  cellnet::DriverOptions dopt;
  dopt.tls = tls_config(kit, is_client);
  return make_daemon_cell(fqcn, dopt, external_driver, std::move(logger));
}

Result<DaemonCell> make_daemon_cell(const std::string& fqcn, const cellnet::DriverOptions& dopt,
                                    const DriverFactory& external_driver, base::Logger logger) {
  DaemonCell d;
  d.drivers = std::make_unique<cellnet::DriverRegistry>();
  d.drivers->add(std::make_shared<cellnet::UdsDriver>());
  d.drivers->add(external_driver(dopt));
  cellnet::CellOptions co;
  co.fqcn = fqcn;
  co.drivers = d.drivers.get();
  co.logger = std::move(logger);
  d.cell = std::make_unique<cellnet::Cell>(co);
  NVF_RETURN_IF_ERROR(d.cell->start());
  return d;
}

Result<security::AuthorizationPolicy> load_site_policy(const fs::path& root) {
  for (const char* name : {"authorization.json", "authorization.json.default"}) {
    fs::path p = root / "local" / name;
    std::error_code ec;
    if (fs::exists(p, ec)) return security::AuthorizationPolicy::load(p);
  }
  return security::AuthorizationPolicy::allow_all();
}

std::string listen_host_for(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" ? "127.0.0.1" : "0.0.0.0";
}

}  // namespace nvf::runtime
