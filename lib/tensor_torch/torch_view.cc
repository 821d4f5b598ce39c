#include "tensor_torch/torch_view.h"

#include <ATen/ATen.h>

#include <memory>
#include <string>

namespace nvf::tensor_torch {

using tensor::DType;

c10::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kF64: return c10::ScalarType::Double;
    case DType::kF32: return c10::ScalarType::Float;
    case DType::kF16: return c10::ScalarType::Half;
    case DType::kBF16: return c10::ScalarType::BFloat16;
    case DType::kI64: return c10::ScalarType::Long;
    case DType::kI32: return c10::ScalarType::Int;
    case DType::kI16: return c10::ScalarType::Short;
    case DType::kI8: return c10::ScalarType::Char;
    case DType::kU8: return c10::ScalarType::Byte;
    case DType::kBool: return c10::ScalarType::Bool;
  }
  NVF_CHECK(false);
  return c10::ScalarType::Float;
}

Result<DType> from_scalar_type(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Double: return DType::kF64;
    case c10::ScalarType::Float: return DType::kF32;
    case c10::ScalarType::Half: return DType::kF16;
    case c10::ScalarType::BFloat16: return DType::kBF16;
    case c10::ScalarType::Long: return DType::kI64;
    case c10::ScalarType::Int: return DType::kI32;
    case c10::ScalarType::Short: return DType::kI16;
    case c10::ScalarType::Char: return DType::kI8;
    case c10::ScalarType::Byte: return DType::kU8;
    case c10::ScalarType::Bool: return DType::kBool;
    default:
      return InvalidArgumentError(std::string("torch dtype ") + c10::toString(type) +
                                  " is not supported; convert the tensor to a float or integer type");
  }
}

at::Tensor to_torch(const tensor::Tensor& t) {
  std::vector<int64_t> sizes(t.shape().begin(), t.shape().end());
  auto options = at::TensorOptions().dtype(to_scalar_type(t.dtype())).device(at::kCPU);
  if (t.nbytes() == 0) return at::empty(sizes, options);
  // The deleter holds the source's memory until torch lets go of the storage.
  auto keep = new std::shared_ptr<const void>(t.keep_alive());
  void* data = const_cast<std::byte*>(t.data());
  return at::from_blob(
      data, sizes, [keep](void*) { delete keep; }, options);
}

Result<tensor::Tensor> from_torch(const at::Tensor& t) {
  if (!t.defined()) return InvalidArgumentError("undefined torch tensor");
  if (!t.device().is_cpu()) return InvalidArgumentError("torch tensor is not on the CPU; call .cpu() first");
  if (t.layout() != at::kStrided) return InvalidArgumentError("sparse torch tensors are not supported");
  if (!t.is_contiguous()) return InvalidArgumentError("torch tensor is not contiguous; call .contiguous() first");
  NVF_ASSIGN_OR_RETURN(DType dtype, from_scalar_type(t.scalar_type()));
  tensor::Shape shape(t.sizes().begin(), t.sizes().end());
  size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  auto holder = std::make_shared<at::Tensor>(t);
  const std::byte* data = nbytes ? static_cast<const std::byte*>(t.data_ptr()) : nullptr;
  return tensor::Tensor::borrow(dtype, std::move(shape), data, nbytes, std::shared_ptr<const void>(holder, holder.get()));
}

}  // namespace nvf::tensor_torch
