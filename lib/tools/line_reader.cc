#include "tools/line_reader.h"

#include <editline/readline.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "base/strings.h"

namespace nvf::tools {
namespace fs = std::filesystem;

CommandLine split_command_line(const std::string& raw) {
  std::string line(base::trim(raw));
  if (line.empty()) return {};
  if (line[0] == '?') line = "help " + line.substr(1);
  size_t i = 0;
  while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_'))
    ++i;
  return {line.substr(0, i), std::string(base::trim(line.substr(i)))};
}

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

// libedit's getc hook and the SIGINT handler are plain functions too: the state of the one live
// terminal reader. The handler only writes a byte to the pipe (async-signal-safe).
struct TerminalState {
  int interrupt_pipe[2] = {-1, -1};  // SIGINT → a byte here, so a waiting poll() wakes up
  int idle_ms = -1;                   // poll() timeout per keystroke; -1: none
  bool interrupted = false;           // the line was dropped by Ctrl-C
  bool idle = false;                  // the idle timeout ended the read
};
TerminalState g_terminal;

void on_sigint(int) {
  const char b = 1;
  if (g_terminal.interrupt_pipe[1] >= 0) {
    ssize_t n = ::write(g_terminal.interrupt_pipe[1], &b, 1);
    (void)n;
  }
}

// One character for libedit: waits on the terminal and the interrupt pipe. Ctrl-C answers a
// newline (libedit returns the line, which read_line() drops); the idle timeout answers EOF.
int getc_hook(FILE*) {
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {g_terminal.interrupt_pipe[0], POLLIN, 0}};
    int n = ::poll(fds, 2, g_terminal.idle_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return EOF;
    }
    if (n == 0) {
      g_terminal.idle = true;
      return EOF;
    }
    if (fds[1].revents & POLLIN) {
      char drain[16];
      while (::read(g_terminal.interrupt_pipe[0], drain, sizeof drain) > 0) {
      }
      g_terminal.interrupted = true;
      return '\n';
    }
    unsigned char c = 0;
    ssize_t r = ::read(STDIN_FILENO, &c, 1);
    if (r == 1) return c;
    if (r < 0 && errno == EINTR) continue;
    return EOF;
  }
}

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
    // Ctrl-C: our handler, not libedit's (which ends the process with the default action). Set
    // before using_history(), which initializes libedit.
    if (::pipe2(g_terminal.interrupt_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
      rl_catch_signals = 0;
      rl_getc_function = getc_hook;
      hooked_ = true;
    }
    ::using_history();
    ::stifle_history(1000);
    if (!history_file_.empty()) ::read_history(history_file_.c_str());
    g_completions = &completions_;
    rl_completion_entry_function = complete_command;
  }
  ~EditLineReader() override {
    g_completions = nullptr;
    rl_completion_entry_function = nullptr;
    if (hooked_) {
      rl_getc_function = nullptr;
      for (int& fd : g_terminal.interrupt_pipe) {
        ::close(fd);
        fd = -1;
      }
    }
  }

  void set_idle_timeout(std::chrono::milliseconds idle) override {
    g_terminal.idle_ms = idle.count() > 0 ? static_cast<int>(std::min<int64_t>(idle.count(), INT32_MAX)) : -1;
  }
  bool timed_out() const override { return g_terminal.idle; }

  std::optional<std::string> read_line(const std::string& prompt, bool remember) override {
    // Ctrl-C at the prompt drops the line; while a command runs it ends the program as before.
    struct sigaction old_sigint {};
    if (hooked_) {
      struct sigaction sa {};
      sa.sa_handler = on_sigint;
      sigemptyset(&sa.sa_mask);
      ::sigaction(SIGINT, &sa, &old_sigint);
    }
    struct RestoreSigint {
      bool active;
      struct sigaction* old;
      ~RestoreSigint() {
        if (active) ::sigaction(SIGINT, old, nullptr);
      }
    } restore{hooked_, &old_sigint};
    for (;;) {
      std::cout << std::flush;
      g_terminal.interrupted = g_terminal.idle = false;
      char* raw = ::readline(prompt.c_str());
      if (g_terminal.idle) {
        std::free(raw);
        std::cout << "\n" << std::flush;
        return std::nullopt;
      }
      if (raw == nullptr) {
        std::cout << "\n" << std::flush;  // the terminal is left after the prompt on Ctrl-D
        return std::nullopt;
      }
      std::string line(raw);
      std::free(raw);
      if (g_terminal.interrupted) continue;  // Ctrl-C: the line is dropped, a new prompt follows
      return remembered(std::move(line), remember);
    }
  }
  bool interactive() const override { return true; }

 private:
  std::string remembered(std::string line, bool remember) {
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

  fs::path history_file_;
  std::vector<std::string> completions_;
  bool hooked_ = false;  // our getc hook and interrupt pipe are in place
};

}  // namespace

std::unique_ptr<LineReader> make_stdin_reader(const fs::path& history_file,
                                              std::vector<std::string> completions) {
  if (::isatty(STDIN_FILENO))
    return std::make_unique<EditLineReader>(history_file, std::move(completions));
  return std::make_unique<StreamLineReader>(std::cin, std::cout);
}

}  // namespace nvf::tools
