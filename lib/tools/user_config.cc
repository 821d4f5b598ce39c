#include "tools/user_config.h"

#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "base/files.h"
#include "config/value.h"
#include "job/templates.h"

namespace nvf::tools {
namespace fs = std::filesystem;

fs::path user_config_path() {
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : ".") / ".nvflare" / "config.toml";
}

namespace {

Status read_path(const config::Value& root, const char* section, const fs::path& file,
                 std::optional<fs::path>& out) {
  if (!root.contains(section)) return Status::OK();
  const auto& sec = root[section];
  if (!sec.is_object() || !sec.contains("path")) {
    return InvalidArgumentError(file.string() + ": [" + section + "] needs a string key 'path'");
  }
  if (!sec["path"].is_string()) {
    return InvalidArgumentError(file.string() + ": " + section + ".path must be a string");
  }
  out = fs::path(sec["path"].get<std::string>());
  return Status::OK();
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

}  // namespace

Result<UserConfig> load_user_config(const fs::path& path) {
  UserConfig cfg;
  std::error_code ec;
  if (!fs::exists(path, ec)) return cfg;
  NVF_ASSIGN_OR_RETURN(config::Value root, config::load_file(path));
  NVF_RETURN_IF_ERROR(read_path(root, "startup_kit", path, cfg.startup_kit));
  NVF_RETURN_IF_ERROR(read_path(root, "poc_workspace", path, cfg.poc_workspace));
  NVF_RETURN_IF_ERROR(read_path(root, "job_template", path, cfg.job_templates));
  return cfg;
}

std::string render_user_config(const UserConfig& c) {
  std::string out = "# nvflare user settings (see `nvflare config --help`)\n";
  auto section = [&](const char* name, const std::optional<fs::path>& p) {
    if (!p) return;
    out += std::string("\n[") + name + "]\npath = " + toml_string(p->string()) + "\n";
  };
  section("startup_kit", c.startup_kit);
  section("poc_workspace", c.poc_workspace);
  section("job_template", c.job_templates);
  return out;
}

Status save_user_config(const fs::path& path, const UserConfig& config) {
  NVF_RETURN_IF_ERROR(base::make_dirs(path.parent_path()));
  return base::atomic_write(path, render_user_config(config));
}

fs::path self_exe() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p;
}

fs::path find_torch_trainer(const fs::path& nvflare_bin) {
  if (nvflare_bin.empty()) return {};
  const fs::path dir = nvflare_bin.parent_path();
  for (const fs::path& p : {dir / "nvflare-train", dir.parent_path() / "nvflare-train" / "nvflare-train"}) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

Result<fs::path> find_templates_dir(const std::optional<fs::path>& explicit_dir, const UserConfig& config) {
  std::vector<std::string> tried;
  std::error_code ec;
  auto usable = [&](const fs::path& p) {
    tried.push_back(p.string());
    return fs::is_directory(p, ec);
  };
  if (explicit_dir) {
    if (usable(*explicit_dir)) return fs::absolute(*explicit_dir);
    return NotFoundError("job templates directory " + explicit_dir->string() + " does not exist");
  }
  if (const char* home = std::getenv("NVFLARE_HOME")) {
    if (usable(fs::path(home) / "job_templates")) return fs::path(home) / "job_templates";
  }
  if (config.job_templates && usable(*config.job_templates)) return *config.job_templates;
  fs::path exe_dir = self_exe().parent_path();
  tried.push_back("the templates installed beside " + self_exe().string());
  if (!exe_dir.empty()) {
    fs::path found = job::find_templates_root(exe_dir);
    if (!found.empty()) return found;
  }
  std::string msg = "no job templates directory found; tried: ";
  for (size_t i = 0; i < tried.size(); ++i) msg += (i ? ", " : "") + tried[i];
  return NotFoundError(msg + ". Pass -d DIR or set it with `nvflare config -jt DIR`.");
}

}  // namespace nvf::tools
