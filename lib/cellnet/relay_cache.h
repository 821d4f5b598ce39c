// RelayCache: a relay's cache of the download chunks that pass through it (FLARE's cacheable
// objects, spec runtime §3.4 / §4.3, placed at the relay). When several children pull the same
// range of the same ref from the same source, the relay asks the source once and answers every
// child from that one reply, so the source sends each model byte about once per relay, not once
// per client.
//
// How: installed on the relay's cell as a ForwardInterceptor for download requests that a child
// sends to a source above the relay (a result the server pulls from a child passes as usual). A "get" for a
// range that is cached is answered at once; one that is being fetched waits for that fetch only
// (fetches of different ranges run concurrently, and a lock is held only for the tables); any
// other starts a fetch, unless the cache is full, in which case the request passes through as
// usual. Only successful replies are kept. When the bytes bound needs room, entries every child
// of their ref has taken go first, then the least recently used. A ref's entries are dropped
// `done_grace` after every child that pulled it said "done" (a child that starts late still finds
// them), when the source says the ref is gone, or after `idle_release` unused. (A relay does not know how many
// children will pull a ref, so it cannot drop a chunk after its last taker the way the source's
// cache does: a child that starts late would make it fetch again.) "manifest" and "done" requests always pass through, so the source still
// counts every receiver's completion.
//
// Ownership: owned by the relay beside its cell; the interceptor holds the shared core, so the
// cell may outlive the cache (requests then pass through). Threads: any.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <memory>

#include "cellnet/cell.h"

namespace nvf::cellnet {

/// What the cache did for one ref, reported when every child that pulled it said "done".
struct RelayRefReport {
  std::string source, ref;
  size_t receivers = 0;
  uint64_t fetched_bytes = 0;     // asked of the source for this ref
  uint64_t served_bytes = 0;      // answered to the children (cached or fetched)
  uint64_t total_fetched_bytes = 0;  // since the cache started, every ref
};

struct RelayCacheOptions {
  uint64_t max_bytes = 32ull << 20;                   // relay_cache_max_bytes
  std::chrono::milliseconds fetch_timeout{600000};    // one fetch from the source
  std::chrono::milliseconds idle_release{60000};      // an entry nobody asked for this long goes
  std::chrono::milliseconds done_grace{5000};         // a ref every child finished goes after this
  /// Called (outside the lock, on the thread that forwarded the last "done") for each ref that
  /// every child finished; for logs.
  std::function<void(const RelayRefReport&)> on_ref_done;
};

struct RelayCacheStats {
  uint64_t fetches = 0;           // ranges asked of a source
  uint64_t fetched_bytes = 0;
  uint64_t served_from_cache = 0;  // answers given without a fetch of their own
  uint64_t passed_through = 0;     // gets forwarded uncached (cache full)
  uint64_t held_bytes = 0;         // now: cached plus reserved for fetches in flight
  uint64_t peak_held_bytes = 0;
  uint64_t entries = 0;            // now
};

class RelayCache {
 public:
  RelayCache(Cell& cell, RelayCacheOptions options = {});
  ~RelayCache();
  RelayCache(const RelayCache&) = delete;
  RelayCache& operator=(const RelayCache&) = delete;

  /// Starts intercepting download requests through the cell.
  void install();
  /// Drops what has expired (idle entries; refs every child finished more than done_grace ago).
  /// Requests sweep too (at most once a second); the owner calls this now and then.
  void sweep();
  /// Stops answering (later requests pass through) and drops every entry.
  void close();
  RelayCacheStats stats() const;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace nvf::cellnet
