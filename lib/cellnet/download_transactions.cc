#include "cellnet/download_transactions.h"

#include <algorithm>
#include <cstdio>

namespace nvf::cellnet {

std::string_view transaction_outcome_name(TransactionOutcome outcome) {
  switch (outcome) {
    case TransactionOutcome::kFinished:
      return "FINISHED";
    case TransactionOutcome::kTimedOut:
      return "TIMED_OUT";
    case TransactionOutcome::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

void EndedTransaction::finish() {
  for (auto& ref : refs) {
    if (ref->cache) ref->cache->clear();
    ref->object->transaction_done();
  }
  // Release before telling the owner, so a done callback sees the memory already given back
  // (requests still in flight keep their ref until they are answered).
  refs.clear();
  if (done) done(tx_id, outcome, completions);
}

TransactionTable::TransactionTable(const base::Clock& clock)
    : clock_(clock), rng_(std::random_device{}()) {}

std::string TransactionTable::new_id(char prefix) {
  char text[34];
  std::snprintf(text, sizeof(text), "%c%016llx%016llx", prefix,
                static_cast<unsigned long long>(rng_()), static_cast<unsigned long long>(rng_()));
  return text;
}

std::string TransactionTable::create(TransactionOptions options) {
  std::string id = new_id('T');
  while (txs_.count(id)) id = new_id('T');
  txs_.emplace(id, Transaction{std::move(options), clock_.now(), {}, {}});
  return id;
}

Result<std::string> TransactionTable::add(const std::string& tx_id,
                                          std::shared_ptr<Downloadable> object,
                                          uint64_t chunk_size) {
  auto it = txs_.find(tx_id);
  if (it == txs_.end())
    return NotFoundError("download transaction " + tx_id + " not found (ended or never created)");
  if (!object)
    return InvalidArgumentError("cannot add a null Downloadable to transaction " + tx_id);
  if (chunk_size == 0) return InvalidArgumentError("download chunk size must be > 0");
  auto ref = std::make_shared<DownloadRef>();
  ref->id = new_id('R');
  while (refs_.count(ref->id)) ref->id = new_id('R');
  ref->tx_id = tx_id;
  ref->chunk_size = chunk_size;
  if (object->cacheable())
    ref->cache = std::make_unique<ChunkCache>(it->second.options.num_receivers);
  ref->object = std::move(object);
  it->second.ref_ids.push_back(ref->id);
  it->second.completed[ref->id];
  refs_.emplace(ref->id, ref);
  return ref->id;
}

Result<std::shared_ptr<DownloadRef>> TransactionTable::touch(const std::string& ref_id) {
  auto it = refs_.find(ref_id);
  if (it == refs_.end()) return NotFoundError("ref " + ref_id + " not found");
  txs_.at(it->second->tx_id).last_active = clock_.now();
  return it->second;
}

Result<bool> TransactionTable::complete(const std::string& ref_id, const std::string& receiver) {
  auto it = refs_.find(ref_id);
  if (it == refs_.end()) return NotFoundError("ref " + ref_id + " not found");
  Transaction& tx = txs_.at(it->second->tx_id);
  tx.last_active = clock_.now();
  auto& receivers = tx.completed[ref_id];
  if (std::find(receivers.begin(), receivers.end(), receiver) == receivers.end())
    receivers.push_back(receiver);
  return finished(tx);
}

bool TransactionTable::finished(const Transaction& tx) const {
  if (tx.options.num_receivers == 0 || tx.ref_ids.empty()) return false;
  for (const auto& [ref, receivers] : tx.completed) {
    if (receivers.size() < tx.options.num_receivers) return false;
  }
  return true;
}

EndedTransaction TransactionTable::take(std::map<std::string, Transaction>::iterator it,
                                        TransactionOutcome outcome) {
  EndedTransaction ended;
  ended.tx_id = it->first;
  ended.outcome = outcome;
  ended.done = std::move(it->second.options.done);
  for (const auto& [ref, receivers] : it->second.completed)
    ended.completions[ref] = receivers.size();
  for (const auto& ref_id : it->second.ref_ids) {
    auto r = refs_.find(ref_id);
    ended.refs.push_back(std::move(r->second));
    refs_.erase(r);
  }
  txs_.erase(it);
  return ended;
}

Result<EndedTransaction> TransactionTable::remove(const std::string& tx_id,
                                                  TransactionOutcome outcome) {
  auto it = txs_.find(tx_id);
  if (it == txs_.end())
    return NotFoundError("download transaction " + tx_id + " not found (ended or never created)");
  return take(it, outcome);
}

std::vector<EndedTransaction> TransactionTable::take_ended() {
  std::vector<EndedTransaction> out;
  const time_point now = clock_.now();
  for (auto it = txs_.begin(); it != txs_.end();) {
    auto next = std::next(it);
    if (finished(it->second)) {
      out.push_back(take(it, TransactionOutcome::kFinished));
    } else if (now - it->second.last_active >= it->second.options.idle_timeout) {
      out.push_back(take(it, TransactionOutcome::kTimedOut));
    }
    it = next;
  }
  return out;
}

std::vector<EndedTransaction> TransactionTable::take_all() {
  std::vector<EndedTransaction> out;
  while (!txs_.empty()) out.push_back(take(txs_.begin(), TransactionOutcome::kDeleted));
  return out;
}

std::optional<TransactionTable::time_point> TransactionTable::next_expiry() const {
  std::optional<time_point> best;
  for (const auto& [id, tx] : txs_) {
    time_point t = tx.last_active + tx.options.idle_timeout;
    if (!best || t < *best) best = t;
  }
  return best;
}

std::optional<size_t> TransactionTable::completions(const std::string& ref_id) const {
  auto it = refs_.find(ref_id);
  if (it == refs_.end()) return std::nullopt;
  return txs_.at(it->second->tx_id).completed.at(ref_id).size();
}

}  // namespace nvf::cellnet
