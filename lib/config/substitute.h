// FLARE's `{var}` substitution over a config value tree (wfconf.py `_EnvUpdater` /
// `resolve_var_refs`, 2.7.2), as pure functions over values: the caller passes the system vars and
// the environment, so tests and the simulator (many sites in one process) never touch globals.
// Stateless; safe from any thread.
//
// Rules, applied to every string value in the tree (keys are not substituted):
//   - "{name}" (the whole string, surrounding blanks allowed) becomes the variable's value, typed:
//     a number, bool, dict or list stays one. An unknown name leaves the string unchanged
//     (FLARE 2.7.2 turns it into null; a later check can then name the field).
//   - "{$NAME}" reads the environment the same way (names in the pool are "$NAME").
//   - "{@def:a=1:b={x}}" invokes a dict-valued definition (a top-level key starting with '@') with
//     local vars a=1, b="{x}" (values typed int → float → bool → string); the result is a copy of
//     the definition resolved with the local vars on top of the pool. '@' keys are removed from
//     the resolved config.
//   - any other string gets Python str.format-like replacement of each "{name}" ("{{"/"}}" are
//     literal braces); any failure (unknown name, positional "{}", format spec or attribute) leaves
//     the string unchanged, as Python's exception does in FLARE.
//   - rounds repeat until nothing changes; more than 20 rounds is an error naming the field.
// Variable pool, low → high: environment "$NAME" < every top-level key of the config (any type)
// < system vars (SITE_NAME, WORKSPACE, JOB_ID, SECURE_MODE, JOB_CUSTOM_DIR, ROOT_URL, ...).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "base/status.h"
#include "config/value.h"

namespace nvf::config {

/// Variables by name, typed (SECURE_MODE is a bool, JOB_ID a string).
using VarMap = std::map<std::string, Value, std::less<>>;
/// Environment variables by name, without the '$' prefix.
using EnvMap = std::map<std::string, std::string, std::less<>>;

/// The maximum number of substitution rounds before a config is declared cyclic (FLARE's value).
inline constexpr int kMaxDerefRounds = 20;

/// The process environment as an EnvMap (a convenience for callers at the edge: main, tools).
EnvMap current_environment();

/// Builds the variable pool: "$NAME" for each env entry < top-level keys of `cfg` < system vars.
VarMap build_var_pool(const Value& cfg, const VarMap& system_vars, const EnvMap& env);

/// Resolves every `{...}` reference in `cfg` by FLARE's rules (see the file comment) and returns
/// the resolved copy without its '@' definitions. `source` names the file in errors.
/// Errors: INVALID_ARGUMENT "<source>: <field path>: item de-ref exceeds 20 rounds - cyclic refs
/// or ref level too deep"; "... bad parameterized expression '<expr>': <name> is not defined"
/// (or "must be dict").
Result<Value> resolve_config(const Value& cfg, const VarMap& system_vars, const EnvMap& env,
                             std::string_view source);

/// Resolves `value` (any subtree) against an already-built pool. Errors as resolve_config; field
/// paths start at `path`.
Result<Value> resolve_with_pool(const Value& value, const VarMap& pool, std::string_view source,
                                const FieldPath& path = FieldPath());

/// load_file + resolve_config. Errors: those of load_file and resolve_config.
Result<Value> load_resolved(const std::filesystem::path& path, const VarMap& system_vars,
                            const EnvMap& env);

/// Python's str() of a value, as str.format would insert it: 5, 0.01, 1e-05, True, None,
/// {'a': 1}, [1, 'x'].
std::string python_str(const Value& value);

}  // namespace nvf::config
