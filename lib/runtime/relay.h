// Relay: the long-running process of a relay's startup kit (`nvflare relay`, FLARE's relay). It
// connects to its parent (the server, or another relay) with its client certificate, registers
// with the server like a client (kind "relay") and sends heartbeats; it listens for its children
// (clients, or relays of the next tier) with its server certificate, and checks every frame they
// send (TokenVerifier: the token must be the server's, the sender's cell below this relay and
// named for the token's holder). It forwards by FQCN both ways and runs no handler of its own for
// job traffic: frames pass through its cell one by one (a streamed model is never assembled here).
// Download chunks its children pull are fetched from the source once and served to every child
// from a bounded cache (cellnet::RelayCache).
//
// Its cell is its FQCN, the dotted chain of its parents' names and its own ("relay-1",
// "relay-1.relay-2"); a child's cell is below it ("relay-1.site-1"), so routing needs nothing but
// names. A relay that restarts is rejoined by its children: their connectors reconnect on their
// own, and their tokens stay valid at the server.
//
// Ownership: owned by `nvflare relay`; owns its cell, drivers and maintenance thread.
// Threads: start()/wait()/stop() from the owning thread; the filter runs on transport threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/logging.h"
#include "cellnet/cell.h"
#include "cellnet/relay_cache.h"
#include "runtime/registration.h"
#include "runtime/startup_kit.h"

namespace nvf::runtime {

struct RelayOptions {
  RelayKit kit;
  bool secure = true;  // kit signatures checked at start; children's tokens checked always
  DriverFactory external_driver;
  base::Logger logger;
  std::chrono::milliseconds heart_beat_interval{10000};
  std::chrono::milliseconds register_interval{2000};
  std::chrono::milliseconds request_timeout{30000};  // maint_msg_timeout
  /// relay_cache_max_bytes: the download chunks held for the children (RelayCache); 0 turns the
  /// cache off (every child's pull then reaches the source).
  uint64_t cache_max_bytes = 32ull << 20;
  /// The listening address; empty: the kit's (listen_host_for(listen.host):listen.port). Tests
  /// pass port 0 here.
  std::string listen_url;
};

class Relay {
 public:
  explicit Relay(RelayOptions options);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  /// Checks the kit, listens, connects to the parent; registration and heartbeats then run in the
  /// background. Errors: the kit's (signatures, PEM files), the listener's (port in use).
  Status start();
  /// Blocks until shutdown is requested.
  void wait();
  void request_shutdown(const std::string& reason);
  /// A relay is never restarted by the server; for run_daemon.
  bool restart_requested() const { return false; }
  void stop();

  /// The URL its children connect to (with the port chosen when the kit's is 0).
  const std::string& listen_url() const { return listen_url_; }
  const std::string& fqcn() const { return opt_.kit.fqcn; }
  /// True once the server accepted its registration (and until a heartbeat is refused).
  bool registered() const;
  cellnet::CellStats stats() const;
  cellnet::RelayCacheStats cache_stats() const;

 private:
  void run_maintenance();
  bool register_once();
  void heartbeat_once();

  RelayOptions opt_;
  base::Logger log_;
  TokenVerifier verifier_;
  std::unique_ptr<cellnet::DriverRegistry> drivers_;
  std::unique_ptr<cellnet::Cell> cell_;
  std::unique_ptr<cellnet::RelayCache> cache_;  // after cell_: goes first
  std::string parent_cell_, parent_url_, listen_url_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, stopping_ = false, shutdown_requested_ = false, registered_ = false;
  std::thread maintenance_;
};

}  // namespace nvf::runtime
