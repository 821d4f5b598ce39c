// Registers the runtime's components (launcher executor, launcher, accepted FLARE pipes) in a
// component registry.
#pragma once

#include "fl/component_registry.h"

namespace nvf::runtime {

Status register_runtime_components(fl::ComponentRegistry& registry);

}  // namespace nvf::runtime
