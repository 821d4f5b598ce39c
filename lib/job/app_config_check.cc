#include "job/app_config_check.h"

#include <set>
#include <string>

namespace nvf::job {
namespace {

using config::FieldPath;
using config::Value;

const FieldPath kRoot;

void check_format_version(const Value& cfg, FindingSink& sink) {
  if (!cfg.contains("format_version")) {
    sink.error("format_version", "missing format_version", "add \"format_version\": 2");
    return;
  }
  const Value& v = cfg["format_version"];
  if (!(v.is_number_integer() || v.is_number_unsigned() || v.is_boolean())) {
    sink.error("format_version", "\"format_version\" must be int, but got " + py_type_name(v),
               "write \"format_version\": 2 (a number, not a string)");
    return;
  }
  const int64_t n = v.is_boolean() ? (v.get<bool>() ? 1 : 0) : v.get<int64_t>();
  if (n != 2) {
    sink.error("format_version", "wrong \"format_version\" " + py_str(v) + ": must be 2",
               "set \"format_version\": 2");
  }
}

// Checks one {id?, path|class_path|name, args?} object; returns false when it is not one.
bool check_component(const Value& v, const FieldPath& at, FindingSink& sink) {
  if (!v.is_object()) {
    sink.error(at.str(), "component must be a dict but got " + py_type_name(v),
               "write {\"path\": \"...\", \"args\": {...}}");
    return false;
  }
  if (!is_component_object(v)) {
    sink.error(at.str(), "component has no \"name\" or \"path", "add \"path\": \"<class path>\"");
    return false;
  }
  if (v.contains("args") && !v["args"].is_object()) {
    sink.error(at.child("args").str(), "\"args\" must be a dict but got " + py_type_name(v["args"]),
               "write args as an object of keyword arguments");
  }
  return true;
}

// Validates a component list's ids; `ids` collects them across components and workflows.
void check_components(const Value& cfg, std::set<std::string>* ids, FindingSink& sink) {
  if (!cfg.contains("components")) return;
  const Value& list = cfg["components"];
  const FieldPath at = kRoot.child("components");
  if (!list.is_array()) {
    sink.error(at.str(), "\"components\" must be a list but got " + py_type_name(list));
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const FieldPath item = at.index(i);
    if (!check_component(list[i], item, sink)) continue;
    const Value& c = list[i];
    if (!c.contains("id") || c["id"].is_null() ||
        (c["id"].is_string() && c["id"].get<std::string>().empty())) {
      sink.error(item.child("id").str(), "missing component id",
                 "give the component a unique \"id\"");
      continue;
    }
    if (!c["id"].is_string()) {
      sink.error(item.child("id").str(), "\"id\" must be str but got " + py_type_name(c["id"]));
      continue;
    }
    const std::string id = c["id"].get<std::string>();
    if (!ids->insert(id).second) {
      sink.error(item.child("id").str(), "duplicate component id \"" + id + "\"",
                 "component and workflow ids share one namespace; rename one");
    }
  }
}

void check_workflows(const Value& cfg, std::set<std::string>* ids, FindingSink& sink) {
  const FieldPath at = kRoot.child("workflows");
  const Value* list = cfg.contains("workflows") ? &cfg["workflows"] : nullptr;
  if (list && !list->is_array()) {
    sink.error(at.str(), "\"workflows\" must be a list but got " + py_type_name(*list));
    return;
  }
  if (!list || list->empty()) {
    sink.error(at.str(), "workflows not specified",
               "add a controller, e.g. {\"id\": \"fedavg\", \"path\": "
               "\"nvflare.app_common.workflows.fedavg.FedAvg\", \"args\": {...}}");
    return;
  }
  std::set<std::string> workflow_ids;
  for (size_t i = 0; i < list->size(); ++i) {
    const FieldPath item = at.index(i);
    const Value& w = (*list)[i];
    if (!check_component(w, item, sink)) continue;
    std::string id;
    if (w.contains("id") && !w["id"].is_null()) {
      if (!w["id"].is_string()) {
        sink.error(item.child("id").str(), "\"id\" must be str but got " + py_type_name(w["id"]));
        continue;
      }
      id = w["id"].get<std::string>();
    }
    if (id.empty()) id = component_class_name(w);  // FLARE uses the class name
    if (!workflow_ids.insert(id).second) {
      sink.error(item.child("id").str(), "duplicate workflow id \"" + id + "\"",
                 "rename one of them");
    } else if (!ids->insert(id).second) {
      sink.error(item.child("id").str(), "duplicate component id \"" + id + "\"",
                 "component and workflow ids share one namespace; rename one");
    }
  }
}

// FLARE's validate_tasks; `tasks` may be null (missing), which FLARE sees as [].
void check_tasks(const Value* tasks, const FieldPath& at, FindingSink& sink) {
  if (tasks && !tasks->is_array()) {
    sink.error(at.str(),
               "\"tasks\" must be specified as list of task names but got " + py_type_name(*tasks),
               "write e.g. \"tasks\": [\"train\"]");
    return;
  }
  if (!tasks || tasks->empty()) {
    sink.error(at.str(), "\"tasks\" must not be empty", "list task names, or [\"*\"] for any task");
    return;
  }
  for (size_t i = 0; i < tasks->size(); ++i) {
    if (!(*tasks)[i].is_string()) {
      sink.error(at.index(i).str(),
                 "task names must be string but got " + py_type_name((*tasks)[i]));
    }
  }
}

std::vector<std::string> task_names(const Value& entry) {
  std::vector<std::string> out;
  if (entry.is_object() && entry.contains("tasks") && entry["tasks"].is_array()) {
    for (const auto& t : entry["tasks"]) {
      if (t.is_string()) out.push_back(t.get<std::string>());
    }
  }
  return out;
}

void check_filter_chains(const Value& cfg, const char* key, FindingSink& sink) {
  if (!cfg.contains(key)) return;
  const Value& list = cfg[key];
  const FieldPath at = kRoot.child(key);
  if (!list.is_array()) {
    sink.error(at.str(),
               std::string("\"") + key + "\" must be a list but got " + py_type_name(list));
    return;
  }
  std::set<std::string> seen_tasks;
  for (size_t i = 0; i < list.size(); ++i) {
    const FieldPath item = at.index(i);
    const Value& chain = list[i];
    if (!chain.is_object()) {
      sink.error(item.str(), "filter chain must be a dict with \"tasks\" and \"filters\" but got " +
                                 py_type_name(chain));
      continue;
    }
    check_tasks(chain.contains("tasks") ? &chain["tasks"] : nullptr, item.child("tasks"), sink);
    const Value* filters = chain.contains("filters") ? &chain["filters"] : nullptr;
    if (filters && !filters->is_array()) {
      sink.error(
          item.child("filters").str(),
          "\"filters\" must be specified as list of filters but got " + py_type_name(*filters));
    } else if (!filters || filters->empty()) {
      sink.error(item.child("filters").str(), "\"filters\" must not be empty",
                 "list at least one filter {\"path\": ..., \"args\": {...}}");
    } else {
      for (size_t j = 0; j < filters->size(); ++j)
        check_component((*filters)[j], item.child("filters").index(j), sink);
    }
    for (const auto& t : task_names(chain)) {
      if (!seen_tasks.insert(t).second) {
        sink.error(item.child("tasks").str(), "multiple data filter chains defined for task " + t,
                   "put all filters of a task into one chain");
      }
    }
  }
}

void check_executors(const Value& cfg, FindingSink& sink) {
  const FieldPath at = kRoot.child("executors");
  const Value* list = cfg.contains("executors") ? &cfg["executors"] : nullptr;
  if (list && !list->is_array()) {
    sink.error(at.str(), "\"executors\" must be a list but got " + py_type_name(*list));
    return;
  }
  if (!list || list->empty()) {
    sink.error(at.str(), "executors are not specified",
               "add {\"tasks\": [\"*\"], \"executor\": {\"path\": ..., \"args\": {...}}}");
    return;
  }
  std::set<std::string> seen_tasks;
  for (size_t i = 0; i < list->size(); ++i) {
    const FieldPath item = at.index(i);
    const Value& e = (*list)[i];
    if (!e.is_object()) {
      sink.error(item.str(),
                 "executor entry must be a dict with \"tasks\" and \"executor\" but got " +
                     py_type_name(e));
      continue;
    }
    check_tasks(e.contains("tasks") ? &e["tasks"] : nullptr, item.child("tasks"), sink);
    if (!e.contains("executor") || e["executor"].is_null()) {
      sink.error(item.child("executor").str(),
                 "\"executor\" must be an Executor object but got <class 'NoneType'>",
                 "add \"executor\": {\"path\": ..., \"args\": {...}}");
    } else {
      check_component(e["executor"], item.child("executor"), sink);
    }
    for (const auto& t : task_names(e)) {
      if (!seen_tasks.insert(t).second) {
        sink.error(item.child("tasks").str(), "Multiple executors defined for task \"" + t + "\"",
                   "each task name may map to one executor only");
      }
    }
  }
}

void check_number(const Value& cfg, const char* section, const char* key, double min, bool strict,
                  FindingSink& sink) {
  const Value* parent = section ? (cfg.contains(section) ? &cfg[section] : nullptr) : &cfg;
  if (!parent || !parent->is_object() || !parent->contains(key)) return;
  const Value& v = (*parent)[key];
  const std::string field = section ? std::string(section) + "." + key : std::string(key);
  if (!v.is_number()) {
    sink.error(field, std::string("\"") + key + "\" must be a number, but got " + py_type_name(v));
    return;
  }
  const double d = v.get<double>();
  if (strict && d <= min) {
    sink.error(field, std::string("\"") + key + "\" must be positive number, but got " + py_str(v));
  } else if (!strict && d < min) {
    sink.error(field, std::string("\"") + key + "\" must >= 1, but got " + py_str(v));
  }
}

}  // namespace

bool is_component_object(const Value& v) {
  if (!v.is_object()) return false;
  for (const char* key : {"path", "class_path", "name"}) {
    if (v.contains(key) && v[key].is_string()) return true;
  }
  return false;
}

std::string component_class_name(const Value& v) {
  if (!is_component_object(v)) return "";
  std::string path;
  for (const char* key : {"path", "class_path", "name"}) {
    if (v.contains(key) && v[key].is_string()) {
      path = v[key].get<std::string>();
      break;
    }
  }
  path = path.substr(0, path.find('#'));
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

void check_app_config(const Value& cfg, AppConfigKind kind, FindingSink& sink) {
  if (!cfg.is_object()) {
    sink.error("", "config must be a dict but got " + py_type_name(cfg));
    return;
  }
  check_format_version(cfg, sink);
  std::set<std::string> ids;
  check_components(cfg, &ids, sink);
  check_filter_chains(cfg, "task_data_filters", sink);
  check_filter_chains(cfg, "task_result_filters", sink);
  if (kind == AppConfigKind::kServer) {
    check_workflows(cfg, &ids, sink);
    check_number(cfg, "server", "heart_beat_timeout", 0.0, true, sink);
    check_number(cfg, "server", "task_request_interval", 1.0, false, sink);
  } else {
    check_executors(cfg, sink);
    if (cfg.contains("default_task_fetch_interval") &&
        !cfg["default_task_fetch_interval"].is_number()) {
      sink.error("default_task_fetch_interval",
                 "\"default_task_fetch_interval\" must be a number, but got " +
                     py_type_name(cfg["default_task_fetch_interval"]));
    }
  }
}

}  // namespace nvf::job
