// Fully qualified cell names (FLARE's FQCN rules): dot-separated parts of [A-Za-z0-9_.-]
// ("server", "server.job-1", "site-1.job-1", "R1.R11.site-6"), no empty or repeated part.
// Stateless functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace nvf::cellnet::fqcn {

/// Errors: INVALID_ARGUMENT naming the name and the rule it breaks.
Status validate(std::string_view name);
std::vector<std::string> split(std::string_view name);
std::string root(std::string_view name);
/// "" for a root.
std::string parent(std::string_view name);
size_t gen(std::string_view name);
bool same_family(std::string_view a, std::string_view b);
/// b lies below a ("site-1" is an ancestor of "site-1.job").
bool is_ancestor(std::string_view a, std::string_view b);

/// The neighbour a message for `target` leaves `self` through (FLARE's _try_find_ep), given the
/// names of directly connected peers and whether a peer is this cell's parent / the server root.
/// Returns "" when the target is unreachable from here.
std::string next_hop(std::string_view self, std::string_view target, const std::vector<std::string>& connected);

}  // namespace nvf::cellnet::fqcn
