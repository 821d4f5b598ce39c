// `nvflare preflight_check -p KIT_DIR`: checks a startup kit before it is started, as FLARE's
// server, client and console package checkers do, and reports one finding per check: its name,
// PASSED / WARNING / FAILED, what was found and what to do.
//
// The kit's kind comes from its startup/ folder (fed_server.json, fed_client.json,
// fed_admin.json or fed_relay.json). Every kind: its files (config, certificate, key with mode 0600, rootCA.pem,
// start scripts), its signatures, its certificates (chain to rootCA.pem, validity, CN, key) and
// whether the server's host name resolves. A server kit: whether its fl and admin ports can be
// bound. A client or admin kit: whether the server accepts TCP, a TLS handshake with the kit's
// certificates, and a dry run (registration with the server, then the session is closed). A relay
// kit: its listener certificate too, whether its port can be bound, and the connection checks
// towards its parent. A kit behind a relay (a client with local/relay__resources.json, a relay
// whose parent is a relay) runs the connection checks against that relay, and the dry run
// registers with the server through it.
//
// The network checks use the transport the caller passes (the gRPC driver from apps/nvflare), so
// this module does not link gRPC. Checks that need an earlier one to pass (TLS needs TCP, the dry
// run needs TLS) are left out when it failed; the failed row says so.
//
// Stateless functions; any thread. A check never changes the kit.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "runtime/startup_kit.h"

namespace nvf::tools {

enum class KitKind { kServer, kClient, kAdmin, kRelay };
/// "server", "client", "admin", "relay".
std::string_view kit_kind_name(KitKind kind);

enum class CheckResult { kPassed, kWarning, kFailed };
/// "PASSED", "WARNING", "FAILED".
std::string_view check_result_name(CheckResult result);

/// One row of the report.
struct Finding {
  std::string check;  // what was checked ("private key mode")
  CheckResult result = CheckResult::kPassed;
  std::string detail;  // what was found; paths inside the kit are relative to it
  std::string action;  // what to do ("" when nothing)
};

/// A kit as the checks see it.
struct CheckedKit {
  KitKind kind = KitKind::kClient;
  runtime::KitCommon kit;    // root, config file, name, project, certificate files
  runtime::Endpoint server;  // where the kit connects: the server's fl port (server and client
                             // kits), its admin port (admin kits), or the parent relay's
                             // listener (a client or relay behind a relay)
  int admin_port = 0;        // server kits
  /// The relay a client or relay kit connects through (the connection checks then go there, and
  /// the dry run registers through it).
  std::optional<runtime::RelayParent> via_relay;
  runtime::Endpoint listen;  // relay kits: where its children connect
  std::filesystem::path listener_cert, listener_key;  // relay kits: the server certificate shown to them
};

/// The kind of the kit in `dir`. Errors: NOT_FOUND when `dir` does not exist or holds no
/// startup/fed_server.json, fed_client.json, fed_admin.json or fed_relay.json (the message says
/// what a kit folder holds).
Result<KitKind> detect_kit_kind(const std::filesystem::path& dir);

/// Loads the kit in `dir` (detect_kit_kind, then the runtime's loader). Errors: those of
/// detect_kit_kind; NOT_FOUND / INVALID_ARGUMENT naming the config file and field.
Result<CheckedKit> load_checked_kit(const std::filesystem::path& dir);

/// "kit files", "start scripts", "private key mode": the config, certificate, key and root CA
/// exist (FAILED naming each missing one); the start scripts exist (FAILED) and are executable
/// (WARNING); the key is readable by its owner only (WARNING when looser, naming the mode).
std::vector<Finding> check_kit_files(const CheckedKit& kit);

/// "kit signatures": runtime::verify_kit_signatures (FAILED naming the file that changed).
Finding check_kit_signatures(const CheckedKit& kit);

/// "certificate chain", "certificate validity", "root CA validity", "certificate name",
/// "private key match". Validity is judged at `now`: FAILED before notBefore or after notAfter,
/// WARNING when fewer than `warn_days` days are left. Certificates or keys that are missing are
/// skipped (check_kit_files reports them).
std::vector<Finding> check_certificates(const CheckedKit& kit,
                                        std::chrono::system_clock::time_point now,
                                        int warn_days = 30);

/// "server name": the server's host name (sp_end_point, or the admin kit's host) resolves.
/// FAILED for client and admin kits; a WARNING for a server kit, which listens on all addresses
/// whatever its name (only its clients must resolve it).
Finding check_server_name(const CheckedKit& kit);

/// "fl port" and "admin port" (one row when they are the same): each can be bound on the host the
/// server listens on (runtime::listen_host_for). FAILED when in use, naming the running server of
/// this kit when its pid.fl names a live process ("in use — is the server already running?"
/// otherwise).
std::vector<Finding> check_server_ports(const CheckedKit& kit);

/// "relay port": a relay kit's listening port can be bound (FAILED when in use, naming the
/// running relay of this kit when its pid.fl names a live process).
Finding check_relay_port(const CheckedKit& kit);

/// "server reachable": a TCP connection to the server opens within `timeout`.
Finding check_server_reachable(const CheckedKit& kit, std::chrono::milliseconds timeout);

/// "TLS handshake": one connection through `driver` with the kit's TLS settings (mTLS: its
/// certificate and key), as AdminClient::connect probes; FAILED with the transport's reason.
Finding check_tls_handshake(const CheckedKit& kit, const runtime::DriverFactory& driver,
                            std::chrono::milliseconds timeout);

/// "dry run": a cell through `driver` connects to the server, registers as the kit's client or
/// admin (runtime::register_with_server), and is closed. A WARNING without registering when the
/// kit's own client is running here (its pid.fl names a live process): a second registration
/// would take over its session. Note: the server lists a client that registered this way until the
/// client itself starts (or its heart_beat_timeout passes), as with FLARE's dry run.
Finding check_dry_run(const CheckedKit& kit, const runtime::DriverFactory& driver,
                      std::chrono::milliseconds timeout);

struct PreflightOptions {
  std::filesystem::path kit_dir;
  /// Makes the transport to the server (gRPC in apps/nvflare). Without one, the TLS handshake and
  /// the dry run are reported as WARNING (not run).
  runtime::DriverFactory external_driver;
  std::chrono::milliseconds timeout{10000};     // each network check
  std::chrono::system_clock::time_point now{};  // certificate validity; the epoch: the clock
};

struct PreflightReport {
  std::filesystem::path kit_dir;
  KitKind kind = KitKind::kClient;
  std::string name, project;
  std::vector<Finding> findings;
  /// Nothing FAILED.
  bool passed() const;
  int count(CheckResult result) const;
};

/// Runs every check for the kit's kind, in the order above. A config that does not load is one
/// FAILED row ("kit config"), followed by the signature check. Errors: those of detect_kit_kind
/// (not a kit folder).
Result<PreflightReport> run_preflight(const PreflightOptions& options);

/// The width of render_preflight's table.
inline constexpr size_t kPreflightTableWidth = 120;

/// The report as text: a heading naming the kit, a table (Check | Result | Finding | What to do;
/// the admin console's borders, the last two columns word-wrapped so that a line is at most
/// kPreflightTableWidth columns; a wrapped row continues on lines whose Check cell is blank) and
/// a summary line ("N checks: P PASSED, W WARNING, F FAILED") with what it means.
std::string render_preflight(const PreflightReport& report);

}  // namespace nvf::tools
