// The receiver side of pull-based downloads (FLARE's download_object / download_tensors, DESIGN
// §4.6): given a Manifest (or a source FQCN and ref id, whose manifest is fetched first), pull
// every item in ranges from the source's DownloadService through the cell, with up to
// max_in_flight requests pipelined, hand the bytes to a DownloadConsumer in order, and tell the
// source the ref is done so its transaction can finish. A request that fails with
// DEADLINE_EXCEEDED or UNAVAILABLE is repeated for the SAME range (ranges are idempotent) after an
// exponential back-off, up to max_retries times per range; an abort signal ends the wait at once.
//
// Threads: download() runs on the caller's thread, which is also the only thread that calls the
// consumer; replies arrive on the cell's completion threads and only queue the result, so any
// number of concurrent downloads never starve a callback pool. Every function here may be called
// from any thread, including a cell request handler. Nothing is retained after return.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/status.h"
#include "cellnet/buffer.h"
#include "cellnet/cell.h"
#include "cellnet/download_manifest.h"
#include "tensor/tensor.h"

namespace nvf::cellnet {

/// A flag that ends downloads early. Shared between the code that aborts (abort()) and the
/// downloads that watch it. Thread-safe.
class AbortSignal {
 public:
  void abort();
  bool aborted() const;
  /// Calls `fn` once on abort() (at once, on this thread, when already aborted). Returns an id for
  /// unsubscribe(). `fn` must be quick and must not call back into this signal.
  uint64_t subscribe(std::function<void()> fn);
  void unsubscribe(uint64_t id);

 private:
  mutable std::mutex mu_;
  bool aborted_ = false;                                 // guarded by mu_
  uint64_t next_id_ = 0;                                 // guarded by mu_
  std::map<uint64_t, std::function<void()>> listeners_;  // guarded by mu_
};

struct DownloadOptions {
  /// tensor_streaming_per_request_timeout: one range request, end to end.
  std::chrono::milliseconds per_request_timeout{600000};
  int max_retries = 3;                              // download_retry_max_tries, per range
  std::chrono::milliseconds initial_backoff{2000};  // download_retry_initial_backoff; doubles
  std::chrono::milliseconds max_backoff{60000};     // download_retry_max_backoff
  size_t max_in_flight = 4;                         // requests (and unconsumed ranges) at once
  /// Range size; 0 = the manifest's chunk_size (the source's), or 2 MiB when that is 0 too, and
  /// no more than the cell's streaming chunk size, so that each reply travels in one frame and
  /// can be read straight into the consumer's destination (DownloadConsumer::destination).
  uint64_t chunk_size = 0;
  std::shared_ptr<AbortSignal> abort;  // optional
  /// Counts completions at the source; "" = the cell's FQCN. Distinct receivers in one cell (tests,
  /// a relay fanning out) set their own.
  std::string receiver_id;
};

/// Where downloaded bytes go. Called only on the thread running download(), in order: start(),
/// then every range of item 0 by increasing offset, then item 1, ..., then finish() (only when
/// every byte arrived). An error from any of them ends the download with that error.
class DownloadConsumer {
 public:
  virtual ~DownloadConsumer() = default;
  virtual Status start(const Manifest& manifest) {
    (void)manifest;
    return Status::OK();
  }
  /// `bytes` shares the received frame's memory; keep the slice (not a pointer) to keep it. When
  /// destination() named memory for the range, `bytes` may already be that memory (compare the
  /// pointers: then there is nothing to copy).
  virtual Status consume(size_t item, uint64_t offset, const Slice& bytes) = 0;
  /// Optional: memory the bytes of [offset, offset+length) of `item` belong in, for a transport to
  /// read them into directly. Called on the download thread when the range is requested, before
  /// consume() of that range. The memory may be written before the range is confirmed (and
  /// written again by a retry), so it must be the range's final place. Empty: no such memory.
  virtual PayloadTarget destination(size_t item, uint64_t offset, uint64_t length) {
    (void)item, (void)offset, (void)length;
    return {};
  }
  virtual Status finish() { return Status::OK(); }
};

struct DownloadStats {
  uint64_t requests = 0;  // range requests sent, retries included
  uint64_t retries = 0;
  uint64_t bytes = 0;  // bytes consumed
  uint64_t placed_bytes = 0;  // of those, read by the transport straight into their destination
  size_t peak_in_flight = 0;
};

/// The wait before retry number `attempt` (1-based): initial_backoff doubled per retry, capped at
/// max_backoff (FLARE: 2, 4, 8 s ... 60 s).
std::chrono::milliseconds download_backoff(const DownloadOptions& options, int attempt);

/// Asks `source` for the manifest of `ref_id` (retrying as download() does).
/// Errors: NOT_FOUND ("ref R… not found at <source> (the download transaction may have
/// expired)"), DEADLINE_EXCEEDED / UNAVAILABLE after the retries, ABORTED, INVALID_ARGUMENT (a
/// manifest that does not validate).
Result<Manifest> fetch_manifest(Cell& cell, const std::string& source, const std::string& ref_id,
                                const DownloadOptions& options);

/// Pulls every item of `manifest` into `consumer`. Errors (each naming the source, the ref and
/// the item): NOT_FOUND (the ref ended or never existed), DEADLINE_EXCEEDED / UNAVAILABLE (after
/// max_retries retries of one range), ABORTED, DATA_LOSS (the source sent a range that does not
/// match the request), the source's produce() errors, and the consumer's errors.
Status download(Cell& cell, const Manifest& manifest, const DownloadOptions& options,
                DownloadConsumer& consumer, DownloadStats* stats = nullptr);
/// fetch_manifest() then download().
Status download(Cell& cell, const std::string& source, const std::string& ref_id,
                const DownloadOptions& options, DownloadConsumer& consumer,
                DownloadStats* stats = nullptr);

/// Downloads a ref of tensors: each tensor is allocated once and the ranges are copied into it.
/// Errors: download()'s, INVALID_ARGUMENT when an item is not a tensor.
Result<tensor::TensorDict> download_tensors(Cell& cell, const Manifest& manifest,
                                            const DownloadOptions& options,
                                            DownloadStats* stats = nullptr);
Result<tensor::TensorDict> download_tensors(Cell& cell, const std::string& source,
                                            const std::string& ref_id,
                                            const DownloadOptions& options,
                                            DownloadStats* stats = nullptr);

/// Supplies the memory an item lands in: an owned tensor of exactly the item's dtype and shape
/// (its bytes are overwritten), or nullopt for a new one. Called once per item at the start, on
/// the download thread. A tensor whose pages were touched before costs no page faults to fill:
/// receivers that get a model of the same shapes every round keep the last one's memory.
using TensorAllocator = std::function<std::optional<tensor::Tensor>(const DownloadItem& item)>;
/// download_tensors() into tensors from `reuse` where it offers one (else new ones). Errors: as
/// download_tensors(), and INVALID_ARGUMENT when an offered tensor does not match its item.
Result<tensor::TensorDict> download_tensors(Cell& cell, const Manifest& manifest,
                                            const DownloadOptions& options,
                                            const TensorAllocator& reuse,
                                            DownloadStats* stats = nullptr);

/// Downloads a one-item ref as a Buffer of the received slices (no copy).
/// Errors: download()'s, FAILED_PRECONDITION when the ref does not have exactly one item.
Result<Buffer> download_bytes(Cell& cell, const Manifest& manifest, const DownloadOptions& options,
                              DownloadStats* stats = nullptr);
Result<Buffer> download_bytes(Cell& cell, const std::string& source, const std::string& ref_id,
                              const DownloadOptions& options, DownloadStats* stats = nullptr);

/// Downloads a one-item ref into `dest` atomically: a reader sees no file (or the old one) until
/// every byte arrived; a failed download leaves no partial file.
/// Errors: download_bytes()'s, and write errors naming `dest`.
Status download_file(Cell& cell, const Manifest& manifest, const DownloadOptions& options,
                     const std::filesystem::path& dest, DownloadStats* stats = nullptr);
Status download_file(Cell& cell, const std::string& source, const std::string& ref_id,
                     const DownloadOptions& options, const std::filesystem::path& dest,
                     DownloadStats* stats = nullptr);

}  // namespace nvf::cellnet
