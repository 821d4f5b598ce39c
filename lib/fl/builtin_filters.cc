// The built-in filters (workflows §18) and their registry entries: ExcludeVars, PercentilePrivacy
// and SVTPrivacy, with FLARE's class paths as aliases. Each works on the FLModel's params when its
// params_type is one of the filter's data kinds (FULL = WEIGHTS, DIFF = WEIGHT_DIFF) and passes any
// other model through untouched, as FLARE's DXOFilter does. New tensors replace filtered ones: the
// inputs may be views of memory the filter does not own.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>
#include <random>
#include <regex>

#include "base/strings.h"
#include "fl/filter.h"

namespace nvf::fl {
namespace {

using config::Value;
using tensor::DType;
using tensor::Tensor;
using Made = Result<std::unique_ptr<Component>>;

std::string data_kind_of(ParamsType t) {
  switch (t) {
    case ParamsType::kFull:
      return "WEIGHTS";
    case ParamsType::kDiff:
      return "WEIGHT_DIFF";
    case ParamsType::kNone:
      break;
  }
  return "METRICS";
}

base::Logger logger_of(const FilterContext& ctx) { return ctx.logger ? ctx.logger : base::null_logger(); }

// "data_kinds": the kinds to filter, a subset of `supported` (FLARE's DXOFilter rule).
Result<std::vector<std::string>> data_kinds_arg(const BuildContext& ctx, const std::vector<std::string>& supported) {
  if (!ctx.has_arg("data_kinds")) return supported;
  const Value& v = ctx.args()["data_kinds"];
  if (!v.is_array()) return ctx.arg_error("data_kinds", "must be a list of data kinds");
  std::vector<std::string> out;
  for (const auto& k : v) {
    if (!k.is_string() || std::find(supported.begin(), supported.end(), k.get<std::string>()) == supported.end()) {
      return ctx.arg_error("data_kinds", k.dump() + " is not supported; supported: " + base::join(supported, ", "));
    }
    out.push_back(k.get<std::string>());
  }
  return out;
}

// A base for filters that only touch some data kinds.
class KindFilter : public Filter {
 public:
  KindFilter(std::string name, std::vector<std::string> kinds) : name_(std::move(name)), kinds_(std::move(kinds)) {}
  Status filter(FLModel& model, const FilterContext& ctx) final {
    const std::string kind = data_kind_of(model.params_type);
    if (std::find(kinds_.begin(), kinds_.end(), kind) == kinds_.end() || model.params.empty()) {
      logger_of(ctx)->debug("{}: {} of task '{}' is {}: passed through", name_, filter_kind_key(ctx.kind),
                            ctx.task_name, kind);
      return Status::OK();
    }
    return process(model, ctx);
  }

 protected:
  virtual Status process(FLModel& model, const FilterContext& ctx) = 0;
  std::string name_;

 private:
  std::vector<std::string> kinds_;
};

// ---- ExcludeVars ------------------------------------------------------------------------------

class ExcludeVars : public KindFilter {
 public:
  ExcludeVars(std::vector<std::string> kinds, std::vector<std::string> names, std::optional<std::regex> re)
      : KindFilter("ExcludeVars", std::move(kinds)), names_(std::move(names)), re_(std::move(re)) {}

 protected:
  Status process(FLModel& model, const FilterContext& ctx) override {
    std::vector<std::string> drop;
    for (const auto& [name, t] : model.params) {
      bool match = re_ ? std::regex_search(name, *re_)
                       : std::find(names_.begin(), names_.end(), name) != names_.end();
      if (match) drop.push_back(name);
    }
    for (const auto& n : drop) model.params.erase(n);
    logger_of(ctx)->info("ExcludeVars: excluded {} of {} tensors from {} of task '{}'", drop.size(),
                         drop.size() + model.params.size(), filter_kind_key(ctx.kind), ctx.task_name);
    return Status::OK();
  }

 private:
  std::vector<std::string> names_;
  std::optional<std::regex> re_;
};

// FLARE passes everything through when exclude_vars is None or malformed; so do we (with a warning).
class PassThrough : public Filter {
 public:
  Status filter(FLModel&, const FilterContext&) override { return Status::OK(); }
};

Made make_exclude_vars(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(auto kinds, data_kinds_arg(ctx, {"WEIGHT_DIFF", "WEIGHTS"}));
  const Value none;
  const Value& v = ctx.has_arg("exclude_vars") ? ctx.args()["exclude_vars"] : none;
  auto pass = [&](const std::string& why) -> Made {
    if (!why.empty()) ctx.logger()->warn("{}: {}: {}; the filter passes everything", ctx.file(), ctx.arg_field("exclude_vars"), why);
    return std::unique_ptr<Component>(new PassThrough());
  };
  if (v.is_null()) return pass("");
  if (v.is_string()) {
    const std::string pattern = v.get<std::string>();
    if (pattern.empty()) return pass("");
    try {
      return std::unique_ptr<Component>(new ExcludeVars(std::move(kinds), {}, std::regex(pattern, std::regex::ECMAScript)));
    } catch (const std::regex_error& e) {
      return ctx.arg_error("exclude_vars", "'" + pattern + "' is not a valid regex: " + e.what());
    }
  }
  if (!v.is_array()) return pass("must be a list of names or a regex string");
  std::vector<std::string> names;
  for (const auto& n : v) {
    if (!n.is_string()) return pass("every name must be a string");
    names.push_back(n.get<std::string>());
  }
  return std::unique_ptr<Component>(new ExcludeVars(std::move(kinds), std::move(names), std::nullopt));
}

// ---- PercentilePrivacy and SVTPrivacy: shared helpers -----------------------------------------

double num_steps(const FLModel& m) {
  auto s = meta_number(m, kMetaNumStepsCurrentRound);
  return s && *s != 0 ? *s : 1.0;
}

// The output dtype: floating tensors keep theirs; others become F64 (numpy's true division).
DType out_dtype(DType d) { return tensor::is_floating(d) ? d : DType::kF64; }

class PercentilePrivacy : public KindFilter {
 public:
  PercentilePrivacy(std::vector<std::string> kinds, double percentile, double gamma)
      : KindFilter("PercentilePrivacy", std::move(kinds)), percentile_(percentile), gamma_(gamma) {}

 protected:
  Status process(FLModel& model, const FilterContext& ctx) override {
    if (gamma_ <= 0 || percentile_ < 0 || percentile_ > 100) return Status::OK();  // FLARE: no-op
    const double steps = num_steps(model);
    std::vector<double> abs_all;
    for (const auto& [name, t] : model.params) {
      for (double v : t.to_doubles()) abs_all.push_back(std::fabs(v / steps));
    }
    const double cutoff = percentile_linear(abs_all, percentile_);
    abs_all = {};
    logger_of(ctx)->info("PercentilePrivacy: {} of task '{}': percentile {} cutoff {}, gamma {}",
                         filter_kind_key(ctx.kind), ctx.task_name, percentile_, cutoff, gamma_);
    for (auto& [name, t] : model.params) {
      std::vector<double> v = t.to_doubles();
      const bool scalar = t.shape().empty();
      for (double& x : v) {
        double d = x / steps;
        if (!scalar) {
          if (d > -cutoff && d < cutoff) d = 0.0;
          d = std::clamp(d, -gamma_, gamma_);
        }
        x = d * steps;
      }
      t = Tensor::from_doubles(out_dtype(t.dtype()), t.shape(), v);
    }
    return Status::OK();
  }

 private:
  double percentile_, gamma_;
};

Made make_percentile_privacy(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(auto kinds, data_kinds_arg(ctx, {"WEIGHT_DIFF"}));
  NVF_ASSIGN_OR_RETURN(double percentile, ctx.number_arg("percentile", 10));
  NVF_ASSIGN_OR_RETURN(double gamma, ctx.number_arg("gamma", 0.01));
  if (gamma <= 0 || percentile < 0 || percentile > 100) {
    ctx.logger()->warn("{}: {}: percentile {} / gamma {}: the filter does nothing (percentile must be in [0, 100], "
                       "gamma > 0)", ctx.file(), ctx.field().str(), percentile, gamma);
  }
  return std::unique_ptr<Component>(new PercentilePrivacy(std::move(kinds), percentile, gamma));
}

// Laplace(0, scale) by inverse CDF.
double laplace(std::mt19937_64& rng, double scale) {
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  double x = u(rng);
  double m = std::max(1.0 - 2.0 * std::fabs(x), 1e-300);
  return -scale * (x < 0 ? -1.0 : 1.0) * std::log(m);
}

struct SvtOptions {
  double fraction = 0.1, epsilon = 0.1, noise_var = 0.1, gamma = 1e-5, tau = 1e-6;
  bool replace = true;
};

class SVTPrivacy : public KindFilter {
 public:
  SVTPrivacy(std::vector<std::string> kinds, SvtOptions o)
      : KindFilter("SVTPrivacy", std::move(kinds)), o_(o), rng_(std::random_device{}()) {}

 protected:
  Status process(FLModel& model, const FilterContext& ctx) override {
    const double steps = num_steps(model);
    std::vector<std::string> names = model.params.names();
    std::sort(names.begin(), names.end());
    std::vector<double> delta;
    for (const auto& n : names) {
      for (double v : model.params.find(n)->to_doubles()) delta.push_back(v / steps);
    }
    const size_t size = delta.size();
    const size_t n_up = std::min(size, static_cast<size_t>(std::ceil(static_cast<double>(size) * o_.fraction)));
    std::vector<double> out(size, 0.0);
    {
      std::lock_guard<std::mutex> lock(mu_);  // the generator is the only shared state
      const double threshold = o_.tau + laplace(rng_, 2.0 * o_.gamma / o_.epsilon);
      const double eps2 = o_.epsilon * std::pow(2.0 * static_cast<double>(n_up), 2.0 / 3.0);
      const double lambda_nu = 4.0 * o_.gamma * static_cast<double>(n_up) / eps2;
      std::vector<size_t> accepted;
      std::vector<char> taken(size, 0);
      for (int pass = 0; accepted.size() < n_up; ++pass) {
        if (pass >= 100000) {
          return InternalError("SVTPrivacy: fewer than " + std::to_string(n_up) + " values passed the threshold");
        }
        for (size_t i = 0; i < size; ++i) {
          if (taken[i]) continue;
          if (std::fabs(std::clamp(delta[i], -o_.gamma, o_.gamma)) + laplace(rng_, lambda_nu) >= threshold) {
            taken[i] = 1;
            accepted.push_back(i);
          }
        }
      }
      std::vector<size_t> chosen;
      if (o_.replace) {
        std::uniform_int_distribution<size_t> pick(0, accepted.empty() ? 0 : accepted.size() - 1);
        for (size_t k = 0; k < n_up; ++k) chosen.push_back(accepted[pick(rng_)]);
      } else {
        std::shuffle(accepted.begin(), accepted.end(), rng_);
        chosen.assign(accepted.begin(), accepted.begin() + static_cast<std::ptrdiff_t>(n_up));
      }
      for (size_t i : chosen) {
        out[i] = std::clamp(delta[i] + laplace(rng_, 2.0 * o_.gamma / o_.noise_var), -o_.gamma, o_.gamma);
      }
    }
    size_t at = 0;
    for (const auto& n : names) {
      Tensor* t = model.params.find(n);
      std::vector<double> v(out.begin() + static_cast<std::ptrdiff_t>(at),
                            out.begin() + static_cast<std::ptrdiff_t>(at + static_cast<size_t>(t->numel())));
      at += static_cast<size_t>(t->numel());
      for (double& x : v) x *= steps;
      *t = Tensor::from_doubles(out_dtype(t->dtype()), t->shape(), v);
    }
    logger_of(ctx)->info("SVTPrivacy: {} of task '{}': {} of {} values released", filter_kind_key(ctx.kind),
                         ctx.task_name, n_up, size);
    return Status::OK();
  }

 private:
  SvtOptions o_;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

Made make_svt_privacy(const BuildContext& ctx) {
  NVF_ASSIGN_OR_RETURN(auto kinds, data_kinds_arg(ctx, {"WEIGHT_DIFF"}));
  SvtOptions o;
  NVF_ASSIGN_OR_RETURN(o.fraction, ctx.number_arg("fraction", o.fraction));
  NVF_ASSIGN_OR_RETURN(o.epsilon, ctx.number_arg("epsilon", o.epsilon));
  NVF_ASSIGN_OR_RETURN(o.noise_var, ctx.number_arg("noise_var", o.noise_var));
  NVF_ASSIGN_OR_RETURN(o.gamma, ctx.number_arg("gamma", o.gamma));
  NVF_ASSIGN_OR_RETURN(o.tau, ctx.number_arg("tau", o.tau));
  NVF_ASSIGN_OR_RETURN(o.replace, ctx.bool_arg("replace", o.replace));
  if (o.fraction < 0 || o.fraction > 1) return ctx.arg_error("fraction", "must be in [0, 1]");
  for (auto [arg, v] : {std::pair{"epsilon", o.epsilon}, {"noise_var", o.noise_var}, {"gamma", o.gamma}}) {
    if (!(v > 0)) return ctx.arg_error(arg, "must be > 0");
  }
  return std::unique_ptr<Component>(new SVTPrivacy(std::move(kinds), o));
}

}  // namespace

double percentile_linear(std::vector<double>& values, double q) {
  if (values.empty()) return 0.0;
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
  const double a = values[lo];
  if (hi == lo || pos == static_cast<double>(lo)) return a;
  // The next order statistic is the smallest value after the lo-th.
  const double b = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lo) + 1, values.end());
  return a + (b - a) * (pos - static_cast<double>(lo));
}

Status add_builtin_filters(ComponentRegistry& registry) {
  NVF_RETURN_IF_ERROR(registry.add({"ExcludeVars",
                                    {"nvflare.app_common.filters.exclude_vars.ExcludeVars"},
                                    ComponentKind::kFilter,
                                    {"exclude_vars", "data_kinds"},
                                    make_exclude_vars}));
  NVF_RETURN_IF_ERROR(registry.add({"PercentilePrivacy",
                                    {"nvflare.app_common.filters.percentile_privacy.PercentilePrivacy"},
                                    ComponentKind::kFilter,
                                    {"percentile", "gamma", "data_kinds"},
                                    make_percentile_privacy}));
  return registry.add({"SVTPrivacy",
                       {"nvflare.app_common.filters.svt_privacy.SVTPrivacy"},
                       ComponentKind::kFilter,
                       {"fraction", "epsilon", "noise_var", "gamma", "tau", "replace", "data_kinds"},
                       make_svt_privacy});
}

ComponentRegistry ComponentRegistry::builtin() {
  ComponentRegistry r;
  NVF_CHECK(add_builtin_filters(r).ok());
  return r;
}

}  // namespace nvf::fl
