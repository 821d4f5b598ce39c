// LineReader: where an interactive tool (the admin console, authz_preview) reads its lines. On a
// terminal it is libedit (line editing, history, Tab completion of command names); otherwise lines
// are read plainly from a stream, so scripts and tests can pipe commands in. libedit is used only
// by line_reader.cc.
//
// Ownership: owned by the tool's loop. Threads: one caller. libedit keeps its state in globals,
// so at most one terminal reader exists at a time in a process.
#pragma once

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nvf::tools {

class LineReader {
 public:
  virtual ~LineReader() = default;
  /// The next line without its newline, after showing `prompt` (none when empty); nullopt at the
  /// end of input. `remember`: keep it in the history (commands yes, confirmation answers no).
  virtual std::optional<std::string> read_line(const std::string& prompt, bool remember) = 0;
  /// True when a person types at a terminal (prompts and intros are for them).
  virtual bool interactive() const = 0;
  /// Ends a read_line() that waits for a keystroke longer than `idle` (0: never) with nullopt, and
  /// timed_out() then says so. Only a terminal reader honours it (scripts are never idle).
  virtual void set_idle_timeout(std::chrono::milliseconds idle) { (void)idle; }
  /// Whether the last read_line() ended because of the idle timeout.
  virtual bool timed_out() const { return false; }
};

/// A typed line split as Python's cmd.Cmd does (FLARE's consoles): trimmed, a leading `?` read as
/// `help `, the leading identifier characters the command and the trimmed rest its argument.
/// An empty line gives two empty strings.
struct CommandLine {
  std::string cmd, arg;
};
CommandLine split_command_line(const std::string& raw);

/// Reads `in`, writing prompts to `out`. Not interactive.
class StreamLineReader : public LineReader {
 public:
  StreamLineReader(std::istream& in, std::ostream& out) : in_(in), out_(out) {}
  std::optional<std::string> read_line(const std::string& prompt, bool remember) override;
  bool interactive() const override { return false; }

 private:
  std::istream& in_;
  std::ostream& out_;
};

/// Standard input: libedit when it is a terminal (history kept in `history_file` when not empty,
/// at most 1000 lines; `completions` for Tab; Ctrl-C drops the line being typed and prompts again,
/// as a shell does), else a StreamLineReader over std::cin/std::cout.
std::unique_ptr<LineReader> make_stdin_reader(const std::filesystem::path& history_file,
                                              std::vector<std::string> completions);

}  // namespace nvf::tools
