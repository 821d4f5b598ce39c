#include "workflows/np_model_persistor.h"

#include "base/files.h"
#include "tensor/npy.h"
#include "tensor/safetensors.h"

namespace nvf::fl {
namespace {

namespace fs = std::filesystem;

// Checks that a nested list is rectangular with `shape` (found by following first elements).
Status check_nested(const config::Value& v, const tensor::Shape& shape, size_t depth,
                    const std::string& where) {
  if (depth == shape.size()) {
    if (!v.is_number()) {
      return InvalidArgumentError("element " + where + " must be a number but got " + v.dump() +
                                  (v.is_array() ? " (the list is ragged)" : ""));
    }
    return Status::OK();
  }
  if (!v.is_array() || static_cast<int64_t>(v.size()) != shape[depth]) {
    return InvalidArgumentError("element " + where + " must be a list of " +
                                std::to_string(shape[depth]) + " like its siblings but got " +
                                v.dump() + " (the list is ragged)");
  }
  for (size_t i = 0; i < v.size(); ++i) {
    NVF_RETURN_IF_ERROR(
        check_nested(v[i], shape, depth + 1, where + "[" + std::to_string(i) + "]"));
  }
  return Status::OK();
}

void flatten(const config::Value& v, std::vector<float>* out) {
  if (!v.is_array()) {
    out->push_back(v.get<float>());
    return;
  }
  for (const auto& x : v) flatten(x, out);
}

Result<fs::path> resolve_ckpt(const PersistorContext& ctx, const fs::path& p) {
  fs::path path = p.is_absolute() ? p : ctx.app_dir / "custom" / p;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return NotFoundError("initial checkpoint " + path.string() + " does not exist");
  }
  return path;
}

}  // namespace

Result<tensor::Tensor> tensor_from_nested_list(const config::Value& value) {
  tensor::Shape shape;
  for (const config::Value* v = &value; v->is_array(); v = &(*v)[0]) {
    shape.push_back(static_cast<int64_t>(v->size()));
    if (v->empty()) break;
  }
  NVF_RETURN_IF_ERROR(check_nested(value, shape, 0, "model"));
  std::vector<float> values;
  flatten(value, &values);
  NVF_ASSIGN_OR_RETURN(int64_t numel, tensor::shape_numel(shape));
  if (static_cast<size_t>(numel) != values.size()) {
    return InvalidArgumentError("the nested list is ragged");
  }
  return tensor::Tensor::from_vector<float>(shape, values);
}

Result<std::unique_ptr<NPModelPersistor>> NPModelPersistor::create(PersistorContext context,
                                                                   NPModelPersistorOptions options,
                                                                   base::Logger logger) {
  for (const auto& [arg, value] :
       {std::pair{"model_dir", &options.model_dir}, std::pair{"model_name", &options.model_name}}) {
    NVF_RETURN_IF_ERROR(check_relative_name(arg, *value));
  }
  tensor::Tensor initial;
  if (options.initial_model.is_null()) {
    initial = tensor::Tensor::from_vector<float>({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  } else {
    NVF_ASSIGN_OR_RETURN(initial, tensor_from_nested_list(options.initial_model));
  }
  if (!logger) logger = base::null_logger();
  return std::unique_ptr<NPModelPersistor>(new NPModelPersistor(
      std::move(context), std::move(options), std::move(initial), std::move(logger)));
}

NPModelPersistor::NPModelPersistor(PersistorContext context, NPModelPersistorOptions options,
                                   tensor::Tensor initial, base::Logger logger)
    : context_(std::move(context)),
      options_(std::move(options)),
      initial_(std::move(initial)),
      logger_(std::move(logger)) {}

fs::path NPModelPersistor::model_path() const {
  return context_.run_dir / options_.model_dir / options_.model_name;
}

fs::path NPModelPersistor::safetensors_path() const {
  return model_path().replace_extension(".safetensors");
}

Result<FLModel> NPModelPersistor::load() {
  FLModel model;
  model.params_type = ParamsType::kFull;
  std::error_code ec;
  const fs::path path = model_path();
  if (fs::exists(path, ec)) {
    NVF_ASSIGN_OR_RETURN(tensor::Tensor t, tensor::read_npy(path));
    logger_->info("loaded the global model from {}", path.string());
    NVF_RETURN_IF_ERROR(model.params.insert(std::string(kNumpyKey), std::move(t)));
    return model;
  }
  if (!options_.initial_ckpt.empty()) {
    NVF_ASSIGN_OR_RETURN(fs::path ckpt, resolve_ckpt(context_, options_.initial_ckpt));
    NVF_ASSIGN_OR_RETURN(tensor::Tensor t, tensor::read_npy(ckpt));
    logger_->info("loaded the initial model from {}", ckpt.string());
    NVF_RETURN_IF_ERROR(model.params.insert(std::string(kNumpyKey), std::move(t)));
    return model;
  }
  NVF_ASSIGN_OR_RETURN(tensor::Tensor t, initial_.clone());
  NVF_RETURN_IF_ERROR(model.params.insert(std::string(kNumpyKey), std::move(t)));
  return model;
}

Status NPModelPersistor::save(const FLModel& global, bool is_best) {
  const tensor::Tensor* t = global.params.find(kNumpyKey);
  if (!t && global.params.size() == 1) t = &global.params[0].second;
  if (!t) {
    return InvalidArgumentError("NPModelPersistor: the global model has no '" +
                                std::string(kNumpyKey) +
                                "' array (params: " + std::to_string(global.params.size()) + ")");
  }
  NVF_RETURN_IF_ERROR(base::make_dirs(model_path().parent_path()));
  NVF_RETURN_IF_ERROR(tensor::write_npy(model_path(), *t));
  NVF_RETURN_IF_ERROR(tensor::write_safetensors(safetensors_path(), global.params));
  logger_->info("saved the global model to {}{}", model_path().string(),
                is_best ? " (NPModelPersistor keeps no separate best model)" : "");
  return Status::OK();
}

}  // namespace nvf::fl
