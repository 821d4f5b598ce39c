// The Recipe API (FLARE 2.7.2's recipes, natively): a recipe is a small TOML file naming an
// algorithm of the library and its parameters,
//
//   recipe = "fedavg"
//   name = "hello-numpy"
//   min_clients = 2
//   num_rounds = 3
//   framework = "numpy"
//   train_script = "{NVFLARE_BIN} train --add 1"
//
// and it becomes a job folder (export) that runs unchanged in the simulator, on a POC system or a
// production system (`nvflare recipe run FILE --env sim|poc|prod`). Parameters follow FLARE's
// recipe arguments (name, min_clients, num_rounds, model / initial_ckpt, train_script,
// train_args, params_transfer_type, key_metric, per_site_config, and each algorithm's own);
// train_script is the trainer command a client launches (a Client API program: `nvflare train`
// or your own), {NVFLARE_BIN} standing for this nvflare. docs/recipes.md has one example each.
//
// Stateless functions; safe from any thread.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/value.h"

namespace nvf::tools {

struct RecipeParam {
  std::string name;
  std::string type;         // int | float | str | bool | list | table | model
  config::Value fallback;   // the default; null with required = true
  bool required = false;
  std::string doc;
};

struct RecipeInfo {
  std::string name;
  std::string flare_name;   // FLARE's class (FedAvgRecipe, ...)
  std::string description;
  std::vector<RecipeParam> params;
};

/// The library, in the order `nvflare recipe list` shows it.
const std::vector<RecipeInfo>& recipe_library();
/// Errors: NOT_FOUND naming the recipes that exist.
Result<const RecipeInfo*> find_recipe(const std::string& name);

/// Reads a recipe file (TOML; JSON and YAML work too) and checks every parameter: known to the
/// recipe, of its type, within its range; required ones present. Returns the recipe's parameters
/// with the defaults filled in ("recipe" included). Errors: INVALID_ARGUMENT naming the file, the
/// key and what is allowed.
Result<config::Value> load_recipe(const std::filesystem::path& file);
/// load_recipe's checks on a parsed recipe; `where` names it in messages and relative paths are
/// taken from `base_dir`.
Result<config::Value> check_recipe(const config::Value& recipe, const std::string& where,
                                   const std::filesystem::path& base_dir);

/// Writes the job folder of a loaded recipe to `<out_dir>/<name>` (replacing an earlier export of
/// the same name only when it holds a meta.json) and returns its path. The folder passes `nvflare
/// job validate`. Errors: INVALID_ARGUMENT for parameters that do not fit together, file errors.
Result<std::filesystem::path> export_recipe(const config::Value& recipe, const std::filesystem::path& out_dir);

/// `nvflare recipe list`: one line per recipe.
std::string render_recipe_list();
/// `nvflare recipe show NAME`: the recipe's parameters, defaults and what each does.
std::string render_recipe(const RecipeInfo& info);

}  // namespace nvf::tools
