#include "fl/filter.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>

namespace nvf::fl {

using config::FieldPath;
using config::Value;

std::string_view filter_kind_key(FilterKind kind) {
  return kind == FilterKind::kTaskData ? "task_data_filters" : "task_result_filters";
}

std::string_view filter_direction_name(FilterDirection direction) {
  return direction == FilterDirection::kIn ? "in" : "out";
}

FilterDirection default_filter_direction(FilterKind kind, bool is_server) {
  const bool data = kind == FilterKind::kTaskData;
  // Task data leaves the server and arrives at the client; results go the other way.
  return data == is_server ? FilterDirection::kOut : FilterDirection::kIn;
}

const FilterChains::Chain* FilterChains::find(FilterKind kind, std::string_view task,
                                              FilterDirection direction) const {
  auto applies = [&](const Chain& c) {
    return c.kind == kind && (direction == FilterDirection::kIn ? c.in : c.out);
  };
  const std::string name(task);
  for (const auto& c : chains_) {
    if (applies(c) && std::find(c.tasks.begin(), c.tasks.end(), name) != c.tasks.end()) return &c;
  }
  for (const auto& c : chains_) {
    if (!applies(c)) continue;
    for (const auto& pattern : c.tasks) {
      if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return &c;
    }
  }
  return nullptr;
}

std::vector<Filter*> FilterChains::select(FilterKind kind, std::string_view task,
                                          FilterDirection direction) const {
  const Chain* c = find(kind, task, direction);
  return c ? c->filters : std::vector<Filter*>{};
}

Status FilterChains::apply(FLModel& model, const FilterContext& ctx) const {
  const Chain* c = find(ctx.kind, ctx.task_name, ctx.direction);
  if (!c) return Status::OK();
  for (size_t i = 0; i < c->filters.size(); ++i) {
    Status s = c->filters[i]->filter(model, ctx);
    if (!s.ok()) return Status(s.code(), c->fields[i] + ": " + s.message());
  }
  return Status::OK();
}

namespace {

Status chain_error(std::string_view file, const FieldPath& at, std::string_view what) {
  return InvalidArgumentError(std::string(file) + ": " + at.str() + ": " + std::string(what));
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

Result<FilterChains> build_filter_chains(const Value& cfg, const ComponentRegistry& registry,
                                         std::string_view file, const BuildEnv& env,
                                         bool is_server) {
  FilterChains out;
  if (!cfg.is_object()) return out;
  const base::Logger log = env.logger ? env.logger : base::null_logger();
  for (FilterKind kind : {FilterKind::kTaskData, FilterKind::kTaskResult}) {
    const std::string key(filter_kind_key(kind));
    if (!cfg.contains(key) || cfg[key].is_null()) continue;
    const Value& list = cfg[key];
    const FieldPath at = FieldPath().child(key);
    if (!list.is_array()) return chain_error(file, at, "\"" + key + "\" must be a list");
    for (size_t i = 0; i < list.size(); ++i) {
      const FieldPath item = at.index(i);
      const Value& entry = list[i];
      if (!entry.is_object()) {
        return chain_error(file, item, "filter chain must be a dict with \"tasks\" and \"filters\"");
      }
      FilterChains::Chain chain;
      chain.kind = kind;
      const Value* tasks = entry.contains("tasks") ? &entry["tasks"] : nullptr;
      if (!tasks || !tasks->is_array() || tasks->empty()) {
        return chain_error(file, item.child("tasks"), "\"tasks\" must be a non-empty list of task names");
      }
      for (size_t t = 0; t < tasks->size(); ++t) {
        const Value& name = (*tasks)[t];
        if (!name.is_string() || name.get<std::string>().empty()) {
          return chain_error(file, item.child("tasks").index(t), "task name must be a non-empty string");
        }
        chain.tasks.push_back(name.get<std::string>());
      }
      const FilterDirection fallback = default_filter_direction(kind, is_server);
      std::string direction(filter_direction_name(fallback));
      if (entry.contains("direction") && !entry["direction"].is_null()) {
        const Value& d = entry["direction"];
        direction = d.is_string() ? lower(d.get<std::string>()) : "";
        if (direction != "in" && direction != "out" && direction != "inout") {
          return chain_error(file, item.child("direction"),
                             "\"direction\" must be \"in\", \"out\" or \"inout\" but got " + d.dump());
        }
      }
      chain.in = direction == "in" || direction == "inout";
      chain.out = direction == "out" || direction == "inout";
      if (!(fallback == FilterDirection::kIn ? chain.in : chain.out)) {
        log->warn("{}: {}: direction \"{}\" never applies to {} on the {} side: this chain never runs",
                  file, item.str(), direction, key, is_server ? "server" : "client");
      }
      const Value* filters = entry.contains("filters") ? &entry["filters"] : nullptr;
      if (!filters || !filters->is_array() || filters->empty()) {
        return chain_error(file, item.child("filters"), "\"filters\" must be a non-empty list of filters");
      }
      for (size_t j = 0; j < filters->size(); ++j) {
        const FieldPath fat = item.child("filters").index(j);
        NVF_ASSIGN_OR_RETURN(std::unique_ptr<Component> made,
                             build_component_object((*filters)[j], registry, file, fat, env));
        if (!made) continue;  // disabled
        auto* f = dynamic_cast<Filter*>(made.get());
        if (!f) return chain_error(file, fat, "the component is not a filter");
        const Value& obj = (*filters)[j];
        std::string name;
        for (const char* k : {"path", "class_path", "name"}) {
          if (obj.contains(k) && obj[k].is_string()) {
            const ComponentEntry* e = registry.find(obj[k].get<std::string>());
            name = e ? e->name : obj[k].get<std::string>();
            break;
          }
        }
        chain.filters.push_back(f);
        chain.fields.push_back(fat.str() + " (" + name + ")");
        out.owned_.push_back(std::move(made));
      }
      if (!chain.filters.empty()) out.chains_.push_back(std::move(chain));
    }
  }
  return out;
}

Value filter_config_of(const Value& cfg) {
  Value out = Value::object();
  if (!cfg.is_object()) return out;
  for (FilterKind kind : {FilterKind::kTaskData, FilterKind::kTaskResult}) {
    const std::string key(filter_kind_key(kind));
    if (cfg.contains(key) && cfg[key].is_array() && !cfg[key].empty()) out[key] = cfg[key];
  }
  return out;
}

}  // namespace nvf::fl
