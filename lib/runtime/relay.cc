#include "runtime/relay.h"

#include "config/value.h"
#include "runtime/deploy_protocol.h"
#include "security/pki.h"

namespace nvf::runtime {

Relay::Relay(RelayOptions options)
    : opt_(std::move(options)), log_(opt_.logger ? opt_.logger : base::null_logger()), verifier_(opt_.kit.fqcn) {}

Relay::~Relay() { stop(); }

Status Relay::start() {
  const RelayKit& kit = opt_.kit;
  if (opt_.secure) NVF_RETURN_IF_ERROR(verify_kit_signatures(kit.root));
  NVF_ASSIGN_OR_RETURN(std::string root_pem, read_text(kit.root_ca));
  for (const auto& [what, file] : {std::pair<const char*, std::filesystem::path>{"client", kit.cert},
                                   {"server", kit.server_cert}}) {
    NVF_ASSIGN_OR_RETURN(std::string pem, read_text(file));
    if (Status s = security::verify_certificate(pem, root_pem); !s.ok()) {
      return UnauthenticatedError("the relay's " + std::string(what) + " certificate " + file.string() +
                                  " is not from this project's CA: " + s.message());
    }
  }
  cellnet::DriverOptions external;
  external.tls = kit.parent ? tls_config_for_relay(kit, *kit.parent) : tls_config(kit, true);
  cellnet::TlsConfig listen;
  if (kit.listen_security != "clear") {
    listen.mode = kit.listen_security == "tls" ? cellnet::TlsConfig::Mode::kTls : cellnet::TlsConfig::Mode::kMtls;
    listen.root_ca_path = kit.root_ca.string();
    listen.cert_path = kit.server_cert.string();
    listen.key_path = kit.server_key.string();
  }
  external.listen_tls = listen;
  NVF_ASSIGN_OR_RETURN(DaemonCell dc, make_daemon_cell(kit.fqcn, external, opt_.external_driver, log_));
  drivers_ = std::move(dc.drivers);
  cell_ = std::move(dc.cell);

  std::string url = opt_.listen_url;
  if (url.empty()) {
    url = url_scheme(kit.listen_scheme, kit.listen_security) + "://" + listen_host_for(kit.listen.host) +
          ":" + std::to_string(kit.listen.port);
  }
  cell_->on_peer_event([log = log_, self = kit.fqcn](const std::string& peer, bool up) {
    log->info("relay {}: {} {}", self, peer, up ? "connected" : "disconnected");
  });
  const TokenVerifier* verifier = &verifier_;
  auto listening = cell_->listen(url, [verifier](const cellnet::Headers& h, const cellnet::PeerInfo&) {
    return verifier->check(h);
  });
  if (!listening.ok()) {
    return Status(listening.status().code(), "relay " + kit.fqcn + " cannot listen on " + url + ": " +
                                                 listening.status().message());
  }
  listen_url_ = *listening;
  if (opt_.cache_max_bytes > 0) {
    cellnet::RelayCacheOptions co;
    co.max_bytes = opt_.cache_max_bytes;
    co.on_ref_done = [log = log_, fqcn = kit.fqcn](const cellnet::RelayRefReport& r) {
      log->info("download of {} from {} through relay {} done: {} children, fetched {} bytes, served {} bytes "
                "(fetched {} bytes in all)",
                r.ref, r.source, fqcn, r.receivers, r.fetched_bytes, r.served_bytes, r.total_fetched_bytes);
    };
    cache_ = std::make_unique<cellnet::RelayCache>(*cell_, co);
    cache_->install();
  }
  parent_cell_ = kit.parent ? kit.parent->fqcn : "server";
  parent_url_ = kit.parent ? relay_url(*kit.parent) : server_url(kit, kit.server);
  NVF_RETURN_IF_ERROR(cell_->connect(parent_url_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;
  }
  maintenance_ = std::thread([this] { run_maintenance(); });
  log_->info("relay {} of project '{}' listening on {}, connecting to {} ({})", kit.fqcn, kit.project, listen_url_,
             parent_url_, parent_cell_);
  return Status::OK();
}

void Relay::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return shutdown_requested_ || stopping_; });
}

void Relay::request_shutdown(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_requested_) return;
    shutdown_requested_ = true;
  }
  log_->info("shutting down: {}", reason);
  cv_.notify_all();
}

void Relay::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (cache_) cache_->close();
  cell_->stop();  // fails a registration or heartbeat in flight: the maintenance thread ends
  if (maintenance_.joinable()) maintenance_.join();
  drivers_->stop_all();
}

bool Relay::registered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return registered_;
}

cellnet::CellStats Relay::stats() const { return cell_ ? cell_->stats() : cellnet::CellStats{}; }

cellnet::RelayCacheStats Relay::cache_stats() const { return cache_ ? cache_->stats() : cellnet::RelayCacheStats{}; }

bool Relay::register_once() {
  if (!cell_->wait_for_peer(parent_cell_, opt_.register_interval).ok()) return false;
  auto creds = register_with_server(*cell_, opt_.kit, "relay", opt_.request_timeout);
  if (!creds.ok()) {
    log_->warn("registration with the server failed: {}", creds.status().message());
    return false;
  }
  verifier_.set_server_cert(creds->server_cert_pem);
  cell_->set_auth_headers(auth_headers(*creds));
  log_->info("relay {} registered with the server for project {}", opt_.kit.fqcn, opt_.kit.project);
  return true;
}

void Relay::heartbeat_once() {
  if (cache_) cache_->sweep();
  auto r = cell_->request("server", std::string(deploy::kChannelTask), std::string(deploy::kTopicHeartbeat),
                          cellnet::Message::of(config::Value{{"jobs", config::Value::array()}}.dump()),
                          opt_.request_timeout);
  if (r.ok()) return;
  if (r.status().code() == StatusCode::kUnauthenticated) {
    log_->warn("the server no longer knows this relay ({}): registering again", r.status().message());
    std::lock_guard<std::mutex> lock(mu_);
    registered_ = false;
  } else {
    log_->warn("heartbeat failed: {}", r.status().message());
  }
}

void Relay::run_maintenance() {
  RegistrationLoop{mu_,
                   cv_,
                   registered_,
                   [this] { return stopping_ || shutdown_requested_; },
                   [this] { return register_once(); },
                   [this] { heartbeat_once(); },
                   opt_.register_interval,
                   opt_.heart_beat_interval}
      .run();
}

}  // namespace nvf::runtime
