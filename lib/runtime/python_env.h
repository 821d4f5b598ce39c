// How a job's Python trainer runs here: FLARE jobs start their training scripts as
// `python3 -u custom/client.py` (ClientAPILauncherExecutor's launcher) or name the script alone
// (InProcessClientAPIExecutor / ScriptRunner's task_script_path). The script imports
// `nvflare.client`, our package over the native Client API (python/), which is built for one
// interpreter: a `python`/`python3` command runs with that interpreter (NVFLARE_PYTHON overrides
// it), and PYTHONPATH gets the app's custom folder (as in FLARE) and the package.
//
// Stateless functions; safe from any thread.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fl/component_registry.h"
#include "nvflare/status.h"

namespace nvf::runtime {

struct PythonPackage {
  std::filesystem::path root;         // the folder holding nvflare/ (a PYTHONPATH entry)
  std::filesystem::path interpreter;  // what it was built for (nvflare/python.txt); may be empty
};

/// The package beside the nvflare executable: <build>/python in a build tree (the executable is
/// <build>/apps/nvflare/nvflare), <prefix>/lib/python3*/dist-packages when installed. nullopt
/// when there is none (built without Python).
std::optional<PythonPackage> find_python_package(const std::filesystem::path& nvflare_bin);

/// The interpreter Python work runs with: NVFLARE_PYTHON when set, else the package's (may be empty).
std::filesystem::path chosen_interpreter(const PythonPackage& package);

/// Fills env.python / env.python_package_root for a server app's components (the job's own model
/// class is built through Python); left empty when there is no package or no interpreter.
void set_python_for_components(const std::filesystem::path& nvflare_bin, fl::BuildEnv& env);

/// True for "python", "python3", "python3.11", "/usr/bin/python3", ...
bool is_python_command(const std::string& argv0);

/// Rewrites a trainer argv and environment for Python: argv[0] `python*` becomes NVFLARE_PYTHON
/// (when set) or the package's interpreter; PYTHONPATH becomes <app_dir>/custom, the package
/// root, then what it was. `env` is the trainer's environment additions.
void prepare_python_trainer(const std::filesystem::path& nvflare_bin, const std::filesystem::path& app_dir,
                            std::vector<std::string>& argv, std::map<std::string, std::string>& env);

/// FLARE's task_script_path, resolved against the app folder: as given when it exists (relative
/// to the app folder, or absolute), else custom/<path>, else custom/<file name> (an exported job
/// may hold the path the script had where it was exported). Errors: NOT_FOUND naming every place
/// looked at.
Result<std::string> resolve_task_script(const std::filesystem::path& app_dir, const std::string& script);

}  // namespace nvf::runtime
