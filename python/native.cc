// nvflare._native: the Python face of the native Client API (include/nvflare/client.h). The
// package `nvflare.client` (python/nvflare/client/) is written on it; nothing of the protocol is
// implemented in Python.
//
// Tensors cross the boundary as (name, dtype, shape, array) where `array` is a flat NumPy array of
// the dtype's bytes: received params are views of the received buffers (no copy; the array keeps
// them alive), params to send are copied once into native buffers. The dtype is the safetensors
// name ("F32", "BF16", ...); Python maps it to NumPy or torch dtypes.
//
// Threads: every call that waits (connect, receive, send) releases the GIL. One Client per
// process, called from one thread at a time (as the C++ API).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nvflare/client.h"

namespace py = pybind11;

namespace {

using nvf::tensor::DType;

// The error a Python caller sees: RuntimeError with the native message (and the status code name
// first, so scripts can tell a timeout from a refusal).
[[noreturn]] void raise(const nvf::Status& s) { throw std::runtime_error(s.to_string()); }

// A flat array over the tensor's bytes with the NumPy dtype of the same width; the capsule keeps
// the native memory alive as long as the array (or any view of it) lives.
py::array array_of(const nvf::tensor::Tensor& t) {
  auto* keep = new std::shared_ptr<const void>(t.keep_alive());
  py::capsule owner(keep, [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); });
  const size_t elem = nvf::tensor::dtype_size(t.dtype());
  py::dtype dt;
  switch (t.dtype()) {
    case DType::kF64: dt = py::dtype("<f8"); break;
    case DType::kF32: dt = py::dtype("<f4"); break;
    case DType::kF16: dt = py::dtype("<f2"); break;
    case DType::kBF16: dt = py::dtype("<u2"); break;  // NumPy has no bfloat16: its bits
    case DType::kI64: dt = py::dtype("<i8"); break;
    case DType::kI32: dt = py::dtype("<i4"); break;
    case DType::kI16: dt = py::dtype("<i2"); break;
    case DType::kI8: dt = py::dtype("|i1"); break;
    case DType::kU8: dt = py::dtype("|u1"); break;
    case DType::kBool: dt = py::dtype("|b1"); break;
  }
  const std::vector<py::ssize_t> shape = {static_cast<py::ssize_t>(t.numel())};
  const std::vector<py::ssize_t> strides = {static_cast<py::ssize_t>(elem)};
  // An empty tensor may have no data pointer; NumPy wants one all the same.
  static const std::byte kEmpty[8] = {};
  const void* data = t.nbytes() == 0 ? static_cast<const void*>(kEmpty) : static_cast<const void*>(t.data());
  return py::array(dt, shape, strides, data, owner);
}

py::tuple tensors_of(const nvf::tensor::TensorDict& params) {
  py::list out;
  for (const auto& [name, t] : params) {
    out.append(py::make_tuple(name, std::string(nvf::tensor::safetensors_name(t.dtype())), py::cast(t.shape()),
                              array_of(t)));
  }
  return py::tuple(out);
}

// (name, dtype name, shape, bytes-like) entries → an owned TensorDict (one copy of each buffer).
nvf::tensor::TensorDict tensors_from(const py::list& entries) {
  nvf::tensor::TensorDict out;
  for (const auto& item : entries) {
    auto entry = item.cast<py::tuple>();
    if (entry.size() != 4) throw std::invalid_argument("a param entry is (name, dtype, shape, buffer)");
    const auto name = entry[0].cast<std::string>();
    auto dtype = nvf::tensor::parse_safetensors_dtype(entry[1].cast<std::string>());
    if (!dtype.ok()) throw std::invalid_argument("param '" + name + "': " + dtype.status().message());
    const auto shape = entry[2].cast<std::vector<int64_t>>();
    py::buffer buf = entry[3].cast<py::buffer>();
    py::buffer_info info = buf.request();
    auto t = nvf::tensor::Tensor::uninitialized(*dtype, shape);
    if (!t.ok()) throw std::invalid_argument("param '" + name + "': " + t.status().message());
    const size_t have = static_cast<size_t>(info.size) * static_cast<size_t>(info.itemsize);
    if (have != t->nbytes()) {
      throw std::invalid_argument("param '" + name + "': " + std::to_string(have) + " bytes for " +
                                  std::to_string(t->nbytes()) + " (" + std::string(nvf::tensor::safetensors_name(*dtype)) +
                                  " " + nvf::tensor::shape_to_string(shape) + ")");
    }
    // C-contiguous only (the Python side passes np.ascontiguousarray / tensor.contiguous()).
    py::ssize_t expect = info.itemsize;
    for (py::ssize_t d = info.ndim - 1; d >= 0; --d) {
      if (info.shape[static_cast<size_t>(d)] > 1 && info.strides[static_cast<size_t>(d)] != expect) {
        throw std::invalid_argument("param '" + name + "': the buffer is not C-contiguous");
      }
      expect *= info.shape[static_cast<size_t>(d)];
    }
    if (have > 0) std::memcpy(t->mutable_data(), info.ptr, have);
    auto s = out.insert(name, std::move(*t));
    if (!s.ok()) throw std::invalid_argument(s.message());
  }
  return out;
}

class PyClient {
 public:
  explicit PyClient(std::unique_ptr<nvflare::Client> c, nvflare::ClientConfig cfg)
      : client_(std::move(c)), cfg_(std::move(cfg)) {}

  static std::unique_ptr<PyClient> connect() {
    auto cfg = nvflare::ClientConfig::from_environment();
    if (!cfg.ok()) raise(cfg.status());
    nvf::Result<std::unique_ptr<nvflare::Client>> c = nvf::UnavailableError("");
    {
      py::gil_scoped_release nogil;
      c = nvflare::Client::connect(*cfg);
    }
    if (!c.ok()) raise(c.status());
    return std::make_unique<PyClient>(std::move(*c), std::move(*cfg));
  }

  // None at the end of the run; else a dict of the task.
  py::object receive() {
    nvf::Result<std::optional<nvflare::FLModel>> r = std::optional<nvflare::FLModel>();
    {
      py::gil_scoped_release nogil;
      r = client_->receive();
    }
    if (!r.ok()) raise(r.status());
    if (!*r) return py::none();
    const nvflare::FLModel& m = **r;
    py::dict d;
    d["task_name"] = client_->task_name();
    d["header"] = nvf::fl::encode_fl_model_header(m);
    d["params"] = tensors_of(m.params);
    return std::move(d);
  }

  void send(const std::string& header, const py::list& params) {
    auto m = nvf::fl::decode_fl_model_header(header);
    if (!m.ok()) raise(m.status());
    m->params = tensors_from(params);
    nvf::Status s;
    {
      py::gil_scoped_release nogil;
      s = client_->send(*m);
    }
    if (!s.ok()) raise(s);
  }

  void log_scalar(const std::string& tag, double value, int64_t step) {
    nvf::Status s;
    {
      py::gil_scoped_release nogil;
      s = client_->log_scalar(tag, value, step);
    }
    if (!s.ok()) raise(s);
  }

  void log_scalars(const std::string& tag, const std::map<std::string, double>& values, int64_t step) {
    nvf::Status s;
    {
      py::gil_scoped_release nogil;
      s = client_->log_scalars(tag, values, step);
    }
    if (!s.ok()) raise(s);
  }

  bool is_running() const { return client_->is_running(); }
  std::string site_name() const { return client_->site_name(); }
  std::string job_id() const { return client_->job_id(); }
  std::string task_name() const { return client_->task_name(); }
  std::string params_transfer_type() const { return cfg_.params_transfer_type; }

  void shutdown() {
    py::gil_scoped_release nogil;
    client_->shutdown();
  }

 private:
  std::unique_ptr<nvflare::Client> client_;
  nvflare::ClientConfig cfg_;
};

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "The native nvflare Client API (use nvflare.client)";
  py::class_<PyClient>(m, "Client")
      .def_static("connect", &PyClient::connect,
                  "Connects to the client job named by the environment its launcher set.")
      .def("receive", &PyClient::receive)
      .def("send", &PyClient::send, py::arg("header"), py::arg("params"))
      .def("log_scalar", &PyClient::log_scalar, py::arg("tag"), py::arg("value"), py::arg("step"))
      .def("log_scalars", &PyClient::log_scalars, py::arg("tag"), py::arg("values"), py::arg("step"))
      .def("is_running", &PyClient::is_running)
      .def("site_name", &PyClient::site_name)
      .def("job_id", &PyClient::job_id)
      .def("task_name", &PyClient::task_name)
      .def("params_transfer_type", &PyClient::params_transfer_type)
      .def("shutdown", &PyClient::shutdown);
  m.def("safetensors_dtypes", [] {
    std::vector<std::string> out;
    for (auto d : nvf::tensor::kAllDTypes) out.emplace_back(nvf::tensor::safetensors_name(d));
    return out;
  });
}
