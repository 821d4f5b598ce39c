// The user's settings file, `~/.nvflare/config.toml` (FLARE keeps the same three keys in a HOCON
// `config.conf`): startup_kit.path, poc_workspace.path, job_template.path. Plain functions over a
// value type; the file is written atomically.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "base/status.h"

namespace nvf::tools {

struct UserConfig {
  std::optional<std::filesystem::path> startup_kit;
  std::optional<std::filesystem::path> poc_workspace;
  std::optional<std::filesystem::path> job_templates;
};

/// `$HOME/.nvflare/config.toml`.
std::filesystem::path user_config_path();

/// Loads the file; a missing file is an empty config. Errors: INVALID_ARGUMENT (bad TOML or a key
/// of the wrong type, naming the file and key).
Result<UserConfig> load_user_config(const std::filesystem::path& path);

/// Writes the file (creating ~/.nvflare). Errors from the file system, naming the path.
Status save_user_config(const std::filesystem::path& path, const UserConfig& config);

/// The TOML text save_user_config writes.
std::string render_user_config(const UserConfig& config);

/// Where job templates live: `explicit_dir` → `$NVFLARE_HOME/job_templates` → config
/// `job_template.path` → the installed share dir beside the binary → the source tree's
/// `jobs/templates` above the binary (a build tree). Errors: NOT_FOUND listing what was tried.
Result<std::filesystem::path> find_templates_dir(const std::optional<std::filesystem::path>& explicit_dir,
                                                 const UserConfig& config);

/// This executable's absolute path (from /proc/self/exe).
std::filesystem::path self_exe();

/// The LibTorch trainer `nvflare-train` that goes with the nvflare binary `nvflare_bin`: installed
/// beside it, or in a build tree <build>/apps/nvflare-train/nvflare-train. Empty when neither is an
/// executable file (nvflare was built without NVF_WITH_TORCH) or `nvflare_bin` is empty.
std::filesystem::path find_torch_trainer(const std::filesystem::path& nvflare_bin);

}  // namespace nvf::tools
