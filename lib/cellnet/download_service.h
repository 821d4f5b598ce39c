// DownloadService: the source side of pull-based downloads (FLARE's DownloadService /
// ObjectDownloader, DESIGN §4.6). A sender registers a transaction of refs, each a Downloadable,
// and sends receivers a Manifest instead of the data; receivers pull each item in ranges at their
// own pace (Downloader). The service answers requests on channel "download_service__", topic
// "download" of its cell; a monitor ends a transaction when every ref has been completed by
// num_receivers receivers (FINISHED) or after idle_timeout without a request (TIMED_OUT), calls
// its done callback once and releases its objects.
//
// Ownership: one per cell, owned by the component that owns the cell (no process-global state;
// the simulator runs many). It owns its monitor thread (start()/stop(); the destructor stops).
// The handler it registers keeps the service's tables alive, so a request arriving after stop()
// gets a clean "not found" reply. Threads: every public method may be called from any thread.
// Done callbacks run on the monitor thread (FINISHED, TIMED_OUT) or on the thread that called
// delete_transaction()/stop() (DELETED); they must not call stop().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/status.h"
#include "cellnet/cell.h"
#include "cellnet/download_manifest.h"
#include "cellnet/download_transactions.h"
#include "cellnet/downloadable.h"

namespace nvf::cellnet {

struct DownloadServiceOptions {
  /// tensor_download_chunk_size: the most one request pulls (a receiver may ask for less).
  uint64_t chunk_size = 2 << 20;
};

struct DownloadServiceStats {
  uint64_t chunks_served = 0;
  uint64_t bytes_served = 0;
  uint64_t requests_rejected = 0;  // unknown ref, bad range, produce() errors
};

class DownloadService {
 public:
  /// `cell` must outlive the service.
  explicit DownloadService(Cell& cell, DownloadServiceOptions options = {});
  ~DownloadService();
  DownloadService(const DownloadService&) = delete;
  DownloadService& operator=(const DownloadService&) = delete;

  /// Registers the request handler on the cell and starts the monitor.
  /// Errors: FAILED_PRECONDITION when already started or stopped, INVALID_ARGUMENT (chunk_size 0).
  Status start();
  /// Ends every transaction as DELETED (callbacks run here) and joins the monitor. Idempotent.
  void stop();

  /// A new transaction; its idle timer starts now. Returns the id ("T…").
  std::string new_transaction(TransactionOptions options);
  /// Adds an object to serve; `chunk_size` 0 = the service's. Returns the ref id ("R…").
  /// Errors: NOT_FOUND (no such transaction: ended or never created), INVALID_ARGUMENT (null).
  Result<std::string> add(const std::string& tx_id, std::shared_ptr<Downloadable> object,
                          uint64_t chunk_size = 0);
  /// The manifest to send receivers for a ref (source = this cell). Errors: NOT_FOUND.
  Result<Manifest> manifest(const std::string& ref_id) const;
  /// Ends a transaction now (DELETED). Errors: NOT_FOUND.
  Status delete_transaction(const std::string& tx_id);

  size_t transaction_count() const;
  /// Distinct receivers that completed a ref, or nullopt when the ref is unknown (or ended).
  std::optional<size_t> completions(const std::string& ref_id) const;
  DownloadServiceStats stats() const;

  struct Core;  // shared with the cell's handler (defined in the .cc)

 private:
  Cell& cell_;
  std::shared_ptr<Core> core_;
  std::thread monitor_;
  bool started_ = false;  // start()/stop() are called by the owner, not concurrently
};

}  // namespace nvf::cellnet
