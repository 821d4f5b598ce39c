#include "workflows/pt_file_model_persistor.h"

#include <unistd.h>

#include <algorithm>
#include <set>
#include <utility>

#include "fl/exclude_vars.h"
#include "base/files.h"
#include "base/process.h"
#include "base/strings.h"
#include "tensor/pt_writer.h"
#include "tensor/safetensors.h"

namespace nvf::fl {
namespace {

namespace fs = std::filesystem;

Status check_file_name(const std::string& name, const char* arg) {
  NVF_RETURN_IF_ERROR(check_relative_name(arg, name));
  if (fs::path(name).extension() != ".pt") {
    return InvalidArgumentError(std::string(arg) + " '" + name + "' must end in \".pt\"");
  }
  return Status::OK();
}

}  // namespace

bool is_torch_file_name(const fs::path& path) {
  const std::string ext = base::to_lower(path.extension().string());
  return ext == ".pt" || ext == ".pth" || ext == ".ts" || ext == ".jit" || ext == ".ckpt";
}

Result<std::unique_ptr<PTFileModelPersistor>> PTFileModelPersistor::create(
    PersistorContext context, PTFileModelPersistorOptions options, base::Logger logger) {
  NVF_ASSIGN_OR_RETURN(std::optional<std::regex> exclude, compile_exclude_vars(options.exclude_vars));
  NVF_RETURN_IF_ERROR(check_file_name(options.global_model_file_name, "global_model_file_name"));
  NVF_RETURN_IF_ERROR(
      check_file_name(options.best_global_model_file_name, "best_global_model_file_name"));
  if (!options.model && options.model_file.empty() && options.source_ckpt_file_full_name.empty() &&
      options.python_class_path.empty()) {
    return InvalidArgumentError(
        "PTFileModelPersistor needs an initial model: set \"model\" (one of " +
        base::join(model_zoo_names(), ", ") +
        ", a model class in the app's custom/ folder, or a TorchScript file) or \"source_ckpt_file_full_name\"");
  }
  if (!logger) logger = base::null_logger();
  return std::unique_ptr<PTFileModelPersistor>(new PTFileModelPersistor(
      std::move(context), std::move(options), std::move(exclude), std::move(logger)));
}

PTFileModelPersistor::PTFileModelPersistor(PersistorContext context,
                                           PTFileModelPersistorOptions options,
                                           std::optional<std::regex> exclude, base::Logger logger)
    : context_(std::move(context)),
      options_(std::move(options)),
      exclude_(std::move(exclude)),
      logger_(std::move(logger)) {}

fs::path PTFileModelPersistor::safetensors_twin(const fs::path& pt) {
  return fs::path(pt).replace_extension(".safetensors");
}

fs::path PTFileModelPersistor::global_model_path() const {
  return context_.app_dir / options_.global_model_file_name;
}

fs::path PTFileModelPersistor::best_model_path() const {
  return context_.app_dir / options_.best_global_model_file_name;
}

Result<fs::path> PTFileModelPersistor::source_path() const {
  const bool ckpt = !options_.source_ckpt_file_full_name.empty();
  const fs::path& p = ckpt ? options_.source_ckpt_file_full_name : options_.model_file;
  if (p.empty()) return fs::path();
  const std::string arg = ckpt ? "source_ckpt_file_full_name" : "model";
  const fs::path path = p.is_absolute() ? p : context_.app_dir / "custom" / p;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return NotFoundError(arg + ": " + (ckpt ? "checkpoint " : "model file ") + path.string() +
                         " does not exist (an absolute path, or one relative to the app's "
                         "custom/ folder, must exist on the server when the job starts)");
  }
  const std::string ext = base::to_lower(path.extension().string());
  if (ext != ".safetensors" && !is_torch_file_name(path)) {
    return InvalidArgumentError(arg + ": " + path.string() +
                                " must be a .safetensors or a PyTorch/TorchScript file (.pt, .pth, "
                                ".ts, .jit, .ckpt)");
  }
  return path;
}

// Runs a helper that writes the initial weights to <run_dir>/initial_model.safetensors (its argv
// gets that path from `argv_of`); its output is kept for the error message. `what` names the work
// ("converting the initial model X"), `hint` says what to do when it fails.
Result<fs::path> PTFileModelPersistor::run_initial_model_helper(
    const std::function<std::vector<std::string>(const fs::path& out)>& argv_of,
    std::map<std::string, std::string> env, const std::string& what, const std::string& hint) const {
  std::error_code ec;
  const fs::path dir = context_.run_dir.empty() ? context_.app_dir : context_.run_dir;
  NVF_RETURN_IF_ERROR(base::make_dirs(dir));
  const fs::path out = dir / "initial_model.safetensors";
  const fs::path log = dir / "initial_model.log";
  fs::remove(out, ec);
  fs::remove(log, ec);
  base::SpawnOptions so;
  so.argv = argv_of(out);
  so.env_set = std::move(env);
  so.stdout_path = log;
  so.stderr_path = log;
  logger_->info("{} with {}", what, so.argv.front());
  NVF_ASSIGN_OR_RETURN(base::ChildProcess child, base::spawn(so));
  auto exit = child.wait(options_.torch_helper_timeout);
  auto output = [&] {
    std::string text(base::trim(base::read_file(log).value_or("")));
    fs::remove(log, ec);
    return text.empty() ? std::string() : ":\n" + text;
  };
  if (!exit.ok()) {
    child.terminate(std::chrono::milliseconds(1000)).status().ignore();
    return DeadlineExceededError(what + ": " + so.argv.front() + " did not finish within " +
                                 std::to_string(options_.torch_helper_timeout.count()) + " ms" + output());
  }
  if (exit->shell_code() != 0 || !fs::exists(out, ec)) {
    return InvalidArgumentError(what + " failed (" + so.argv.front() + " exited with code " +
                                std::to_string(exit->shell_code()) + "; " + hint + ")" + output());
  }
  output();
  return out;
}

Result<fs::path> PTFileModelPersistor::run_torch_helper(const fs::path& torch_file) const {
  const fs::path& helper = options_.torch_helper;
  std::error_code ec;
  if (helper.empty() || !fs::is_regular_file(helper, ec) || ::access(helper.c_str(), X_OK) != 0) {
    return FailedPreconditionError(
        "the initial model " + torch_file.string() +
        " is a PyTorch/TorchScript file; reading it needs the LibTorch helper nvflare-train " +
        (helper.empty() ? std::string("(not found beside the nvflare binary)")
                        : "(" + helper.string() + " is not an executable file)") +
        ". Build or install nvflare with NVF_WITH_TORCH=ON so that nvflare-train sits beside "
        "nvflare, or convert the model to .safetensors (safetensors.torch.save_file("
        "model.state_dict(), 'model.safetensors')) and point the job at that file");
  }
  return run_initial_model_helper(
      [&](const fs::path& out) {
        return std::vector<std::string>{helper.string(), "--model", torch_file.string(), "--export-initial",
                                        out.string()};
      },
      {}, "reading the initial model " + torch_file.string(),
      "it reads TorchScript files (torch.jit.save); convert a plain state_dict to .safetensors");
}

// The job's model class, instantiated by Python once: its state_dict becomes the initial model.
Result<fs::path> PTFileModelPersistor::run_python_model_class() const {
  const std::string& cls = options_.python_class_path;
  const std::string checkpoint_hint =
      "give the persistor an initial checkpoint, \"source_ckpt_file_full_name\": a .safetensors file of the "
      "model's state_dict";
  if (options_.python.empty() || options_.python_package_root.empty()) {
    return FailedPreconditionError(
        "the model class '" + cls + "' (in " + (context_.app_dir / "custom").string() +
        ") is Python: building its initial weights needs python3 with torch and the nvflare Python package, "
        "which this installation does not have. Install python3-torch and build nvflare with the Python package "
        "(python3-dev, pybind11-dev, python3-numpy), or " + checkpoint_hint);
  }
  const fs::path custom = context_.app_dir / "custom";
  return run_initial_model_helper(
      [&](const fs::path& out) {
        return std::vector<std::string>{options_.python.string(), "-m", "nvflare._initial_model", custom.string(),
                                        cls, options_.python_class_args, out.string()};
      },
      {{"PYTHONPATH", custom.string() + ":" + options_.python_package_root.string()}},
      "building the initial model of class " + cls,
      "it needs torch, and the class must import and instantiate with its args; or " + checkpoint_hint);
}

Result<fs::path> PTFileModelPersistor::initial_safetensors() {
  NVF_ASSIGN_OR_RETURN(fs::path path, source_path());
  if (path.empty() && !options_.python_class_path.empty()) return run_python_model_class();
  if (path.empty() || !is_torch_file_name(path)) return path;
  return run_torch_helper(path);
}

Result<tensor::TensorDict> PTFileModelPersistor::load_initial() const {
  if (!initial_file_.empty()) {
    NVF_ASSIGN_OR_RETURN(auto reader, tensor::SafetensorsReader::open(initial_file_));
    return reader.tensors();  // views keep the mapping alive
  }
  logger_->info("initialized the model '{}' natively (seed {})", options_.model->name,
                options_.seed);
  return init_model(*options_.model, options_.seed);
}

Result<FLModel> PTFileModelPersistor::load() {
  NVF_RETURN_IF_ERROR(flush());
  NVF_ASSIGN_OR_RETURN(initial_file_, initial_safetensors());
  NVF_ASSIGN_OR_RETURN(tensor::TensorDict dict, load_initial());
  if (!initial_file_.empty()) logger_->info("loaded the initial model from {}", initial_file_.string());
  stored_names_ = dict.names();
  last_written_.clear();
  FLModel model;
  model.params_type = ParamsType::kFull;
  for (auto& [name, t] : dict) {
    if (exclude_ && std::regex_search(name, *exclude_)) continue;
    // Owned, not a view of the mapped file: once the first round replaces this model, the
    // aggregator takes its memory for the second round's sums (Aggregator::recycle takes owned
    // memory only), so no round after the first needs fresh memory for them. The copy is made
    // once, before the first round (0.7 s for 1 GiB here).
    NVF_RETURN_IF_ERROR(t.make_owned());
    NVF_RETURN_IF_ERROR(model.params.insert(name, std::move(t)));
  }
  return model;
}

Result<tensor::TensorDict> PTFileModelPersistor::stored_values() const {
  if (last_written_.empty()) return load_initial();
  NVF_ASSIGN_OR_RETURN(auto reader, tensor::SafetensorsReader::open(last_written_));
  return reader.tensors();
}

Result<tensor::TensorDict> PTFileModelPersistor::merged(const FLModel& model) const {
  tensor::TensorDict out;
  bool need_stored = false;
  for (const auto& name : stored_names_) need_stored |= !model.params.contains(name);
  tensor::TensorDict stored;
  if (need_stored) {
    NVF_ASSIGN_OR_RETURN(stored, stored_values());
  }
  for (const auto& name : stored_names_) {
    if (const auto* t = model.params.find(name)) {
      NVF_RETURN_IF_ERROR(out.insert(name, t->share()));
    } else if (auto* s = stored.find(name)) {
      NVF_RETURN_IF_ERROR(out.insert(name, s->share()));
    }
  }
  for (const auto& [name, t] : model.params) {
    if (!out.contains(name)) NVF_RETURN_IF_ERROR(out.insert(name, t.share()));
  }
  return out;
}

Result<std::string> PTFileModelPersistor::write_pair(const fs::path& pt, const tensor::TensorDict& dict) const {
  NVF_RETURN_IF_ERROR(base::make_dirs(pt.parent_path()));
  // Saved every round, over the version before last, which stays beside the files as a hidden
  // scratch until the end of the run: a small model is rewritten in its cached pages (decision
  // 021). A large one bypasses the page cache (fresh page cache costs a first touch per page, and
  // nothing reads the files back soon: decision 024) and lands in blocks the file already has; the
  // swap frees none, and it is not synced until end_run() (decision 028).
  const uint64_t bytes = dict.total_bytes();
  base::AtomicFileWriter::Options file;
  file.direct = bytes >= kDirectSaveBytes;
  file.keep_previous = true;
  file.sync = !file.direct;
  const auto start = std::chrono::steady_clock::now();
  if (file.direct) {
    // Two writers at once: one's CRC and copying overlap the other's waiting for the disk.
    Status twin;
    std::thread writer([&] {
      try {
        twin = tensor::write_safetensors(safetensors_twin(pt), dict, {}, file);
      } catch (const std::exception& e) {
        twin = InternalError("writing " + safetensors_twin(pt).string() + ": " + e.what());
      }
    });
    Status main = tensor::write_pt(pt, dict, /*wrap_in_model_dict=*/true, file);
    writer.join();
    NVF_RETURN_IF_ERROR(main);
    NVF_RETURN_IF_ERROR(twin);
  } else {
    NVF_RETURN_IF_ERROR(tensor::write_pt(pt, dict, /*wrap_in_model_dict=*/true, file));
    NVF_RETURN_IF_ERROR(tensor::write_safetensors(safetensors_twin(pt), dict, {}, file));
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return fmt::format("{} and its safetensors twin, {} each, in {:.2f} s", pt.string(),
                     base::human_bytes(static_cast<double>(bytes)), took.count());
}

void PTFileModelPersistor::end_run() {
  if (Status s = flush(); !s.ok()) logger_->error("{}", s.message());
  // Large models were saved each round without a sync (decision 028): the run's last files go to
  // the disk now, and the directory with their names.
  std::error_code ec;
  bool synced = false;
  for (const fs::path& pt : {global_model_path(), best_model_path()}) {
    for (const fs::path& f : {pt, safetensors_twin(pt)}) {
      if (!fs::is_regular_file(f, ec)) continue;
      if (Status s = base::sync_to_disk(f); !s.ok()) logger_->error("{}", s.message());
      synced = true;
    }
  }
  if (synced) {
    if (Status s = base::sync_to_disk(global_model_path().parent_path()); !s.ok()) {
      logger_->error("{}", s.message());
    }
  }
  for (const fs::path& pt : {global_model_path(), best_model_path()}) {
    base::remove_previous(pt);
    base::remove_previous(safetensors_twin(pt));
  }
}

Status PTFileModelPersistor::write_global(const tensor::TensorDict& dict, bool is_best) const {
  NVF_ASSIGN_OR_RETURN(std::string written, write_pair(global_model_path(), dict));
  logger_->info("saved the global model to {}", written);
  if (is_best) {
    NVF_ASSIGN_OR_RETURN(written, write_pair(best_model_path(), dict));
    logger_->info("saved the best global model to {}", written);
  }
  return Status::OK();
}

Status PTFileModelPersistor::save(const FLModel& global, bool is_best) {
  return save_pair(global, is_best, /*background=*/false);
}

Status PTFileModelPersistor::save_in_background(const FLModel& global, bool is_best) {
  return save_pair(global, is_best, /*background=*/true);
}

Status PTFileModelPersistor::save_pair(const FLModel& global, bool is_best, bool background) {
  NVF_RETURN_IF_ERROR(flush());
  NVF_ASSIGN_OR_RETURN(tensor::TensorDict dict, merged(global));
  if (!background || dict.total_bytes() < kDirectSaveBytes) {
    NVF_RETURN_IF_ERROR(write_global(dict, is_best));
    // The stored dict now lives in the file just written; new keys join it.
    last_written_ = safetensors_twin(global_model_path());
    stored_names_ = dict.names();
    return Status::OK();
  }
  saver_names_ = dict.names();
  // The thread owns the dict (shares of the caller's tensors) and drops it before it ends, so a
  // joined saver holds no tensor (the aggregator may then reuse their memory).
  saver_ = std::thread([this, is_best, held = std::move(dict)]() mutable {
    try {
      saver_status_ = write_global(held, is_best);
    } catch (const std::exception& e) {
      saver_status_ = InternalError("saving " + global_model_path().string() + ": " + e.what());
    }
    held = tensor::TensorDict();
  });
  return Status::OK();
}

Status PTFileModelPersistor::flush() {
  if (!saver_.joinable()) return Status::OK();
  saver_.join();
  Status s = std::exchange(saver_status_, Status::OK());
  if (!s.ok()) return s;
  last_written_ = safetensors_twin(global_model_path());
  stored_names_ = std::move(saver_names_);
  return Status::OK();
}

PTFileModelPersistor::~PTFileModelPersistor() {
  if (saver_.joinable()) saver_.join();
}

Status PTFileModelPersistor::save_best(const FLModel& model) {
  NVF_RETURN_IF_ERROR(flush());
  NVF_ASSIGN_OR_RETURN(tensor::TensorDict dict, merged(model));
  NVF_ASSIGN_OR_RETURN(std::string written, write_pair(best_model_path(), dict));
  logger_->info("saved the best global model to {}", written);
  return Status::OK();
}

}  // namespace nvf::fl
