#include "workflows/fedopt.h"

#include <cmath>
#include <numbers>
#include <set>

#include "tensor/accumulate.h"

namespace nvf::workflows {
namespace {

using tensor::DType;
using tensor::Tensor;

std::string class_name(const config::Value& spec) {
  for (const char* key : {"path", "class_path", "name"}) {
    if (spec.contains(key) && spec[key].is_string()) {
      std::string p = spec[key].get<std::string>();
      auto dot = p.rfind('.');
      return dot == std::string::npos ? p : p.substr(dot + 1);
    }
  }
  return "";
}

Result<double> number_in(const config::Value& args, const char* key, double fallback, const std::string& where,
                         int num_rounds) {
  if (!args.contains(key)) return fallback;
  const config::Value& v = args[key];
  if (v.is_number()) return v.get<double>();
  if (v.is_string() && v.get<std::string>() == "{num_rounds}") return static_cast<double>(num_rounds);  // 0: later
  return InvalidArgumentError(where + ".args." + key + ": must be a number");
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// FLARE's {"path": "torch.optim.SGD", "args": {...}} (or just a name): the class's short name in
// lower case and its args (an object).
Result<std::pair<std::string, config::Value>> class_and_args(const config::Value& spec, const std::string& field) {
  if (!spec.is_object() && !spec.is_string()) {
    return InvalidArgumentError(field + ": must be an object {\"path\": ..., \"args\": {...}}");
  }
  std::string name = lower(spec.is_string() ? spec.get<std::string>() : class_name(spec));
  config::Value args = spec.is_object() && spec.contains("args") ? spec["args"] : config::Value::object();
  if (!args.is_object()) return InvalidArgumentError(field + ".args: must be an object");
  return std::pair{std::move(name), std::move(args)};
}

}  // namespace

Result<ServerOptimizerOptions> parse_server_optimizer(const config::Value& optimizer_args,
                                                      const config::Value& lr_scheduler_args, int num_rounds) {
  ServerOptimizerOptions o;
  if (!optimizer_args.is_null()) {
    NVF_ASSIGN_OR_RETURN(auto spec, class_and_args(optimizer_args, "optimizer_args"));
    const auto& [name, args] = spec;
    if (name == "sgd") {
      o.optimizer = "sgd";
    } else if (name == "adam") {
      o.optimizer = "adam";
    } else if (name == "fedadagrad" || name == "adagrad_reddi") {
      o.optimizer = "adagrad";
    } else if (name == "fedyogi" || name == "yogi") {
      o.optimizer = "yogi";
      o.beta2 = 0.99;
    } else if (name == "adagrad") {
      return InvalidArgumentError(
          "optimizer_args: torch.optim.Adagrad is not supported; use \"FedAdagrad\" (Reddi et al.'s server "
          "Adagrad)");
    } else {
      return InvalidArgumentError("optimizer_args: unknown optimizer '" + name +
                                  "'; use torch.optim.SGD, torch.optim.Adam, FedAdagrad or FedYogi");
    }
    for (const auto& [k, v] : args.items()) {
      static const std::set<std::string> known = {"lr", "momentum", "betas", "eps", "tau", "beta1", "beta2",
                                                  "params", "weight_decay", "nesterov", "dampening"};
      if (!known.count(k)) return InvalidArgumentError("optimizer_args.args." + k + ": not an argument of " + name);
    }
    NVF_ASSIGN_OR_RETURN(o.lr, number_in(args, "lr", o.lr, "optimizer_args", num_rounds));
    NVF_ASSIGN_OR_RETURN(o.momentum, number_in(args, "momentum", o.momentum, "optimizer_args", num_rounds));
    NVF_ASSIGN_OR_RETURN(o.eps, number_in(args, "eps", o.eps, "optimizer_args", num_rounds));
    NVF_ASSIGN_OR_RETURN(o.tau, number_in(args, "tau", o.tau, "optimizer_args", num_rounds));
    NVF_ASSIGN_OR_RETURN(o.beta1, number_in(args, "beta1", o.beta1, "optimizer_args", num_rounds));
    NVF_ASSIGN_OR_RETURN(o.beta2, number_in(args, "beta2", o.beta2, "optimizer_args", num_rounds));
    if (args.contains("betas")) {
      const auto& b = args["betas"];
      if (!b.is_array() || b.size() != 2 || !b[0].is_number() || !b[1].is_number()) {
        return InvalidArgumentError("optimizer_args.args.betas: must be two numbers [beta1, beta2]");
      }
      o.beta1 = b[0].get<double>();
      o.beta2 = b[1].get<double>();
    }
    for (const char* k : {"weight_decay", "dampening"}) {
      if (args.contains(k) && !(args[k].is_number() && args[k].get<double>() == 0)) {
        return InvalidArgumentError(std::string("optimizer_args.args.") + k + ": only 0 is supported");
      }
    }
    if (args.contains("nesterov") && !(args["nesterov"].is_boolean() && !args["nesterov"].get<bool>())) {
      return InvalidArgumentError("optimizer_args.args.nesterov: only false is supported");
    }
  }
  if (!lr_scheduler_args.is_null()) {
    NVF_ASSIGN_OR_RETURN(auto spec, class_and_args(lr_scheduler_args, "lr_scheduler_args"));
    const auto& [name, args] = spec;
    const std::set<std::string> allowed =
        name == "cosineannealinglr" || name == "cosine" ? std::set<std::string>{"T_max", "eta_min", "last_epoch"}
        : name == "steplr" || name == "step"           ? std::set<std::string>{"step_size", "gamma", "last_epoch"}
                                                        : std::set<std::string>{"gamma", "last_epoch"};
    for (const auto& [k, v] : args.items()) {
      if (!allowed.count(k)) {
        return InvalidArgumentError("lr_scheduler_args.args." + k + ": not an argument of " + name);
      }
    }
    if (name == "cosineannealinglr" || name == "cosine") {
      o.schedule = "cosine";
      NVF_ASSIGN_OR_RETURN(o.t_max, number_in(args, "T_max", num_rounds, "lr_scheduler_args", num_rounds));
      NVF_ASSIGN_OR_RETURN(o.eta_min, number_in(args, "eta_min", 0, "lr_scheduler_args", num_rounds));
      if (o.t_max < 0 || (o.t_max == 0 && num_rounds > 0)) {
        return InvalidArgumentError("lr_scheduler_args.args.T_max: must be positive");
      }
    } else if (name == "steplr" || name == "step") {
      o.schedule = "step";
      NVF_ASSIGN_OR_RETURN(double s, number_in(args, "step_size", 1, "lr_scheduler_args", num_rounds));
      NVF_ASSIGN_OR_RETURN(o.gamma, number_in(args, "gamma", 0.1, "lr_scheduler_args", num_rounds));
      if (!(s >= 1 && s <= 1000000) || s != std::floor(s)) {
        return InvalidArgumentError("lr_scheduler_args.args.step_size: must be a whole number from 1 to 1000000");
      }
      o.step_size = static_cast<int>(s);
    } else if (name == "exponentiallr" || name == "exponential") {
      o.schedule = "exponential";
      NVF_ASSIGN_OR_RETURN(o.gamma, number_in(args, "gamma", 1, "lr_scheduler_args", num_rounds));
    } else if (name == "constant" || name.empty()) {
      o.schedule = "constant";
    } else {
      return InvalidArgumentError("lr_scheduler_args: unknown schedule '" + name +
                                  "'; use CosineAnnealingLR, StepLR or ExponentialLR");
    }
  }
  if (!std::isfinite(o.gamma) || !(o.gamma > 0) || !std::isfinite(o.eta_min) || o.eta_min < 0 ||
      !std::isfinite(o.t_max)) {
    return InvalidArgumentError("lr_scheduler_args.args: gamma must be a positive number, eta_min and T_max finite");
  }
  return o;
}

Result<std::unique_ptr<ServerOptimizer>> ServerOptimizer::create(ServerOptimizerOptions o) {
  if (o.optimizer != "sgd" && o.optimizer != "adam" && o.optimizer != "adagrad" && o.optimizer != "yogi") {
    return InvalidArgumentError("unknown server optimizer '" + o.optimizer + "'; use sgd, adam, adagrad or yogi");
  }
  if (!(o.lr > 0) || !std::isfinite(o.lr)) return InvalidArgumentError("optimizer lr must be a positive number");
  if (o.momentum < 0 || o.momentum >= 1) return InvalidArgumentError("optimizer momentum must be in [0, 1)");
  if (o.beta1 < 0 || o.beta1 >= 1 || o.beta2 < 0 || o.beta2 >= 1) {
    return InvalidArgumentError("optimizer betas must be in [0, 1)");
  }
  if (!(o.eps > 0) || !(o.tau > 0)) return InvalidArgumentError("optimizer eps and tau must be positive");
  std::regex plain;
  try {
    plain = std::regex(o.plain_update_vars);
  } catch (const std::regex_error& e) {
    return InvalidArgumentError("plain_update_vars '" + o.plain_update_vars + "' is not a valid regex: " + e.what());
  }
  return std::unique_ptr<ServerOptimizer>(new ServerOptimizer(std::move(o), std::move(plain)));
}

ServerOptimizer::ServerOptimizer(ServerOptimizerOptions options, std::regex plain)
    : opt_(std::move(options)), plain_(std::move(plain)) {}

Status ServerOptimizer::start(const fl::FLModel&, int num_rounds) {
  num_rounds_ = num_rounds;
  steps_ = 0;  // a workflow starts the optimizer afresh
  state_.clear();
  return Status::OK();
}

double ServerOptimizer::lr_at(int r) const {
  if (opt_.schedule == "cosine") {
    const double t_max = opt_.t_max > 0 ? opt_.t_max : std::max(1, num_rounds_);
    return opt_.eta_min + (opt_.lr - opt_.eta_min) * (1 + std::cos(std::numbers::pi * r / t_max)) / 2;
  }
  if (opt_.schedule == "step") return opt_.lr * std::pow(opt_.gamma, r / opt_.step_size);
  if (opt_.schedule == "exponential") return opt_.lr * std::pow(opt_.gamma, r);
  return opt_.lr;
}

Status ServerOptimizer::update(fl::FLModel& global, fl::FLModel aggregated, int /*round*/) {
  if (aggregated.params_type != fl::ParamsType::kDiff) {
    return InvalidArgumentError(
        "FedOpt needs the clients' weight differences (params_transfer_type DIFF), but the round's results are " +
        std::string(fl::params_type_name(aggregated.params_type)));
  }
  for (const auto& [name, d] : aggregated.params) {
    const Tensor* g = global.params.find(name);
    if (!g) return InvalidArgumentError("diff tensor '" + name + "' is not in the global model");
    if (g->shape() != d.shape()) {
      return InvalidArgumentError("diff tensor '" + name + "' has shape " + tensor::shape_to_string(d.shape()) +
                                  " but the global has " + tensor::shape_to_string(g->shape()));
    }
  }
  const double lr = lr_at(steps_);
  const int t = ++steps_;
  const double bc1 = 1 - std::pow(opt_.beta1, t), bc2 = 1 - std::pow(opt_.beta2, t);
  for (const auto& [name, d] : aggregated.params) {
    Tensor& w = *global.params.find(name);
    NVF_RETURN_IF_ERROR(w.make_owned());
    const bool stepped = tensor::is_floating(w.dtype()) && !std::regex_search(name, plain_);
    const size_t n = static_cast<size_t>(w.numel());
    std::vector<double> delta = d.to_doubles();
    std::vector<double> weights = w.to_doubles();
    if (!stepped) {
      for (size_t i = 0; i < n; ++i) weights[i] += delta[i];
    } else {
      State& s = state_[name];
      const bool first = s.m.numel() == 0 && n > 0;
      if (first) {
        NVF_ASSIGN_OR_RETURN(s.m, Tensor::zeros(DType::kF64, w.shape()));
        NVF_ASSIGN_OR_RETURN(s.v, Tensor::zeros(DType::kF64, w.shape()));
        if (opt_.optimizer == "adagrad" || opt_.optimizer == "yogi") {
          for (double& x : s.v.mutable_view<double>()) x = opt_.tau * opt_.tau;
        }
      }
      auto m = s.m.mutable_view<double>();
      auto v = s.v.mutable_view<double>();
      for (size_t i = 0; i < n; ++i) {
        const double g = -delta[i];
        if (opt_.optimizer == "sgd") {
          m[i] = (opt_.momentum > 0 && !first) ? opt_.momentum * m[i] + g : g;
          weights[i] -= lr * m[i];
        } else if (opt_.optimizer == "adam") {
          m[i] = opt_.beta1 * m[i] + (1 - opt_.beta1) * g;
          v[i] = opt_.beta2 * v[i] + (1 - opt_.beta2) * g * g;
          weights[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + opt_.eps);
        } else {
          const double dl = delta[i], d2 = dl * dl;
          m[i] = opt_.beta1 * m[i] + (1 - opt_.beta1) * dl;
          if (opt_.optimizer == "adagrad") {
            v[i] += d2;
          } else {
            const double diff = v[i] - d2;
            v[i] -= (1 - opt_.beta2) * d2 * (diff > 0 ? 1.0 : diff < 0 ? -1.0 : 0.0);
          }
          weights[i] += lr * m[i] / (std::sqrt(v[i]) + opt_.tau);
        }
      }
    }
    w = Tensor::from_doubles(w.dtype(), w.shape(), weights);
  }
  global.meta = std::move(aggregated.meta);
  global.metrics = std::move(aggregated.metrics);
  return Status::OK();
}

}  // namespace nvf::workflows
