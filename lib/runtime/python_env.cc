#include "runtime/python_env.h"

#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "base/files.h"
#include "base/strings.h"

namespace nvf::runtime {
namespace fs = std::filesystem;

namespace {

bool is_package(const fs::path& root) {
  std::error_code ec;
  return fs::is_regular_file(root / "nvflare" / "client" / "__init__.py", ec);
}

PythonPackage package_at(const fs::path& root) {
  PythonPackage p{root, {}};
  auto text = base::read_file(root / "nvflare" / "python.txt");
  if (text.ok()) {
    std::string interp(base::trim(*text));
    std::error_code ec;
    if (!interp.empty() && fs::exists(interp, ec)) p.interpreter = interp;
  }
  return p;
}

}  // namespace

std::optional<PythonPackage> find_python_package(const fs::path& nvflare_bin) {
  if (nvflare_bin.empty()) return std::nullopt;
  const fs::path dir = nvflare_bin.parent_path();
  // A build tree: <build>/apps/nvflare/nvflare and <build>/python.
  if (fs::path build = dir.parent_path().parent_path() / "python"; is_package(build)) return package_at(build);
  // Installed: <prefix>/bin/nvflare and <prefix>/lib/python3*/dist-packages.
  const fs::path lib = dir.parent_path() / "lib";
  if (fs::path p = lib / "python3" / "dist-packages"; is_package(p)) return package_at(p);
  std::error_code ec;
  for (fs::directory_iterator it(lib, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("python3", 0) != 0) continue;
    for (const char* sub : {"dist-packages", "site-packages"}) {
      if (is_package(it->path() / sub)) return package_at(it->path() / sub);
    }
  }
  return std::nullopt;
}

bool is_python_command(const std::string& argv0) {
  const std::string name = fs::path(argv0).filename().string();
  if (name == "python" || name == "python3") return true;
  if (name.rfind("python3.", 0) != 0) return false;
  return name.size() > 8 && name.find_first_not_of("0123456789", 8) == std::string::npos;
}

void prepare_python_trainer(const fs::path& nvflare_bin, const fs::path& app_dir, std::vector<std::string>& argv,
                            std::map<std::string, std::string>& env) {
  auto pkg = find_python_package(nvflare_bin);
  std::string path = (app_dir / "custom").string();
  if (pkg) path += ":" + pkg->root.string();
  if (const char* old = std::getenv("PYTHONPATH"); old && *old) path += std::string(":") + old;
  env["PYTHONPATH"] = path;
  if (argv.empty() || !is_python_command(argv[0])) return;
  const fs::path interpreter = chosen_interpreter(pkg ? *pkg : PythonPackage{});
  if (!interpreter.empty()) argv[0] = interpreter.string();
}

fs::path chosen_interpreter(const PythonPackage& package) {
  if (const char* chosen = std::getenv("NVFLARE_PYTHON"); chosen && *chosen) return chosen;
  return package.interpreter;
}

void set_python_for_components(const fs::path& nvflare_bin, fl::BuildEnv& env) {
  auto pkg = find_python_package(nvflare_bin);
  if (!pkg) return;
  fs::path interpreter = chosen_interpreter(*pkg);
  if (interpreter.empty()) return;
  env.python = std::move(interpreter);
  env.python_package_root = pkg->root;
}

Result<std::string> resolve_task_script(const fs::path& app_dir, const std::string& script) {
  if (script.empty()) return InvalidArgumentError("task_script_path is empty");
  std::vector<fs::path> tried;
  auto usable = [&](const fs::path& p) {
    tried.push_back(p);
    std::error_code ec;
    return fs::is_regular_file(p.is_absolute() ? p : app_dir / p, ec);
  };
  const fs::path given(script);
  if (usable(given)) return given.string();
  if (!given.is_absolute() && usable(fs::path("custom") / given)) return (fs::path("custom") / given).string();
  if (fs::path byname = fs::path("custom") / given.filename(); byname != fs::path("custom") / given && usable(byname)) {
    return byname.string();
  }
  std::vector<std::string> names;
  for (const auto& p : tried) names.push_back(p.is_absolute() ? p.string() : (app_dir / p).string());
  return NotFoundError("task_script_path '" + script + "': no such script (looked at " + base::join(names, ", ") +
                       ")");
}

}  // namespace nvf::runtime
