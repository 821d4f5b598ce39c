// Job templates: folders under a templates root, each with info.toml (description, controller
// and execution API types, aliases, [variables.NAME] tables), meta.json, and the app configs
// (config_fed_server.json / config_fed_client.json at the top for a one-app template, or one
// subfolder per app). Loading is stateless and safe from any thread; the root is always a
// parameter (the CLI finds the installed share dir or the source tree's jobs/templates/).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/value.h"

namespace nvf::job {

namespace fs = std::filesystem;

inline constexpr std::string_view kTemplateInfoFile = "info.toml";

struct TemplateVariable {
  std::string name;
  std::string type;  ///< "int", "float", "bool", "str"
  config::Value default_value;
  std::string doc;
  std::string file;  ///< optional: the config file that holds it, e.g. "config_fed_server.json"
};

struct TemplateApp {
  std::string name;  ///< "app" for a one-app template
  fs::path dir;      ///< folder that holds this app's config files
};

struct TemplateInfo {
  std::string name;  ///< the folder name
  fs::path dir;
  std::string description;
  std::string controller_type;       ///< "server" or "client"
  std::string execution_api_type;    ///< e.g. "client_api"
  std::vector<std::string> aliases;  ///< FLARE template names this one stands for ("sag_pt")
  std::vector<TemplateVariable> variables;
  std::vector<TemplateApp> apps;
};

/// Loads the template in `dir`. Errors: NOT_FOUND (no info.toml), INVALID_ARGUMENT (info.toml
/// malformed, naming the field; no config_fed_* file).
Result<TemplateInfo> load_template(const fs::path& dir);

/// Every template under `root`, sorted by name. Folders without info.toml are skipped; a
/// malformed template is an error naming it. Errors: NOT_FOUND (root missing), INVALID_ARGUMENT.
Result<std::vector<TemplateInfo>> list_templates(const fs::path& root);

/// Resolves `-w`: a folder holding info.toml is used as is; otherwise a template name or alias
/// under `root`. Errors: INVALID_ARGUMENT with FLARE's "Invalid template name X, please check the
/// available templates using nvflare job list_templates".
Result<TemplateInfo> resolve_template(const fs::path& root, std::string_view name_or_path);

/// FLARE's 120-column table: name / Description / Controller Type / Execution API Type.
std::string render_templates_table(const std::vector<TemplateInfo>& templates);

/// The templates root for an executable in `exe_dir`: <prefix>/share/nvflare/templates when
/// installed, else the nearest ancestor's jobs/templates (a build tree). Empty when none exists.
fs::path find_templates_root(const fs::path& exe_dir);

/// Python's f"{s[:n]:{n}}": cut to n characters, padded with spaces to n.
std::string fixed_width(std::string_view s, size_t n);

}  // namespace nvf::job
