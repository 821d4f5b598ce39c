#include "runtime/job_transfer.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "base/files.h"
#include "cellnet/downloader.h"
#include "cellnet/downloadable.h"
#include "job/archive.h"
#include "runtime/deploy_protocol.h"

namespace nvf::runtime {

namespace fs = std::filesystem;

Result<JobZipOffer> offer_job_zip(cellnet::DownloadService& service, const fs::path& zip, size_t receivers,
                                  std::chrono::milliseconds idle_timeout) {
  NVF_ASSIGN_OR_RETURN(auto file, cellnet::FileDownloadable::open(zip.parent_path(), zip.filename().string()));
  cellnet::TransactionOptions tx;
  tx.num_receivers = receivers;
  tx.idle_timeout = idle_timeout;
  JobZipOffer offer;
  offer.tx_id = service.new_transaction(std::move(tx));
  auto ref = service.add(offer.tx_id, std::move(file));
  if (!ref.ok()) {
    service.delete_transaction(offer.tx_id).ignore();
    return ref.status();
  }
  NVF_ASSIGN_OR_RETURN(cellnet::Manifest manifest, service.manifest(*ref));
  offer.header = manifest.encode();
  return offer;
}

namespace {

Status payload_size_ok(const cellnet::Message& message, uint64_t max_bytes) {
  if (message.payload.size() <= max_bytes) return Status::OK();
  return ResourceExhaustedError("the job zip has " + std::to_string(message.payload.size()) +
                                " bytes, more than the " + std::to_string(max_bytes) + " allowed");
}

// The offer the message carries, checked before anything is pulled.
Result<cellnet::Manifest> checked_offer(std::string_view header, const std::string& sender, uint64_t max_bytes) {
  auto manifest = cellnet::Manifest::decode(header);
  if (!manifest.ok()) {
    return InvalidArgumentError("the job zip offer (header " + std::string(deploy::kHdrJobZip) +
                                ") is malformed: " + manifest.status().message());
  }
  if (manifest->source != sender) {
    return PermissionDeniedError("the job zip is offered from '" + manifest->source + "', not by its sender '" +
                                 sender + "'");
  }
  if (manifest->items.size() != 1 || manifest->items[0].dtype) {
    return InvalidArgumentError("the job zip offer must name exactly one file");
  }
  if (manifest->total_bytes() > max_bytes) {
    return ResourceExhaustedError("the job zip has " + std::to_string(manifest->total_bytes()) +
                                  " bytes, more than the " + std::to_string(max_bytes) + " allowed");
  }
  return manifest;
}

cellnet::DownloadOptions job_zip_download_options() {
  cellnet::DownloadOptions options;
  options.per_request_timeout = std::chrono::seconds(60);
  options.initial_backoff = std::chrono::milliseconds(500);
  return options;
}

// Hands the ranges a download pulls (on its thread) to an extraction reading them (on another),
// holding at most kMaxQueued bytes between them. Once the reader is done, further ranges are
// dropped (the zip's central directory, which the streaming extraction does not need, or the rest
// of a zip it refused), so the download never waits for a reader that has stopped.
// With a `copy`, every range is also written there as it arrives (on the download's thread).
class RangePipe : public cellnet::DownloadConsumer {
 public:
  static constexpr size_t kMaxQueued = size_t{8} << 20;

  explicit RangePipe(base::AtomicFileWriter* copy) : copy_(copy) {}

  Status consume(size_t, uint64_t, const cellnet::Slice& bytes) override {
    if (copy_) NVF_RETURN_IF_ERROR(copy_->write(bytes.data, bytes.size));
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] { return reader_done_ || queued_ < kMaxQueued; });
    if (reader_done_) return reader_ok_ ? Status::OK() : CancelledError("the extraction stopped");
    queued_ += bytes.size;
    ranges_.push_back(bytes);
    data_.notify_all();
    return Status::OK();
  }
  // The download ended: with every byte, or with its error.
  void close_writing(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    writer_done_ = true;
    writer_status_ = std::move(status);
    data_.notify_all();
  }
  // The extraction ended.
  void close_reading(bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    reader_done_ = true;
    reader_ok_ = ok;
    ranges_.clear();
    queued_ = 0;
    space_.notify_all();
  }
  // The next bytes: valid until the next call.
  Result<std::string_view> read() {
    std::unique_lock<std::mutex> lock(mu_);
    if (current_.size > 0) {
      queued_ -= current_.size;
      current_ = {};
      space_.notify_all();
    }
    data_.wait(lock, [&] { return !ranges_.empty() || writer_done_; });
    if (ranges_.empty()) {
      if (!writer_status_.ok()) return writer_status_;
      return std::string_view();
    }
    current_ = std::move(ranges_.front());
    ranges_.pop_front();
    return current_.view();
  }

 private:
  base::AtomicFileWriter* const copy_;
  std::mutex mu_;
  std::condition_variable space_, data_;
  std::deque<cellnet::Slice> ranges_;  // guarded by mu_
  cellnet::Slice current_;             // guarded by mu_: the reader's, until its next read()
  size_t queued_ = 0;                  // guarded by mu_: bytes in ranges_ and current_
  bool writer_done_ = false;           // guarded by mu_
  Status writer_status_;               // guarded by mu_
  bool reader_done_ = false;           // guarded by mu_
  bool reader_ok_ = false;             // guarded by mu_
};

}  // namespace

Status receive_job_zip(cellnet::Cell& cell, const cellnet::Message& message, const std::string& sender,
                       const fs::path& dest, uint64_t max_bytes) {
  auto header = message.headers.get(deploy::kHdrJobZip);
  if (!header) {
    NVF_RETURN_IF_ERROR(payload_size_ok(message, max_bytes));
    base::AtomicFileWriter out;
    NVF_RETURN_IF_ERROR(out.open(dest));
    for (const cellnet::Slice& s : message.payload.slices()) NVF_RETURN_IF_ERROR(out.write(s.data, s.size));
    return out.commit();
  }
  NVF_ASSIGN_OR_RETURN(cellnet::Manifest manifest, checked_offer(*header, sender, max_bytes));
  return cellnet::download_file(cell, manifest, job_zip_download_options(), dest)
      .with_context("pulling the job zip from " + sender);
}

Status receive_and_unpack_job_zip(cellnet::Cell& cell, const cellnet::Message& message, const std::string& sender,
                                  const fs::path& dest, uint64_t max_bytes, const fs::path& zip_copy) {
  auto header = message.headers.get(deploy::kHdrJobZip);
  base::AtomicFileWriter copy;
  if (!zip_copy.empty()) NVF_RETURN_IF_ERROR(copy.open(zip_copy));
  if (!header) {
    NVF_RETURN_IF_ERROR(payload_size_ok(message, max_bytes));
    const std::string bytes = message.payload.to_string();
    NVF_RETURN_IF_ERROR(job::unpack_zip_from_memory(bytes, dest));
    if (!zip_copy.empty()) {
      Status written = copy.write(bytes.data(), bytes.size());
      if (written.ok()) written = copy.commit();
      if (!written.ok()) {
        std::error_code ec;
        fs::remove_all(dest, ec);
        return written;
      }
    }
    return Status::OK();
  }
  NVF_ASSIGN_OR_RETURN(cellnet::Manifest manifest, checked_offer(*header, sender, max_bytes));
  RangePipe pipe(zip_copy.empty() ? nullptr : &copy);
  Status extracted;
  std::thread extraction([&] {
    try {  // nothing from the zip may end the process, nor leave the pull waiting
      extracted = job::unpack_zip_stream([&pipe] { return pipe.read(); }, dest);
    } catch (const std::exception& e) {
      extracted = InternalError(std::string("extracting the job zip failed: ") + e.what());
    }
    pipe.close_reading(extracted.ok());
  });
  Status pulled = cellnet::download(cell, manifest, job_zip_download_options(), pipe)
                      .with_context("pulling the job zip from " + sender);
  pipe.close_writing(pulled);
  extraction.join();
  // The first cause: a failed pull fails the extraction too; a refused zip stops the pull.
  if (!extracted.ok()) return pulled.ok() || pulled.code() == StatusCode::kCancelled ? extracted : pulled;
  // Everything the extraction needed arrived, but the rest of the zip did not (the sender's zip
  // was not the one it offered in full), or its copy could not be kept: nothing of it is kept.
  if (pulled.ok() && !zip_copy.empty()) pulled = copy.commit();
  if (!pulled.ok()) {
    std::error_code ec;
    fs::remove_all(dest, ec);
    return pulled;
  }
  return Status::OK();
}

}  // namespace nvf::runtime
