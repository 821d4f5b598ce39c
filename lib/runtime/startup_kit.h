// Startup kits as provisioning writes them (spec cli-and-formats §3.2): what a server, a client
// and an admin read from fed_server.json / fed_client.json / fed_admin.json, the TLS settings of
// their connections, and the signature check a daemon runs before it starts (startup/ must be
// wholly signed; in local/ every signed file must still match — files an operator adds there,
// such as authorization.json made from its .default, need no signature).
// Stateless functions.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include <functional>
#include <memory>

#include "base/logging.h"
#include "base/status.h"
#include "cellnet/cell.h"
#include "cellnet/driver.h"
#include "config/value.h"
#include "security/authorization.h"

namespace nvf::runtime {

struct Endpoint {
  std::string host;
  int port = 0;
};

/// What every kit has.
struct KitCommon {
  std::filesystem::path root;     // the participant folder (its workspace): startup/, local/, transfer/
  std::filesystem::path config_file;
  std::string project;
  std::string name;               // server identity, client name or admin user (the certificate CN)
  std::string server_identity;    // the server certificate's CN
  std::string connection_security = "mtls";  // mtls | tls | clear
  /// The project's scheme (FLARE's): grpc (the default; also what http, https and agrpc run
  /// on here) or tcp (stcp with TLS: TLS sockets; also atcp, satcp). See url_scheme().
  std::string scheme = "grpc";
  std::filesystem::path cert, key, root_ca;
};

struct ServerKit : KitCommon {
  std::string host;  // the server's host name as clients reach it
  int fl_port = 0;
  int admin_port = 0;
};

/// A relay that a participant connects to instead of the server (its parent in the relay tier).
struct RelayParent {
  std::string identity;  // the relay's name: its certificates' CN and the TLS target name
  std::string fqcn;      // its cell: "relay-1", or "relay-1.relay-2" behind another relay
  Endpoint endpoint;
  std::string connection_security = "mtls";
  std::string scheme = "grpc";  // as KitCommon::scheme
};

struct ClientKit : KitCommon {
  Endpoint server;
  /// From local/relay__resources.json: the client connects through this relay, and its cell is
  /// "<relay fqcn>.<name>".
  std::optional<RelayParent> relay;
};

/// A relay's kit (startup/fed_relay.json, local/comm_config.json). `cert`/`key` are its client
/// certificate (towards its parent), `server_cert`/`server_key` the server certificate it shows
/// its children.
struct RelayKit : KitCommon {
  std::string fqcn;                   // its cell: its parents' names and its own, dotted
  Endpoint server;                    // the server's endpoint, when the server is its parent
  std::optional<RelayParent> parent;  // its parent relay, when it has one
  Endpoint listen;                    // where its children connect (comm_config internal.resources)
  std::string listen_security = "mtls";
  std::string listen_scheme = "grpc";  // comm_config internal.scheme
  std::filesystem::path server_cert, server_key;
};

struct AdminKit : KitCommon {
  Endpoint server;
  std::filesystem::path upload_dir, download_dir;
  // From local/resources.json (else local/resources.json.default): admin.idle_timeout (seconds)
  // and admin.prompt of the interactive console.
  std::chrono::milliseconds idle_timeout{900000};
  std::string prompt = "> ";
};

/// Errors: NOT_FOUND / INVALID_ARGUMENT naming the file and the field.
Result<ServerKit> load_server_kit(const std::filesystem::path& root, const std::string& config_name);
/// `uid` (from `--set uid=NAME`) overrides the kit's client name when not empty.
Result<ClientKit> load_client_kit(const std::filesystem::path& root, const std::string& config_name,
                                  const std::string& uid = "");
/// The number of relays above a relay (0 when its parent is the server).
size_t relay_depth(const RelayKit& kit);
/// Errors: NOT_FOUND / INVALID_ARGUMENT naming the file and the field.
Result<RelayKit> load_relay_kit(const std::filesystem::path& root, const std::string& config_name);
Result<AdminKit> load_admin_kit(const std::filesystem::path& admin_dir, const std::string& config_name);

/// Finds an admin kit under `dir` (FLARE searches recursively for fed_admin.json): the folder
/// that holds startup/fed_admin.json. Errors: NOT_FOUND naming `dir`.
Result<std::filesystem::path> find_admin_kit(const std::filesystem::path& dir);

/// Checks startup/ (every file signed, signatures valid) and local/ (every signed file that is
/// present still matches) against startup/rootCA.pem. Errors: UNAUTHENTICATED naming each file.
Status verify_kit_signatures(const std::filesystem::path& root);

/// The TLS settings of a kit's connections (`is_client`: it connects to the server).
cellnet::TlsConfig tls_config(const KitCommon& kit, bool is_client);
/// The URL scheme of a kit's scheme and connection security: the tcp family (tcp, stcp, atcp,
/// satcp) gives "stcp" (TLS sockets), or "tcp" when clear; every other scheme gives "grpcs", or
/// "grpc" when clear.
std::string url_scheme(const std::string& scheme, const std::string& connection_security);
/// "<url_scheme>://host:port" by the kit's scheme and connection security.
std::string server_url(const KitCommon& kit, const Endpoint& endpoint);
/// The URL of a parent relay, by its scheme and connection security.
std::string relay_url(const RelayParent& relay);
/// The TLS settings of a connection to a parent relay (the relay's identity as the target name).
cellnet::TlsConfig tls_config_for_relay(const KitCommon& kit, const RelayParent& relay);
/// The address a server binds: 127.0.0.1 for a server reached as localhost, else 0.0.0.0.
std::string listen_host_for(const std::string& host);

/// Makes the driver for connections to and from the server (gRPC); passed in so that this
/// module does not link gRPC.
using DriverFactory = std::function<std::shared_ptr<cellnet::Driver>(const cellnet::DriverOptions&)>;

/// A daemon's cell with its drivers: Unix sockets for its job processes and the external driver
/// with the kit's TLS settings. The registry must outlive the cell (members in this order).
struct DaemonCell {
  std::unique_ptr<cellnet::DriverRegistry> drivers;
  std::unique_ptr<cellnet::Cell> cell;
};
Result<DaemonCell> make_daemon_cell(const std::string& fqcn, const KitCommon& kit, bool is_client,
                                    const DriverFactory& external_driver, base::Logger logger);
/// As above with the external driver's TLS given (a client behind a relay, a relay).
Result<DaemonCell> make_daemon_cell(const std::string& fqcn, const cellnet::DriverOptions& external,
                                    const DriverFactory& external_driver, base::Logger logger);

/// A site's authorization policy: local/authorization.json, else its .default; allow-all when
/// neither exists. Errors name the file and the bad field.
Result<security::AuthorizationPolicy> load_site_policy(const std::filesystem::path& root);

/// Reads a PEM or other small text file. Errors name the file.
Result<std::string> read_text(const std::filesystem::path& path);

}  // namespace nvf::runtime
