#include "tools/cli_args.h"

#include <map>
#include <set>

namespace nvf::tools {
namespace {

// Subcommand path (space-joined) → single-dash long options FLARE 2.7.2 accepts there.
const std::map<std::string, std::set<std::string>>& table() {
  static const std::map<std::string, std::set<std::string>> kTable = {
      {"simulator", {"-gpu"}},
      {"poc prepare", {"-he", "-debug"}},
      {"poc prepare-jobs-dir", {"-debug"}},
      {"poc start", {"-ex", "-gpu", "-debug"}},
      {"poc stop", {"-ex", "-debug"}},
      {"poc clean", {"-debug"}},
      {"job create", {"-sd", "-force", "-debug"}},
      {"job submit", {"-debug"}},
      {"job list_templates", {"-debug"}},
      {"job show_variables", {"-debug"}},
      {"job validate", {"-debug"}},
      {"config", {"-pw", "-jt", "-debug"}},
      {"preflight_check", {"-debug"}},
      {"provision", {"-debug"}},
  };
  return kTable;
}

bool is_word(const std::string& s) {
  if (s.empty() || s[0] == '-') return false;
  return true;
}

}  // namespace

std::vector<std::string> rewrite_single_dash_options(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  out.reserve(argv.size());
  if (argv.empty()) return out;
  out.push_back(argv[0]);
  // The subcommand path is made of the first words before any option.
  std::string path;
  size_t i = 1;
  for (; i < argv.size() && i <= 2 && is_word(argv[i]); ++i) {
    std::string candidate = path.empty() ? argv[i] : path + " " + argv[i];
    bool prefix = false;
    for (const auto& [k, v] : table()) {
      if (k == candidate || k.rfind(candidate + " ", 0) == 0) prefix = true;
    }
    if (!prefix) break;
    path = candidate;
    out.push_back(argv[i]);
  }
  auto it = table().find(path);
  bool after_dashes = false;
  for (; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") after_dashes = true;
    if (!after_dashes && it != table().end() && a.size() > 2 && a[0] == '-' && a[1] != '-') {
      auto eq = a.find('=');
      std::string name = a.substr(0, eq);
      if (it->second.count(name)) {
        out.push_back("-" + a);
        continue;
      }
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace nvf::tools
