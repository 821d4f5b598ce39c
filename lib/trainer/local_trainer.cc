#include "trainer/local_trainer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor_torch/torch_view.h"
#include "trainer/data_internal.h"
#include "trainer/model_internal.h"

namespace nvf::trainer {
namespace {

constexpr int64_t kEvalBatch = 256;

std::string shape_of(const at::Tensor& t) {
  return tensor::shape_to_string(tensor::Shape(t.sizes().begin(), t.sizes().end()));
}

Status check_options(const TrainOptions& o) {
  if (o.epochs < 1)
    return InvalidArgumentError("epochs must be >= 1, got " + std::to_string(o.epochs));
  if (o.batch_size < 1) {
    return InvalidArgumentError("batch_size must be >= 1, got " + std::to_string(o.batch_size));
  }
  if (!(o.lr > 0) || !std::isfinite(o.lr)) {
    return InvalidArgumentError("lr must be a positive number, got " + std::to_string(o.lr));
  }
  if (!(o.momentum >= 0) || !std::isfinite(o.momentum)) {
    return InvalidArgumentError("momentum must be >= 0, got " + std::to_string(o.momentum));
  }
  if (o.optimizer != "sgd" && o.optimizer != "adam") {
    return InvalidArgumentError("optimizer '" + o.optimizer + "' is unknown (use sgd or adam)");
  }
  if (!(o.fedprox_mu >= 0) || !std::isfinite(o.fedprox_mu)) {
    return InvalidArgumentError("fedprox_mu must be >= 0, got " + std::to_string(o.fedprox_mu));
  }
  if (o.threads < 0) return InvalidArgumentError("threads must be >= 0");
  return Status::OK();
}

// An owned copy of a live tensor: one copy, straight into our buffer.
Result<tensor::Tensor> copy_out(const at::Tensor& live) {
  NVF_ASSIGN_OR_RETURN(tensor::DType dtype, tensor_torch::from_scalar_type(live.scalar_type()));
  NVF_ASSIGN_OR_RETURN(
      tensor::Tensor out,
      tensor::Tensor::zeros(dtype, tensor::Shape(live.sizes().begin(), live.sizes().end())));
  if (out.numel() > 0) tensor_torch::to_torch(out).copy_(live.detach());
  return out;
}

Status describe_exception(std::string_view what_failed) {
  try {
    throw;
  } catch (const c10::Error& e) {
    return InternalError(std::string(what_failed) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return InternalError(std::string(what_failed) + ": " + e.what());
  }
}

}  // namespace

struct LocalTrainer::Impl {
  TrainOptions options;
  Dataset data;
  at::Tensor x;  // views of data.x / data.y
  at::Tensor y;
  std::unique_ptr<Model> model;
  std::vector<StateEntry> state;       // live parameters and buffers, state_dict order
  std::vector<at::Tensor> parameters;  // the trainable ones
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  uint64_t rounds = 0;  // train() calls so far, for the shuffle seeds
  std::vector<std::pair<at::Tensor, at::Tensor>> correction;  // (live state entry, its SCAFFOLD correction)

  // A float input batch and its labels for `rows` (I64 indices).
  std::pair<at::Tensor, at::Tensor> batch(const at::Tensor& rows) const {
    at::Tensor xb = x.index_select(0, rows).to(at::kFloat);
    if (data.scale != 1.0 || data.shift != 0.0) xb.mul_(data.scale).add_(data.shift);
    return {xb, y.index_select(0, rows)};
  }

  Status check_forward();
  Status load(const tensor::TensorDict& params);
  Metrics evaluate_loaded();
  Result<Metrics> train_epochs(RoundResult& result);
  Result<tensor::TensorDict> export_state() const;
};

// A trial forward pass: the model must take the data's samples and have an output per class.
Status LocalTrainer::Impl::check_forward() {
  const std::vector<int64_t>& rows_v = data.train_index;
  at::Tensor rows = at::tensor(
      std::vector<int64_t>(rows_v.begin(), rows_v.begin() + std::min<size_t>(2, rows_v.size())),
      at::kLong);
  auto [xb, yb] = batch(rows);
  at::Tensor out;
  try {
    at::NoGradGuard no_grad;
    model->set_training(false);
    out = model->forward(xb);
  } catch (const c10::Error& e) {
    return InvalidArgumentError("model '" + options.model + "' cannot take samples of shape " +
                                shape_of(xb) + " from data '" + data.source +
                                "': " + e.what_without_backtrace());
  }
  if (out.dim() != 2 || out.size(0) != xb.size(0) || out.size(1) < data.num_classes) {
    return InvalidArgumentError(
        "model '" + options.model + "' returns " + shape_of(out) + " for a batch " + shape_of(xb) +
        "; expected logits [" + std::to_string(xb.size(0)) +
        ", C] with C >= " + std::to_string(data.num_classes) + " (labels of data '" + data.source +
        "' go up to " + std::to_string(data.num_classes - 1) + ")");
  }
  return Status::OK();
}

Status LocalTrainer::Impl::load(const tensor::TensorDict& params) {
  std::string problem;
  int problems = 0;
  auto note = [&](std::string p) {
    if (problems++ == 0) problem = std::move(p);
  };
  std::map<std::string_view, const at::Tensor*> live;
  for (const StateEntry& e : state) live[e.name] = &e.tensor;
  for (const StateEntry& e : state) {
    const tensor::Tensor* t = params.find(e.name);
    if (t == nullptr) {
      note("missing tensor '" + e.name + "' (the model expects shape " + shape_of(e.tensor) + ")");
    } else if (t->shape() != tensor::Shape(e.tensor.sizes().begin(), e.tensor.sizes().end())) {
      note("tensor '" + e.name + "': received shape " + tensor::shape_to_string(t->shape()) +
           ", the model expects " + shape_of(e.tensor));
    }
  }
  for (const auto& [name, t] : params) {
    if (!live.contains(name)) {
      note("unexpected tensor '" + name + "' with shape " + tensor::shape_to_string(t.shape()) +
           ": model '" + options.model + "' has no such parameter or buffer");
    }
  }
  if (problems > 0) {
    if (problems > 1) problem += " (and " + std::to_string(problems - 1) + " more problems)";
    return InvalidArgumentError("cannot load weights: " + problem);
  }
  at::NoGradGuard no_grad;
  for (StateEntry& e : state) e.tensor.copy_(tensor_torch::to_torch(*params.find(e.name)));
  return Status::OK();
}

Metrics LocalTrainer::Impl::evaluate_loaded() {
  at::NoGradGuard no_grad;
  model->set_training(false);
  const std::vector<int64_t>& index = data.val_index;
  double loss_sum = 0;
  int64_t correct = 0;
  for (size_t b = 0; b < index.size(); b += kEvalBatch) {
    size_t len = std::min<size_t>(kEvalBatch, index.size() - b);
    at::Tensor rows = at::from_blob(const_cast<int64_t*>(index.data() + b),
                                    {static_cast<int64_t>(len)}, at::kLong);
    auto [xb, yb] = batch(rows);
    at::Tensor logits = model->forward(xb);
    loss_sum += at::cross_entropy_loss(logits, yb, {}, at::Reduction::Sum).item<double>();
    correct += logits.argmax(1).eq(yb).sum().item<int64_t>();
  }
  Metrics m;
  m.samples = static_cast<int64_t>(index.size());
  if (m.samples > 0) {
    m.loss = loss_sum / static_cast<double>(m.samples);
    m.accuracy = static_cast<double>(correct) / static_cast<double>(m.samples);
  }
  return m;
}

Result<Metrics> LocalTrainer::Impl::train_epochs(RoundResult& result) {
  const double mu = options.fedprox_mu;
  std::vector<at::Tensor> global;  // frozen copy of the received parameters (FedProx)
  if (mu > 0) {
    for (const at::Tensor& p : parameters) global.push_back(p.detach().clone());
  }
  model->set_training(true);
  const uint64_t round = rounds++;
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;
  std::vector<int64_t> order = data.train_index;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    uint64_t seed =
        mix_seed(mix_seed(mix_seed(options.seed, 0xE90C), round), static_cast<uint64_t>(epoch));
    Rng(mix_seed(seed, static_cast<uint64_t>(options.site_index))).shuffle(order);
    for (size_t b = 0; b < order.size(); b += static_cast<size_t>(options.batch_size)) {
      size_t len = std::min<size_t>(static_cast<size_t>(options.batch_size), order.size() - b);
      at::Tensor rows = at::from_blob(order.data() + b, {static_cast<int64_t>(len)}, at::kLong);
      auto [xb, yb] = batch(rows);
      optimizer->zero_grad();
      at::Tensor logits = model->forward(xb);
      at::Tensor loss = at::cross_entropy_loss(logits, yb);
      at::Tensor total = loss;
      if (mu > 0) {
        at::Tensor prox = at::zeros({}, loss.options());
        for (size_t i = 0; i < parameters.size(); ++i) {
          prox = prox + (parameters[i] - global[i]).pow(2).sum();
        }
        total = loss + prox * (mu / 2);
      }
      total.backward();
      const double total_value = total.item<double>();
      if (!std::isfinite(total_value)) {
        return InternalError("the training loss became " + std::to_string(total_value) +
                             " at step " + std::to_string(result.steps + 1) + " of round " +
                             std::to_string(round + 1) + "; try a smaller lr");
      }
      optimizer->step();
      ++result.steps;
      if (!correction.empty()) {
        at::NoGradGuard no_grad;
        for (auto& [live, corr] : correction) live.sub_(corr, options.lr);
      }
      {
        at::NoGradGuard no_grad;
        loss_sum += loss.item<double>() * static_cast<double>(len);
        correct += logits.argmax(1).eq(yb).sum().item<int64_t>();
      }
      seen += static_cast<int64_t>(len);
    }
  }
  Metrics m;
  m.samples = seen;
  if (seen > 0) {
    m.loss = loss_sum / static_cast<double>(seen);
    m.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
  }
  return m;
}

Result<tensor::TensorDict> LocalTrainer::Impl::export_state() const {
  tensor::TensorDict out;
  at::NoGradGuard no_grad;
  for (const StateEntry& e : state) {
    NVF_ASSIGN_OR_RETURN(tensor::Tensor t, copy_out(e.tensor));
    NVF_RETURN_IF_ERROR(out.insert(e.name, std::move(t)));
  }
  return out;
}

LocalTrainer::LocalTrainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalTrainer::~LocalTrainer() = default;

Result<std::unique_ptr<LocalTrainer>> LocalTrainer::create(const TrainOptions& options) {
  NVF_RETURN_IF_ERROR(check_options(options));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  NVF_ASSIGN_OR_RETURN(impl->data, load_dataset(options));
  try {
    if (options.threads > 0) at::set_num_threads(options.threads);
    impl->x = tensor_torch::to_torch(impl->data.x);
    impl->y = tensor_torch::to_torch(impl->data.y);
    DataShape shape{impl->data.sample_shape(), impl->data.num_classes};
    NVF_ASSIGN_OR_RETURN(impl->model, make_model(options.model, shape, options.seed));
    NVF_RETURN_IF_ERROR(impl->check_forward());
    impl->state = impl->model->state();
    for (const StateEntry& e : impl->state) {
      if (e.is_parameter && e.tensor.requires_grad()) impl->parameters.push_back(e.tensor);
    }
    if (impl->parameters.empty()) {
      return InvalidArgumentError("model '" + options.model + "' has no trainable parameters");
    }
    if (options.optimizer == "adam") {
      impl->optimizer = std::make_unique<torch::optim::Adam>(impl->parameters,
                                                             torch::optim::AdamOptions(options.lr));
    } else {
      impl->optimizer = std::make_unique<torch::optim::SGD>(
          impl->parameters, torch::optim::SGDOptions(options.lr).momentum(options.momentum));
    }
  } catch (...) {
    return describe_exception("creating the trainer for model '" + options.model + "'");
  }
  return std::unique_ptr<LocalTrainer>(new LocalTrainer(std::move(impl)));
}

Result<tensor::TensorDict> LocalTrainer::initial_params() const {
  try {
    return impl_->export_state();
  } catch (...) {
    return describe_exception("reading the model's weights");
  }
}

Result<Metrics> LocalTrainer::evaluate(const tensor::TensorDict& params) {
  try {
    NVF_RETURN_IF_ERROR(impl_->load(params));
    return impl_->evaluate_loaded();
  } catch (...) {
    return describe_exception("evaluating model '" + impl_->options.model + "'");
  }
}

Status LocalTrainer::set_step_correction(const tensor::TensorDict& correction) {
  try {
    std::vector<std::pair<at::Tensor, at::Tensor>> pairs;
    for (const auto& [name, c] : correction) {
      auto it = std::find_if(impl_->state.begin(), impl_->state.end(),
                             [&](const StateEntry& e) { return e.name == name; });
      if (it == impl_->state.end()) return InvalidArgumentError("SCAFFOLD correction for '" + name + "', which the model lacks");
      if (c.numel() != it->tensor.numel()) {
        return InvalidArgumentError("SCAFFOLD correction for '" + name + "' has " + std::to_string(c.numel()) +
                                    " values but the tensor has " + std::to_string(it->tensor.numel()));
      }
      at::Tensor corr = tensor_torch::to_torch(c).to(it->tensor.scalar_type()).reshape(it->tensor.sizes()).clone();
      pairs.emplace_back(it->tensor, std::move(corr));
    }
    impl_->correction = std::move(pairs);
    return Status::OK();
  } catch (const c10::Error& e) {
    return InternalError(std::string("SCAFFOLD correction: ") + e.what_without_backtrace());
  }
}

Result<RoundResult> LocalTrainer::train(const tensor::TensorDict& global_params) {
  try {
    RoundResult result;
    NVF_RETURN_IF_ERROR(impl_->load(global_params));
    result.eval_before = impl_->evaluate_loaded();
    NVF_ASSIGN_OR_RETURN(result.train, impl_->train_epochs(result));
    NVF_ASSIGN_OR_RETURN(result.params, impl_->export_state());
    return result;
  } catch (...) {
    return describe_exception("training model '" + impl_->options.model + "'");
  }
}

const TrainOptions& LocalTrainer::options() const { return impl_->options; }

int64_t LocalTrainer::num_train_samples() const {
  return static_cast<int64_t>(impl_->data.train_index.size());
}

int64_t LocalTrainer::num_val_samples() const {
  return static_cast<int64_t>(impl_->data.val_index.size());
}

Result<tensor::TensorDict> export_initial_params(const std::string& model_spec, uint64_t seed) {
  try {
    NVF_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, make_model(model_spec, DataShape{}, seed));
    tensor::TensorDict out;
    at::NoGradGuard no_grad;
    for (const StateEntry& e : model->state()) {
      NVF_ASSIGN_OR_RETURN(tensor::Tensor t, copy_out(e.tensor));
      NVF_RETURN_IF_ERROR(out.insert(e.name, std::move(t)));
    }
    return out;
  } catch (...) {
    return describe_exception("exporting the weights of model '" + model_spec + "'");
  }
}

}  // namespace nvf::trainer
