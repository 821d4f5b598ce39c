// Test helpers for the security module: a temporary folder and running the `openssl` tool.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "base/process.h"

namespace nvf::security::test_util {

namespace fs = std::filesystem;

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "nvf_security_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

struct ToolResult {
  int exit_code = -1;
  std::string out;
};

/// Runs `openssl args...`, capturing stdout and stderr.
inline ToolResult run_openssl(const std::vector<std::string>& args) {
  base::SpawnOptions o;
  o.argv.push_back("openssl");
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.capture_output = true;
  ToolResult r;
  auto child = base::spawn(o);
  if (!child.ok()) {
    ADD_FAILURE() << child.status().to_string();
    return r;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(child->output_fd(), buf, sizeof(buf))) > 0)
    r.out.append(buf, static_cast<size_t>(n));
  auto exit = child->wait(std::chrono::seconds(30));
  r.exit_code = exit.ok() ? exit->shell_code() : -1;
  return r;
}

}  // namespace nvf::security::test_util
