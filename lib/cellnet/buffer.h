// Byte buffers made of ref-counted slices, so payloads move through cells and drivers without
// copies: a received frame's payload stays in the memory the driver read it into (or in gRPC's
// slices) and is forwarded, reassembled or handed to a tensor by reference.
//
// A Slice is an immutable view plus the owner that keeps its bytes alive. A Buffer is a list of
// slices. Both are values: copying shares the bytes (never duplicates them). Const methods are
// safe from several threads; mutation needs exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nvf::cellnet {

struct Slice {
  const std::byte* data = nullptr;
  size_t size = 0;
  std::shared_ptr<const void> owner;  // keeps `data` valid

  /// A slice that owns a copy of `bytes`.
  static Slice copy_of(std::string_view bytes);
  /// A slice that takes ownership of `s` (no copy of the characters).
  static Slice from_string(std::string s);
  /// A slice that owns a new buffer of `size` bytes, not initialized: the caller fills all of it
  /// through `out`, the writable pointer, before sharing the slice.
  static Slice allocate(size_t size, std::byte** out);
  /// A sub-range sharing the owner.
  Slice sub(size_t offset, size_t length) const;
  std::string_view view() const { return {reinterpret_cast<const char*>(data), size}; }
};

class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(Slice s) { append(std::move(s)); }

  void append(Slice s);
  void append(const Buffer& other);
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::vector<Slice>& slices() const { return slices_; }

  /// A sub-range [offset, offset+length) sharing the slices' owners (no copy).
  Buffer sub(size_t offset, size_t length) const;
  /// Copies out [offset, offset+length) into `dst`.
  void copy_to(size_t offset, size_t length, std::byte* dst) const;
  /// A single contiguous slice: the one slice when there is one, else a copy.
  Slice flatten() const;
  /// A copy of the bytes as a string (for small control payloads and tests).
  std::string to_string() const;

 private:
  std::vector<Slice> slices_;
  size_t size_ = 0;
};

/// Memory for received frames, handed out again once the frames that used it are gone: a
/// connection that receives a model in 2 MiB frames touches a few frames' worth of pages, not the
/// model's (on virtual machines the first touch of a page is the dearest thing a process does).
/// Blocks come back when the last Slice sharing them is dropped, from any thread; the pool keeps
/// at most `max_free_bytes` of them and frees the rest. Blocks are reused for requests of between
/// half and all of their size. Thread-safe; slices may outlive the pool.
class BufferPool {
 public:
  explicit BufferPool(size_t max_free_bytes = 32u << 20);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  /// Like Slice::allocate (not initialized; fill all of it through `out` before sharing).
  Slice allocate(size_t size, std::byte** out);
  /// Blocks waiting for reuse, and their bytes (tests, diagnostics).
  size_t free_blocks() const;
  size_t free_bytes() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace nvf::cellnet
