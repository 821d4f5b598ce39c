// Compiled as the client module sees the tree: the protocol module is one of its declared deps.
#include "protocol/protocol.h"

int nvf_layering_declared() { return static_cast<int>(nvf::protocol::kTopicGetTask.size()); }
