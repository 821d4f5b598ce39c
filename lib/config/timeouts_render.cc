// Renderings of the timeout registry: terminal table, JSON, and the docs/timeouts.md page.
#include <algorithm>

#include "config/timeouts.h"

namespace nvf::config {
namespace {

// The value without its unit, for tables that have a unit column.
std::string bare(const std::optional<double>& value, std::string_view unit) {
  if (!value) return "None";
  std::string s = format_quantity(value, unit);
  if (unit == "s" || unit == "bytes") s.resize(s.size() - unit.size() - 1);
  return s;
}

std::string default_text(const TimeoutSpec& spec) {
  std::string s = bare(spec.default_value, spec.unit);
  if (!spec.fallback.empty()) s += " (= " + spec.fallback + ")";
  return s;
}

std::string flare_text(const TimeoutSpec& spec) {
  return spec.differs_from_flare ? bare(spec.flare_default, spec.unit) : "same";
}

std::string set_in_text(const TimeoutSpec& spec) {
  std::string s(set_in_name(spec.set_in));
  if (!spec.key.empty()) s += " `" + spec.key + "`";
  if (!spec.job_key.empty()) s += " or job key `" + spec.job_key + "`";
  return s;
}

std::string md_escape(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string pad(std::string s, size_t width) {
  // Width counts bytes; the table's text is ASCII except in a few bounds (last column).
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

std::string render_timeouts_table(const TimeoutRegistry& registry) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "DEFAULT", "UNIT", "SET IN", "BOUNDS"});
  for (const TimeoutSpec& spec : registry.specs()) {
    std::string def = default_text(spec);
    if (spec.differs_from_flare) def += " (FLARE " + flare_text(spec) + ")";
    std::string set_in(set_in_name(spec.set_in));
    if (!spec.key.empty()) set_in += " " + spec.key;
    rows.push_back({spec.name, def, spec.unit, set_in, spec.bounds});
  }
  std::vector<size_t> width(4, 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < 4; ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < 4; ++c) out += pad(row[c], width[c]) + "  ";
    out += row[4] + "\n";
  }
  return out;
}

std::string render_timeouts_json(const TimeoutRegistry& registry) {
  Value array = Value::array();
  for (const TimeoutSpec& spec : registry.specs()) {
    Value o = Value::object();
    o["name"] = spec.name;
    o["key"] = spec.file_key();
    o["default"] = spec.default_value ? Value(*spec.default_value) : Value(nullptr);
    std::optional<double> flare = spec.flare_value();
    o["flare_default"] = flare ? Value(*flare) : Value(nullptr);
    o["differs_from_flare"] = spec.differs_from_flare;
    o["unit"] = spec.unit;
    o["set_in"] = std::string(set_in_name(spec.set_in));
    if (!spec.job_key.empty()) o["job_key"] = spec.job_key;
    o["group"] = std::string(group_title(spec.group));
    o["bounds"] = spec.bounds;
    o["zero_allowed"] = spec.zero_allowed;
    o["none_allowed"] = spec.none_allowed;
    if (!spec.fallback.empty()) o["fallback"] = spec.fallback;
    array.push_back(std::move(o));
  }
  return to_pretty_json(array);
}

std::string render_timeouts_markdown(const TimeoutRegistry& registry) {
  std::string out;
  out +=
      "# Timeouts reference\n"
      "\n"
      "<!-- Generated from the timeout registry (lib/config/timeouts.cc); do not edit.\n"
      "     Regenerate: build/lib/config/nvf_gen_timeouts_doc > docs/timeouts.md -->\n"
      "\n"
      "Every timeout of the runtime, with the size and count knobs that the consistency rules "
      "need, as one registry: its default, where it is set and what it bounds. The names and "
      "places are those of NVIDIA FLARE 2.7.2; where our default differs, the FLARE column gives "
      "FLARE's value and the bounds say why. `nvflare timeouts` prints this table, `nvflare job "
      "validate`, `job submit` and `simulator` check a job against the rules below before "
      "anything runs (top-level keys of a job config and a client executor's args override the "
      "defaults), and the defaults pass every rule. Units: `s` seconds, `bytes`, `count`, "
      "`bool` (0/1). `None` means no limit, or the value named in the Default column.\n";
  for (TimeoutGroup group :
       {TimeoutGroup::kTransport, TimeoutGroup::kRuntime, TimeoutGroup::kExecutor}) {
    out += "\n## " + std::string(group_title(group)) + "\n\n";
    out += "| Name | Default | FLARE 2.7.2 | Unit | Set in | Bounds |\n";
    out += "|---|---|---|---|---|---|\n";
    for (const TimeoutSpec& spec : registry.specs()) {
      if (spec.group != group) continue;
      std::string bounds = spec.bounds;
      if (spec.zero_allowed && spec.unit != "bool") bounds += " [0 allowed]";
      out += "| `" + spec.name + "` | " + md_escape(default_text(spec)) + " | " +
             flare_text(spec) + " | " + spec.unit + " | " + md_escape(set_in_text(spec)) +
             " | " + md_escape(bounds) + " |\n";
    }
  }
  out += "\n## 8.4 Rules\n\n";
  out +=
      "An error stops `job validate`, `job submit` and `simulator`; a warning is printed. Rules "
      "marked FLARE 2.7.2 are the ones FLARE itself checks (as warnings); the others are "
      "relations FLARE documents or the protocols imply.\n\n";
  for (const TimeoutRule& rule : timeout_rules()) {
    out += "- **" + std::string(severity_name(rule.severity)) + "** `" + rule.id + "`: `" +
           rule.relation + "` — " + rule.why + "\n";
  }
  return out;
}

}  // namespace nvf::config
