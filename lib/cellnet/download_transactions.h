// TransactionTable: the bookkeeping of a DownloadService — transactions ("T…") of refs ("R…"),
// each ref a Downloadable, with per-ref completion counts (distinct receivers) and the time of the
// last request. A transaction ends FINISHED when num_receivers > 0 and every ref has that many
// completions, TIMED_OUT when no request touched it for idle_timeout (the gap before the first
// request included), or DELETED on request. FLARE's DownloadService tx/ref tables, without the
// process-global state and without tying a transaction to a message root (2.7.2).
//
// Not synchronized: the owner (DownloadService) guards it with its mutex. Time comes from a
// base::Clock so tests drive expiry by hand. Ended transactions are handed back as
// EndedTransaction values whose finish() runs the callbacks outside the owner's lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "cellnet/download_cache.h"
#include "cellnet/downloadable.h"

namespace nvf::cellnet {

enum class TransactionOutcome { kFinished, kTimedOut, kDeleted };

/// "FINISHED", "TIMED_OUT", "DELETED".
std::string_view transaction_outcome_name(TransactionOutcome outcome);

/// Called once when a transaction ends, with the completions per ref id (distinct receivers that
/// finished — or gave up on — the ref).
using TransactionDoneCallback =
    std::function<void(const std::string& tx_id, TransactionOutcome outcome,
                       const std::map<std::string, size_t>& completions)>;

struct TransactionOptions {
  /// Receivers expected per ref; 0 = unknown (the transaction then ends only by timeout or delete).
  size_t num_receivers = 0;
  /// tensor_min_download_timeout: end the transaction after this long without a request. Ours
  /// defaults to 900 s (FLARE: 300 s), long enough for one slow receiver between chunks.
  std::chrono::milliseconds idle_timeout{900000};
  TransactionDoneCallback done;  // optional
};

/// One served object. Shared with requests in flight, so a transaction may end while a chunk is
/// being produced: the object lives until that request is answered.
struct DownloadRef {
  std::string id;
  std::string tx_id;
  std::shared_ptr<Downloadable> object;
  uint64_t chunk_size = 0;            // the most one request may pull
  std::unique_ptr<ChunkCache> cache;  // set when object->cacheable()
};

/// A transaction taken out of the table. finish() calls transaction_done() on each object (and
/// clears its cache), drops the objects, then calls the done callback. Call it once, unlocked.
struct EndedTransaction {
  std::string tx_id;
  TransactionOutcome outcome = TransactionOutcome::kDeleted;
  std::map<std::string, size_t> completions;
  TransactionDoneCallback done;
  std::vector<std::shared_ptr<DownloadRef>> refs;

  void finish();
};

class TransactionTable {
 public:
  using time_point = base::Clock::time_point;

  explicit TransactionTable(const base::Clock& clock);

  /// A new transaction; its idle clock starts now. Returns its id ("T" + 32 hex digits).
  std::string create(TransactionOptions options);
  /// Adds `object` to a transaction. Returns the ref id ("R" + 32 hex digits).
  /// Errors: NOT_FOUND (no such transaction), INVALID_ARGUMENT (null object, chunk_size 0).
  Result<std::string> add(const std::string& tx_id, std::shared_ptr<Downloadable> object,
                          uint64_t chunk_size);
  /// The ref for a request; marks its transaction active now. Errors: NOT_FOUND.
  Result<std::shared_ptr<DownloadRef>> touch(const std::string& ref_id);
  /// Counts `receiver`'s completion of a ref (once per receiver) and marks the transaction active.
  /// Returns true when that made the transaction finished. Errors: NOT_FOUND.
  Result<bool> complete(const std::string& ref_id, const std::string& receiver);
  /// Takes a transaction out with `outcome`. Errors: NOT_FOUND.
  Result<EndedTransaction> remove(const std::string& tx_id, TransactionOutcome outcome);
  /// Takes out every transaction that is finished or idle past its timeout at now().
  std::vector<EndedTransaction> take_ended();
  /// Takes out every transaction (DELETED): shutdown.
  std::vector<EndedTransaction> take_all();
  /// The earliest time an idle transaction expires; nullopt when there is none.
  std::optional<time_point> next_expiry() const;

  size_t transaction_count() const { return txs_.size(); }
  size_t ref_count() const { return refs_.size(); }
  /// Completions of a ref so far, or nullopt when unknown.
  std::optional<size_t> completions(const std::string& ref_id) const;

 private:
  struct Transaction {
    TransactionOptions options;
    time_point last_active;
    std::vector<std::string> ref_ids;
    std::map<std::string, std::vector<std::string>> completed;  // ref → receivers (distinct)
  };

  bool finished(const Transaction& tx) const;
  EndedTransaction take(std::map<std::string, Transaction>::iterator it,
                        TransactionOutcome outcome);
  std::string new_id(char prefix);

  const base::Clock& clock_;
  std::mt19937_64 rng_;
  std::map<std::string, Transaction> txs_;
  std::map<std::string, std::shared_ptr<DownloadRef>> refs_;
};

}  // namespace nvf::cellnet
