// PtWriter: streams a PyTorch checkpoint (torch.save's zip format) one tensor at a time, so that
// Python's torch.load (1.13 and later) reads it and no process here links LibTorch.
//
// The zip holds STORED entries archive/data/0, archive/data/1, ... (one per tensor, payloads
// 64-byte aligned with torch's 'FB' padding extra field), archive/data.pkl (a protocol-2 pickle of
// a collections.OrderedDict name -> torch._utils._rebuild_tensor_v2(...), optionally wrapped as
// {"model": OrderedDict}: FLARE's FL_global_model.pt layout) and archive/version ("3\n"). Local
// headers are written with a placeholder CRC that is patched after the data; the pickle, version
// and central directory come last. ZIP64 records are added when an entry or the file passes 4 GiB.
// At most one tensor's metadata per entry is held in memory, never tensor data.
//
// Threads: one thread at a time. The target file appears only after commit(); a writer destroyed
// or abandoned before that leaves it untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/files.h"
#include "base/status.h"
#include "tensor/tensor.h"

namespace nvf::tensor {

class PtWriter {
 public:
  struct Options {
    /// Write {"model": OrderedDict(...)} instead of the bare OrderedDict.
    bool wrap_in_model_dict = false;
    /// Use ZIP64 records for every entry even below 4 GiB (tests exercise the ZIP64 path this way).
    bool force_zip64 = false;
    /// The folder all entries live in; torch reads it from the first entry.
    std::string archive_name = "archive";
    /// How the file is written (base::AtomicFileWriter): keep_previous rewrites it in the pages
    /// of its previous version, direct bypasses the page cache.
    base::AtomicFileWriter::Options file;
  };

  PtWriter() = default;
  PtWriter(const PtWriter&) = delete;
  PtWriter& operator=(const PtWriter&) = delete;
  PtWriter(PtWriter&&) noexcept = default;
  PtWriter& operator=(PtWriter&&) noexcept = default;

  /// Starts a checkpoint at `path`. Errors: INVALID_ARGUMENT (archive name empty or holding '/'),
  /// file errors naming the path.
  Status open(const std::filesystem::path& path, bool wrap_in_model_dict = false);
  Status open(const std::filesystem::path& path, const Options& options);

  /// Starts the next tensor; its numel * dtype size bytes follow through write().
  /// Errors: FAILED_PRECONDITION (not open, previous tensor incomplete), ALREADY_EXISTS (name
  /// repeated), INVALID_ARGUMENT (empty or non-UTF-8 name, invalid shape), file errors.
  Status add_tensor(std::string name, DType dtype, Shape shape);

  /// Appends a piece of the current tensor. Errors: FAILED_PRECONDITION (no current tensor),
  /// INVALID_ARGUMENT (more bytes than the tensor holds), file errors.
  Status write(const std::byte* data, size_t size);

  /// add_tensor + write of a whole tensor.
  Status add_tensor(std::string name, const Tensor& tensor);

  /// Writes data.pkl, version and the central directory, then renames the file into place.
  /// Errors: FAILED_PRECONDITION (not open, a tensor incomplete; the message names it), file
  /// errors.
  Status commit();

  /// Drops the temporary file.
  void abandon();

 private:
  struct Record {
    std::string name;     // full entry name, "archive/data/0"
    uint64_t offset = 0;  // of the local header
    uint64_t size = 0;
    uint32_t crc = 0;
  };
  struct TensorEntry {
    std::string name;
    DType dtype;
    Shape shape;
    int64_t numel = 0;
    std::string key;  // storage key: the record is data/<key>
  };

  Status begin_record(const std::string& entry, uint64_t size);
  Status append(const void* data, size_t size);
  Status end_record();
  Status write_small_record(const std::string& entry, std::string_view bytes);
  Status write_central_directory();
  std::string build_pickle() const;
  bool needs_zip64(uint64_t value) const;

  base::AtomicFileWriter file_;
  std::filesystem::path path_;
  Options options_;
  bool open_ = false;
  std::vector<Record> records_;
  std::vector<TensorEntry> tensors_;
  std::set<std::string, std::less<>> names_;  // tensor names, for duplicate checks
  bool in_record_ = false;
  uint64_t record_done_ = 0;
  uint32_t crc_ = 0;
  // The CRC of the next record when its bytes are known up front (a whole tensor): the header
  // then carries it, and no patch of bytes already written is needed (a patch of a direct write
  // reads and rewrites a block).
  std::optional<uint32_t> next_crc_;
  bool crc_known_ = false;
};

/// Writes every tensor of `tensors` (in order) as a torch.save checkpoint; `file` as in
/// Options. Errors: as PtWriter.
Status write_pt(const std::filesystem::path& path, const TensorDict& tensors,
                bool wrap_in_model_dict = false, const base::AtomicFileWriter::Options& file = {});

}  // namespace nvf::tensor
