// How a Python trainer is found and started: the package beside the executable (build tree and
// installed layouts), the interpreter swap, PYTHONPATH, and task_script_path lookup.
#include "runtime/python_env.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "base/files.h"
#include "tensor/tests/test_util.h"

namespace nvf::runtime {
namespace {
namespace fs = std::filesystem;

void touch(const fs::path& p, const std::string& text = "") {
  fs::create_directories(p.parent_path());
  ASSERT_TRUE(base::atomic_write(p, text).ok());
}

TEST(PythonEnvTest, FindsThePackageInABuildTreeAndWhenInstalled) {
  tensor::testing::TempDir dir;
  // A build tree: <build>/apps/nvflare/nvflare, <build>/python/nvflare/...
  touch(dir.path() / "build" / "python" / "nvflare" / "client" / "__init__.py");
  touch(dir.path() / "build" / "python" / "nvflare" / "python.txt", "/bin/sh\n");
  auto built = find_python_package(dir.path() / "build" / "apps" / "nvflare" / "nvflare");
  ASSERT_TRUE(built);
  EXPECT_EQ(built->root, dir.path() / "build" / "python");
  EXPECT_EQ(built->interpreter, "/bin/sh");  // recorded, and it exists
  // Installed: <prefix>/bin/nvflare, <prefix>/lib/python3.11/dist-packages/nvflare/...
  touch(dir.path() / "prefix" / "lib" / "python3.11" / "dist-packages" / "nvflare" / "client" / "__init__.py");
  touch(dir.path() / "prefix" / "lib" / "python3.11" / "dist-packages" / "nvflare" / "python.txt", "/no/such/python\n");
  auto installed = find_python_package(dir.path() / "prefix" / "bin" / "nvflare");
  ASSERT_TRUE(installed);
  EXPECT_EQ(installed->root, dir.path() / "prefix" / "lib" / "python3.11" / "dist-packages");
  EXPECT_TRUE(installed->interpreter.empty());  // recorded, but not there
  EXPECT_FALSE(find_python_package(dir.path() / "elsewhere" / "bin" / "nvflare"));
  EXPECT_FALSE(find_python_package(""));
}

TEST(PythonEnvTest, APythonCommandRunsWithThePackagesInterpreterAndPath) {
  EXPECT_TRUE(is_python_command("python3"));
  EXPECT_TRUE(is_python_command("/usr/local/bin/python"));
  EXPECT_TRUE(is_python_command("python3.11"));
  EXPECT_FALSE(is_python_command("python3.x"));
  EXPECT_FALSE(is_python_command("pythonista"));
  EXPECT_FALSE(is_python_command("/opt/nvflare/bin/nvflare"));

  tensor::testing::TempDir dir;
  touch(dir.path() / "build" / "python" / "nvflare" / "client" / "__init__.py");
  touch(dir.path() / "build" / "python" / "nvflare" / "python.txt", "/bin/sh\n");
  const fs::path bin = dir.path() / "build" / "apps" / "nvflare" / "nvflare";
  ::unsetenv("NVFLARE_PYTHON");
  ::setenv("PYTHONPATH", "/site/extra", 1);
  std::vector<std::string> argv = {"python3", "-u", "custom/client.py"};
  std::map<std::string, std::string> env;
  prepare_python_trainer(bin, "/ws/app_site-1", argv, env);
  EXPECT_EQ(argv[0], "/bin/sh");
  EXPECT_EQ(env["PYTHONPATH"], "/ws/app_site-1/custom:" + (dir.path() / "build" / "python").string() + ":/site/extra");
  // NVFLARE_PYTHON chooses another interpreter; a program that is not Python is left alone.
  ::setenv("NVFLARE_PYTHON", "/opt/py/bin/python3", 1);
  argv = {"python", "x.py"};
  prepare_python_trainer(bin, "/ws/app", argv, env);
  EXPECT_EQ(argv[0], "/opt/py/bin/python3");
  argv = {"/usr/bin/env", "python3"};
  prepare_python_trainer(bin, "/ws/app", argv, env);
  EXPECT_EQ(argv[0], "/usr/bin/env");
  ::unsetenv("NVFLARE_PYTHON");
  ::unsetenv("PYTHONPATH");
}

TEST(PythonEnvTest, TaskScriptPathIsFoundAsGivenInCustomOrByName) {
  tensor::testing::TempDir dir;
  const fs::path app = dir.path() / "app";
  touch(app / "custom" / "client.py");
  touch(app / "train.py");
  EXPECT_EQ(*resolve_task_script(app, "train.py"), "train.py");
  EXPECT_EQ(*resolve_task_script(app, "client.py"), "custom/client.py");
  EXPECT_EQ(*resolve_task_script(app, "custom/client.py"), "custom/client.py");
  EXPECT_EQ(*resolve_task_script(app, "/local/custom/client.py"), "custom/client.py");  // an exported path
  auto missing = resolve_task_script(app, "nope.py");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find((app / "custom" / "nope.py").string()), std::string::npos)
      << missing.status().message();
  EXPECT_FALSE(resolve_task_script(app, "").ok());
}

}  // namespace
}  // namespace nvf::runtime
