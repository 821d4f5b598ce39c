// The convenience downloads of downloader.h: consumers that fill tensors, a Buffer or a file.
#include <cstring>
#include <memory>
#include <optional>

#include "base/files.h"
#include "base/prefault.h"
#include "cellnet/downloader.h"

namespace nvf::cellnet {

namespace {

// Allocates every tensor once at start() and copies each range into place. A Prefaulter faults the
// new tensors' pages in on another thread ahead of the copies (base/prefault.h).
class TensorSink : public DownloadConsumer {
 public:
  explicit TensorSink(const TensorAllocator* reuse = nullptr) : reuse_(reuse) {}

  Status start(const Manifest& manifest) override {
    std::vector<base::Prefaulter::Region> fresh;  // only new memory is faulted in ahead
    for (size_t i = 0; i < manifest.items.size(); ++i) {
      const DownloadItem& item = manifest.items[i];
      if (!item.dtype) {
        return InvalidArgumentError("item '" + item.name + "' (#" + std::to_string(i) +
                                    ") is not a tensor");
      }
      std::optional<tensor::Tensor> offered = reuse_ && *reuse_ ? (*reuse_)(item) : std::nullopt;
      tensor::Tensor t;
      if (offered) {
        if (!offered->is_owned() || offered->dtype() != *item.dtype || offered->shape() != item.shape) {
          return InvalidArgumentError("the memory offered for item '" + item.name +
                                      "' does not match its dtype and shape");
        }
        t = std::move(*offered);
      } else {
        // Faulted in by the Prefaulter, ahead of the ranges, not all at once here.
        NVF_ASSIGN_OR_RETURN(t, tensor::Tensor::uninitialized(*item.dtype, item.shape,
                                                              tensor::Tensor::Pages::kOnFirstWrite));
        fresh.emplace_back(t.mutable_data(), t.nbytes());
      }
      if (t.nbytes() != item.size) {
        return InvalidArgumentError("item '" + item.name + "' has " + std::to_string(item.size) +
                                    " bytes but its dtype and shape need " +
                                    std::to_string(t.nbytes()));
      }
      names_.push_back(item.name);
      tensors_.push_back(std::move(t));
    }
    prefaulter_ = std::make_unique<base::Prefaulter>(std::move(fresh));
    return Status::OK();
  }

  Status finish() override {
    prefaulter_.reset();
    return Status::OK();
  }

  Status consume(size_t item, uint64_t offset, const Slice& bytes) override {
    tensor::Tensor& t = tensors_.at(item);
    if (offset > t.nbytes() || bytes.size > t.nbytes() - offset) {
      return DataLossError("range " + std::to_string(offset) + "+" + std::to_string(bytes.size) +
                           " overruns tensor '" + names_[item] + "' of " +
                           std::to_string(t.nbytes()) + " bytes");
    }
    std::byte* dst = t.mutable_data() + offset;
    if (bytes.data != dst) std::memcpy(dst, bytes.data, bytes.size);  // else read in place
    return Status::OK();
  }

  PayloadTarget destination(size_t item, uint64_t offset, uint64_t length) override {
    if (item >= tensors_.size()) return {};
    tensor::Tensor& t = tensors_[item];
    if (offset > t.nbytes() || length > t.nbytes() - offset) return {};
    return PayloadTarget{t.mutable_data() + offset, t.keep_alive()};
  }

  Result<tensor::TensorDict> take() {
    prefaulter_.reset();
    tensor::TensorDict out;
    for (size_t i = 0; i < tensors_.size(); ++i)
      NVF_RETURN_IF_ERROR(out.insert(names_[i], std::move(tensors_[i])));
    return out;
  }

 private:
  const TensorAllocator* reuse_;
  std::vector<std::string> names_;
  std::vector<tensor::Tensor> tensors_;
  std::unique_ptr<base::Prefaulter> prefaulter_;  // declared last: stops before tensors_ go
};

Status require_one_item(const Manifest& manifest) {
  if (manifest.items.size() != 1) {
    return FailedPreconditionError("ref " + manifest.ref_id + " from " + manifest.source + " has " +
                                   std::to_string(manifest.items.size()) +
                                   " items; expected exactly one");
  }
  return Status::OK();
}

// Keeps the received slices (no copy).
class BufferSink : public DownloadConsumer {
 public:
  Status start(const Manifest& manifest) override { return require_one_item(manifest); }
  Status consume(size_t, uint64_t, const Slice& bytes) override {
    bytes_.append(bytes);
    return Status::OK();
  }
  Buffer take() { return std::move(bytes_); }

 private:
  Buffer bytes_;
};

// Streams the ranges into a temporary file beside `dest` and renames it into place at finish().
class FileSink : public DownloadConsumer {
 public:
  explicit FileSink(std::filesystem::path dest) : dest_(std::move(dest)) {}

  Status start(const Manifest& manifest) override {
    NVF_RETURN_IF_ERROR(require_one_item(manifest));
    expected_ = manifest.items[0].size;
    return writer_.open(dest_);
  }
  Status consume(size_t, uint64_t, const Slice& bytes) override {
    return writer_.write(bytes.data, bytes.size);
  }
  Status finish() override {
    if (writer_.bytes_written() != expected_) {
      return DataLossError("wrote " + std::to_string(writer_.bytes_written()) + " bytes to " +
                           dest_.string() + "; expected " + std::to_string(expected_));
    }
    return writer_.commit();
  }

 private:
  std::filesystem::path dest_;
  uint64_t expected_ = 0;
  base::AtomicFileWriter writer_;  // abandons its temporary file unless committed
};

}  // namespace

Result<tensor::TensorDict> download_tensors(Cell& cell, const Manifest& manifest,
                                            const DownloadOptions& options, DownloadStats* stats) {
  TensorSink sink;
  NVF_RETURN_IF_ERROR(download(cell, manifest, options, sink, stats));
  return sink.take();
}

Result<tensor::TensorDict> download_tensors(Cell& cell, const std::string& source,
                                            const std::string& ref_id,
                                            const DownloadOptions& options, DownloadStats* stats) {
  NVF_ASSIGN_OR_RETURN(Manifest manifest, fetch_manifest(cell, source, ref_id, options));
  return download_tensors(cell, manifest, options, stats);
}

Result<tensor::TensorDict> download_tensors(Cell& cell, const Manifest& manifest,
                                            const DownloadOptions& options,
                                            const TensorAllocator& reuse, DownloadStats* stats) {
  TensorSink sink(&reuse);
  NVF_RETURN_IF_ERROR(download(cell, manifest, options, sink, stats));
  return sink.take();
}

Result<Buffer> download_bytes(Cell& cell, const Manifest& manifest, const DownloadOptions& options,
                              DownloadStats* stats) {
  BufferSink sink;
  NVF_RETURN_IF_ERROR(download(cell, manifest, options, sink, stats));
  return sink.take();
}

Result<Buffer> download_bytes(Cell& cell, const std::string& source, const std::string& ref_id,
                              const DownloadOptions& options, DownloadStats* stats) {
  NVF_ASSIGN_OR_RETURN(Manifest manifest, fetch_manifest(cell, source, ref_id, options));
  return download_bytes(cell, manifest, options, stats);
}

Status download_file(Cell& cell, const Manifest& manifest, const DownloadOptions& options,
                     const std::filesystem::path& dest, DownloadStats* stats) {
  FileSink sink(dest);
  return download(cell, manifest, options, sink, stats);
}

Status download_file(Cell& cell, const std::string& source, const std::string& ref_id,
                     const DownloadOptions& options, const std::filesystem::path& dest,
                     DownloadStats* stats) {
  NVF_ASSIGN_OR_RETURN(Manifest manifest, fetch_manifest(cell, source, ref_id, options));
  return download_file(cell, manifest, options, dest, stats);
}

}  // namespace nvf::cellnet
