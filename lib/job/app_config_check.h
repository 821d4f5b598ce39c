// Checks of an app's config_fed_server / config_fed_client value, with the messages of FLARE
// 2.7.2's FedJsonConfigurator, ServerJsonConfigurator and ClientJsonConfigurator
// (format_version, workflows, components, executors, filter chains). Stateless; safe from any
// thread. Component paths are not resolved here (that needs the component registry, in `fl`).
#pragma once

#include "config/value.h"
#include "job/finding.h"

namespace nvf::job {

enum class AppConfigKind { kServer, kClient };

/// Adds a finding for every problem in `config` (each with its field path).
void check_app_config(const config::Value& config, AppConfigKind kind, FindingSink& sink);

/// True when `v` is a component object: a dict with a string "path", "class_path" or "name".
bool is_component_object(const config::Value& v);

/// The short class name of a component ("FedAvg" for "nvflare....fedavg.FedAvg"), or "".
std::string component_class_name(const config::Value& v);

}  // namespace nvf::job
