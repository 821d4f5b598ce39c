#include "workflows/model_zoo.h"

#include <charconv>
#include <cmath>
#include <random>

#include "base/strings.h"

namespace nvf::fl {
namespace {

ModelArchitecture simple_network() {
  ModelArchitecture a{"simple_network", {}};
  auto conv = [&](const std::string& n, int64_t out, int64_t in, int64_t k) {
    a.params.push_back({n + ".weight", {out, in, k, k}, in * k * k});
    a.params.push_back({n + ".bias", {out}, in * k * k});
  };
  auto linear = [&](const std::string& n, int64_t out, int64_t in) {
    a.params.push_back({n + ".weight", {out, in}, in});
    a.params.push_back({n + ".bias", {out}, in});
  };
  conv("conv1", 6, 3, 5);
  conv("conv2", 16, 6, 5);
  linear("fc1", 120, 16 * 5 * 5);
  linear("fc2", 84, 120);
  linear("fc3", 10, 84);
  return a;
}

Result<ModelArchitecture> mlp(std::string_view spec) {
  const auto parts = base::split(spec, ':');
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("model '" + std::string(spec) + "': " + why +
                                " (write mlp:IN:HIDDEN...:OUT, e.g. mlp:784:128:10)");
  };
  if (parts.size() < 3) return bad("needs at least an input and an output size");
  std::vector<int64_t> sizes;
  for (size_t i = 1; i < parts.size(); ++i) {
    int64_t v = 0;
    const auto& p = parts[i];
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || ptr != p.data() + p.size() || v <= 0 || v > (int64_t{1} << 31)) {
      return bad("size '" + p + "' is not a positive integer");
    }
    sizes.push_back(v);
  }
  ModelArchitecture a{
      "mlp:" + base::join(std::vector<std::string>(parts.begin() + 1, parts.end()), ":"), {}};
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    const std::string n = "fc" + std::to_string(i + 1);
    a.params.push_back({n + ".weight", {sizes[i + 1], sizes[i]}, sizes[i]});
    a.params.push_back({n + ".bias", {sizes[i + 1]}, sizes[i]});
  }
  return a;
}

}  // namespace

std::vector<std::string> model_zoo_names() { return {"simple_network", "mlp:IN:HIDDEN...:OUT"}; }

Result<ModelArchitecture> find_architecture(std::string_view name) {
  const std::string n(base::trim(name));
  const auto dot = n.rfind('.');
  const std::string cls = dot == std::string::npos ? n : n.substr(dot + 1);
  if (n == "simple_network" || cls == "SimpleNetwork") return simple_network();
  if (n.rfind("mlp:", 0) == 0) return mlp(n);
  return InvalidArgumentError("model '" + n + "' is not in the model zoo; available: " +
                              base::join(model_zoo_names(), ", "));
}

Result<tensor::TensorDict> init_model(const ModelArchitecture& arch, uint64_t seed) {
  std::mt19937_64 rng(seed);
  tensor::TensorDict out;
  for (const auto& p : arch.params) {
    NVF_ASSIGN_OR_RETURN(tensor::Tensor t, tensor::Tensor::zeros(tensor::DType::kF32, p.shape));
    const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.fan_in)));
    for (float& v : t.mutable_view<float>()) {
      // 24 random bits -> u in [0, 1); v in [-bound, bound).
      const float u = static_cast<float>(rng() >> 40) * 0x1p-24f;
      v = (2.0f * u - 1.0f) * bound;
    }
    NVF_RETURN_IF_ERROR(out.insert(p.name, std::move(t)));
  }
  return out;
}

}  // namespace nvf::fl
