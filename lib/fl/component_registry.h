// The component registry: the only way a config instantiates anything (DESIGN §4.1).
//
// A ComponentRegistry maps FLARE class paths (aliases such as
// "nvflare.app_common.workflows.fedavg.FedAvg" or the short "FedAvg") to our built-in components,
// each with a kind and a factory that takes the component's args. build_components() turns a
// resolved config_fed_server / config_fed_client value into a ComponentSet: the `components`, the
// `workflows` (server) and the `executors` with their task mapping (client), by id. A path that is
// not in the registry is an error listing what exists; nothing else is ever instantiated.
//
// Config rules (FLARE 2.7.2, cli-and-formats §2.3): a component object names its class by "path",
// "class_path" or "name" (tried in that order; a "#..." suffix is ignored); "args" is a dict
// ("args.class_attributes" replaces it); "disabled": true skips the object; "config_type": "dict"
// keeps it as data. Component, workflow and executor ids share one namespace. Factories may look
// other components up by id (e.g. "persistor_id"); a component named later in the file is built
// first, and a cycle is an error.
//
// Ownership: a ComponentSet owns every component it built and destroys them in reverse build order
// (a component may keep raw pointers to those it looked up). The registry is a plain value (no
// global): build one with ComponentRegistry::builtin() and add() more entries. Threads: registries
// and sets are read-only after construction and may then be shared; building is single-threaded.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/logging.h"
#include "base/status.h"
#include "config/value.h"

namespace nvf::fl {

enum class ComponentKind {
  kWorkflow,
  kPersistor,
  kAggregator,
  kModelSelector,
  kExecutor,
  kLauncher,
  kFilter,
  kOther
};

/// "workflow", "persistor", ... for messages.
std::string_view component_kind_name(ComponentKind kind);

/// The type-erased base of everything a config can instantiate. Interfaces such as ModelPersistor
/// derive from it; holders downcast with ComponentSet::get<T>() / BuildContext::component_as<T>().
class Component {
 public:
  virtual ~Component() = default;
};

/// A component that is accepted and does nothing (e.g. FullModelShareableGenerator, whose work
/// is done by the controllers here).
class NoOpComponent : public Component {};

/// A server component told once when the run ends, after the workflows (FLARE's END_RUN event);
/// called on the server job's run thread.
class EndRunListener {
 public:
  virtual ~EndRunListener() = default;
  virtual void end_run() = 0;
};

/// What the caller tells factories about where they run: paths and a logger, never globals.
struct BuildEnv {
  /// The job's run directory (server: <workspace>/<job_id>; simulator: .../simulate_job).
  std::filesystem::path run_dir;
  /// The app root inside run_dir (app_server, app_site-1); holds config/ and custom/.
  std::filesystem::path app_dir;
  std::string site_name;
  /// Null means a logger that drops everything.
  base::Logger logger;
  /// The LibTorch helper executable (nvflare-train) that converts PyTorch/TorchScript files for
  /// components that never load LibTorch themselves (DESIGN §4.3). Empty: not available.
  std::filesystem::path torch_helper;
  /// The Python interpreter and the folder holding the nvflare package (runtime/python_env.h), for
  /// components that build an initial model from a Python class in the app's custom folder.
  /// Empty: not available.
  std::filesystem::path python;
  std::filesystem::path python_package_root;
};

/// The file of a Python class path's module in `custom_dir` ("model.Net" -> custom/model.py or
/// custom/model/__init__.py), or empty when the module is not there.
std::filesystem::path python_module_file(const std::filesystem::path& custom_dir, std::string_view class_path);

/// A component whose path is not in the registry but names a Python class of the job (its module
/// is in the app's custom folder, as FLARE's jobs name their PyTorch model). Nothing is run when it
/// is built; native components that understand it (the PyTorch persistor's "model") use it.
class PythonClassComponent : public Component {
 public:
  PythonClassComponent(std::string class_path, config::Value args)
      : class_path_(std::move(class_path)), args_(std::move(args)) {}
  const std::string& class_path() const { return class_path_; }
  const config::Value& args() const { return args_; }

 private:
  std::string class_path_;
  config::Value args_;
};

class BuildContext;
namespace internal {
class ComponentBuilder;
}

/// Makes a component from its args. Errors should come from BuildContext::arg_error so that they
/// name the file and the field ("components[2].args.num_rounds").
using ComponentFactory = std::function<Result<std::unique_ptr<Component>>(const BuildContext&)>;

struct ComponentEntry {
  /// Canonical name, e.g. "FedAvg"; also accepted as a path.
  std::string name;
  /// FLARE class paths and short names that mean this component.
  std::vector<std::string> aliases;
  ComponentKind kind = ComponentKind::kOther;
  /// Argument names the component accepts; an arg outside the list is an error naming it.
  /// Empty: args are not checked.
  std::vector<std::string> accepted_args;
  ComponentFactory factory;
};

class ComponentRegistry {
 public:
  ComponentRegistry() = default;

  /// The components of this module, which both sides use: the filters ExcludeVars,
  /// PercentilePrivacy and SVTPrivacy (fl/filter.h). A trainer's registry is just this; the server
  /// adds persistors, aggregators and workflows (workflows/register.h) and the runtime's entries.
  static ComponentRegistry builtin();

  /// Registers an entry. Errors: INVALID_ARGUMENT (empty name or no factory), ALREADY_EXISTS when
  /// the name or an alias is taken (the message names the entry holding it).
  Status add(ComponentEntry entry);

  /// The entry for a path, canonical name or alias (a "#..." suffix is ignored), or null.
  const ComponentEntry* find(std::string_view path) const;

  /// Canonical names, sorted.
  std::vector<std::string> names() const;

 private:
  std::vector<std::shared_ptr<const ComponentEntry>> entries_;
  std::map<std::string, size_t, std::less<>> by_path_;  // name and aliases -> index in entries_
};

/// What a factory sees while its component is built.
class BuildContext {
 public:
  const std::string& id() const { return id_; }
  const ComponentEntry& entry() const { return *entry_; }
  /// Always an object (empty when the config has no args).
  const config::Value& args() const { return *args_; }
  /// The component object's field path, e.g. "components[2]".
  const config::FieldPath& field() const { return field_; }
  std::string_view file() const { return file_; }
  const BuildEnv& env() const { return *env_; }
  const base::Logger& logger() const { return logger_; }

  /// "components[2].args.<arg>".
  std::string arg_field(std::string_view arg) const;
  /// INVALID_ARGUMENT "<file>: <field>.args.<arg>: <what>".
  Status arg_error(std::string_view arg, std::string_view what) const;
  /// True when the arg is present and not null.
  bool has_arg(std::string_view arg) const;

  /// Typed args with a fallback when absent or null. Errors: INVALID_ARGUMENT naming the arg.
  Result<std::string> string_arg(std::string_view arg, std::string_view fallback) const;
  Result<double> number_arg(std::string_view arg, double fallback) const;
  Result<int64_t> int_arg(std::string_view arg, int64_t fallback) const;
  Result<bool> bool_arg(std::string_view arg, bool fallback) const;
  /// A dict of name -> number (e.g. aggregation_weights); empty when absent.
  Result<std::map<std::string, double>> number_map_arg(std::string_view arg) const;

  /// The component with `id`, named by arg `arg` (for messages). A component later in the file is
  /// built now. Errors: INVALID_ARGUMENT naming the arg and the id when no component has that id,
  /// it is disabled, it is a data-only dict, or the reference closes a cycle; the referenced
  /// component's own build errors.
  Result<Component*> component(std::string_view arg, std::string_view id) const;

  /// component() downcast to T; `what` names T in messages ("a persistor").
  /// Errors: as component(), plus INVALID_ARGUMENT when the component is not a T.
  template <typename T>
  Result<T*> component_as(std::string_view arg, std::string_view id, std::string_view what) const {
    NVF_ASSIGN_OR_RETURN(Component * c, component(arg, id));
    if (auto* t = dynamic_cast<T*>(c)) return t;
    return arg_error(arg, "component '" + std::string(id) + "' is not " + std::string(what));
  }

  /// Builds the component object given inline as the value of `arg` ({"path": ..., "args": ...}).
  /// Errors: INVALID_ARGUMENT when the arg is not a component object or its path is unknown; the
  /// nested component's build errors.
  Result<std::unique_ptr<Component>> build_inline(std::string_view arg) const;

 private:
  friend class internal::ComponentBuilder;
  BuildContext() = default;

  internal::ComponentBuilder* builder_ = nullptr;
  std::string id_;
  const ComponentEntry* entry_ = nullptr;
  const config::Value* args_ = nullptr;
  config::FieldPath field_;
  std::string file_;
  const BuildEnv* env_ = nullptr;
  base::Logger logger_;
};

/// The components of one app config, by id.
class ComponentSet {
 public:
  struct Info {
    std::string id;
    std::string name;  // canonical registry name ("" for data-only dicts)
    ComponentKind kind = ComponentKind::kOther;
    std::string field;  // "components[2]"
    bool is_data = false;
  };
  struct ExecutorBinding {
    std::vector<std::string> tasks;
    std::string id;  // "" when the config gave none
    Component* executor = nullptr;
  };

  ComponentSet() = default;
  ComponentSet(ComponentSet&&) noexcept = default;
  ComponentSet& operator=(ComponentSet&& other) noexcept;
  ~ComponentSet();

  /// The component with `id`, or null (also null for data-only dicts).
  Component* find(std::string_view id) const;
  template <typename T>
  T* find_as(std::string_view id) const {
    return dynamic_cast<T*>(find(id));
  }
  /// find_as with errors: NOT_FOUND naming the id, INVALID_ARGUMENT when it is not a T.
  template <typename T>
  Result<T*> get(std::string_view id) const {
    Component* c = find(id);
    if (!c) return NotFoundError("no component with id '" + std::string(id) + "'");
    if (auto* t = dynamic_cast<T*>(c)) return t;
    return InvalidArgumentError("component '" + std::string(id) + "' has the wrong type");
  }
  /// A `"config_type": "dict"` component's value, or null.
  const config::Value* find_data(std::string_view id) const;
  const Info* info(std::string_view id) const;
  /// Every component, workflow and identified executor in config order.
  std::vector<Info> infos() const;

  /// Workflows in config order (server).
  std::vector<Component*> workflows() const;
  const std::vector<std::string>& workflow_ids() const { return workflow_ids_; }

  /// Executor bindings in config order (client).
  const std::vector<ExecutorBinding>& executors() const { return executors_; }
  /// The executor for a task: an exact task name wins over a wildcard ("*", fnmatch) pattern;
  /// null when none matches.
  Component* executor_for_task(std::string_view task) const;

 private:
  friend class internal::ComponentBuilder;
  struct Slot {
    Info info;
    std::unique_ptr<Component> component;
    config::Value data;  // for is_data
  };
  void destroy();

  std::vector<Slot> slots_;                           // config order
  std::map<std::string, size_t, std::less<>> by_id_;  // id -> index in slots_
  std::vector<size_t> build_order_;                   // indices, in the order they were built
  std::vector<std::string> workflow_ids_;
  std::vector<ExecutorBinding> executors_;
};

/// Instantiates the `components`, `workflows` and `executors` of a resolved app config. `file`
/// names the config in messages. Errors: INVALID_ARGUMENT naming the file and the field for a
/// malformed list or object, a missing or duplicate id, an unknown path ("unknown component path
/// 'x' in components[2]; available: ..."), an arg the component does not accept, a task claimed by
/// two executors; any factory error.
Result<ComponentSet> build_components(const config::Value& resolved_app_config,
                                      const ComponentRegistry& registry, std::string_view file,
                                      const BuildEnv& env = {});

/// Builds one standalone component object found at `field` of `file` (e.g. a filter of a filter
/// chain); it cannot refer to other components by id. Null when the object is disabled.
/// Errors: INVALID_ARGUMENT as build_components (unknown path: "unknown component path 'x' in
/// <field>; available: ..."), and for a "config_type": "dict" object; the factory's errors.
Result<std::unique_ptr<Component>> build_component_object(const config::Value& object,
                                                          const ComponentRegistry& registry,
                                                          std::string_view file,
                                                          const config::FieldPath& field,
                                                          const BuildEnv& env = {});

}  // namespace nvf::fl
