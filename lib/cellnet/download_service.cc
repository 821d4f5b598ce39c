#include "cellnet/download_service.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "base/logging.h"
#include "cellnet/download_wire_internal.h"

namespace nvf::cellnet {

namespace wire = download_wire;

struct DownloadService::Core {
  Core(std::string fqcn_in, DownloadServiceOptions options_in, base::Logger log_in)
      : fqcn(std::move(fqcn_in)), options(options_in), log(std::move(log_in)), table(clock) {}

  Result<Message> handle(const Message& request);
  Message serve_chunk(const std::shared_ptr<DownloadRef>& ref, const Message& request,
                      const std::string& receiver);
  Message error_reply(const Status& status);
  Status not_found(const std::string& ref_id) const;
  void run_monitor();

  const std::string fqcn;
  const DownloadServiceOptions options;
  base::Logger log;
  base::SteadyClock clock;

  mutable std::mutex mu;
  std::condition_variable cv;  // the monitor waits on it
  TransactionTable table;      // guarded by mu
  bool stopping = false;       // guarded by mu
  bool wake = false;           // guarded by mu: a transaction may have finished or been created
  DownloadServiceStats stats;  // guarded by mu
};

Status DownloadService::Core::not_found(const std::string& ref_id) const {
  return NotFoundError("ref " + ref_id + " not found at " + fqcn +
                       " (the download transaction may have expired)");
}

Message DownloadService::Core::error_reply(const Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.requests_rejected;
  }
  Message reply;
  reply.headers.set_int(wire::kCode, static_cast<int64_t>(status.code()));
  reply.headers.set(wire::kError, status.message());
  return reply;
}

Result<Message> DownloadService::Core::handle(const Message& request) {
  const std::string op = request.headers.get_or(wire::kOp, "");
  const std::string ref_id = request.headers.get_or(wire::kRef, "");
  std::string receiver = request.headers.get_or(wire::kReceiver, "");
  if (receiver.empty()) receiver = request.headers.get_or(hdr::kOrigin, "?");

  std::shared_ptr<DownloadRef> ref;
  bool finished = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    // After stop() the tables are (being) emptied: every ref is "not found".
    if (stopping) {
    } else if (op == wire::kOpDone) {
      auto done = table.complete(ref_id, receiver);
      if (done.ok()) {
        finished = *done;
        if (finished) wake = true;
      }
    } else {
      auto found = table.touch(ref_id);
      if (found.ok()) ref = *found;
    }
  }
  if (op == wire::kOpDone) {
    if (finished) cv.notify_all();
    // A late "done" for an ended transaction is harmless: the receiver already has the data.
    log->debug("{}: ref {} completed by {} ({})", fqcn, ref_id, receiver,
               request.headers.get_or(wire::kResult, "ok"));
    Message reply;
    reply.headers.set_int(wire::kCode, 0);
    return reply;
  }
  if (!ref) return error_reply(not_found(ref_id));
  if (op == wire::kOpManifest) {
    Message reply =
        Message::of(Manifest::of(*ref->object, fqcn, ref->id, ref->chunk_size).encode());
    reply.headers.set_int(wire::kCode, 0);
    return reply;
  }
  if (op == wire::kOpGet) return serve_chunk(ref, request, receiver);
  return error_reply(InvalidArgumentError("unknown download operation '" + op + "' for ref " +
                                          ref_id + " at " + fqcn));
}

Message DownloadService::Core::serve_chunk(const std::shared_ptr<DownloadRef>& ref,
                                           const Message& request, const std::string& receiver) {
  auto item_index = request.headers.get_int(wire::kItem);
  auto offset = request.headers.get_int(wire::kOffset);
  auto length = request.headers.get_int(wire::kLength);
  const Downloadable& object = *ref->object;
  if (!item_index || *item_index < 0 || static_cast<uint64_t>(*item_index) >= object.item_count()) {
    return error_reply(OutOfRangeError("ref " + ref->id + " at " + fqcn + " has " +
                                       std::to_string(object.item_count()) + " items; item '" +
                                       request.headers.get_or(wire::kItem, "") + "' requested"));
  }
  const size_t index = static_cast<size_t>(*item_index);
  const DownloadItem& item = object.item(index);
  if (!offset || !length || *offset < 0 || *length <= 0 ||
      static_cast<uint64_t>(*offset) >= item.size) {
    return error_reply(OutOfRangeError(
        "range [" + request.headers.get_or(wire::kOffset, "") + ", +" +
        request.headers.get_or(wire::kLength, "") + ") outside item '" + item.name + "' (" +
        std::to_string(item.size) + " bytes) of ref " + ref->id + " at " + fqcn));
  }
  const uint64_t begin = static_cast<uint64_t>(*offset);
  const uint64_t len =
      std::min({static_cast<uint64_t>(*length), ref->chunk_size, item.size - begin});
  auto produce = [&]() { return ref->object->produce(index, begin, len); };
  Result<Slice> chunk =
      ref->cache ? ref->cache->get(index, begin, len, receiver, produce) : produce();
  if (!chunk.ok()) {
    log->warn("{}: producing item '{}' [{}, +{}) of ref {} for {} failed: {}", fqcn, item.name,
              begin, len, ref->id, receiver, chunk.status().to_string());
    return error_reply(Status(chunk.status().code(), "item '" + item.name + "' of ref " + ref->id +
                                                         " at " + fqcn + ": " +
                                                         chunk.status().message()));
  }
  if (chunk->size != len) {
    return error_reply(InternalError("item '" + item.name + "' of ref " + ref->id + " at " + fqcn +
                                     " produced " + std::to_string(chunk->size) +
                                     " bytes for a range of " + std::to_string(len)));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.chunks_served;
    stats.bytes_served += len;
  }
  Message reply;
  reply.headers.set_int(wire::kCode, 0);
  reply.headers.set_int(wire::kOffset, static_cast<int64_t>(begin));
  reply.headers.set_int(wire::kLength, static_cast<int64_t>(len));
  if (begin + len == item.size) reply.headers.set(wire::kEof, "1");
  reply.payload.append(std::move(chunk).value());
  return reply;
}

void DownloadService::Core::run_monitor() {
  std::unique_lock<std::mutex> lock(mu);
  while (!stopping) {
    std::vector<EndedTransaction> ended = table.take_ended();
    if (!ended.empty()) {
      lock.unlock();
      for (auto& tx : ended) {
        log->info("{}: download transaction {} ended: {}", fqcn, tx.tx_id,
                  transaction_outcome_name(tx.outcome));
        tx.finish();
      }
      lock.lock();
      continue;
    }
    auto woken = [this] { return stopping || wake; };
    if (auto expiry = table.next_expiry()) {
      cv.wait_until(lock, *expiry, woken);
    } else {
      cv.wait(lock, woken);
    }
    wake = false;
  }
}

DownloadService::DownloadService(Cell& cell, DownloadServiceOptions options)
    : cell_(cell),
      core_(std::make_shared<Core>(
          cell.fqcn(), options,
          cell.options().logger ? cell.options().logger : base::null_logger())) {}

DownloadService::~DownloadService() { stop(); }

Status DownloadService::start() {
  if (started_)
    return FailedPreconditionError("download service at " + core_->fqcn + " already started");
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->stopping)
      return FailedPreconditionError("download service at " + core_->fqcn + " was stopped");
  }
  if (core_->options.chunk_size == 0)
    return InvalidArgumentError("download chunk size must be > 0");
  cell_.register_request_handler(
      std::string(wire::kChannel), std::string(wire::kTopic),
      [core = core_](const Message& request) { return core->handle(request); });
  monitor_ = std::thread([core = core_] { core->run_monitor(); });
  started_ = true;
  return Status::OK();
}

void DownloadService::stop() {
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->stopping) return;
    core_->stopping = true;
  }
  core_->cv.notify_all();
  if (monitor_.joinable()) monitor_.join();
  std::vector<EndedTransaction> ended;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    ended = core_->table.take_all();
  }
  for (auto& tx : ended) tx.finish();
}

std::string DownloadService::new_transaction(TransactionOptions options) {
  std::string id;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    id = core_->table.create(std::move(options));
    core_->wake = true;  // its expiry may be the earliest now
  }
  core_->cv.notify_all();
  return id;
}

Result<std::string> DownloadService::add(const std::string& tx_id,
                                         std::shared_ptr<Downloadable> object,
                                         uint64_t chunk_size) {
  std::lock_guard<std::mutex> lock(core_->mu);
  if (core_->stopping)
    return FailedPreconditionError("download service at " + core_->fqcn + " is stopped");
  return core_->table.add(tx_id, std::move(object),
                          chunk_size ? chunk_size : core_->options.chunk_size);
}

Result<Manifest> DownloadService::manifest(const std::string& ref_id) const {
  std::shared_ptr<DownloadRef> ref;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    auto found = core_->table.touch(ref_id);
    if (!found.ok()) return core_->not_found(ref_id);
    ref = *found;
  }
  return Manifest::of(*ref->object, core_->fqcn, ref->id, ref->chunk_size);
}

Status DownloadService::delete_transaction(const std::string& tx_id) {
  Result<EndedTransaction> ended = NotFoundError("");
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    ended = core_->table.remove(tx_id, TransactionOutcome::kDeleted);
  }
  if (!ended.ok()) return ended.status().with_context(core_->fqcn);
  ended->finish();
  return Status::OK();
}

size_t DownloadService::transaction_count() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->table.transaction_count();
}

std::optional<size_t> DownloadService::completions(const std::string& ref_id) const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->table.completions(ref_id);
}

DownloadServiceStats DownloadService::stats() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->stats;
}

}  // namespace nvf::cellnet
