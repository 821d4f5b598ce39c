// A small native model zoo: the state-dict layout (names, shapes) of the models our examples use,
// initialized like PyTorch's defaults WITHOUT LibTorch, so the server can create an initial global
// model (PTFileModelPersistor "model") in a process that never loads LibTorch.
//
// Architectures:
//   "simple_network" (also "SimpleNetwork" or any dotted path ending in ".SimpleNetwork"): FLARE's
//     hello-pt LeNet, conv1 [6,3,5,5] conv2 [16,6,5,5] fc1 [120,400] fc2 [84,120] fc3 [10,84],
//     each with a bias;
//   "mlp:IN:H1[:H2...]:OUT": Linear layers fc1..fcN (weight [out,in], bias [out]).
// Initialization: Conv2d/Linear.reset_parameters, i.e. every weight and bias drawn from
// uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5) reduces to that bound),
// fan_in = in_channels·kh·kw or in_features; float32; from a seeded mt19937_64 (same seed, same
// model on every platform; the values are not those torch.manual_seed would give).
//
// Stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "fl/component_registry.h"
#include "tensor/tensor.h"

namespace nvf::fl {

struct ParamSpec {
  std::string name;
  tensor::Shape shape;
  int64_t fan_in = 1;
};

struct ModelArchitecture {
  std::string name;  // canonical: "simple_network", "mlp:4:8:2"
  std::vector<ParamSpec> params;
};

/// The names a user may give, for messages: "simple_network", "mlp:IN:HIDDEN...:OUT".
std::vector<std::string> model_zoo_names();

/// Looks an architecture up by name (see the file comment). Errors: INVALID_ARGUMENT naming the
/// model and listing the zoo, or a malformed mlp spec (non-positive or non-numeric sizes, fewer
/// than two sizes).
Result<ModelArchitecture> find_architecture(std::string_view name);

/// A model class named in a config ({"id": "model", "path": "simple_network.SimpleNetwork"}),
/// which a persistor's "model" arg may refer to by id.
class ModelArchitectureComponent : public Component {
 public:
  explicit ModelArchitectureComponent(ModelArchitecture arch) : arch_(std::move(arch)) {}
  const ModelArchitecture& architecture() const { return arch_; }

 private:
  ModelArchitecture arch_;
};

/// Draws the initial parameters. Errors: RESOURCE_EXHAUSTED when a tensor cannot be allocated.
Result<tensor::TensorDict> init_model(const ModelArchitecture& arch, uint64_t seed);

}  // namespace nvf::fl
