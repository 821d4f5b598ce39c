// Helpers for the job module's tests: a temporary directory removed at the end of the test, and
// small file writers. Single-threaded test use.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "job/finding.h"

namespace nvf::job::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// Writes `text` to `path`, creating parent folders.
void write_text(const fs::path& path, std::string_view text);
std::string read_text(const fs::path& path);

/// The templates shipped in the source tree.
fs::path source_templates_root();

/// True when some finding's message equals `message` exactly.
bool has_message(const std::vector<Finding>& findings, std::string_view message);
/// All findings, one per line, for failure output.
std::string dump(const std::vector<Finding>& findings);

}  // namespace nvf::job::testing
