// The pull loop: ranges are issued from a cursor (and from a queue of retries and remainders),
// replies are queued by the cell's completion threads into an Inbox, and the caller's thread
// moves them into order and hands them to the consumer.
#include "cellnet/downloader.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "cellnet/download_wire_internal.h"

namespace nvf::cellnet {

namespace wire = download_wire;
using SteadyClock = std::chrono::steady_clock;

std::chrono::milliseconds download_backoff(const DownloadOptions& o, int attempt) {
  auto b = o.initial_backoff;
  for (int i = 1; i < attempt && b < o.max_backoff; ++i) b *= 2;
  return std::min(b, o.max_backoff);
}

void AbortSignal::abort() {
  std::map<uint64_t, std::function<void()>> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (aborted_) return;
    aborted_ = true;
    listeners.swap(listeners_);
  }
  for (auto& [id, fn] : listeners) fn();
}

bool AbortSignal::aborted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return aborted_;
}

uint64_t AbortSignal::subscribe(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!aborted_) {
      listeners_.emplace(++next_id_, std::move(fn));
      return next_id_;
    }
  }
  fn();
  return 0;
}

void AbortSignal::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.erase(id);
}

namespace {

constexpr uint64_t kDefaultChunkSize = 2 << 20;

struct Range {
  size_t item = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  int attempts = 0;  // retries so far
};

// Replies (and an abort) land here from cell threads; the download thread takes them out.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<Range, Result<Message>>> replies;  // guarded by mu
  bool aborted = false;                                   // guarded by mu
};

// Subscribes an Inbox to an AbortSignal for the life of one download.
class AbortWatch {
 public:
  AbortWatch(std::shared_ptr<AbortSignal> signal, const std::shared_ptr<Inbox>& inbox)
      : signal_(std::move(signal)) {
    if (!signal_) return;
    id_ = signal_->subscribe([inbox] {
      {
        std::lock_guard<std::mutex> lock(inbox->mu);
        inbox->aborted = true;
      }
      inbox->cv.notify_all();
    });
  }
  ~AbortWatch() {
    if (signal_) signal_->unsubscribe(id_);
  }
  AbortWatch(const AbortWatch&) = delete;
  AbortWatch& operator=(const AbortWatch&) = delete;

 private:
  std::shared_ptr<AbortSignal> signal_;
  uint64_t id_ = 0;
};

bool retriable(const Status& s) {
  return s.code() == StatusCode::kDeadlineExceeded || s.code() == StatusCode::kUnavailable;
}

// A transport error as it is; the source's own error from the reply headers.
Status reply_status(const Result<Message>& reply) {
  if (!reply.ok()) return reply.status();
  auto code = reply->headers.get_int(wire::kCode);
  if (!code)
    return DataLossError("the reply carries no download status (is the peer a download service?)");
  if (*code == 0) return Status::OK();
  if (*code < 0 || *code > static_cast<int64_t>(StatusCode::kUnauthenticated)) {
    return UnknownError("download status " + std::to_string(*code) + ": " +
                        reply->headers.get_or(wire::kError, ""));
  }
  return Status(static_cast<StatusCode>(*code), reply->headers.get_or(wire::kError, ""));
}

Message make_request(std::string_view op, const std::string& ref_id, const std::string& receiver) {
  Message m;
  m.headers.set(wire::kOp, std::string(op));
  m.headers.set(wire::kRef, ref_id);
  m.headers.set(wire::kReceiver, receiver);
  return m;
}

std::string receiver_of(Cell& cell, const DownloadOptions& o) {
  return o.receiver_id.empty() ? cell.fqcn() : o.receiver_id;
}

Status aborted_error(const std::string& source, const std::string& ref_id) {
  return AbortedError("download of ref " + ref_id + " from " + source + " aborted");
}

void send_request(Cell& cell, const std::string& source, Message m, const DownloadOptions& o,
                  const std::shared_ptr<Inbox>& inbox, Range r, ReplyPlacement place = nullptr) {
  cell.request_async(
      source, std::string(wire::kChannel), std::string(wire::kTopic), std::move(m),
      o.per_request_timeout,
      [inbox, r](Result<Message> reply) {
        {
          std::lock_guard<std::mutex> lock(inbox->mu);
          inbox->replies.emplace_back(r, std::move(reply));
        }
        inbox->cv.notify_all();
      },
      std::move(place));
}

// Lets the transport read the reply to `r` into `dest`, when the reply is what was asked for: an
// OK reply for exactly the range's offset with no more than its length.
ReplyPlacement placement_for(const Range& r, PayloadTarget dest) {
  if (dest.data == nullptr) return nullptr;
  return [r, dest = std::move(dest)](const Headers& h, uint64_t payload_len) -> PayloadTarget {
    if (payload_len == 0 || payload_len > r.length || h.get_int(wire::kCode) != 0 ||
        h.get_int(wire::kOffset) != static_cast<int64_t>(r.offset) ||
        h.get_int(wire::kLength) != static_cast<int64_t>(payload_len)) {
      return {};
    }
    return dest;
  };
}

class RangePuller {
 public:
  RangePuller(Cell& cell, const Manifest& manifest, const DownloadOptions& options,
              DownloadConsumer& consumer, DownloadStats& stats)
      : cell_(cell),
        m_(manifest),
        o_(options),
        consumer_(consumer),
        stats_(stats),
        receiver_(receiver_of(cell, options)),
        inbox_(std::make_shared<Inbox>()) {
    chunk_ = o_.chunk_size ? o_.chunk_size : (m_.chunk_size ? m_.chunk_size : kDefaultChunkSize);
    if (m_.chunk_size) chunk_ = std::min(chunk_, m_.chunk_size);
    if (!o_.chunk_size && cell_.options().chunk_size)
      chunk_ = std::min<uint64_t>(chunk_, cell_.options().chunk_size);
    max_in_flight_ = std::max<size_t>(1, o_.max_in_flight);
  }

  Status run() {
    AbortWatch watch(o_.abort, inbox_);
    NVF_RETURN_IF_ERROR(consumer_.start(m_).with_context(describe()));
    normalize(deliver_);
    normalize(issue_);
    while (deliver_.item < m_.items.size()) {
      fill();
      std::deque<std::pair<Range, Result<Message>>> replies;
      bool aborted = false;
      NVF_RETURN_IF_ERROR(wait(&replies, &aborted));
      if (aborted) return aborted_error(m_.source, m_.ref_id);
      for (auto& [range, reply] : replies) {
        --in_flight_;
        NVF_RETURN_IF_ERROR(on_reply(range, std::move(reply)));
      }
      NVF_RETURN_IF_ERROR(deliver());
    }
    return consumer_.finish().with_context(describe());
  }

 private:
  struct Cursor {
    size_t item = 0;
    uint64_t offset = 0;
  };

  std::string describe() const { return "download of ref " + m_.ref_id + " from " + m_.source; }
  std::string describe(const Range& r) const {
    return "download of item '" + m_.items[r.item].name + "' (#" + std::to_string(r.item) +
           ", bytes " + std::to_string(r.offset) + "+" + std::to_string(r.length) + ") of ref " +
           m_.ref_id + " from " + m_.source;
  }

  void normalize(Cursor& c) const {
    while (c.item < m_.items.size() && c.offset >= m_.items[c.item].size) {
      ++c.item;
      c.offset = 0;
    }
  }

  void issue(const Range& r) {
    Message m = make_request(wire::kOpGet, m_.ref_id, receiver_);
    m.headers.set_int(wire::kItem, static_cast<int64_t>(r.item));
    m.headers.set_int(wire::kOffset, static_cast<int64_t>(r.offset));
    m.headers.set_int(wire::kLength, static_cast<int64_t>(r.length));
    ++stats_.requests;
    ++in_flight_;
    stats_.peak_in_flight = std::max(stats_.peak_in_flight, in_flight_);
    PayloadTarget dest = consumer_.destination(r.item, r.offset, r.length);
    if (dest.data != nullptr) destinations_[{r.item, r.offset}] = dest.data;
    send_request(cell_, m_.source, std::move(m), o_, inbox_, r, placement_for(r, std::move(dest)));
  }

  // Retries (and remainders of short replies) go first and only need a free request slot; fresh
  // ranges also count the ranges waiting to be consumed, which bounds what we hold.
  void fill() {
    const auto now = SteadyClock::now();
    while (in_flight_ < max_in_flight_) {
      if (!pending_.empty() && pending_.begin()->first <= now) {
        Range r = pending_.begin()->second;
        pending_.erase(pending_.begin());
        issue(r);
        continue;
      }
      if (in_flight_ + ready_.size() >= max_in_flight_ || issue_.item >= m_.items.size()) break;
      const uint64_t size = m_.items[issue_.item].size;
      Range r{issue_.item, issue_.offset, std::min(chunk_, size - issue_.offset), 0};
      issue_.offset += r.length;
      normalize(issue_);
      issue(r);
    }
  }

  Status wait(std::deque<std::pair<Range, Result<Message>>>* replies, bool* aborted) {
    std::unique_lock<std::mutex> lock(inbox_->mu);
    auto woken = [this] { return !inbox_->replies.empty() || inbox_->aborted; };
    if (!pending_.empty() && in_flight_ < max_in_flight_) {
      inbox_->cv.wait_until(lock, pending_.begin()->first, woken);
    } else if (in_flight_ > 0) {
      inbox_->cv.wait(lock, woken);
    } else if (!woken()) {
      return InternalError(describe() + ": nothing in flight and nothing to send (a bug)");
    }
    replies->swap(inbox_->replies);
    *aborted = inbox_->aborted;
    return Status::OK();
  }

  Status on_reply(Range r, Result<Message> reply) {
    Status s = reply_status(reply);
    if (!s.ok()) {
      if (retriable(s) && r.attempts < o_.max_retries) {
        ++r.attempts;
        ++stats_.retries;
        pending_.emplace(SteadyClock::now() + download_backoff(o_, r.attempts), r);
        return Status::OK();
      }
      std::string tries = r.attempts ? " (after " + std::to_string(r.attempts) + " retries)" : "";
      return Status(s.code(), describe(r) + tries + ": " + s.message());
    }
    const Buffer& payload = reply->payload;
    auto offset = reply->headers.get_int(wire::kOffset);
    auto length = reply->headers.get_int(wire::kLength);
    if (!offset || !length || static_cast<uint64_t>(*offset) != r.offset ||
        static_cast<uint64_t>(*length) != payload.size() || payload.empty() ||
        payload.size() > r.length) {
      return DataLossError(describe(r) + ": the source replied with " +
                           std::to_string(payload.size()) + " bytes at offset " +
                           reply->headers.get_or(wire::kOffset, "?"));
    }
    if (payload.size() < r.length) {
      // The source serves smaller ranges than we asked for: ask for the rest next.
      pending_.emplace(SteadyClock::now(),
                       Range{r.item, r.offset + payload.size(), r.length - payload.size(), 0});
    }
    ready_.emplace(std::make_pair(r.item, r.offset), payload);  // shares the slices
    return Status::OK();
  }

  Status deliver() {
    while (!ready_.empty() &&
           ready_.begin()->first == std::make_pair(deliver_.item, deliver_.offset)) {
      Buffer bytes = std::move(ready_.begin()->second);
      ready_.erase(ready_.begin());
      const std::byte* dest = nullptr;
      if (auto d = destinations_.find({deliver_.item, deliver_.offset}); d != destinations_.end()) {
        dest = d->second;
        destinations_.erase(d);
      }
      // A range stays within its item; a streamed reply may hold several slices.
      for (const Slice& slice : bytes.slices()) {
        NVF_RETURN_IF_ERROR(
            consumer_.consume(deliver_.item, deliver_.offset, slice).with_context(describe()));
        stats_.bytes += slice.size;
        if (slice.data == dest) stats_.placed_bytes += slice.size;
        if (dest) dest += slice.size;
        deliver_.offset += slice.size;
      }
      normalize(deliver_);
    }
    return Status::OK();
  }

  Cell& cell_;
  const Manifest& m_;
  const DownloadOptions& o_;
  DownloadConsumer& consumer_;
  DownloadStats& stats_;
  const std::string receiver_;
  std::shared_ptr<Inbox> inbox_;
  uint64_t chunk_ = kDefaultChunkSize;
  size_t max_in_flight_ = 4;
  size_t in_flight_ = 0;
  Cursor issue_;                                           // next fresh range
  Cursor deliver_;                                         // next byte the consumer expects
  std::multimap<SteadyClock::time_point, Range> pending_;  // retries and remainders, by due time
  std::map<std::pair<size_t, uint64_t>, Buffer> ready_;    // received, not yet consumed
  // Where the consumer wanted the ranges requested so far (placed_bytes counts those read there).
  std::map<std::pair<size_t, uint64_t>, const std::byte*> destinations_;
};

// One request with the download retry rules (for the manifest and the final "done").
Result<Message> call_with_retry(Cell& cell, const std::string& source, const Message& request,
                                const DownloadOptions& o) {
  auto inbox = std::make_shared<Inbox>();
  AbortWatch watch(o.abort, inbox);
  for (int attempt = 0;; ++attempt) {
    send_request(cell, source, request, o, inbox, Range{});
    std::unique_lock<std::mutex> lock(inbox->mu);
    inbox->cv.wait(lock, [&] { return !inbox->replies.empty() || inbox->aborted; });
    if (inbox->aborted) return aborted_error(source, request.headers.get_or(wire::kRef, ""));
    Result<Message> reply = std::move(inbox->replies.front().second);
    inbox->replies.clear();
    Status s = reply_status(reply);
    if (s.ok()) return reply;
    if (!retriable(s) || attempt >= o.max_retries) {
      std::string tries = attempt ? " (after " + std::to_string(attempt) + " retries)" : "";
      return Status(s.code(), "download request for ref " + request.headers.get_or(wire::kRef, "") +
                                  " to " + source + tries + ": " + s.message());
    }
    inbox->cv.wait_for(lock, download_backoff(o, attempt + 1), [&] { return inbox->aborted; });
  }
}

}  // namespace

Result<Manifest> fetch_manifest(Cell& cell, const std::string& source, const std::string& ref_id,
                                const DownloadOptions& options) {
  NVF_ASSIGN_OR_RETURN(Message reply, call_with_retry(cell, source,
                                                      make_request(wire::kOpManifest, ref_id,
                                                                   receiver_of(cell, options)),
                                                      options));
  auto manifest = Manifest::decode(reply.payload.to_string());
  if (!manifest.ok())
    return manifest.status().with_context("manifest of ref " + ref_id + " from " + source);
  if (manifest->ref_id != ref_id) {
    return DataLossError("asked " + source + " for the manifest of ref " + ref_id +
                         " and got ref " + manifest->ref_id);
  }
  return manifest;
}

Status download(Cell& cell, const Manifest& manifest, const DownloadOptions& options,
                DownloadConsumer& consumer, DownloadStats* stats) {
  NVF_RETURN_IF_ERROR(manifest.validate());
  DownloadStats local;
  Status s = RangePuller(cell, manifest, options, consumer, stats ? *stats : local).run();
  // Tell the source this receiver is done with the ref, so the transaction can finish without
  // waiting for its idle timeout (FLARE counts failed receivers as done too).
  if (s.code() == StatusCode::kNotFound || s.code() == StatusCode::kAborted) return s;
  Message done = make_request(wire::kOpDone, manifest.ref_id, receiver_of(cell, options));
  done.headers.set(wire::kResult, s.ok() ? "ok" : "failed");
  if (s.ok()) {
    auto reply = call_with_retry(cell, manifest.source, done, options);
    if (!reply.ok() && cell.options().logger) {
      cell.options().logger->warn("{}: {} (the data arrived in full)", cell.fqcn(),
                                  reply.status().message());
    }
  } else {
    cell.request_async(manifest.source, std::string(wire::kChannel), std::string(wire::kTopic),
                       std::move(done), options.per_request_timeout, [](Result<Message>) {});
  }
  return s;
}

Status download(Cell& cell, const std::string& source, const std::string& ref_id,
                const DownloadOptions& options, DownloadConsumer& consumer, DownloadStats* stats) {
  NVF_ASSIGN_OR_RETURN(Manifest manifest, fetch_manifest(cell, source, ref_id, options));
  return download(cell, manifest, options, consumer, stats);
}

}  // namespace nvf::cellnet
