#include "tensor/tensor.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include "base/prefault.h"

namespace nvf::tensor {

namespace {

constexpr std::align_val_t kAlignment{64};
constexpr size_t kPopulateBytes = size_t{1} << 20;
constexpr size_t kMappedBytes = size_t{4} << 20;  // from here on: a mapping of its own
constexpr size_t kHugePage = size_t{2} << 20;

// NVFLARE_HUGE_PAGES=0 keeps large tensors on 4 KiB pages (decisions 013 and 027); read once.
bool huge_pages_wanted() {
  static const bool wanted = [] {
    const char* v = std::getenv("NVFLARE_HUGE_PAGES");
    return v == nullptr || std::string_view(v) != "0";
  }();
  return wanted;
}

// `size` bytes (rounded up to whole pages) of fresh zero pages starting on a 2 MiB boundary, so
// that every whole 2 MiB of the tensor can be one huge page. Null when the memory is not there.
std::byte* map_on_huge_boundary(size_t size) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t length = (size + page - 1) & ~(page - 1);
  const size_t reserve = length + kHugePage;
  void* raw = ::mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t at = (begin + kHugePage - 1) & ~(kHugePage - 1);
  if (at > begin) ::munmap(raw, at - begin);  // only address space, never touched: cannot fail
  if (begin + reserve > at + length) ::munmap(reinterpret_cast<void*>(at + length), begin + reserve - at - length);
  return reinterpret_cast<std::byte*>(at);
}

// A tensor of 4 MiB or more gets a mapping of its own, on transparent huge pages unless
// NVFLARE_HUGE_PAGES=0, and - with kPopulated - all its pages at once (decision 027; on the
// measured VMs a first touch page by page cost 2-4x more). Smaller ones come from the heap.
std::shared_ptr<std::byte> allocate(size_t size, Tensor::Pages pages) {
  if (size == 0) return nullptr;
  if (size >= kMappedBytes) {
    std::byte* p = map_on_huge_boundary(size);
    if (p == nullptr) return nullptr;
    if (huge_pages_wanted()) ::madvise(p, size, MADV_HUGEPAGE);  // advice: ignored where unsupported
    if (pages == Tensor::Pages::kPopulated) base::populate_pages(p, size);
    return std::shared_ptr<std::byte>(p, [size](std::byte* q) { ::munmap(q, size); });
  }
  void* p = ::operator new[](size, kAlignment, std::nothrow);
  if (p == nullptr) return nullptr;
  if (pages == Tensor::Pages::kPopulated && size >= kPopulateBytes) {
    base::populate_pages(static_cast<std::byte*>(p), size);
  }
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p),
                                    [](std::byte* q) { ::operator delete[](q, kAlignment); });
}

template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
void store(std::byte* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

}  // namespace

Result<int64_t> shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return InvalidArgumentError("shape " + shape_to_string(shape) + " has a negative dimension");
    }
    if (__builtin_mul_overflow(n, d, &n)) {
      return InvalidArgumentError("shape " + shape_to_string(shape) + " has too many elements");
    }
  }
  return n;
}

Result<uint64_t> shape_nbytes(DType dtype, const Shape& shape) {
  NVF_ASSIGN_OR_RETURN(int64_t n, shape_numel(shape));
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(n), dtype_size(dtype), &bytes) ||
      bytes > static_cast<uint64_t>(INT64_MAX)) {
    return InvalidArgumentError("shape " + shape_to_string(shape) + " is too large");
  }
  return bytes;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor() = default;

Result<Tensor> Tensor::uninitialized(DType dtype, Shape shape, Pages pages) {
  NVF_ASSIGN_OR_RETURN(uint64_t bytes, shape_nbytes(dtype, shape));
  if (bytes > SIZE_MAX)
    return ResourceExhaustedError("tensor of " + std::to_string(bytes) + " bytes");
  Tensor t;
  t.owned_ = allocate(static_cast<size_t>(bytes), pages);
  if (bytes > 0 && t.owned_ == nullptr) {
    return ResourceExhaustedError("cannot allocate " + std::to_string(bytes) + " bytes for a " +
                                  std::string(safetensors_name(dtype)) + " tensor of shape " +
                                  shape_to_string(shape));
  }
  t.dtype_ = dtype;
  t.numel_ = *shape_numel(shape);
  t.shape_ = std::move(shape);
  t.nbytes_ = static_cast<size_t>(bytes);
  t.data_ = t.owned_.get();
  return t;
}

Result<Tensor> Tensor::zeros(DType dtype, Shape shape) {
  NVF_ASSIGN_OR_RETURN(Tensor t, uninitialized(dtype, std::move(shape)));
  // A mapping of its own is fresh zero pages already; heap memory may hold old bytes.
  if (t.nbytes_ > 0 && t.nbytes_ < kMappedBytes) std::memset(t.owned_.get(), 0, t.nbytes_);
  return t;
}

Result<Tensor> Tensor::borrow(DType dtype, Shape shape, const std::byte* data, size_t size,
                              std::shared_ptr<const void> keep_alive) {
  NVF_ASSIGN_OR_RETURN(uint64_t bytes, shape_nbytes(dtype, shape));
  if (bytes != size) {
    return InvalidArgumentError("a " + std::string(safetensors_name(dtype)) + " tensor of shape " +
                                shape_to_string(shape) + " needs " + std::to_string(bytes) +
                                " bytes, got " + std::to_string(size));
  }
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = *shape_numel(shape);
  t.shape_ = std::move(shape);
  t.nbytes_ = size;
  t.data_ = data;
  t.keep_alive_ = std::move(keep_alive);
  return t;
}

Tensor Tensor::from_doubles(DType dtype, Shape shape, const std::vector<double>& values) {
  auto t = zeros(dtype, std::move(shape));
  NVF_CHECK(t.ok());
  NVF_CHECK(static_cast<size_t>(t->numel()) == values.size());
  std::byte* out = t->mutable_data();
  const size_t es = dtype_size(dtype);
  for (size_t i = 0; i < values.size(); ++i) {
    std::byte* p = out + i * es;
    const double v = values[i];
    switch (dtype) {
      case DType::kF64:
        store<double>(p, v);
        break;
      case DType::kF32:
        store<float>(p, static_cast<float>(v));
        break;
      case DType::kF16:
        store<uint16_t>(p, float_to_half(static_cast<float>(v)));
        break;
      case DType::kBF16:
        store<uint16_t>(p, float_to_bf16(static_cast<float>(v)));
        break;
      case DType::kI64:
        store<int64_t>(p, static_cast<int64_t>(v));
        break;
      case DType::kI32:
        store<int32_t>(p, static_cast<int32_t>(v));
        break;
      case DType::kI16:
        store<int16_t>(p, static_cast<int16_t>(v));
        break;
      case DType::kI8:
        store<int8_t>(p, static_cast<int8_t>(v));
        break;
      case DType::kU8:
        store<uint8_t>(p, static_cast<uint8_t>(v));
        break;
      case DType::kBool:
        store<uint8_t>(p, v != 0.0 ? 1 : 0);
        break;
    }
  }
  return std::move(t).value();
}

std::byte* Tensor::mutable_data() {
  NVF_CHECK(is_owned());
  return owned_.get();
}

double Tensor::value_as_double(size_t i) const {
  NVF_CHECK(i < static_cast<size_t>(numel_));
  const std::byte* p = data_ + i * dtype_size(dtype_);
  switch (dtype_) {
    case DType::kF64:
      return load<double>(p);
    case DType::kF32:
      return load<float>(p);
    case DType::kF16:
      return half_to_float(load<uint16_t>(p));
    case DType::kBF16:
      return bf16_to_float(load<uint16_t>(p));
    case DType::kI64:
      return static_cast<double>(load<int64_t>(p));
    case DType::kI32:
      return load<int32_t>(p);
    case DType::kI16:
      return load<int16_t>(p);
    case DType::kI8:
      return load<int8_t>(p);
    case DType::kU8:
      return load<uint8_t>(p);
    case DType::kBool:
      return load<uint8_t>(p) != 0 ? 1.0 : 0.0;
  }
  return 0.0;
}

std::vector<double> Tensor::to_doubles() const {
  std::vector<double> out(static_cast<size_t>(numel_));
  for (size_t i = 0; i < out.size(); ++i) out[i] = value_as_double(i);
  return out;
}

std::shared_ptr<const void> Tensor::keep_alive() const {
  if (owned_) return std::shared_ptr<const void>(owned_, owned_.get());
  return keep_alive_;
}

Tensor Tensor::share() const {
  Tensor t;
  t.dtype_ = dtype_;
  t.shape_ = shape_;
  t.numel_ = numel_;
  t.nbytes_ = nbytes_;
  t.data_ = data_;
  t.keep_alive_ = keep_alive();
  return t;
}

Tensor Tensor::alias() const {
  Tensor t = share();
  if (owned_) {
    t.keep_alive_.reset();
    t.owned_ = owned_;
  }
  return t;
}

Result<Tensor> Tensor::clone() const {
  NVF_ASSIGN_OR_RETURN(Tensor t, uninitialized(dtype_, shape_));  // every byte is copied over
  if (nbytes_ > 0) std::memcpy(t.mutable_data(), data_, nbytes_);
  return t;
}

Status Tensor::make_owned() {
  if (owned_ != nullptr || nbytes_ == 0) {
    keep_alive_.reset();
    return Status::OK();
  }
  NVF_ASSIGN_OR_RETURN(Tensor t, clone());
  *this = std::move(t);
  return Status::OK();
}

Status TensorDict::insert(std::string name, Tensor tensor) {
  if (index_.count(name) != 0) {
    return AlreadyExistsError("tensor '" + name + "' is already in the dict");
  }
  index_.emplace(name, entries_.size());
  entries_.emplace_back(std::move(name), std::move(tensor));
  return Status::OK();
}

void TensorDict::insert_or_assign(std::string name, Tensor tensor) {
  if (auto it = index_.find(name); it != index_.end()) {
    entries_[it->second].second = std::move(tensor);
    return;
  }
  index_.emplace(name, entries_.size());
  entries_.emplace_back(std::move(name), std::move(tensor));
}

bool TensorDict::erase(std::string_view name) {
  auto it = index_.find(name);
  if (it == index_.end()) return false;
  const size_t pos = it->second;
  index_.erase(it);
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(pos));
  for (auto& [n, i] : index_) {
    if (i > pos) --i;
  }
  return true;
}

const Tensor* TensorDict::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Tensor* TensorDict::find(std::string_view name) {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

uint64_t TensorDict::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, t] : entries_) total += t.nbytes();
  return total;
}

std::vector<std::string> TensorDict::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, t] : entries_) out.push_back(name);
  return out;
}

}  // namespace nvf::tensor
