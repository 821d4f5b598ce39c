// Tensor and TensorDict: named, typed, shaped bytes without copies.
//
// A Tensor is a dtype, a shape and a contiguous row-major byte range that it either owns (a 64-byte
// aligned heap buffer, writable through mutable_data()) or borrows (a pointer into memory kept
// alive by a shared_ptr, e.g. an mmap of a safetensors file or a received network buffer).
// Borrowing never copies. Tensors are move-only values; share() makes a cheap read-only view that
// keeps the same memory alive, clone() an owned deep copy. A TensorDict is an insertion-ordered
// name -> Tensor map.
//
// Threads: a Tensor or TensorDict is a value owned by whoever holds it; const methods may be called
// from several threads at once, mutation needs exclusive access. Borrowed bytes must not change
// while a view exists (the keep-alive only guarantees they stay mapped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nvflare/status.h"
#include "nvflare/dtype.h"

namespace nvf::tensor {

using Shape = std::vector<int64_t>;

/// Number of elements of `shape` (1 for a 0-dim scalar). Errors: INVALID_ARGUMENT for a negative
/// dimension or an element count that overflows int64.
Result<int64_t> shape_numel(const Shape& shape);

/// Bytes of a `dtype` tensor of `shape`. Errors: as shape_numel, plus overflow of the byte count.
Result<uint64_t> shape_nbytes(DType dtype, const Shape& shape);

/// "[2, 3]" for messages.
std::string shape_to_string(const Shape& shape);

class Tensor {
 public:
  /// An empty F32 tensor of shape [0].
  Tensor();
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  /// An owned tensor filled with zero bytes. Errors: INVALID_ARGUMENT (negative dims, overflow),
  /// RESOURCE_EXHAUSTED when the buffer cannot be allocated.
  static Result<Tensor> zeros(DType dtype, Shape shape);

  /// How a new tensor of 1 MiB or more gets its memory's pages. kPopulated: all at once when it
  /// is allocated (Linux MADV_POPULATE_WRITE), which on virtual machines costs a fraction of one
  /// fault per page at first write. kOnFirstWrite: as they are first written, for a caller that
  /// faults them in itself, ahead of its writes (a download). Tensors of 4 MiB or more also start on
  /// a 2 MiB boundary and ask for transparent huge pages (NVFLARE_HUGE_PAGES=0: 4 KiB pages only);
  /// docs/decisions/027-populated-tensors.md.
  enum class Pages { kPopulated, kOnFirstWrite };

  /// As zeros(), with the bytes left unset: for a caller that writes every byte next (a copy, a
  /// download), so the model's memory is touched once, not twice. Errors: as zeros().
  static Result<Tensor> uninitialized(DType dtype, Shape shape, Pages pages = Pages::kPopulated);

  /// A borrowed view of `size` bytes at `data`, kept valid by `keep_alive`. No copy.
  /// Errors: INVALID_ARGUMENT when `size` is not numel * dtype size (or the shape is invalid).
  static Result<Tensor> borrow(DType dtype, Shape shape, const std::byte* data, size_t size,
                               std::shared_ptr<const void> keep_alive);

  /// An owned tensor holding `values` (for tests and small constants). Aborts when the value count
  /// does not match the shape: that is a bug in the caller.
  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);

  /// An owned tensor of any dtype from double values (converted; F16/BF16 rounded to nearest even).
  /// Aborts when the value count does not match the shape.
  static Tensor from_doubles(DType dtype, Shape shape, const std::vector<double>& values);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return nbytes_; }
  bool is_owned() const { return owned_ != nullptr || nbytes_ == 0; }

  const std::byte* data() const { return data_; }
  /// Writable bytes. Aborts on a borrowed tensor (call make_owned() first).
  std::byte* mutable_data();

  /// Typed read-only view. Aborts when T does not match the dtype.
  template <typename T>
  std::span<const T> view() const {
    NVF_CHECK(dtype_of<T>() == dtype_);
    return {reinterpret_cast<const T*>(data_), static_cast<size_t>(numel_)};
  }
  /// Typed writable view of an owned tensor.
  template <typename T>
  std::span<T> mutable_view() {
    NVF_CHECK(dtype_of<T>() == dtype_);
    return {reinterpret_cast<T*>(mutable_data()), static_cast<size_t>(numel_)};
  }

  /// Element `i` converted to double (any dtype; for tests, messages and small reductions).
  double value_as_double(size_t i) const;
  /// All elements converted to double.
  std::vector<double> to_doubles() const;

  /// A borrowed view of the same bytes that shares ownership of them. No copy.
  Tensor share() const;
  /// For an owned tensor: a second owned handle on the same memory (writes through either are
  /// seen by both), for pools that hand a tensor's memory to its next contents. For a borrowed
  /// one: share(). No copy.
  Tensor alias() const;
  /// An owned deep copy. Errors: RESOURCE_EXHAUSTED.
  Result<Tensor> clone() const;
  /// Copies borrowed bytes into an owned buffer (no-op when already owned). Errors: as clone().
  Status make_owned();

  /// The memory keeping data() alive (the owned buffer or the borrowed keep-alive).
  std::shared_ptr<const void> keep_alive() const;

 private:
  DType dtype_ = DType::kF32;
  Shape shape_{0};
  int64_t numel_ = 0;
  size_t nbytes_ = 0;
  const std::byte* data_ = nullptr;
  std::shared_ptr<std::byte> owned_;        // set when owned (64-byte aligned)
  std::shared_ptr<const void> keep_alive_;  // set when borrowed
};

/// Insertion-ordered map of name -> Tensor. Move-only, like Tensor.
class TensorDict {
 public:
  using Entry = std::pair<std::string, Tensor>;

  TensorDict() = default;
  TensorDict(TensorDict&&) noexcept = default;
  TensorDict& operator=(TensorDict&&) noexcept = default;

  /// Adds a tensor at the end. Errors: ALREADY_EXISTS when the name is taken.
  Status insert(std::string name, Tensor tensor);
  /// Adds or replaces (a replaced tensor keeps its position).
  void insert_or_assign(std::string name, Tensor tensor);
  /// Removes a name; returns whether it existed. Later entries keep their order.
  bool erase(std::string_view name);

  const Tensor* find(std::string_view name) const;
  Tensor* find(std::string_view name);
  bool contains(std::string_view name) const { return find(name) != nullptr; }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  /// Sum of nbytes() over all tensors.
  uint64_t total_bytes() const;
  std::vector<std::string> names() const;

  const Entry& operator[](size_t i) const { return entries_[i]; }
  Entry& operator[](size_t i) { return entries_[i]; }
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }
  std::vector<Entry>::iterator begin() { return entries_.begin(); }
  std::vector<Entry>::iterator end() { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in entries_
};

template <typename T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  auto t = zeros(dtype_of<T>(), std::move(shape));
  NVF_CHECK(t.ok());
  NVF_CHECK(static_cast<size_t>(t->numel()) == values.size());
  auto out = t->template mutable_view<T>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  return std::move(t).value();
}

}  // namespace nvf::tensor
