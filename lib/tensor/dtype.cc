#include "tensor/dtype.h"

#include <string>

namespace nvf::tensor {

namespace {

struct DTypeInfo {
  DType dtype;
  size_t size;
  std::string_view safetensors;
  std::string_view npy;  // empty: no NumPy equivalent
  std::string_view torch_storage;
};

constexpr DTypeInfo kInfo[] = {
    {DType::kF64, 8, "F64", "<f8", "DoubleStorage"},
    {DType::kF32, 4, "F32", "<f4", "FloatStorage"},
    {DType::kF16, 2, "F16", "<f2", "HalfStorage"},
    {DType::kBF16, 2, "BF16", "", "BFloat16Storage"},
    {DType::kI64, 8, "I64", "<i8", "LongStorage"},
    {DType::kI32, 4, "I32", "<i4", "IntStorage"},
    {DType::kI16, 2, "I16", "<i2", "ShortStorage"},
    {DType::kI8, 1, "I8", "|i1", "CharStorage"},
    {DType::kU8, 1, "U8", "|u1", "ByteStorage"},
    {DType::kBool, 1, "BOOL", "|b1", "BoolStorage"},
};

const DTypeInfo& info(DType dtype) {
  const auto i = static_cast<size_t>(dtype);
  NVF_CHECK(i < std::size(kInfo));
  return kInfo[i];
}

}  // namespace

size_t dtype_size(DType dtype) { return info(dtype).size; }

bool is_floating(DType dtype) {
  return dtype == DType::kF64 || dtype == DType::kF32 || dtype == DType::kF16 ||
         dtype == DType::kBF16;
}

std::string_view safetensors_name(DType dtype) { return info(dtype).safetensors; }

Result<DType> parse_safetensors_dtype(std::string_view name) {
  for (const auto& i : kInfo) {
    if (i.safetensors == name) return i.dtype;
  }
  return InvalidArgumentError("unsupported dtype \"" + std::string(name) +
                              "\" (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
}

Result<std::string_view> npy_descr(DType dtype) {
  const auto& i = info(dtype);
  if (i.npy.empty()) {
    return InvalidArgumentError("dtype " + std::string(i.safetensors) +
                                " has no NumPy equivalent; convert it to F32 first");
  }
  return i.npy;
}

Result<DType> parse_npy_descr(std::string_view descr) {
  if (!descr.empty() && descr[0] == '>') {
    return InvalidArgumentError("big-endian dtype '" + std::string(descr) +
                                "' is not supported; save the array as little-endian");
  }
  std::string normalized(descr);
  // NumPy writes '|' for one-byte types and '<' otherwise; '=' means native (little) order.
  if (!normalized.empty() && normalized[0] == '=') normalized[0] = '<';
  for (const auto& i : kInfo) {
    if (i.npy.empty()) continue;
    if (i.npy == normalized) return i.dtype;
    if (i.size == 1 && normalized.size() == 3 && normalized[0] == '<' &&
        normalized.substr(1) == i.npy.substr(1)) {
      return i.dtype;
    }
  }
  return InvalidArgumentError("unsupported dtype '" + std::string(descr) +
                              "' (supported: <f8 <f4 <f2 <i8 <i4 <i2 |i1 |u1 |b1)");
}

std::string_view torch_storage_name(DType dtype) { return info(dtype).torch_storage; }

uint16_t float_to_half(float f) {
  // From the FP16 library (Marat Dukhan, MIT): scale into half range so the FPU does the rounding.
  const float scale_to_inf = std::bit_cast<float>(0x77800000u);
  const float scale_to_zero = std::bit_cast<float>(0x08800000u);
  const float abs_f = std::bit_cast<float>(std::bit_cast<uint32_t>(f) & 0x7FFFFFFFu);
  float base = (abs_f * scale_to_inf) * scale_to_zero;
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = std::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = std::bit_cast<uint32_t>(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

uint16_t float_to_bf16(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

}  // namespace nvf::tensor
