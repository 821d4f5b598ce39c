#include "tensor/accumulate.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace nvf::tensor {

namespace {

// g++ -O2 uses the "very cheap" vectorizer cost model, which only vectorizes loops whose trip
// count is a known multiple of the vector width: a fixed-size inner block satisfies it, and the
// short tail runs scalar.
constexpr size_t kBlock = 16;

template <typename A, typename X, typename Convert>
inline void axpy(A* __restrict acc, const X* __restrict x, size_t n, A w, Convert convert) {
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    A* __restrict a = acc + i;
    const X* __restrict b = x + i;
    for (size_t j = 0; j < kBlock; ++j) a[j] += w * convert(b[j]);
  }
  for (; i < n; ++i) acc[i] += w * convert(x[i]);
}

template <typename A>
inline void scale_impl(A* __restrict acc, size_t n, A s) {
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    A* __restrict a = acc + i;
    for (size_t j = 0; j < kBlock; ++j) a[j] *= s;
  }
  for (; i < n; ++i) acc[i] *= s;
}

template <typename A>
inline void divide_impl(A* __restrict acc, size_t n, A d) {
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    A* __restrict a = acc + i;
    for (size_t j = 0; j < kBlock; ++j) a[j] /= d;
  }
  for (; i < n; ++i) acc[i] /= d;
}

template <typename A, typename X>
inline A convert_plain(X v) {
  return static_cast<A>(v);
}

// Dispatch on the input dtype for an accumulator of type A; `x` is aligned to its element size.
template <typename A>
void accumulate_aligned(A* acc, DType x_dtype, const std::byte* x, size_t n, A w) {
  switch (x_dtype) {
    case DType::kF64:
      axpy(acc, reinterpret_cast<const double*>(x), n, w, convert_plain<A, double>);
      break;
    case DType::kF32:
      axpy(acc, reinterpret_cast<const float*>(x), n, w, convert_plain<A, float>);
      break;
    case DType::kF16:
      axpy(acc, reinterpret_cast<const uint16_t*>(x), n, w,
           [](uint16_t v) { return static_cast<A>(half_to_float(v)); });
      break;
    case DType::kBF16:
      axpy(acc, reinterpret_cast<const uint16_t*>(x), n, w,
           [](uint16_t v) { return static_cast<A>(bf16_to_float(v)); });
      break;
    case DType::kI64:
      axpy(acc, reinterpret_cast<const int64_t*>(x), n, w, convert_plain<A, int64_t>);
      break;
    case DType::kI32:
      axpy(acc, reinterpret_cast<const int32_t*>(x), n, w, convert_plain<A, int32_t>);
      break;
    case DType::kI16:
      axpy(acc, reinterpret_cast<const int16_t*>(x), n, w, convert_plain<A, int16_t>);
      break;
    case DType::kI8:
      axpy(acc, reinterpret_cast<const int8_t*>(x), n, w, convert_plain<A, int8_t>);
      break;
    case DType::kU8:
      axpy(acc, reinterpret_cast<const uint8_t*>(x), n, w, convert_plain<A, uint8_t>);
      break;
    case DType::kBool:
      axpy(acc, reinterpret_cast<const uint8_t*>(x), n, w,
           [](uint8_t v) { return v != 0 ? A(1) : A(0); });
      break;
  }
}

template <typename A>
void accumulate_any(A* acc, DType x_dtype, const std::byte* x, size_t n, A w) {
  const size_t es = dtype_size(x_dtype);
  if (reinterpret_cast<uintptr_t>(x) % es == 0) {
    accumulate_aligned(acc, x_dtype, x, n, w);
    return;
  }
  // Misaligned input: bounce through an aligned stack buffer (rare: offsets in a safetensors file
  // after an odd-sized tensor).
  alignas(64) std::byte buffer[16384];
  const size_t per_chunk = sizeof(buffer) / es;
  for (size_t done = 0; done < n; done += per_chunk) {
    const size_t count = std::min(per_chunk, n - done);
    std::memcpy(buffer, x + done * es, count * es);
    accumulate_aligned(acc + done, x_dtype, buffer, count, w);
  }
}

}  // namespace

void accumulate(float* __restrict acc, const float* __restrict x, size_t n, float w) {
  axpy(acc, x, n, w, convert_plain<float, float>);
}
void accumulate(double* __restrict acc, const double* __restrict x, size_t n, double w) {
  axpy(acc, x, n, w, convert_plain<double, double>);
}
void accumulate(double* __restrict acc, const float* __restrict x, size_t n, double w) {
  axpy(acc, x, n, w, convert_plain<double, float>);
}
void accumulate_f16(float* __restrict acc, const uint16_t* __restrict x, size_t n, float w) {
  axpy(acc, x, n, w, [](uint16_t v) { return half_to_float(v); });
}
void accumulate_f16(double* __restrict acc, const uint16_t* __restrict x, size_t n, double w) {
  axpy(acc, x, n, w, [](uint16_t v) { return static_cast<double>(half_to_float(v)); });
}
void accumulate_bf16(float* __restrict acc, const uint16_t* __restrict x, size_t n, float w) {
  axpy(acc, x, n, w, [](uint16_t v) { return bf16_to_float(v); });
}
void accumulate_bf16(double* __restrict acc, const uint16_t* __restrict x, size_t n, double w) {
  axpy(acc, x, n, w, [](uint16_t v) { return static_cast<double>(bf16_to_float(v)); });
}

void scale(float* acc, size_t n, float s) { scale_impl(acc, n, s); }
void scale(double* acc, size_t n, double s) { scale_impl(acc, n, s); }
void divide(float* acc, size_t n, float d) { divide_impl(acc, n, d); }
void divide(double* acc, size_t n, double d) { divide_impl(acc, n, d); }

Status accumulate_raw(DType acc_dtype, std::byte* acc, DType x_dtype, const std::byte* x,
                      size_t count, double w) {
  if (acc_dtype != DType::kF32 && acc_dtype != DType::kF64) {
    return InvalidArgumentError("an accumulator must be F32 or F64, not " +
                                std::string(safetensors_name(acc_dtype)));
  }
  if (reinterpret_cast<uintptr_t>(acc) % dtype_size(acc_dtype) != 0) {
    return InvalidArgumentError("the accumulator memory is not aligned to its element size");
  }
  if (count == 0) return Status::OK();
  if (acc_dtype == DType::kF32) {
    accumulate_any(reinterpret_cast<float*>(acc), x_dtype, x, count, static_cast<float>(w));
  } else {
    accumulate_any(reinterpret_cast<double*>(acc), x_dtype, x, count, w);
  }
  return Status::OK();
}

namespace {

std::string label(std::string_view name) {
  return name.empty() ? std::string("accumulate") : "tensor '" + std::string(name) + "'";
}

Status check_accumulator(const Tensor& acc, std::string_view name) {
  if (acc.dtype() != DType::kF32 && acc.dtype() != DType::kF64) {
    return InvalidArgumentError(label(name) + ": the accumulator must be F32 or F64, not " +
                                std::string(safetensors_name(acc.dtype())));
  }
  if (!acc.is_owned()) {
    return FailedPreconditionError(label(name) +
                                   ": the accumulator is a borrowed view; "
                                   "accumulate into an owned tensor (Tensor::zeros)");
  }
  return Status::OK();
}

}  // namespace

Status accumulate(Tensor& acc, const Tensor& x, double w, std::string_view name) {
  NVF_RETURN_IF_ERROR(check_accumulator(acc, name));
  if (acc.shape() != x.shape()) {
    return InvalidArgumentError(label(name) + ": shape " + shape_to_string(x.shape()) +
                                " does not match the accumulator's " +
                                shape_to_string(acc.shape()));
  }
  return accumulate_raw(acc.dtype(), acc.mutable_data(), x.dtype(), x.data(),
                        static_cast<size_t>(x.numel()), w);
}

Status scale(Tensor& acc, double s, std::string_view name) {
  NVF_RETURN_IF_ERROR(check_accumulator(acc, name));
  const auto n = static_cast<size_t>(acc.numel());
  if (n == 0) return Status::OK();
  if (acc.dtype() == DType::kF32) {
    scale(reinterpret_cast<float*>(acc.mutable_data()), n, static_cast<float>(s));
  } else {
    scale(reinterpret_cast<double*>(acc.mutable_data()), n, s);
  }
  return Status::OK();
}

namespace {

template <typename T>
double sum_of(const std::byte* p, size_t n) {
  // Four partial sums in double: vectorizable, and exact enough for a mean of any model size.
  double s[4] = {0, 0, 0, 0};
  size_t i = 0;
  if (reinterpret_cast<uintptr_t>(p) % alignof(T) == 0) {
    const T* x = reinterpret_cast<const T*>(p);
    for (; i + 4 <= n; i += 4) {
      s[0] += static_cast<double>(x[i]);
      s[1] += static_cast<double>(x[i + 1]);
      s[2] += static_cast<double>(x[i + 2]);
      s[3] += static_cast<double>(x[i + 3]);
    }
  }
  for (; i < n; ++i) {
    T v;
    std::memcpy(&v, p + i * sizeof(T), sizeof(T));
    s[0] += static_cast<double>(v);
  }
  return (s[0] + s[1]) + (s[2] + s[3]);
}

template <typename T>
void add_to(std::byte* p, size_t n, T v) {
  T* x = reinterpret_cast<T*>(p);  // owned tensors are 64-byte aligned
  for (size_t i = 0; i < n; ++i) x[i] += v;
}

}  // namespace

double sum(const Tensor& t) {
  const auto n = static_cast<size_t>(t.numel());
  switch (t.dtype()) {
    case DType::kF32:
      return sum_of<float>(t.data(), n);
    case DType::kF64:
      return sum_of<double>(t.data(), n);
    default: {
      double s = 0;
      for (size_t i = 0; i < n; ++i) s += t.value_as_double(i);
      return s;
    }
  }
}

Status add_scalar(Tensor& t, double v, std::string_view name) {
  if (!is_floating(t.dtype())) {
    return InvalidArgumentError(label(name) + ": cannot add a scalar to " +
                                std::string(safetensors_name(t.dtype())) + " values");
  }
  if (!t.is_owned()) return FailedPreconditionError(label(name) + " is borrowed; make it owned first");
  const auto n = static_cast<size_t>(t.numel());
  if (n == 0) return Status::OK();
  switch (t.dtype()) {
    case DType::kF32:
      add_to<float>(t.mutable_data(), n, static_cast<float>(v));
      return Status::OK();
    case DType::kF64:
      add_to<double>(t.mutable_data(), n, v);
      return Status::OK();
    default: {
      // F16 / BF16: widen, add, narrow, one element at a time.
      NVF_ASSIGN_OR_RETURN(Tensor wide, Tensor::zeros(DType::kF64, t.shape()));
      NVF_RETURN_IF_ERROR(accumulate(wide, t, 1.0, name));
      add_to<double>(wide.mutable_data(), n, v);
      Tensor back = Tensor::from_doubles(t.dtype(), t.shape(), wide.to_doubles());
      std::memcpy(t.mutable_data(), back.data(), t.nbytes());
      return Status::OK();
    }
  }
}

}  // namespace nvf::tensor
