// Weighted-accumulate kernels for aggregation: acc += w * x, and acc *= s.
//
// The raw kernels are plain loops over __restrict pointers, blocked so that g++ -O2 vectorizes
// them (its default cost model only vectorizes loops with a known trip count). `acc` and `x` must
// not overlap. The Tensor-level functions check dtypes and shapes, accept any input dtype into an
// F32 or F64 accumulator, and cope with input that is not aligned to its element size (views into
// safetensors data may not be).
//
// Stateless functions; safe from any thread as long as no two threads write the same accumulator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "tensor/tensor.h"

namespace nvf::tensor {

/// acc[i] += w * x[i] for i < n.
void accumulate(float* __restrict acc, const float* __restrict x, size_t n, float w);
void accumulate(double* __restrict acc, const double* __restrict x, size_t n, double w);
void accumulate(double* __restrict acc, const float* __restrict x, size_t n, double w);
/// x holds IEEE binary16 bits.
void accumulate_f16(float* __restrict acc, const uint16_t* __restrict x, size_t n, float w);
void accumulate_f16(double* __restrict acc, const uint16_t* __restrict x, size_t n, double w);
/// x holds bfloat16 bits.
void accumulate_bf16(float* __restrict acc, const uint16_t* __restrict x, size_t n, float w);
void accumulate_bf16(double* __restrict acc, const uint16_t* __restrict x, size_t n, double w);

/// acc[i] *= s for i < n.
void scale(float* acc, size_t n, float s);
void scale(double* acc, size_t n, double s);
/// acc[i] /= d for i < n: the same IEEE results as a scalar division (a mean stays what FLARE's
/// division gives, which multiplying by 1/d would not always), vectorized.
void divide(float* acc, size_t n, float d);
void divide(double* acc, size_t n, double d);

/// acc += w * x over `count` elements of raw memory: `acc_dtype` is F32 or F64, `x_dtype` any
/// dtype (Bool counts as 0/1). `x` may be unaligned; `acc` must be aligned to its element size.
/// Errors: INVALID_ARGUMENT for an accumulator dtype other than F32/F64 or a misaligned `acc`.
Status accumulate_raw(DType acc_dtype, std::byte* acc, DType x_dtype, const std::byte* x,
                      size_t count, double w);

/// acc += w * x. `acc` must be an owned F32 or F64 tensor; `x` any dtype of the same shape.
/// `name` (the tensor's name in its model) appears in messages.
/// Errors: INVALID_ARGUMENT (accumulator dtype, shape mismatch), FAILED_PRECONDITION (borrowed
/// accumulator).
Status accumulate(Tensor& acc, const Tensor& x, double w, std::string_view name = {});

/// acc *= s for an owned F32 or F64 tensor. Errors: as accumulate().
Status scale(Tensor& acc, double s, std::string_view name = {});

/// The sum of a tensor's elements as a double, read in place (no per-element conversion
/// buffer: a 1 GiB model is summed at memory speed). Any dtype; Bool counts as 0/1.
double sum(const Tensor& t);

/// t[i] += v in place, for an owned tensor of a floating dtype (F16 and BF16 round to nearest).
/// Errors: INVALID_ARGUMENT (not floating), FAILED_PRECONDITION (borrowed).
Status add_scalar(Tensor& t, double v, std::string_view name = {});

}  // namespace nvf::tensor
