// Helpers shared by the tensor tests: a temporary directory removed at the end of a test, raw file
// writes, and running /usr/bin/python3 with captured output.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/process.h"

namespace nvf::tensor::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "nvf_tensor_XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_raw(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

template <typename T>
std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

struct PythonResult {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

/// Runs /usr/bin/python3 with `args` (the system python has torch; the one on PATH may not).
inline PythonResult run_python(const std::vector<std::string>& args) {
  base::SpawnOptions options;
  options.argv = {"/usr/bin/python3"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.capture_output = true;
  PythonResult result;
  auto child = base::spawn(options);
  if (!child.ok()) {
    result.output = child.status().to_string();
    return result;
  }
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(child->output_fd(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
  }
  auto exit = child->wait(std::chrono::seconds(120));
  if (exit.ok()) result.exit_code = exit->shell_code();
  return result;
}

/// Empty when /usr/bin/python3 can import torch, else the reason.
inline std::string torch_unavailable_reason() {
  static const std::string reason = [] {
    if (!std::filesystem::exists("/usr/bin/python3")) return std::string("no /usr/bin/python3");
    auto r = run_python({"-c", "import torch"});
    return r.exit_code == 0 ? std::string() : "/usr/bin/python3 cannot import torch: " + r.output;
  }();
  return reason;
}

}  // namespace nvf::tensor::testing
