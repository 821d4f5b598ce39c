// ChunkCache: produce each chunk of a cacheable Downloadable once, however many receivers pull it
// (FLARE's CacheableObject, with the 2.7.2 lock-scope fix made structural). A short lock guards the
// map of in-progress and finished chunks (shared futures); production runs outside the lock, so
// receivers of different chunks never wait for each other and receivers of the same chunk wait
// only for that chunk's one producer. An entry is dropped once `num_receivers` distinct receivers
// fetched it (never, when that is 0 = unknown), or when a production fails (a retry produces it
// afresh), or on clear() at the end of the transaction.
//
// Owned by one ref of a DownloadService; every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

#include "base/status.h"
#include "cellnet/buffer.h"

namespace nvf::cellnet {

class ChunkCache {
 public:
  /// `num_receivers`: distinct receivers after which a chunk is dropped (0 = keep until clear()).
  explicit ChunkCache(size_t num_receivers) : num_receivers_(num_receivers) {}

  /// The chunk (item, offset, length) for `receiver`: the cached one, the one another thread is
  /// producing right now (waits for it), or a new one from `produce` (called on this thread).
  /// Errors: those of `produce` (every waiter of that production gets the same error).
  Result<Slice> get(size_t item, uint64_t offset, uint64_t length, const std::string& receiver,
                    const std::function<Result<Slice>()>& produce);

  /// Drops every entry (waiters of a production in progress still get its result).
  void clear();
  /// Entries held now (produced or in production).
  size_t size() const;

 private:
  using Key = std::tuple<size_t, uint64_t, uint64_t>;
  struct Entry {
    std::shared_future<Result<Slice>> chunk;
    std::set<std::string> receivers;  // distinct receivers that fetched it
    uint64_t generation = 0;          // tells a failed production which entry was its own
  };

  const size_t num_receivers_;
  mutable std::mutex mu_;
  std::map<Key, Entry> entries_;  // guarded by mu_
  uint64_t next_generation_ = 0;  // guarded by mu_
};

}  // namespace nvf::cellnet
