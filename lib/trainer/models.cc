#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/script.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "base/strings.h"
#include "trainer/model_internal.h"

namespace nvf::trainer {
namespace {

namespace fs = std::filesystem;
namespace nn = torch::nn;

// FLARE hello-pt's SimpleNetwork (the PyTorch CIFAR-10 tutorial net), same names and shapes.
class SimpleNetworkImpl : public nn::Module {
 public:
  SimpleNetworkImpl()
      : conv1_(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(3, 6, 5)))),
        pool_(register_module("pool", nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)))),
        conv2_(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(6, 16, 5)))),
        fc1_(register_module("fc1", nn::Linear(16 * 5 * 5, 120))),
        fc2_(register_module("fc2", nn::Linear(120, 84))),
        fc3_(register_module("fc3", nn::Linear(84, 10))) {}

  at::Tensor forward(const at::Tensor& input) {
    at::Tensor x = pool_->forward(conv1_->forward(input).relu());
    x = pool_->forward(conv2_->forward(x).relu());
    x = x.flatten(1);
    x = fc1_->forward(x).relu();
    x = fc2_->forward(x).relu();
    return fc3_->forward(x);
  }

 private:
  nn::Conv2d conv1_;
  nn::MaxPool2d pool_;
  nn::Conv2d conv2_;
  nn::Linear fc1_, fc2_, fc3_;
};

// Linear(in, hidden) - ReLU - Linear(hidden, classes) over flattened samples.
class MlpImpl : public nn::Module {
 public:
  MlpImpl(int64_t in, int64_t hidden, int64_t classes)
      : fc1_(register_module("fc1", nn::Linear(in, hidden))),
        fc2_(register_module("fc2", nn::Linear(hidden, classes))) {}

  at::Tensor forward(const at::Tensor& input) {
    return fc2_->forward(fc1_->forward(input.flatten(1)).relu());
  }

 private:
  nn::Linear fc1_, fc2_;
};

constexpr int64_t kMlpHidden = 64;

bool parse_size(const std::string& s, int64_t& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && out >= 1;
}

// PyTorch's state_dict order over a tree of torch::nn modules.
std::vector<StateEntry> nn_state(nn::Module& root) {
  std::vector<StateEntry> out;
  for (const auto& item : root.named_modules("", /*include_self=*/true)) {
    std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
      out.push_back({prefix + p.key(), p.value(), true});
    }
    for (const auto& b : item.value()->named_buffers(/*recurse=*/false)) {
      out.push_back({prefix + b.key(), b.value(), false});
    }
  }
  return out;
}

// PyTorch's default Conv/Linear initialization (kaiming_uniform with a=sqrt(5) for weights, and
// the same bound for biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))) drawn from our own generator, so
// initial weights depend on `seed` only, not on LibTorch's process-wide generator.
void init_uniform(nn::Module& root, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (const auto& item : root.named_modules("", true)) {
    auto params = item.value()->named_parameters(false);
    const at::Tensor* weight = params.find("weight");
    if (weight == nullptr || weight->dim() < 2) continue;
    double fan_in = static_cast<double>(weight->numel() / weight->size(0));
    double bound = 1.0 / std::sqrt(fan_in);
    for (auto& p : params) p.value().uniform_(-bound, bound, gen);
  }
}

template <typename ModuleImpl>
class BuiltinModel : public Model {
 public:
  explicit BuiltinModel(std::shared_ptr<ModuleImpl> module) : module_(std::move(module)) {}
  at::Tensor forward(const at::Tensor& x) override { return module_->forward(x); }
  std::vector<StateEntry> state() override { return nn_state(*module_); }
  void set_training(bool on) override { module_->train(on); }

 private:
  std::shared_ptr<ModuleImpl> module_;
};

class ScriptModel : public Model {
 public:
  ScriptModel(torch::jit::Module module, std::string path)
      : module_(std::move(module)), path_(std::move(path)) {}

  at::Tensor forward(const at::Tensor& x) override {
    // Feed the batch in the dtype of the model's weights (a model saved as double stays double).
    at::ScalarType dtype = at::kFloat;
    for (const auto& p : module_.parameters()) {
      dtype = p.scalar_type();
      break;
    }
    c10::IValue out = module_.forward({x.to(dtype)});
    if (out.isTuple()) out = out.toTupleRef().elements().at(0);  // (logits, ...) outputs
    TORCH_CHECK(out.isTensor(), "the forward of TorchScript model ", path_, " returned a ",
                out.tagKind(), ", not a tensor of logits");
    return out.toTensor();
  }

  std::vector<StateEntry> state() override {
    std::vector<StateEntry> out;
    for (const auto& m : module_.named_modules()) {
      std::string prefix = m.name.empty() ? "" : m.name + ".";
      for (const auto& p : m.value.named_parameters(/*recurse=*/false)) {
        out.push_back({prefix + p.name, p.value, true});
      }
      for (const auto& b : m.value.named_buffers(/*recurse=*/false)) {
        out.push_back({prefix + b.name, b.value, false});
      }
    }
    return out;
  }

  void set_training(bool on) override { module_.train(on); }

 private:
  torch::jit::Module module_;
  std::string path_;
};

Result<std::unique_ptr<Model>> load_script(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return InvalidArgumentError("model '" + path + "': no such file (expected simple_network, " +
                                "mlp, mlp:IN:CLASSES or a TorchScript .pt file)");
  }
  try {
    torch::jit::Module module = torch::jit::load(path);
    return std::unique_ptr<Model>(std::make_unique<ScriptModel>(std::move(module), path));
  } catch (const c10::Error& e) {
    return InvalidArgumentError(
        "model '" + path + "' is not a loadable TorchScript file (save " +
        "it with torch.jit.script(model).save(path)): " + e.what_without_backtrace());
  }
}

Status check_simple_network(const DataShape& data) {
  if (!data.sample_shape.empty() && data.sample_shape != tensor::Shape{3, 32, 32}) {
    return InvalidArgumentError(
        "model simple_network takes samples of shape [3, 32, 32], the " + std::string("data has ") +
        tensor::shape_to_string(data.sample_shape) + " (use model mlp or a TorchScript model)");
  }
  if (data.num_classes > 10) {
    return InvalidArgumentError("model simple_network has 10 outputs, the data has labels up to " +
                                std::to_string(data.num_classes - 1));
  }
  return Status::OK();
}

Result<std::unique_ptr<Model>> make_mlp(std::string_view spec, const DataShape& data,
                                        uint64_t seed) {
  int64_t in = 0, classes = 0;
  if (!data.sample_shape.empty()) {
    in = 1;
    for (int64_t d : data.sample_shape) in *= d;
  }
  classes = data.num_classes;
  if (spec != "mlp") {  // mlp:IN:CLASSES
    auto parts = base::split(spec.substr(4), ':');
    int64_t v_in = 0, v_classes = 0;
    if (parts.size() != 2 || !parse_size(parts[0], v_in) || !parse_size(parts[1], v_classes)) {
      return InvalidArgumentError("model '" + std::string(spec) +
                                  "': expected mlp or mlp:IN:CLASSES with positive sizes");
    }
    if ((in != 0 && in != v_in) || v_classes < classes) {
      return InvalidArgumentError("model '" + std::string(spec) +
                                  "' does not fit the data: " + std::to_string(in) + " features, " +
                                  std::to_string(classes) + " classes");
    }
    in = v_in;
    classes = v_classes;
  }
  if (in == 0 || classes == 0) {
    return InvalidArgumentError(
        "model mlp takes its sizes from the data; without data write "
        "mlp:IN:CLASSES");
  }
  auto module = std::make_shared<MlpImpl>(in, kMlpHidden, classes);
  init_uniform(*module, seed);
  return std::unique_ptr<Model>(std::make_unique<BuiltinModel<MlpImpl>>(std::move(module)));
}

}  // namespace

Result<std::unique_ptr<Model>> make_model(const std::string& spec, const DataShape& data,
                                          uint64_t seed) {
  try {
    if (spec == "simple_network") {
      NVF_RETURN_IF_ERROR(check_simple_network(data));
      auto module = std::make_shared<SimpleNetworkImpl>();
      init_uniform(*module, seed);
      return std::unique_ptr<Model>(
          std::make_unique<BuiltinModel<SimpleNetworkImpl>>(std::move(module)));
    }
    if (spec == "mlp" || spec.starts_with("mlp:")) return make_mlp(spec, data, seed);
    return load_script(spec);
  } catch (const c10::Error& e) {
    return InternalError("building model '" + spec + "': " + e.what_without_backtrace());
  }
}

}  // namespace nvf::trainer
