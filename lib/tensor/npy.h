// NumPy .npy files: write version 1.0 (2.0 when the header needs it), read 1.0, 2.0 and 3.0.
//
// Layout: "\x93NUMPY", major, minor, a little-endian header length (u16 for 1.0, u32 for 2.0/3.0),
// then a Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }
// padded with spaces and ended by '\n' so the data starts at a multiple of 64 bytes, then the raw
// C-order data. Only little-endian, C-order arrays of the DType set are supported (BF16 has no
// NumPy type).
//
// Stateless functions; safe from any thread. read_npy returns a view into a read-only mmap of the
// file (no copy); the file must not be truncated or rewritten in place while the view exists.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tensor/tensor.h"

namespace nvf::tensor {

/// The header bytes (magic through '\n') for a tensor of `dtype` and `shape`.
/// Errors: INVALID_ARGUMENT for BF16 or an invalid shape.
Result<std::string> encode_npy_header(DType dtype, const Shape& shape);

/// Writes `tensor` to `path` atomically. Errors: INVALID_ARGUMENT for BF16 (the message says to
/// convert), file errors naming the path.
Status write_npy(const std::filesystem::path& path, const Tensor& tensor);

/// Maps `path` and returns a borrowed view of its array. Errors: NOT_FOUND / PERMISSION_DENIED,
/// INVALID_ARGUMENT naming the file and the reason (bad magic, unsupported version, malformed
/// header, fortran_order True, big-endian or unknown descr), DATA_LOSS when the data is truncated.
Result<Tensor> read_npy(const std::filesystem::path& path);

/// Parses .npy bytes held by `keep_alive`; `source` names them in messages. Errors: as read_npy.
Result<Tensor> parse_npy(const std::byte* data, size_t size, std::shared_ptr<const void> keep_alive,
                         std::string_view source);

}  // namespace nvf::tensor
