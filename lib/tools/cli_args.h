// Argument rewriting that lets CLI11 2.1 accept FLARE's single-dash long options (`-sd`, `-force`,
// `-debug`, `-gpu`, `-ex`, `-pw`, `-jt`, `-he`): before parsing, each such token is rewritten to its
// double-dash form when it appears under a subcommand whose table lists it. Stateless.
#pragma once

#include <string>
#include <vector>

namespace nvf::tools {

/// Rewrites argv (argv[0] included) and returns the new vector. Tokens after "--" are untouched;
/// a single-dash word that the subcommand does not list is left for CLI11 to reject.
std::vector<std::string> rewrite_single_dash_options(const std::vector<std::string>& argv);

}  // namespace nvf::tools
