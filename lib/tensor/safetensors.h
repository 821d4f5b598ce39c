// safetensors I/O: a streaming writer and a zero-copy reader.
//
// Format: an 8-byte little-endian u64 N, N bytes of JSON header
//   {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}}
// padded with spaces to a multiple of 8, then the raw little-endian row-major data; offsets are
// relative to the start of the data and the tensors cover it exactly, without holes or overlaps.
//
// SafetensorsWriter streams one tensor (in pieces, if it likes) at a time through an
// AtomicFileWriter: nothing holds the whole file. SafetensorsReader validates a header strictly and
// hands out borrowed Tensor views into an mmap of the file (or a caller's buffer).
//
// Threads: a writer is used by one thread at a time. A reader is immutable after open(); its const
// methods may be called from any thread, and the tensors it returns keep the mapping alive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/files.h"
#include "base/status.h"
#include "tensor/tensor.h"

namespace nvf::tensor {

using Metadata = std::map<std::string, std::string>;

/// Largest header we accept (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
};

/// One tensor as described by a header; offsets are relative to the start of the data.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t nbytes() const { return end - begin; }
};

/// A validated header: tensors ordered by data offset.
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;
  Metadata metadata;
  uint64_t header_size = 0;  // N: bytes of JSON (with padding) after the 8-byte length
  uint64_t data_size = 0;    // bytes of data the tensors cover
  uint64_t data_start() const { return 8 + header_size; }
};

/// The first bytes of a safetensors stream for `specs` in this order: the 8-byte length and the
/// space-padded JSON header. Callers that send safetensors over a wire follow it with each
/// tensor's bytes. Errors: INVALID_ARGUMENT for an empty or duplicate name, a name
/// "__metadata__", or an invalid shape.
Result<std::string> encode_safetensors_header(const std::vector<TensorSpec>& specs,
                                              const Metadata& metadata);

/// Parses and validates the JSON part of a header (`json` is the N bytes after the length) against
/// `data_size` bytes of data. `source` names the file or peer in messages.
/// Errors: INVALID_ARGUMENT / DATA_LOSS naming `source`, the tensor and the reason.
Result<SafetensorsHeader> parse_safetensors_header(std::string_view json, uint64_t data_size,
                                                   std::string_view source);

class SafetensorsWriter {
 public:
  SafetensorsWriter() = default;
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;
  SafetensorsWriter(SafetensorsWriter&&) noexcept = default;
  SafetensorsWriter& operator=(SafetensorsWriter&&) noexcept = default;
  /// Destroying an uncommitted writer leaves `path` untouched.
  ~SafetensorsWriter() = default;

  /// Starts the file: writes the header for `specs` (data laid out in this order).
  /// Errors: those of encode_safetensors_header, and file errors naming the path.
  /// `file`: how it is written (base::AtomicFileWriter); with keep_previous, in the pages of its
  /// previous version, so no reader may map an older version meanwhile.
  Status open(const std::filesystem::path& path, std::vector<TensorSpec> specs,
              const Metadata& metadata = {}, const base::AtomicFileWriter::Options& file = {});

  /// Appends bytes of tensor `name`, which must be the current tensor (tensors are written in spec
  /// order; a tensor may come in several pieces). Errors: FAILED_PRECONDITION (not open, or the
  /// previous tensor is incomplete), INVALID_ARGUMENT (unknown name, out of order, more bytes than
  /// the tensor holds), file errors.
  Status write_tensor(std::string_view name, const std::byte* data, size_t size);
  /// The same by position in the spec list.
  Status write_tensor(size_t index, const std::byte* data, size_t size);

  /// Finishes the file and renames it into place. Errors: FAILED_PRECONDITION when a tensor is
  /// missing bytes (the message names it), file errors.
  Status commit();

  /// Drops the temporary file.
  void abandon();

 private:
  base::AtomicFileWriter file_;
  std::filesystem::path path_;
  std::vector<TensorSpec> specs_;
  std::vector<uint64_t> sizes_;
  size_t current_ = 0;         // index of the tensor being written
  uint64_t current_done_ = 0;  // bytes of it written so far
  bool open_ = false;
};

/// Writes every tensor of `tensors` in order. Errors: as SafetensorsWriter.
Status write_safetensors(const std::filesystem::path& path, const TensorDict& tensors,
                         const Metadata& metadata = {},
                         const base::AtomicFileWriter::Options& file = {});

class SafetensorsReader {
 public:
  /// Maps `path` read-only and validates its header. The file must not be truncated or rewritten
  /// in place while views exist (writers replace files atomically, which is safe).
  /// Errors: NOT_FOUND / PERMISSION_DENIED, INVALID_ARGUMENT / DATA_LOSS naming the file, the
  /// tensor and the reason.
  static Result<SafetensorsReader> open(const std::filesystem::path& path);

  /// Reads from `size` bytes at `data` kept alive by `keep_alive` (e.g. a received buffer).
  /// `source` names it in messages. Errors: as open().
  static Result<SafetensorsReader> from_buffer(const std::byte* data, size_t size,
                                               std::shared_ptr<const void> keep_alive,
                                               std::string source = "<buffer>");
  /// Takes ownership of `bytes`. Errors: as open().
  static Result<SafetensorsReader> from_string(std::string bytes, std::string source = "<buffer>");

  const Metadata& metadata() const { return header_.metadata; }
  /// Tensors ordered by data offset.
  const std::vector<TensorInfo>& infos() const { return header_.tensors; }
  std::vector<std::string> names() const;
  size_t size() const { return header_.tensors.size(); }
  const SafetensorsHeader& header() const { return header_; }

  /// A borrowed view of tensor `name` (no copy). Errors: NOT_FOUND naming the source.
  Result<Tensor> tensor(std::string_view name) const;
  /// Every tensor as a borrowed view, in offset order.
  TensorDict tensors() const;

 private:
  Tensor view(const TensorInfo& info) const;

  std::string source_;
  const std::byte* data_ = nullptr;  // start of the tensor data
  std::shared_ptr<const void> keep_alive_;
  SafetensorsHeader header_;
};

}  // namespace nvf::tensor
