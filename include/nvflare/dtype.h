// DType: the element types a tensor may hold, with their names in each file format we read or write
// (safetensors, NumPy .npy, PyTorch storage classes) and the half-precision conversions the
// accumulate kernels and tests need.
//
// Plain values and stateless functions: safe from any thread.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "nvflare/status.h"

namespace nvf::tensor {

enum class DType : uint8_t { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

/// Every dtype, in declaration order (for tests and tables).
inline constexpr DType kAllDTypes[] = {DType::kF64, DType::kF32, DType::kF16, DType::kBF16,
                                       DType::kI64, DType::kI32, DType::kI16, DType::kI8,
                                       DType::kU8,  DType::kBool};

/// Bytes per element.
size_t dtype_size(DType dtype);

/// True for F64, F32, F16 and BF16.
bool is_floating(DType dtype);

/// The safetensors name: "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL".
/// Also the name used in messages.
std::string_view safetensors_name(DType dtype);

/// Parses a safetensors dtype name. Errors: INVALID_ARGUMENT for a name we do not support (the
/// message lists the supported names).
Result<DType> parse_safetensors_dtype(std::string_view name);

/// The NumPy array-protocol descr ("<f4", "|u1", ...). Errors: INVALID_ARGUMENT for BF16, which
/// NumPy cannot represent.
Result<std::string_view> npy_descr(DType dtype);

/// Parses a NumPy descr. Errors: INVALID_ARGUMENT for big-endian descrs (">f4") and for types we
/// do not support (the message names the descr).
Result<DType> parse_npy_descr(std::string_view descr);

/// The PyTorch legacy storage class used by torch.save: "FloatStorage", "BFloat16Storage", ...
std::string_view torch_storage_name(DType dtype);

/// IEEE binary16 <-> binary32, round to nearest even; branch-free so loops over them vectorize.
inline float half_to_float(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  const float normalized =
      std::bit_cast<float>((two_w >> 4) + (0xE0u << 23)) * std::bit_cast<float>(0x7800000u);
  const float denormalized = std::bit_cast<float>((two_w >> 17) | (126u << 23)) - 0.5f;
  const uint32_t bits = two_w < (1u << 27) ? std::bit_cast<uint32_t>(denormalized)
                                           : std::bit_cast<uint32_t>(normalized);
  return std::bit_cast<float>(sign | bits);
}

uint16_t float_to_half(float f);

/// bfloat16 is the top half of a binary32.
inline float bf16_to_float(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

/// Round to nearest even; NaN stays NaN.
uint16_t float_to_bf16(float f);

/// The DType of a C++ element type (for Tensor::from_vector and typed views).
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<double>() {
  return DType::kF64;
}
template <>
constexpr DType dtype_of<float>() {
  return DType::kF32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::kI64;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::kI32;
}
template <>
constexpr DType dtype_of<int16_t>() {
  return DType::kI16;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::kI8;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::kU8;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::kBool;
}

}  // namespace nvf::tensor
