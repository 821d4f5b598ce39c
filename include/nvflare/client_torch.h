// Zero-copy views between our tensors (tensor::Tensor) and LibTorch's at::Tensor. This is the only
// module that includes LibTorch; a process links it only if it trains (DESIGN §4.3).
//
// Views share memory, not ownership rules: an at::Tensor made by to_torch() keeps the source's
// memory alive through its deleter, and a tensor::Tensor made by from_torch() keeps the torch
// storage alive through its keep-alive. Writing through a view writes the shared bytes; a view of a
// read-only mapping (a safetensors file opened by SafetensorsReader) must not be written. Stateless
// functions; the views follow the thread rules of the types they return.
#pragma once

#include <ATen/core/Tensor.h>

#include "nvflare/status.h"
#include "nvflare/tensor.h"

namespace nvf::tensor_torch {

/// Maps our dtype to LibTorch's scalar type (every DType has one).
c10::ScalarType to_scalar_type(tensor::DType dtype);

/// Maps LibTorch's scalar type to ours. Errors: INVALID_ARGUMENT for types we do not carry
/// (complex, quantized, ...), naming the type.
Result<tensor::DType> from_scalar_type(c10::ScalarType type);

/// An at::Tensor over the bytes of `t` on the CPU, without a copy.
at::Tensor to_torch(const tensor::Tensor& t);

/// A tensor::Tensor borrowing `t`'s bytes, without a copy. Errors: INVALID_ARGUMENT when `t` is
/// not a dense, contiguous CPU tensor (call .contiguous() first) or has an unsupported dtype.
Result<tensor::Tensor> from_torch(const at::Tensor& t);

}  // namespace nvf::tensor_torch
