#include "cellnet/fqcn.h"

#include <algorithm>
#include <set>

#include "base/strings.h"

namespace nvf::cellnet::fqcn {

Status validate(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("invalid cell name '" + std::string(name) + "': " + why);
  };
  if (name.empty()) return bad("empty");
  std::set<std::string> seen;
  for (const auto& part : base::split(name, '.')) {
    if (part.empty()) return bad("empty part");
    for (char c : part) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '@')) {
        return bad(std::string("character '") + c + "' is not allowed (use letters, digits, '_', '-')");
      }
    }
    if (!seen.insert(part).second) return bad("part '" + part + "' appears twice");
  }
  return Status::OK();
}

std::vector<std::string> split(std::string_view name) { return base::split(name, '.'); }

std::string root(std::string_view name) { return std::string(name.substr(0, name.find('.'))); }

std::string parent(std::string_view name) {
  auto dot = name.rfind('.');
  return dot == std::string_view::npos ? std::string() : std::string(name.substr(0, dot));
}

size_t gen(std::string_view name) { return static_cast<size_t>(std::count(name.begin(), name.end(), '.')) + 1; }

bool same_family(std::string_view a, std::string_view b) { return root(a) == root(b); }

bool is_ancestor(std::string_view a, std::string_view b) {
  return b.size() > a.size() && b.compare(0, a.size(), a) == 0 && b[a.size()] == '.';
}

namespace {
// The longest prefix of `target` (itself included) that is a connected peer.
std::string longest_connected_prefix(std::string_view target, const std::vector<std::string>& connected) {
  std::string best;
  for (const auto& c : connected) {
    if ((c == target || is_ancestor(c, target)) && c.size() > best.size()) best = c;
  }
  return best;
}
bool has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

std::string next_hop(std::string_view self, std::string_view target, const std::vector<std::string>& connected) {
  if (has(connected, target)) return std::string(target);
  // Up: my parent, or (when a cell connects to a grandparent, as the preflight dry run's
  // "relay-1.preflight_x.site-1" does) the nearest connected cell above me.
  std::string up;
  for (const auto& c : connected) {
    if (is_ancestor(c, self) && c.size() > up.size()) up = c;
  }
  if (same_family(self, target)) {
    if (is_ancestor(self, target)) {
      // Below me: the connected child on the way down, never up.
      return longest_connected_prefix(target, connected);
    }
    return up;
  }
  std::string via = longest_connected_prefix(target, connected);
  if (!via.empty()) return via;
  if (self != "server" && has(connected, "server")) return "server";
  return up;
}

}  // namespace nvf::cellnet::fqcn
