#include "fl/component_registry.h"

#include <fnmatch.h>

#include <algorithm>
#include <set>

#include "base/strings.h"

namespace nvf::fl {

using config::FieldPath;
using config::Value;

std::string_view component_kind_name(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::kWorkflow:
      return "workflow";
    case ComponentKind::kPersistor:
      return "persistor";
    case ComponentKind::kAggregator:
      return "aggregator";
    case ComponentKind::kModelSelector:
      return "model_selector";
    case ComponentKind::kExecutor:
      return "executor";
    case ComponentKind::kLauncher:
      return "launcher";
    case ComponentKind::kFilter:
      return "filter";
    case ComponentKind::kOther:
      break;
  }
  return "other";
}

namespace {

std::string strip_ref(std::string_view path) { return std::string(path.substr(0, path.find('#'))); }


std::string short_class_name(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ComponentRegistry

Status ComponentRegistry::add(ComponentEntry entry) {
  if (entry.name.empty()) return InvalidArgumentError("component entry without a name");
  if (!entry.factory) {
    return InvalidArgumentError("component entry '" + entry.name + "' has no factory");
  }
  std::vector<std::string> paths{entry.name};
  paths.insert(paths.end(), entry.aliases.begin(), entry.aliases.end());
  for (const auto& p : paths) {
    if (auto it = by_path_.find(p); it != by_path_.end()) {
      return AlreadyExistsError("component path '" + p + "' of '" + entry.name +
                                "' is already registered by '" + entries_[it->second]->name + "'");
    }
  }
  const size_t index = entries_.size();
  entries_.push_back(std::make_shared<const ComponentEntry>(std::move(entry)));
  for (const auto& p : paths) by_path_.emplace(p, index);
  return Status::OK();
}

const ComponentEntry* ComponentRegistry::find(std::string_view path) const {
  auto it = by_path_.find(strip_ref(path));
  return it == by_path_.end() ? nullptr : entries_[it->second].get();
}

std::vector<std::string> ComponentRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e->name);
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------------------------------------
// ComponentSet

ComponentSet& ComponentSet::operator=(ComponentSet&& other) noexcept {
  if (this != &other) {
    destroy();
    slots_ = std::move(other.slots_);
    by_id_ = std::move(other.by_id_);
    build_order_ = std::move(other.build_order_);
    workflow_ids_ = std::move(other.workflow_ids_);
    executors_ = std::move(other.executors_);
    other.slots_.clear();
    other.build_order_.clear();
  }
  return *this;
}

ComponentSet::~ComponentSet() { destroy(); }

void ComponentSet::destroy() {
  // Later components may point at earlier ones (they looked them up while being built).
  for (auto it = build_order_.rbegin(); it != build_order_.rend(); ++it) {
    if (*it < slots_.size()) slots_[*it].component.reset();
  }
  build_order_.clear();
  executors_.clear();
  slots_.clear();
}

Component* ComponentSet::find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : slots_[it->second].component.get();
}

const Value* ComponentSet::find_data(std::string_view id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || !slots_[it->second].info.is_data) return nullptr;
  return &slots_[it->second].data;
}

const ComponentSet::Info* ComponentSet::info(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &slots_[it->second].info;
}

std::vector<ComponentSet::Info> ComponentSet::infos() const {
  std::vector<Info> out;
  for (const auto& s : slots_) {
    if (!s.info.id.empty()) out.push_back(s.info);
  }
  return out;
}

std::vector<Component*> ComponentSet::workflows() const {
  std::vector<Component*> out;
  for (const auto& id : workflow_ids_) out.push_back(find(id));
  return out;
}

Component* ComponentSet::executor_for_task(std::string_view task) const {
  const std::string name(task);
  for (const auto& b : executors_) {
    if (std::find(b.tasks.begin(), b.tasks.end(), name) != b.tasks.end()) return b.executor;
  }
  for (const auto& b : executors_) {
    for (const auto& pattern : b.tasks) {
      if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return b.executor;
    }
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// ComponentBuilder: collects every object first (ids, paths), then builds on demand.

namespace internal {

class ComponentBuilder {
 public:
  ComponentBuilder(const ComponentRegistry& registry, std::string_view file, const BuildEnv& env,
                   ComponentSet* set)
      : registry_(registry), file_(file), env_(env), set_(set) {
    if (!env_.logger) env_.logger = base::null_logger();
  }

  Status collect(const Value& cfg);
  Status build_all();
  Result<Component*> lookup(const BuildContext& from, std::string_view arg, std::string_view id);
  Result<std::unique_ptr<Component>> build_inline(const BuildContext& from, std::string_view arg);
  Result<std::unique_ptr<Component>> build_standalone(const Value& v, const FieldPath& at);

 private:
  enum class State { kPending, kBuilding, kBuilt };
  struct Parsed {
    const ComponentEntry* entry = nullptr;
    Value args = Value::object();
    bool disabled = false;
    bool is_data = false;
  };
  struct Pending {
    const ComponentEntry* entry = nullptr;
    Value args;
    State state = State::kPending;
  };

  Status error(const FieldPath& at, std::string_view what) const {
    return InvalidArgumentError(file_ + ": " + at.str() + ": " + std::string(what));
  }
  Result<Parsed> parse_object(const Value& v, const FieldPath& at) const;
  Result<std::unique_ptr<Component>> run_factory(const ComponentEntry& entry, const Value& args,
                                                 const FieldPath& at, const std::string& id);
  Status add_slot(const Value& v, const FieldPath& at, const std::string& id, ComponentKind* kind);
  Status build_slot(size_t index);
  Status collect_components(const Value& cfg);
  Status collect_workflows(const Value& cfg);
  Status collect_executors(const Value& cfg);
  Status claim_id(const std::string& id, const FieldPath& at);

  const ComponentRegistry& registry_;
  std::string file_;
  BuildEnv env_;
  ComponentSet* set_;
  std::vector<Pending> pending_;  // parallel to set_->slots_
  std::set<std::string, std::less<>> disabled_;
  std::vector<std::string> building_;   // ids being built, outermost first (for cycle messages)
  std::vector<size_t> executor_slots_;  // parallel to set_->executors_
};

}  // namespace internal

std::filesystem::path python_module_file(const std::filesystem::path& custom_dir, std::string_view class_path) {
  const auto dot = class_path.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || custom_dir.empty()) return {};
  std::string module(class_path.substr(0, dot));
  for (char& c : module) {
    if (c == '.') c = '/';
    if (c == '\\' || c == '\0') return {};
  }
  if (module.find("//") != std::string::npos || module.front() == '/') return {};
  std::error_code ec;
  for (const std::filesystem::path& p : {custom_dir / (module + ".py"), custom_dir / module / "__init__.py"}) {
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  return {};
}

namespace internal {

Result<ComponentBuilder::Parsed> ComponentBuilder::parse_object(const Value& v,
                                                                const FieldPath& at) const {
  if (!v.is_object()) return error(at, "component must be a dict but got " + config::python_type_name(v));
  Parsed out;
  if (v.contains("disabled") && v["disabled"].is_boolean() && v["disabled"].get<bool>()) {
    out.disabled = true;
    return out;
  }
  if (v.contains("config_type") && v["config_type"] == "dict") {
    out.is_data = true;
    return out;
  }
  std::string path;
  for (const char* key : {"path", "class_path", "name"}) {
    if (v.contains(key) && v[key].is_string()) {
      path = v[key].get<std::string>();
      break;
    }
  }
  if (path.empty()) return error(at, "component has no \"path\" (or \"class_path\" / \"name\")");
  out.entry = registry_.find(path);
  if (!out.entry && !python_module_file(env_.app_dir / "custom", path).empty()) {
    // The job's own Python class: kept as data for the components that use it.
    static const ComponentEntry kPythonClass{
        "PythonClass", {}, ComponentKind::kOther, {}, [](const BuildContext& ctx) -> Result<std::unique_ptr<Component>> {
          return std::unique_ptr<Component>(
              new PythonClassComponent(ctx.args()["class_path"].get<std::string>(), ctx.args()["args"]));
        }};
    out.entry = &kPythonClass;
    Value args = v.contains("args") && v["args"].is_object() ? v["args"] : Value::object();
    out.args = Value{{"class_path", path}, {"args", std::move(args)}};
    return out;
  }
  if (!out.entry) {
    return InvalidArgumentError(file_ + ": unknown component path '" + path + "' in " + at.str() +
                                "; available: " + base::join(registry_.names(), ", "));
  }
  if (v.contains("args") && !v["args"].is_null()) {
    if (!v["args"].is_object()) {
      return error(at.child("args"), "\"args\" must be a dict but got " + config::python_type_name(v["args"]));
    }
    out.args = v["args"];
    if (out.args.contains("class_attributes")) {
      Value attrs = out.args["class_attributes"];
      if (!attrs.is_object()) {
        return error(at.child("args").child("class_attributes"), "must be a dict");
      }
      out.args = std::move(attrs);
    }
  }
  return out;
}

Status ComponentBuilder::claim_id(const std::string& id, const FieldPath& at) {
  if (set_->by_id_.count(id) || disabled_.count(id)) {
    return error(at.child("id"), "duplicate component id \"" + id + "\"");
  }
  return Status::OK();
}

// Records a slot for a component object; disabled objects only reserve their id.
Status ComponentBuilder::add_slot(const Value& v, const FieldPath& at, const std::string& id,
                                  ComponentKind* kind) {
  NVF_ASSIGN_OR_RETURN(Parsed parsed, parse_object(v, at));
  if (!id.empty()) NVF_RETURN_IF_ERROR(claim_id(id, at));
  if (parsed.disabled) {
    env_.logger->info("{}: {} ('{}') is disabled; skipped", file_, at.str(), id);
    if (!id.empty()) disabled_.insert(id);
    return Status::OK();
  }
  ComponentSet::Slot slot;
  slot.info.id = id;
  slot.info.field = at.str();
  slot.info.is_data = parsed.is_data;
  Pending p;
  if (parsed.is_data) {
    slot.data = v;
    p.state = State::kBuilt;
  } else {
    slot.info.name = parsed.entry->name;
    slot.info.kind = parsed.entry->kind;
    p.entry = parsed.entry;
    p.args = std::move(parsed.args);
    if (kind) *kind = parsed.entry->kind;
  }
  if (!id.empty()) set_->by_id_.emplace(id, set_->slots_.size());
  set_->slots_.push_back(std::move(slot));
  pending_.push_back(std::move(p));
  return Status::OK();
}

Status ComponentBuilder::collect_components(const Value& cfg) {
  if (!cfg.contains("components") || cfg["components"].is_null()) return Status::OK();
  const Value& list = cfg["components"];
  const FieldPath at = FieldPath().child("components");
  if (!list.is_array())
    return error(at, "\"components\" must be a list but got " + config::python_type_name(list));
  for (size_t i = 0; i < list.size(); ++i) {
    const FieldPath item = at.index(i);
    const Value& c = list[i];
    if (!c.is_object()) return error(item, "component must be a dict but got " + config::python_type_name(c));
    if (!c.contains("id") || !c["id"].is_string() || c["id"].get<std::string>().empty()) {
      return error(item.child("id"), "missing component id (a non-empty string)");
    }
    NVF_RETURN_IF_ERROR(add_slot(c, item, c["id"].get<std::string>(), nullptr));
  }
  return Status::OK();
}

Status ComponentBuilder::collect_workflows(const Value& cfg) {
  if (!cfg.contains("workflows") || cfg["workflows"].is_null()) return Status::OK();
  const Value& list = cfg["workflows"];
  const FieldPath at = FieldPath().child("workflows");
  if (!list.is_array()) return error(at, "\"workflows\" must be a list but got " + config::python_type_name(list));
  for (size_t i = 0; i < list.size(); ++i) {
    const FieldPath item = at.index(i);
    const Value& w = list[i];
    if (!w.is_object()) return error(item, "workflow must be a dict but got " + config::python_type_name(w));
    std::string id;
    if (w.contains("id") && w["id"].is_string()) id = w["id"].get<std::string>();
    if (id.empty()) {  // FLARE names an anonymous workflow after its class
      for (const char* key : {"path", "class_path", "name"}) {
        if (w.contains(key) && w[key].is_string()) {
          id = short_class_name(strip_ref(w[key].get<std::string>()));
          break;
        }
      }
    }
    const size_t before = set_->slots_.size();
    NVF_RETURN_IF_ERROR(add_slot(w, item, id, nullptr));
    if (set_->slots_.size() > before) set_->workflow_ids_.push_back(id);
  }
  return Status::OK();
}

Status ComponentBuilder::collect_executors(const Value& cfg) {
  if (!cfg.contains("executors") || cfg["executors"].is_null()) return Status::OK();
  const Value& list = cfg["executors"];
  const FieldPath at = FieldPath().child("executors");
  if (!list.is_array()) return error(at, "\"executors\" must be a list but got " + config::python_type_name(list));
  std::set<std::string> claimed;
  for (size_t i = 0; i < list.size(); ++i) {
    const FieldPath item = at.index(i);
    const Value& e = list[i];
    if (!e.is_object()) return error(item, "executor entry must be a dict but got " + config::python_type_name(e));
    const Value* tasks = e.contains("tasks") ? &e["tasks"] : nullptr;
    if (!tasks || !tasks->is_array() || tasks->empty()) {
      return error(item.child("tasks"), "\"tasks\" must be a non-empty list of task names");
    }
    ComponentSet::ExecutorBinding binding;
    for (size_t t = 0; t < tasks->size(); ++t) {
      const Value& name = (*tasks)[t];
      if (!name.is_string() || name.get<std::string>().empty()) {
        return error(item.child("tasks").index(t), "task name must be a non-empty string");
      }
      if (!claimed.insert(name.get<std::string>()).second) {
        return error(item.child("tasks").index(t),
                     "multiple executors defined for task '" + name.get<std::string>() + "'");
      }
      binding.tasks.push_back(name.get<std::string>());
    }
    if (!e.contains("executor")) return error(item.child("executor"), "missing \"executor\"");
    const Value& ex = e["executor"];
    if (ex.is_object() && ex.contains("id") && ex["id"].is_string()) {
      binding.id = ex["id"].get<std::string>();
    }
    const size_t before = set_->slots_.size();
    NVF_RETURN_IF_ERROR(add_slot(ex, item.child("executor"), binding.id, nullptr));
    if (set_->slots_.size() == before) continue;  // disabled
    executor_slots_.push_back(before);            // the pointer is filled in after the build
    set_->executors_.push_back(std::move(binding));
  }
  return Status::OK();
}

Status ComponentBuilder::collect(const Value& cfg) {
  if (!cfg.is_object()) {
    return InvalidArgumentError(file_ + ": the app config must be a dict but got " +
                                config::python_type_name(cfg));
  }
  NVF_RETURN_IF_ERROR(collect_components(cfg));
  NVF_RETURN_IF_ERROR(collect_workflows(cfg));
  return collect_executors(cfg);
}

Result<std::unique_ptr<Component>> ComponentBuilder::run_factory(const ComponentEntry& entry,
                                                                 const Value& args,
                                                                 const FieldPath& at,
                                                                 const std::string& id) {
  if (!entry.accepted_args.empty()) {
    for (const auto& [key, value] : args.items()) {
      const auto& ok = entry.accepted_args;
      if (std::find(ok.begin(), ok.end(), key) == ok.end()) {
        return error(at.child("args").child(key), "unknown argument '" + key + "' for " +
                                                      entry.name +
                                                      "; accepted: " + base::join(ok, ", "));
      }
    }
  }
  BuildContext ctx;
  ctx.builder_ = this;
  ctx.id_ = id;
  ctx.entry_ = &entry;
  ctx.args_ = &args;
  ctx.field_ = at;
  ctx.file_ = file_;
  ctx.env_ = &env_;
  ctx.logger_ = env_.logger;
  auto made = entry.factory(ctx);
  if (made.ok() && !*made) {
    return InternalError(file_ + ": " + at.str() + ": factory of " + entry.name + " returned null");
  }
  return made;
}

Status ComponentBuilder::build_slot(size_t index) {
  Pending& p = pending_[index];
  if (p.state != State::kPending) return Status::OK();
  auto& slot = set_->slots_[index];
  p.state = State::kBuilding;
  building_.push_back(slot.info.id);
  auto made = run_factory(*p.entry, p.args, FieldPath().child(slot.info.field), slot.info.id);
  building_.pop_back();
  if (!made.ok()) return made.status();
  slot.component = std::move(made).value();
  p.state = State::kBuilt;
  set_->build_order_.push_back(index);
  return Status::OK();
}

Status ComponentBuilder::build_all() {
  for (size_t i = 0; i < pending_.size(); ++i) NVF_RETURN_IF_ERROR(build_slot(i));
  for (size_t i = 0; i < set_->executors_.size(); ++i) {
    set_->executors_[i].executor = set_->slots_[executor_slots_[i]].component.get();
  }
  return Status::OK();
}

Result<Component*> ComponentBuilder::lookup(const BuildContext& from, std::string_view arg,
                                            std::string_view id) {
  auto it = set_->by_id_.find(id);
  const std::string quoted = "'" + std::string(id) + "'";
  if (it == set_->by_id_.end()) {
    if (disabled_.count(id)) return from.arg_error(arg, "component " + quoted + " is disabled");
    std::vector<std::string> ids;
    for (const auto& [k, v] : set_->by_id_) ids.push_back(k);
    return from.arg_error(arg, "no component with id " + quoted + " (ids in this config: " +
                                   (ids.empty() ? std::string("none") : base::join(ids, ", ")) +
                                   ")");
  }
  const size_t index = it->second;
  if (set_->slots_[index].info.is_data) {
    return from.arg_error(arg, "component " + quoted + " is a \"config_type\": \"dict\" value");
  }
  if (pending_[index].state == State::kBuilding) {
    return from.arg_error(arg, "component " + quoted + " refers back to itself through " +
                                   base::join(building_, " -> ") + " -> " + std::string(id));
  }
  NVF_RETURN_IF_ERROR(build_slot(index));
  return set_->slots_[index].component.get();
}

Result<std::unique_ptr<Component>> ComponentBuilder::build_inline(const BuildContext& from,
                                                                  std::string_view arg) {
  const FieldPath at = from.field().child("args").child(arg);
  if (!from.has_arg(arg)) return from.arg_error(arg, "missing component object");
  NVF_ASSIGN_OR_RETURN(Parsed parsed, parse_object(from.args()[std::string(arg)], at));
  if (parsed.disabled || parsed.is_data) {
    return from.arg_error(arg, "an inline component cannot be disabled or a dict");
  }
  return run_factory(*parsed.entry, parsed.args, at, from.id() + "." + std::string(arg));
}

Result<std::unique_ptr<Component>> ComponentBuilder::build_standalone(const Value& v,
                                                                      const FieldPath& at) {
  NVF_ASSIGN_OR_RETURN(Parsed parsed, parse_object(v, at));
  if (parsed.disabled) {
    env_.logger->info("{}: {} is disabled; skipped", file_, at.str());
    return std::unique_ptr<Component>();
  }
  if (parsed.is_data) return error(at, "must be a component, not a \"config_type\": \"dict\" value");
  return run_factory(*parsed.entry, parsed.args, at, at.str());
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------
// BuildContext

std::string BuildContext::arg_field(std::string_view arg) const {
  return field_.child("args").child(arg).str();
}

Status BuildContext::arg_error(std::string_view arg, std::string_view what) const {
  return InvalidArgumentError(file_ + ": " + arg_field(arg) + ": " + std::string(what));
}

bool BuildContext::has_arg(std::string_view arg) const {
  auto it = args_->find(std::string(arg));
  return it != args_->end() && !it->is_null();
}

Result<std::string> BuildContext::string_arg(std::string_view arg,
                                             std::string_view fallback) const {
  if (!has_arg(arg)) return std::string(fallback);
  const Value& v = (*args_)[std::string(arg)];
  if (!v.is_string()) return arg_error(arg, "must be a string but got " + config::python_type_name(v));
  return v.get<std::string>();
}

Result<double> BuildContext::number_arg(std::string_view arg, double fallback) const {
  if (!has_arg(arg)) return fallback;
  const Value& v = (*args_)[std::string(arg)];
  if (!v.is_number()) return arg_error(arg, "must be a number but got " + config::python_type_name(v));
  return v.get<double>();
}

Result<int64_t> BuildContext::int_arg(std::string_view arg, int64_t fallback) const {
  if (!has_arg(arg)) return fallback;
  const Value& v = (*args_)[std::string(arg)];
  if (!v.is_number_integer()) return arg_error(arg, "must be an int but got " + config::python_type_name(v));
  return v.get<int64_t>();
}

Result<bool> BuildContext::bool_arg(std::string_view arg, bool fallback) const {
  if (!has_arg(arg)) return fallback;
  const Value& v = (*args_)[std::string(arg)];
  if (!v.is_boolean()) return arg_error(arg, "must be a bool but got " + config::python_type_name(v));
  return v.get<bool>();
}

Result<std::map<std::string, double>> BuildContext::number_map_arg(std::string_view arg) const {
  std::map<std::string, double> out;
  if (!has_arg(arg)) return out;
  const Value& v = (*args_)[std::string(arg)];
  if (!v.is_object()) return arg_error(arg, "must be a dict of numbers but got " + config::python_type_name(v));
  for (const auto& [k, x] : v.items()) {
    if (!x.is_number()) {
      return arg_error(std::string(arg) + "." + k, "must be a number but got " + config::python_type_name(x));
    }
    out[k] = x.get<double>();
  }
  return out;
}

Result<Component*> BuildContext::component(std::string_view arg, std::string_view id) const {
  return builder_->lookup(*this, arg, id);
}

Result<std::unique_ptr<Component>> BuildContext::build_inline(std::string_view arg) const {
  return builder_->build_inline(*this, arg);
}

// ---------------------------------------------------------------------------------------------

Result<ComponentSet> build_components(const Value& resolved_app_config,
                                      const ComponentRegistry& registry, std::string_view file,
                                      const BuildEnv& env) {
  ComponentSet set;
  internal::ComponentBuilder builder(registry, file, env, &set);
  NVF_RETURN_IF_ERROR(builder.collect(resolved_app_config));
  NVF_RETURN_IF_ERROR(builder.build_all());
  return set;
}

Result<std::unique_ptr<Component>> build_component_object(const Value& object,
                                                          const ComponentRegistry& registry,
                                                          std::string_view file,
                                                          const FieldPath& field,
                                                          const BuildEnv& env) {
  ComponentSet none;
  internal::ComponentBuilder builder(registry, file, env, &none);
  return builder.build_standalone(object, field);
}

}  // namespace nvf::fl
