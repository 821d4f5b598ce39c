// Asking many peers the same thing at once: the server parent's orders to client parents (admin
// commands that address clients, restarts). Stateless; call from any thread but a cell's handler
// thread that one of the replies needs.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "cellnet/cell.h"

namespace nvf::runtime {

/// Sends a copy of `order` to every target at once and waits for every reply, each bounded by
/// `timeout`: a target that does not answer costs one timeout, not one per target. The replies
/// come in the order of `targets`.
std::vector<std::pair<std::string, Result<cellnet::Message>>> ask_all(cellnet::Cell& cell,
                                                                      const std::vector<std::string>& targets,
                                                                      std::string_view channel, std::string_view topic,
                                                                      const cellnet::Message& order,
                                                                      std::chrono::milliseconds timeout);

}  // namespace nvf::runtime
