#include "tools/line_reader.h"

#include <editline/readline.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

namespace nvf::tools {
namespace fs = std::filesystem;

std::optional<std::string> StreamLineReader::read_line(const std::string& prompt, bool) {
  if (!prompt.empty()) out_ << prompt << std::flush;
  std::string line;
  if (!std::getline(in_, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

namespace {

// libedit's completion hook is a plain function: it reads the words of the one live reader.
const std::vector<std::string>* g_completions = nullptr;

char* complete_command(const char* text, int state) {
  static size_t next = 0;
  if (state == 0) next = 0;
  if (g_completions == nullptr) return nullptr;
  const size_t n = std::strlen(text);
  while (next < g_completions->size()) {
    const std::string& word = (*g_completions)[next++];
    if (word.compare(0, n, text) == 0) return ::strdup(word.c_str());
  }
  return nullptr;
}

class EditLineReader : public LineReader {
 public:
  EditLineReader(fs::path history_file, std::vector<std::string> completions)
      : history_file_(std::move(history_file)), completions_(std::move(completions)) {
    ::using_history();
    ::stifle_history(1000);
    if (!history_file_.empty()) ::read_history(history_file_.c_str());
    g_completions = &completions_;
    rl_completion_entry_function = complete_command;
  }
  ~EditLineReader() override {
    g_completions = nullptr;
    rl_completion_entry_function = nullptr;
  }

  std::optional<std::string> read_line(const std::string& prompt, bool remember) override {
    std::cout << std::flush;
    char* raw = ::readline(prompt.c_str());
    if (raw == nullptr) {
      std::cout << "\n" << std::flush;  // the terminal is left after the prompt on Ctrl-D
      return std::nullopt;
    }
    std::string line(raw);
    std::free(raw);
    if (remember && !line.empty()) {
      ::add_history(line.c_str());
      if (!history_file_.empty()) {
        std::error_code ec;
        fs::create_directories(history_file_.parent_path(), ec);
        ::write_history(history_file_.c_str());
      }
    }
    return line;
  }
  bool interactive() const override { return true; }

 private:
  fs::path history_file_;
  std::vector<std::string> completions_;
};

}  // namespace

std::unique_ptr<LineReader> make_stdin_reader(const fs::path& history_file,
                                              std::vector<std::string> completions) {
  if (::isatty(STDIN_FILENO))
    return std::make_unique<EditLineReader>(history_file, std::move(completions));
  return std::make_unique<StreamLineReader>(std::cin, std::cout);
}

}  // namespace nvf::tools
