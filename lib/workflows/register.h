// The server side's entries in the component registry. A server job's registry is
// fl::ComponentRegistry::builtin() (the filters) plus register_workflows() (everything below) plus
// the runtime's own entries.
#pragma once

#include "fl/component_registry.h"

namespace nvf::fl {

/// NPModelPersistor, PTFileModelPersistor, InTimeAccumulateWeightedAggregator, IntimeModelSelector,
/// FullModelShareableGenerator and TBAnalyticsReceiver (accepted, ignored), SimpleNetwork.
Status register_server_components(ComponentRegistry& registry);

}  // namespace nvf::fl

namespace nvf::workflows {

/// register_server_components(), then FedAvg (and ScatterAndGather as a FedAvg configuration).
Status register_workflows(fl::ComponentRegistry& registry);

}  // namespace nvf::workflows
