#include "tools/train_add.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "nvflare/client.h"
#include "nvflare/scaffold.h"
#include "tensor/accumulate.h"

namespace nvf::tools {
namespace {

int site_number(const std::string& site) {
  auto dash = site.rfind('-');
  if (dash == std::string::npos) return 1;
  const long n = std::strtol(site.c_str() + dash + 1, nullptr, 10);  // saturates, never overflows
  return n > 0 && n <= 1000000 ? static_cast<int>(n) : 1;
}

// The model a validate task carries (meta "_model_owner_"), for log lines.
std::string owner_of(const config::Value& meta) {
  auto it = meta.find("_model_owner_");
  return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string("model");
}

Status send_metrics(const std::map<std::string, double>& metrics, int round) {
  nvflare::FLModel out;
  out.metrics = metrics;
  out.current_round = round;
  return nvflare::send(out);
}

double mean_of(const tensor::TensorDict& params) {
  double sum = 0;
  int64_t n = 0;
  for (const auto& [name, t] : params) {
    if (!tensor::is_floating(t.dtype())) continue;
    sum += tensor::sum(t);
    n += t.numel();
  }
  return n ? sum / static_cast<double>(n) : 0.0;
}

}  // namespace

Status run_add_trainer(const AddTrainerOptions& o) {
  if (o.algorithm != "fedavg" && o.algorithm != "scaffold") {
    return InvalidArgumentError("--algorithm '" + o.algorithm + "': use fedavg or scaffold");
  }
  if (!(o.lr > 0)) return InvalidArgumentError("--lr must be positive");
  NVF_RETURN_IF_ERROR(nvflare::init());
  nvflare::Scaffold scaffold;
  tensor::TensorDict local;  // the weights of the last train task (for submit_model)
  while (nvflare::is_running()) {
    auto task = nvflare::receive();
    if (!task.ok()) return task.status();
    if (!*task) break;
    nvflare::FLModel& in = **task;
    const std::string site = nvflare::site_name();
    if (nvflare::is_evaluate()) {
      const double mean = mean_of(in.params);
      std::printf("%s: validate %s: weight_mean %g\n", site.c_str(),
                  owner_of(in.meta).c_str(), mean);
      std::fflush(stdout);
      NVF_RETURN_IF_ERROR(send_metrics({{"weight_mean", mean}}, in.current_round));
      continue;
    }
    if (nvflare::is_submit_model()) {
      if (local.empty()) return FailedPreconditionError("submit_model before any train task: no local model");
      nvflare::FLModel out;
      out.params_type = nvflare::ParamsType::kFull;
      for (const auto& [k, t] : local) NVF_RETURN_IF_ERROR(out.params.insert(k, t.share()));
      NVF_RETURN_IF_ERROR(nvflare::send(out));
      continue;
    }
    if (o.algorithm == "scaffold") NVF_RETURN_IF_ERROR(scaffold.begin_round(in));
    nvflare::FLModel out;
    const double before = mean_of(in.params);
    for (auto& [name, t] : in.params) {
      if (tensor::is_floating(t.dtype())) {
        NVF_RETURN_IF_ERROR(t.make_owned());  // a received tensor is owned already: no copy
        NVF_RETURN_IF_ERROR(tensor::add_scalar(t, o.delta, name));
      }
      NVF_RETURN_IF_ERROR(out.params.insert(name, std::move(t)));
    }
    if (o.algorithm == "scaffold") {
      NVF_RETURN_IF_ERROR(scaffold.correct(out.params, o.lr));
      local = tensor::TensorDict();
      for (const auto& [k, t] : out.params) NVF_RETURN_IF_ERROR(local.insert(k, t.share()));
      NVF_RETURN_IF_ERROR(scaffold.end_round(local, 1, o.lr, out));
      double dc_sum = 0;
      int64_t dc_n = 0;
      for (const auto& [k, t] : out.params) {
        if (k.rfind(std::string(fl::kScaffoldCDiffPrefix), 0) != 0) continue;
        for (double v : t.to_doubles()) dc_sum += v;
        dc_n += t.numel();
      }
      std::printf("%s: round %d: scaffold control-variate change mean %g\n", site.c_str(), in.current_round,
                  dc_n ? dc_sum / static_cast<double>(dc_n) : 0.0);
    } else {
      local = tensor::TensorDict();
      for (const auto& [k, t] : out.params) NVF_RETURN_IF_ERROR(local.insert(k, t.share()));
    }
    out.params_type = nvflare::ParamsType::kFull;
    out.current_round = in.current_round;
    out.meta["NUM_STEPS_CURRENT_ROUND"] = 1;
    out.metrics["weight_mean"] = before;  // the received model's (FLARE's metrics are of the model received)
    std::printf("%s: round %d: added %g to %zu tensors\n", site.c_str(), in.current_round, o.delta, local.size());
    std::fflush(stdout);
    NVF_RETURN_IF_ERROR(nvflare::send(out));
  }
  nvflare::shutdown();
  return Status::OK();
}

// ---- logistic regression by Newton-Raphson

Result<LrData> load_lr_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgumentError("cannot read the data file " + path);
  LrData data;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line == "\r") continue;
    std::vector<double> row;
    std::stringstream ss(line);
    std::string cell;
    bool numeric = true;
    while (std::getline(ss, cell, ',')) {
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      while (end && (*end == ' ' || *end == '\r')) ++end;
      if (cell.empty() || !end || *end || !std::isfinite(v)) {
        numeric = false;
        break;
      }
      row.push_back(v);
    }
    if (!numeric) {
      if (lineno == 1) continue;  // a header
      return InvalidArgumentError(path + ":" + std::to_string(lineno) + ": '" + cell + "' is not a number");
    }
    if (row.size() < 2) return InvalidArgumentError(path + ":" + std::to_string(lineno) + ": needs features and a label");
    if (row.size() > 4097) {
      return InvalidArgumentError(path + ":" + std::to_string(lineno) + ": more than 4096 features");
    }
    const int64_t d = static_cast<int64_t>(row.size()) - 1;
    if (data.n == 0) data.d = d;
    if (d != data.d) {
      return InvalidArgumentError(path + ":" + std::to_string(lineno) + ": has " + std::to_string(d + 1) +
                                  " columns but earlier rows have " + std::to_string(data.d + 1));
    }
    if (row.back() != 0 && row.back() != 1) {
      return InvalidArgumentError(path + ":" + std::to_string(lineno) + ": the label (last column) must be 0 or 1");
    }
    data.y.push_back(row.back());
    data.x.insert(data.x.end(), row.begin(), row.end() - 1);
    ++data.n;
  }
  if (data.n == 0) return InvalidArgumentError(path + ": no data rows");
  return data;
}

LrData synthetic_lr_data(int site, int num_features, uint64_t seed) {
  std::mt19937_64 truth(seed * 7919 + 17);
  std::normal_distribution<double> n01(0.0, 1.0);
  std::vector<double> theta(static_cast<size_t>(num_features) + 1);
  for (auto& t : theta) t = 0.5 * n01(truth);
  std::mt19937_64 rng(seed * 104729 + static_cast<uint64_t>(site) * 1299709 + 3);
  LrData data;
  data.d = num_features;
  data.n = 100 + 50 * ((site - 1) % 5);
  const double shift = 0.3 * (site % 4) - 0.45;
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  for (int64_t i = 0; i < data.n; ++i) {
    double z = theta[0];
    for (int j = 0; j < num_features; ++j) {
      const double v = n01(rng) + shift;
      data.x.push_back(v);
      z += theta[static_cast<size_t>(j) + 1] * v;
    }
    data.y.push_back(u01(rng) < 1.0 / (1.0 + std::exp(-z)) ? 1.0 : 0.0);
  }
  return data;
}

void lr_gradient_hessian(const LrData& data, const std::vector<double>& theta, std::vector<double>* g,
                         std::vector<double>* h) {
  const size_t k = static_cast<size_t>(data.d) + 1;
  g->assign(k, 0.0);
  h->assign(k * k, 0.0);
  std::vector<double> row(k);
  for (int64_t i = 0; i < data.n; ++i) {
    row[0] = 1.0;
    for (int64_t j = 0; j < data.d; ++j) row[static_cast<size_t>(j) + 1] = data.x[static_cast<size_t>(i * data.d + j)];
    double z = 0;
    for (size_t j = 0; j < k; ++j) z += theta[j] * row[j];
    const double p = 1.0 / (1.0 + std::exp(-z));
    const double r = data.y[static_cast<size_t>(i)] - p, w = p * (1 - p);
    for (size_t a = 0; a < k; ++a) {
      (*g)[a] += row[a] * r;
      for (size_t b = 0; b < k; ++b) (*h)[a * k + b] += w * row[a] * row[b];
    }
  }
}

double lr_accuracy(const LrData& data, const std::vector<double>& theta) {
  int64_t right = 0;
  for (int64_t i = 0; i < data.n; ++i) {
    double z = theta[0];
    for (int64_t j = 0; j < data.d; ++j) z += theta[static_cast<size_t>(j) + 1] * data.x[static_cast<size_t>(i * data.d + j)];
    right += (z >= 0 ? 1.0 : 0.0) == data.y[static_cast<size_t>(i)];
  }
  return data.n ? static_cast<double>(right) / static_cast<double>(data.n) : 0.0;
}

Status run_lr_trainer(const LrTrainerOptions& o) {
  NVF_RETURN_IF_ERROR(nvflare::init());
  const std::string site = nvflare::site_name();
  LrData data;
  if (o.data == "synthetic" || o.data.empty()) {
    if (o.num_features < 1) return InvalidArgumentError("--num-features must be at least 1");
    data = synthetic_lr_data(o.site_index > 0 ? o.site_index : site_number(site), o.num_features, o.seed);
  } else {
    NVF_ASSIGN_OR_RETURN(data, load_lr_csv(o.data));
  }
  const size_t k = static_cast<size_t>(data.d) + 1;
  while (nvflare::is_running()) {
    auto task = nvflare::receive();
    if (!task.ok()) return task.status();
    if (!*task) break;
    nvflare::FLModel& in = **task;
    const tensor::Tensor* t = in.params.find("numpy_key");
    if (!t && in.params.size() == 1) t = &in.params[0].second;
    if (!t || static_cast<size_t>(t->numel()) != k) {
      return InvalidArgumentError("logistic regression: the task's model must be one vector 'numpy_key' of " +
                                  std::to_string(k) + " values (intercept and " + std::to_string(data.d) +
                                  " features of " + o.data + ")");
    }
    const std::vector<double> theta = t->to_doubles();
    const double acc = lr_accuracy(data, theta);
    if (nvflare::is_evaluate()) {
      NVF_RETURN_IF_ERROR(send_metrics({{"accuracy", acc}}, in.current_round));
      continue;
    }
    std::vector<double> g, h;
    lr_gradient_hessian(data, theta, &g, &h);
    // Per-sample means weighted by the sample count: the server's weighted mean is then the
    // pooled gradient and Hessian of the union of the sites' data (docs/decisions/018).
    for (double& v : g) v /= static_cast<double>(data.n);
    for (double& v : h) v /= static_cast<double>(data.n);
    nvflare::FLModel out;
    out.params_type = nvflare::ParamsType::kFull;
    NVF_RETURN_IF_ERROR(out.params.insert("gradient", tensor::Tensor::from_vector<double>({static_cast<int64_t>(k)}, g)));
    NVF_RETURN_IF_ERROR(out.params.insert(
        "hessian", tensor::Tensor::from_vector<double>({static_cast<int64_t>(k), static_cast<int64_t>(k)}, h)));
    out.meta["NUM_STEPS_CURRENT_ROUND"] = data.n;
    out.metrics["accuracy"] = acc;
    out.current_round = in.current_round;
    std::printf("%s: round %d: %lld samples, accuracy %.4f\n", site.c_str(), in.current_round,
                static_cast<long long>(data.n), acc);
    std::fflush(stdout);
    NVF_RETURN_IF_ERROR(nvflare::send(out));
  }
  nvflare::shutdown();
  return Status::OK();
}

}  // namespace nvf::tools
