#include "test_util.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace nvf::job::testing {

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "nvf_job_test_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_text(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path source_templates_root() { return fs::path(NVF_SOURCE_DIR) / "jobs" / "templates"; }

bool has_message(const std::vector<Finding>& findings, std::string_view message) {
  for (const auto& f : findings) {
    if (f.message == message) return true;
  }
  return false;
}

std::string dump(const std::vector<Finding>& findings) {
  std::string out;
  for (const auto& f : findings) out += format_finding(f) + "\n";
  return out;
}

}  // namespace nvf::job::testing
