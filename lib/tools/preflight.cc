#include "tools/preflight.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <optional>

#include "base/files.h"
#include "base/strings.h"
#include "security/pki.h"
#include "tools/preflight_net_internal.h"
#include "tools/text_table.h"

namespace nvf::tools {
namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

namespace {

constexpr const char* kConfigNames[] = {"fed_server.json", "fed_client.json", "fed_admin.json", "fed_relay.json"};

Finding passed(std::string check, std::string detail) {
  return Finding{std::move(check), CheckResult::kPassed, std::move(detail), ""};
}
Finding warning(std::string check, std::string detail, std::string action) {
  return Finding{std::move(check), CheckResult::kWarning, std::move(detail), std::move(action)};
}
Finding failed(std::string check, std::string detail, std::string action) {
  return Finding{std::move(check), CheckResult::kFailed, std::move(detail), std::move(action)};
}

// A path inside the kit, relative to it ("startup/client.key").
std::string rel(const CheckedKit& k, const fs::path& p) {
  fs::path r = p.lexically_relative(k.kit.root);
  if (r.empty() || *r.begin() == "..") return p.string();
  return r.string();
}

std::string config_rel(const CheckedKit& k) { return rel(k, k.kit.config_file); }

std::string date_of(Clock::time_point t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::vector<std::string> start_scripts(KitKind kind) {
  if (kind == KitKind::kAdmin) return {"fl_admin.sh"};
  return {"start.sh", "sub_start.sh", "stop_fl.sh"};
}

std::string provisioned_kit_hint(const CheckedKit& k) {
  return "copy the whole participant folder (prod_NN/" + k.kit.name +
         ") as `nvflare provision` wrote it";
}

// The validity of one certificate at `now`.
Finding validity_finding(const std::string& check, const std::string& file,
                         const security::CertInfo& info, Clock::time_point now, int warn_days) {
  const std::string renew =
      "re-provision the project (nvflare provision keeps its root CA and issues new "
      "certificates) and replace the kits";
  if (now < info.not_before) {
    return failed(check, file + " is not valid before " + date_of(info.not_before),
                  "check this machine's clock (date -u), or use a kit provisioned earlier");
  }
  if (now >= info.not_after)
    return failed(check, file + " expired on " + date_of(info.not_after), renew);
  auto days = std::chrono::duration_cast<std::chrono::hours>(info.not_after - now).count() / 24;
  std::string left = "expires in " + std::to_string(days) + (days == 1 ? " day" : " days") +
                     ", on " + date_of(info.not_after);
  if (days < warn_days) return warning(check, file + " " + left, renew + " before then");
  return passed(check, file + " is valid now and " + left);
}

// Detail of a failed signature check on one line, paths relative to the kit.
std::string signature_problems(const CheckedKit& k, const Status& s) {
  std::vector<std::string> files;
  std::string first_line;
  for (const auto& line : base::split(s.message(), '\n')) {
    if (line.rfind("  ", 0) == 0) {
      files.push_back("startup/" + std::string(base::trim(line)));
    } else if (first_line.empty()) {
      first_line = line;
    }
  }
  if (!files.empty()) return base::join(files, "; ");
  // local/ problems ("the startup kit <root> is not intact: local/x: invalid signature; ... Use the
  // kit as provisioned.") and read errors naming files under the root.
  std::string text = first_line;
  const std::string intact = " is not intact: ", tail = ". Use the kit as provisioned.";
  if (auto at = text.find(intact); at != std::string::npos) text.erase(0, at + intact.size());
  if (text.size() >= tail.size() &&
      text.compare(text.size() - tail.size(), tail.size(), tail) == 0) {
    text.erase(text.size() - tail.size());
  }
  const std::string root = k.kit.root.string() + "/";
  for (auto at = text.find(root); at != std::string::npos; at = text.find(root))
    text.erase(at, root.size());
  return text;
}

// What the kit connects to: "the server", or "relay 'relay-1'".
std::string parent_label(const CheckedKit& k) {
  return k.via_relay ? "relay '" + k.via_relay->identity + "'" : std::string("the server");
}

// Where the kit names its parent's address.
std::string parent_address_field(const CheckedKit& k) {
  if (k.kind == KitKind::kAdmin) return "admin.host in " + config_rel(k);
  if (k.kind == KitKind::kRelay) return "connect_to.address in " + config_rel(k);
  if (k.via_relay) return "relay_config.address in local/relay__resources.json";
  return "overseer_agent.args.sp_end_point in " + config_rel(k);
}

// The URL and the TLS settings of the kit's connection to its parent.
std::string parent_url(const CheckedKit& k) {
  return k.via_relay ? runtime::relay_url(*k.via_relay) : runtime::server_url(k.kit, k.server);
}
cellnet::TlsConfig parent_tls(const CheckedKit& k) {
  return k.via_relay ? runtime::tls_config_for_relay(k.kit, *k.via_relay) : runtime::tls_config(k.kit, true);
}

bool any_failed(const std::vector<Finding>& fs) {
  return std::any_of(fs.begin(), fs.end(),
                     [](const Finding& f) { return f.result == CheckResult::kFailed; });
}

}  // namespace

std::string_view kit_kind_name(KitKind kind) {
  switch (kind) {
    case KitKind::kServer:
      return "server";
    case KitKind::kClient:
      return "client";
    case KitKind::kAdmin:
      return "admin";
    case KitKind::kRelay:
      return "relay";
  }
  return "?";
}

std::string_view check_result_name(CheckResult result) {
  switch (result) {
    case CheckResult::kPassed:
      return "PASSED";
    case CheckResult::kWarning:
      return "WARNING";
    case CheckResult::kFailed:
      return "FAILED";
  }
  return "?";
}

Result<KitKind> detect_kit_kind(const fs::path& dir) {
  const std::string what =
      "a startup kit folder is one participant's folder of a provisioned project (prod_NN/<name>, "
      "e.g. "
      "prod_00/site-1); it holds startup/ with fed_server.json, fed_client.json, fed_admin.json or "
      "fed_relay.json, and local/";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NotFoundError("package path " + dir.string() + " is not a folder: " + what);
  }
  if (!fs::is_directory(dir / "startup", ec)) {
    return NotFoundError("package path " + dir.string() + " has no startup/ folder: " + what);
  }
  const KitKind kinds[] = {KitKind::kServer, KitKind::kClient, KitKind::kAdmin, KitKind::kRelay};
  for (size_t i = 0; i < 4; ++i) {
    if (is_file(dir / "startup" / kConfigNames[i])) return kinds[i];
  }
  return NotFoundError("package path " + dir.string() +
                       ": startup/ holds none of fed_server.json, "
                       "fed_client.json, fed_admin.json, fed_relay.json: " +
                       what);
}

Result<CheckedKit> load_checked_kit(const fs::path& dir) {
  NVF_ASSIGN_OR_RETURN(KitKind kind, detect_kit_kind(dir));
  CheckedKit k;
  k.kind = kind;
  switch (kind) {
    case KitKind::kServer: {
      NVF_ASSIGN_OR_RETURN(runtime::ServerKit s, runtime::load_server_kit(dir, "fed_server.json"));
      k.server = runtime::Endpoint{s.host, s.fl_port};
      k.admin_port = s.admin_port;
      k.kit = s;
      break;
    }
    case KitKind::kClient: {
      NVF_ASSIGN_OR_RETURN(runtime::ClientKit c, runtime::load_client_kit(dir, "fed_client.json"));
      k.server = c.relay ? c.relay->endpoint : c.server;
      k.via_relay = c.relay;
      k.kit = c;
      break;
    }
    case KitKind::kRelay: {
      NVF_ASSIGN_OR_RETURN(runtime::RelayKit r, runtime::load_relay_kit(dir, "fed_relay.json"));
      k.server = r.parent ? r.parent->endpoint : r.server;
      k.via_relay = r.parent;
      k.listen = r.listen;
      k.listener_cert = r.server_cert;
      k.listener_key = r.server_key;
      k.kit = r;
      break;
    }
    case KitKind::kAdmin: {
      NVF_ASSIGN_OR_RETURN(runtime::AdminKit a, runtime::load_admin_kit(dir, "fed_admin.json"));
      k.server = a.server;
      k.kit = a;
      break;
    }
  }
  return k;
}

std::vector<Finding> check_kit_files(const CheckedKit& k) {
  std::vector<Finding> out;
  std::vector<std::string> present, missing;
  std::vector<fs::path> files{k.kit.config_file, k.kit.cert, k.kit.key, k.kit.root_ca};
  if (k.kind == KitKind::kRelay) {
    files.push_back(k.listener_cert);
    files.push_back(k.listener_key);
    files.push_back(k.kit.root / "local" / "comm_config.json");
  }
  for (const fs::path& p : files) {
    (is_file(p) ? present : missing).push_back(rel(k, p));
  }
  if (missing.empty()) {
    out.push_back(passed("kit files", base::join(present, ", ") + " are present"));
  } else {
    out.push_back(
        failed("kit files", "missing: " + base::join(missing, ", "), provisioned_kit_hint(k)));
  }

  std::vector<std::string> scripts_missing, not_executable;
  for (const auto& s : start_scripts(k.kind)) {
    fs::path p = k.kit.root / "startup" / s;
    if (!is_file(p)) {
      scripts_missing.push_back("startup/" + s);
    } else if (::access(p.c_str(), X_OK) != 0) {
      not_executable.push_back("startup/" + s);
    }
  }
  if (!scripts_missing.empty()) {
    out.push_back(failed("start scripts", "missing: " + base::join(scripts_missing, ", "),
                         provisioned_kit_hint(k)));
  } else if (!not_executable.empty()) {
    out.push_back(warning("start scripts", "not executable: " + base::join(not_executable, ", "),
                          "chmod +x " + base::join(not_executable, " ") + " (in the kit folder)"));
  } else {
    out.push_back(passed("start scripts",
                         base::join(start_scripts(k.kind), ", ") + " are present and executable"));
  }

  struct stat st {};
  if (::stat(k.kit.key.c_str(), &st) == 0) {
    const unsigned mode = st.st_mode & 07777;
    char octal[8];
    std::snprintf(octal, sizeof(octal), "%04o", mode);
    const std::string key = rel(k, k.kit.key);
    if ((mode & 077) != 0) {
      out.push_back(warning(
          "private key mode",
          key + " has mode " + octal + ": other users of this machine may read the private key",
          "chmod 600 " + key + " (in the kit folder)"));
    } else {
      out.push_back(passed("private key mode", key + " has mode " + octal + " (owner only)"));
    }
  }
  return out;
}

Finding check_kit_signatures(const CheckedKit& k) {
  Status s = runtime::verify_kit_signatures(k.kit.root);
  if (s.ok())
    return passed("kit signatures",
                  "startup/ is wholly signed; the signed files in local/ are intact");
  return failed("kit signatures", signature_problems(k, s),
                "the kit was changed after provisioning: restore the named files from the "
                "provisioned kit (settings "
                "go in local/, e.g. resources.json made from its .default), or re-provision");
}

std::vector<Finding> check_certificates(const CheckedKit& k, Clock::time_point now, int warn_days) {
  std::vector<Finding> out;
  auto cert =
      is_file(k.kit.cert) ? runtime::read_text(k.kit.cert) : Result<std::string>(NotFoundError(""));
  auto root = is_file(k.kit.root_ca) ? runtime::read_text(k.kit.root_ca)
                                     : Result<std::string>(NotFoundError(""));
  auto key =
      is_file(k.kit.key) ? runtime::read_text(k.kit.key) : Result<std::string>(NotFoundError(""));
  const std::string cert_f = rel(k, k.kit.cert), root_f = rel(k, k.kit.root_ca),
                    key_f = rel(k, k.kit.key);
  std::optional<security::CertInfo> info, root_info;
  if (cert.ok()) {
    auto d = security::describe_certificate(*cert);
    if (d.ok()) {
      info = *d;
    } else {
      out.push_back(failed("certificate",
                           cert_f + " is not a PEM certificate: " + d.status().message(),
                           provisioned_kit_hint(k)));
    }
  }
  if (root.ok()) {
    auto d = security::describe_certificate(*root);
    if (d.ok()) {
      root_info = *d;
    } else {
      out.push_back(failed("root CA", root_f + " is not a PEM certificate: " + d.status().message(),
                           provisioned_kit_hint(k)));
    }
  }
  if (info && root_info) {
    Status s = security::verify_certificate(*cert, *root);
    if (s.ok()) {
      out.push_back(passed("certificate chain", cert_f + " is signed by " + root_f + " (CA '" +
                                                    root_info->common_name + "')"));
    } else if (info->issuer_common_name != root_info->common_name) {
      out.push_back(
          failed("certificate chain",
                 cert_f + " was issued by CA '" + info->issuer_common_name + "', not by " + root_f +
                     " (CA '" + root_info->common_name + "')",
                 "the certificate is from another project: use the kit provisioned for project '" +
                     k.kit.project + "'"));
    } else {
      out.push_back(failed("certificate chain",
                           cert_f + " does not verify against " + root_f + ": " + s.message(),
                           "use the certificate and rootCA.pem of one provisioning (" +
                               provisioned_kit_hint(k) + ")"));
    }
  }
  if (info) out.push_back(validity_finding("certificate validity", cert_f, *info, now, warn_days));
  if (root_info)
    out.push_back(validity_finding("root CA validity", root_f, *root_info, now, warn_days));
  if (info) {
    const std::string who = std::string(kit_kind_name(k.kind));
    if (info->common_name == k.kit.name) {
      out.push_back(passed("certificate name",
                           cert_f + " names '" + k.kit.name + "', the " + who + " of this kit"));
    } else {
      out.push_back(failed(
          "certificate name",
          cert_f + " names '" + info->common_name + "', but " + config_rel(k) + " names the " +
              who + " '" + k.kit.name + "'",
          "use the certificate provisioned for '" + k.kit.name + "' (prod_NN/" + k.kit.name + ")"));
    }
  }
  if (info && key.ok()) {
    Status s = security::verify_key_matches(*cert, *key);
    if (s.ok()) {
      out.push_back(passed("private key match", key_f + " is the private key of " + cert_f));
    } else {
      out.push_back(failed("private key match",
                           key_f + " does not belong to " + cert_f + ": " + s.message(),
                           "use the key and the certificate of one provisioned kit (" +
                               provisioned_kit_hint(k) + ")"));
    }
  }
  return out;
}

Finding check_server_name(const CheckedKit& k) {
  const std::string where = parent_address_field(k);
  auto addrs = preflight_net::resolve(k.server.host);
  const std::string check = k.via_relay ? "relay name" : "server name";
  if (addrs.ok()) {
    return passed(check, "'" + k.server.host + "' resolves to " + base::join(*addrs, ", "));
  }
  if (k.via_relay) {
    return failed(check, "'" + k.server.host + "' (" + where + ") does not resolve: " + addrs.status().message(),
                  "add '" + k.server.host + "' to DNS or /etc/hosts on this machine, or re-provision with the name " +
                      parent_label(k) + " is reachable as (its listening_host)");
  }
  const std::string detail =
      "'" + k.server.host + "' (" + where + ") does not resolve: " + addrs.status().message();
  if (k.kind == KitKind::kServer) {
    return warning("server name", detail,
                   "the server listens on every address, but its clients reach it as '" +
                       k.server.host + "': make sure they can resolve it (DNS or /etc/hosts)");
  }
  return failed("server name", detail,
                "add '" + k.server.host +
                    "' to DNS or /etc/hosts on this machine, or re-provision with the name "
                    "the server is reachable as (its default_host)");
}

std::vector<Finding> check_server_ports(const CheckedKit& k) {
  std::vector<std::pair<std::string, int>> ports = {{"fl port", k.server.port}};
  if (k.admin_port == k.server.port) {
    ports[0].first = "fl and admin port";
  } else if (k.admin_port > 0) {
    ports.emplace_back("admin port", k.admin_port);
  }
  const std::string host = runtime::listen_host_for(k.server.host);
  auto running = preflight_net::running_pid(k.kit.root);
  std::vector<Finding> out;
  for (const auto& [check, port] : ports) {
    const std::string addr = host + ":" + std::to_string(port);
    Status s = preflight_net::try_bind(host, port);
    if (s.ok()) {
      out.push_back(passed(check, addr + " is free to bind"));
    } else if (s.code() == StatusCode::kAlreadyExists) {
      if (running) {
        out.push_back(
            failed(check,
                   addr + " is in use — the server of this kit is running (pid " +
                       std::to_string(*running) + ", from pid.fl)",
                   "stop it (startup/stop_fl.sh, or nvflare poc stop) before starting it again"));
      } else {
        out.push_back(
            failed(check, addr + " is in use — is the server already running?",
                   "stop the server (startup/stop_fl.sh) or the program that holds port " +
                       std::to_string(port) + " (ss -ltnp), or provision another port"));
      }
    } else {
      out.push_back(failed(check, "cannot bind " + addr + ": " + s.message(),
                           port < 1024
                               ? "ports below 1024 need privileges: provision a port above 1023"
                               : "check the host's network settings"));
    }
  }
  return out;
}

Finding check_relay_port(const CheckedKit& k) {
  const std::string host = runtime::listen_host_for(k.listen.host);
  const std::string addr = host + ":" + std::to_string(k.listen.port);
  Status s = preflight_net::try_bind(host, k.listen.port);
  if (s.ok()) return passed("relay port", addr + " is free to bind");
  if (s.code() == StatusCode::kAlreadyExists) {
    if (auto running = preflight_net::running_pid(k.kit.root)) {
      return failed("relay port",
                    addr + " is in use — the relay of this kit is running (pid " + std::to_string(*running) +
                        ", from pid.fl)",
                    "stop it (startup/stop_fl.sh, or nvflare poc stop -p " + k.kit.name +
                        ") before starting it again");
    }
    return failed("relay port", addr + " is in use — is the relay already running?",
                  "stop the relay (startup/stop_fl.sh) or the program that holds port " +
                      std::to_string(k.listen.port) + " (ss -ltnp), or provision another listening port");
  }
  return failed("relay port", "cannot bind " + addr + ": " + s.message(),
                k.listen.port < 1024 ? "ports below 1024 need privileges: provision a port above 1023"
                                     : "check the host's network settings");
}

Finding check_server_reachable(const CheckedKit& k, std::chrono::milliseconds timeout) {
  const std::string addr = k.server.host + ":" + std::to_string(k.server.port);
  Status s = preflight_net::tcp_connect(k.server.host, k.server.port, timeout);
  if (k.via_relay) {
    const std::string check = "relay reachable";
    if (s.ok()) return passed(check, parent_label(k) + " at " + addr + " accepts TCP connections");
    return failed(check, addr + ": " + s.message(),
                  "start " + parent_label(k) + " (startup/start.sh on its machine; POC: nvflare poc start -p " +
                      k.via_relay->identity + "), and check " + parent_address_field(k));
  }
  if (s.ok()) return passed("server reachable", addr + " accepts TCP connections");
  if (s.code() == StatusCode::kDeadlineExceeded) {
    return failed(
        "server reachable",
        "no answer from " + addr + " within " + std::to_string(timeout.count() / 1000) + " s",
        "the host may be down, or a firewall drops the traffic: open TCP port " +
            std::to_string(k.server.port) + " from this machine to the server");
  }
  return failed("server reachable", addr + ": " + s.message(),
                "start the server (startup/start.sh on its machine; POC: nvflare poc start -p "
                "server), and check "
                "the host and port in " +
                    config_rel(k));
}

Finding check_tls_handshake(const CheckedKit& k, const runtime::DriverFactory& factory,
                            std::chrono::milliseconds timeout) {
  const std::string url = parent_url(k);
  const cellnet::TlsConfig tls = parent_tls(k);
  const bool clear = tls.mode == cellnet::TlsConfig::Mode::kClear;
  const std::string check = "TLS handshake";
  if (!factory)
    return warning(check, "not run: no transport to the server", "run it with the nvflare binary");
  Status s = preflight_net::probe_connection(tls, url, factory, timeout);
  if (s.ok() && k.via_relay) {
    if (clear) {
      return warning(check, "connection security is clear: " + url + " accepts a connection without TLS",
                     "traffic to " + parent_label(k) + " is not encrypted; provision its listening_host with "
                     "connection_security mtls for production");
    }
    return passed(check, k.via_relay->connection_security + " with " + parent_label(k) + " at " + url +
                             ": the certificates were accepted");
  }
  if (s.ok()) {
    if (clear) {
      return warning(check,
                     "connection security is clear: " + url + " accepts a connection without TLS",
                     "traffic to the server is not encrypted; provision with connection_security "
                     "mtls for production");
    }
    return passed(check, k.kit.connection_security + " with server '" + k.kit.server_identity +
                             "' at " + url + ": the certificates were accepted");
  }
  return failed(check, s.message(),
                "use a kit of the server's project (the same rootCA.pem as the server's kit), with "
                "certificates "
                "valid now; a kit of another project or provisioning is refused");
}

Finding check_dry_run(const CheckedKit& k, const runtime::DriverFactory& factory,
                      std::chrono::milliseconds timeout) {
  const std::string check = "dry run";
  const std::string kind = k.kind == KitKind::kAdmin ? "admin" : k.kind == KitKind::kRelay ? "relay" : "client";
  if (!factory)
    return warning(check, "not run: no transport to the server", "run it with the nvflare binary");
  if (k.kind == KitKind::kClient || k.kind == KitKind::kRelay) {
    if (auto pid = preflight_net::running_pid(k.kit.root)) {
      return warning(check,
                     "not run: the " + kind + " of this kit is running (pid " + std::to_string(*pid) +
                         ", from pid.fl); registering again would take over its session",
                     "nothing, if it runs as it should; else stop it (startup/stop_fl.sh) and run "
                     "the check again");
    }
  }
  Status s = preflight_net::register_once(k.kit, kind, parent_tls(k), parent_url(k),
                                          k.via_relay ? k.via_relay->fqcn : "server", factory, timeout);
  if (!s.ok()) {
    return failed(check, "registration as " + kind + " '" + k.kit.name + "' failed: " + s.message(),
                  "use a kit of this server's project and provisioning; the server's log.txt says "
                  "why it refused");
  }
  Finding f = passed(check, "registered with server '" + k.kit.server_identity + "' as " + kind +
                                " '" + k.kit.name + "' of project '" + k.kit.project + "'" +
                                (k.via_relay ? " through " + parent_label(k) : std::string()) +
                                ", then closed the session");
  return f;
}

bool PreflightReport::passed() const { return !any_failed(findings); }

int PreflightReport::count(CheckResult result) const {
  return static_cast<int>(std::count_if(findings.begin(), findings.end(),
                                        [&](const Finding& f) { return f.result == result; }));
}

namespace {

// Appends the network checks of a client or admin kit: each needs the one before it.
void run_connection_checks(const CheckedKit& k, const PreflightOptions& o, Finding dns,
                           std::vector<Finding>& out) {
  if (dns.result == CheckResult::kFailed) {
    dns.detail += " (the connection checks were not run)";
    out.push_back(std::move(dns));
    return;
  }
  out.push_back(std::move(dns));
  Finding tcp = check_server_reachable(k, o.timeout);
  if (tcp.result == CheckResult::kFailed) {
    tcp.detail += " (the TLS handshake and the dry run were not run)";
    out.push_back(std::move(tcp));
    return;
  }
  out.push_back(std::move(tcp));
  Finding tls = check_tls_handshake(k, o.external_driver, o.timeout);
  const bool tls_failed = tls.result == CheckResult::kFailed;
  if (tls_failed) tls.detail += " (the dry run was not run)";
  out.push_back(std::move(tls));
  if (!tls_failed) out.push_back(check_dry_run(k, o.external_driver, o.timeout));
}

}  // namespace

Result<PreflightReport> run_preflight(const PreflightOptions& o) {
  NVF_ASSIGN_OR_RETURN(KitKind kind, detect_kit_kind(o.kit_dir));
  PreflightReport report;
  std::error_code ec;
  report.kit_dir = fs::absolute(o.kit_dir, ec).lexically_normal();
  report.kind = kind;
  auto loaded = load_checked_kit(o.kit_dir);
  if (!loaded.ok()) {
    CheckedKit bare;
    bare.kind = kind;
    bare.kit.root = report.kit_dir;
    std::string msg = loaded.status().message();
    const std::string prefix = report.kit_dir.string() + "/";
    for (auto at = msg.find(prefix); at != std::string::npos; at = msg.find(prefix))
      msg.erase(at, prefix.size());
    report.findings.push_back(
        failed("kit config", msg,
               "restore the file as provisioned (the kit's signatures below show what changed)"));
    report.findings.push_back(check_kit_signatures(bare));
    return report;
  }
  const CheckedKit& k = *loaded;
  report.name = k.kit.name;
  report.project = k.kit.project;
  const std::string server = k.server.host + ":" + std::to_string(k.server.port);
  report.findings.push_back(passed(
      "kit config",
      config_rel(k) + ": " + std::string(kit_kind_name(kind)) + " '" + k.kit.name +
          "' of project '" + k.kit.project + "', " +
          (k.via_relay ? "through relay " + k.via_relay->fqcn + " at " : std::string("server ")) + server +
          (kind == KitKind::kServer ? " (admin port " + std::to_string(k.admin_port) + ")" : "") +
          ", connection security " + k.kit.connection_security));
  for (auto& f : check_kit_files(k)) report.findings.push_back(std::move(f));
  report.findings.push_back(check_kit_signatures(k));
  const auto now = o.now == Clock::time_point{} ? Clock::now() : o.now;
  for (auto& f : check_certificates(k, now)) report.findings.push_back(std::move(f));
  if (kind == KitKind::kRelay) {
    // The server certificate the relay shows its children: the same checks, as "listener ...".
    CheckedKit listener = k;
    listener.kit.cert = k.listener_cert;
    listener.kit.key = k.listener_key;
    for (auto& f : check_certificates(listener, now)) {
      if (f.check == "root CA validity") continue;
      f.check = "listener " + f.check;
      report.findings.push_back(std::move(f));
    }
    report.findings.push_back(check_relay_port(k));
  }
  Finding dns = check_server_name(k);
  if (kind == KitKind::kServer) {
    report.findings.push_back(std::move(dns));
    for (auto& f : check_server_ports(k)) report.findings.push_back(std::move(f));
  } else {
    run_connection_checks(k, o, std::move(dns), report.findings);
  }
  return report;
}

std::string render_preflight(const PreflightReport& r) {
  std::string out = "Checking the " + std::string(kit_kind_name(r.kind)) + " startup kit";
  if (!r.name.empty()) out += " '" + r.name + "'";
  if (!r.project.empty()) out += " of project '" + r.project + "'";
  out += " in " + r.kit_dir.string() + "\n";
  // Check and Result as wide as their longest cell; Finding and What to do share the rest of the
  // width and wrap, What to do taking at most 2/5 of it (less when its texts are short).
  std::vector<size_t> widths = {std::string("Check").size(), std::string("WARNING").size(), 0,
                                std::string("What to do").size()};
  for (const auto& f : r.findings) {
    widths[0] = std::max(widths[0], code_points(f.check));
    widths[3] = std::max(widths[3], code_points(f.action));
  }
  const size_t rest = kPreflightTableWidth - (widths[0] + widths[1] + 13);
  widths[3] = std::min(widths[3], rest * 2 / 5);
  widths[2] = rest - widths[3];
  std::vector<std::vector<std::string>> rows{{"Check", "Result", "Finding", "What to do"}};
  for (const auto& f : r.findings) {
    rows.push_back({f.check, std::string(check_result_name(f.result)), f.detail, f.action});
  }
  out += render_text_table(rows, widths);
  out += std::to_string(r.findings.size()) +
         " checks: " + std::to_string(r.count(CheckResult::kPassed)) + " PASSED, " +
         std::to_string(r.count(CheckResult::kWarning)) + " WARNING, " +
         std::to_string(r.count(CheckResult::kFailed)) + " FAILED\n";
  if (!r.passed()) {
    out += "preflight_check FAILED: fix the rows marked FAILED, then run it again.\n";
  } else if (r.kind == KitKind::kAdmin) {
    out += "The admin kit is ready to use.\n";
  } else {
    out += "The kit is ready to start (startup/start.sh).\n";
  }
  return out;
}

}  // namespace nvf::tools
