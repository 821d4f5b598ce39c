// Downloadable: what a DownloadService serves — a fixed list of items (a name, a size in bytes and,
// for tensors, a dtype and shape), each readable by byte range. FLARE's Downloadable/Cacheable,
// reshaped so a receiver can pull any range of any item at its own pace (and retry it).
//
// Implementations here: TensorDownloadable (a TensorDict; ranges are views into the tensors'
// storage, no copy), BytesDownloadable (one in-memory blob) and FileDownloadable (one file under a
// root directory, read with pread per range).
//
// Ownership: a DownloadService holds each object (shared_ptr) until its transaction ends, then
// calls transaction_done() once and drops it. Threads: item_count()/item() and produce() may be
// called from several cell threads at once; implementations must be safe for that (the ones here
// are immutable after construction).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "cellnet/buffer.h"
#include "tensor/tensor.h"

namespace nvf::cellnet {

/// One item of a Downloadable (and of a Manifest).
struct DownloadItem {
  std::string name;
  uint64_t size = 0;                   // bytes
  std::optional<tensor::DType> dtype;  // set for tensors
  tensor::Shape shape;                 // tensors only

  bool operator==(const DownloadItem&) const = default;
};

class Downloadable {
 public:
  virtual ~Downloadable() = default;

  virtual size_t item_count() const = 0;
  /// Item `index` (< item_count()).
  virtual const DownloadItem& item(size_t index) const = 0;

  /// The bytes [offset, offset + length) of item `index`; the service never asks past the item's
  /// end and never for length 0. The returned slice must stay valid while its owner is held.
  /// Errors: whatever reading the source fails with (files: NOT_FOUND, DATA_LOSS, ...).
  /// UNAVAILABLE and DEADLINE_EXCEEDED tell the receiver to retry the same range.
  virtual Result<Slice> produce(size_t index, uint64_t offset, uint64_t length) = 0;

  /// True when produce() is expensive enough (it copies, encodes or reads) that the service
  /// should produce each chunk once and share it among the transaction's receivers.
  virtual bool cacheable() const { return false; }

  /// Called once when the transaction ends, before the service drops the object.
  virtual void transaction_done() {}
};

/// Serves a TensorDict: item i is tensor i (name, dtype, shape, raw row-major bytes). produce()
/// returns a slice into the tensor's storage whose owner is the tensor's keep_alive(): no copy.
/// The tensors must not change while the transaction runs (DESIGN §11.13: snapshot first).
class TensorDownloadable : public Downloadable {
 public:
  explicit TensorDownloadable(tensor::TensorDict tensors);

  size_t item_count() const override { return items_.size(); }
  const DownloadItem& item(size_t index) const override { return items_[index]; }
  Result<Slice> produce(size_t index, uint64_t offset, uint64_t length) override;
  const tensor::TensorDict& tensors() const { return tensors_; }

 private:
  tensor::TensorDict tensors_;
  std::vector<DownloadItem> items_;
};

/// Serves one blob (item name "data" unless given). produce() shares the buffer's slices.
class BytesDownloadable : public Downloadable {
 public:
  explicit BytesDownloadable(Buffer bytes, std::string name = "data");
  explicit BytesDownloadable(std::string bytes, std::string name = "data");

  size_t item_count() const override { return 1; }
  const DownloadItem& item(size_t) const override { return item_; }
  Result<Slice> produce(size_t index, uint64_t offset, uint64_t length) override;

 private:
  Buffer bytes_;
  DownloadItem item_;
};

/// Serves one regular file found under a root directory. The relative path goes through
/// base::safe_join (no absolute paths, no "..", no symlink that resolves outside the root) and the
/// opened descriptor is checked again, so a link swapped in after the check is refused too. The
/// file is kept open: later renames or replacements do not change what is served.
class FileDownloadable : public Downloadable {
 public:
  /// Errors: INVALID_ARGUMENT (the path leaves the root, or is not a regular file),
  /// NOT_FOUND / PERMISSION_DENIED (cannot open), each naming the path.
  static Result<std::shared_ptr<FileDownloadable>> open(const std::filesystem::path& root,
                                                        const std::string& relative);
  ~FileDownloadable() override;
  FileDownloadable(const FileDownloadable&) = delete;
  FileDownloadable& operator=(const FileDownloadable&) = delete;

  size_t item_count() const override { return 1; }
  const DownloadItem& item(size_t) const override { return item_; }
  /// Reads the range with pread into a new slice. Errors: DATA_LOSS (read error or the file
  /// shrank), naming the file.
  Result<Slice> produce(size_t index, uint64_t offset, uint64_t length) override;
  const std::filesystem::path& path() const { return path_; }

 private:
  FileDownloadable(int fd, std::filesystem::path path, uint64_t size, std::string name);

  int fd_;
  std::filesystem::path path_;
  DownloadItem item_;
};

}  // namespace nvf::cellnet
