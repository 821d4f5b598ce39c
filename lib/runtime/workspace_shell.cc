#include "runtime/workspace_shell.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <regex.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <limits>

#include "base/files.h"
#include "config/value.h"
#include "base/strings.h"

namespace nvf::runtime {
namespace fs = std::filesystem;

namespace {

// Output is cut here (a note says so); files are read up to kMaxRead bytes.
constexpr size_t kMaxOutput = 4 << 20;
constexpr size_t kMaxRead = 64 << 20;

struct Spec {
  std::string bool_flags;            // single-letter store_true flags
  std::string int_flags;             // single-letter flags taking an int
  bool pattern = false;              // grep: one positional pattern first
  int min_files = 0, max_files = 0;  // max 0: no limit
  bool text_only = false;
};

const std::map<std::string, Spec>& specs() {
  static const auto* table = new std::map<std::string, Spec>{
      {"pwd", Spec{"", "", false, 0, 0, false}},    {"ls", Spec{"altSRu", "", false, 0, 1, false}},
      {"cat", Spec{"nbsT", "", false, 1, 0, true}}, {"head", Spec{"", "cn", false, 1, 0, true}},
      {"tail", Spec{"", "cn", false, 1, 0, true}},  {"grep", Spec{"nib", "", true, 1, 0, true}},
  };
  return *table;
}

bool is_negative_number(const std::string& a) {
  if (a.size() < 2 || a[0] != '-') return false;
  return std::all_of(a.begin() + 1, a.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// A -n / -c count: any 64-bit value but the lowest (whose magnitude has no int64).
std::optional<int64_t> parse_count(const std::string& s) {
  return base::parse_int(s, -std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max());
}

// FLARE's get_file_extension: a trailing numeric part (log.txt.1) is skipped, then
// os.path.splitext.
std::string file_extension(const std::string& file) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = file.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(file.substr(start, dot - start));
  }
  parts.push_back(file.substr(start));
  const std::string& last = parts.back();
  std::string f = file;
  if (!last.empty() && std::all_of(last.begin(), last.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    f = file.substr(0, file.size() - last.size() - 1);
  }
  std::string base = f.substr(f.rfind('/') == std::string::npos ? 0 : f.rfind('/') + 1);
  size_t lead = base.find_first_not_of('.');
  if (lead == std::string::npos) return "";
  size_t dot = base.rfind('.');
  return dot == std::string::npos || dot < lead ? "" : base.substr(dot);
}

// FLARE's _FileCmdExecutor checks, in its order.
Status check_file(const std::string& f, bool text_only) {
  for (char c : f) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
          c == '/')) {
      return InvalidArgumentError("unsupported file " + f);
    }
  }
  if (!f.empty() && f[0] == '/') return InvalidArgumentError("absolute path is not allowed");
  for (const std::string& part : [&] {
         std::vector<std::string> out;
         size_t s = 0;
         for (size_t p; (p = f.find('/', s)) != std::string::npos; s = p + 1)
           out.push_back(f.substr(s, p - s));
         out.push_back(f.substr(s));
         return out;
       }()) {
    if (part == "..") return InvalidArgumentError(".. in path name is not allowed");
  }
  if (text_only) {
    static const char* kAllowed[] = {".txt", ".log", ".json", ".csv", ".sh", ".config", ".py"};
    const std::string ext = file_extension(f);
    if (std::none_of(std::begin(kAllowed), std::end(kAllowed),
                     [&](const char* a) { return ext == a; })) {
      return InvalidArgumentError(
          "this command cannot be applied to file " + f +
          ". Only files with the following extensions are permitted: .txt, .log, .json, "
          ".csv, .sh, .config, .py");
    }
  }
  return Status::OK();
}

std::string strip_trailing_newline(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// ---- file reading ---------------------------------------------------------------------------

struct FileText {
  std::string data;
  int error = 0;  // errno of open/read
};

// Reads at most `limit` bytes starting `from_end` bytes before the end (0: from the start).
FileText read_text(const fs::path& path, size_t limit, bool from_end) {
  FileText out;
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    out.error = errno;
    return out;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    out.error = EISDIR;
    return out;
  }
  if (from_end && st.st_size > static_cast<off_t>(limit))
    ::lseek(fd, st.st_size - static_cast<off_t>(limit), SEEK_SET);
  char buf[65536];
  while (out.data.size() < limit) {
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, limit - out.data.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.error = errno;
      break;
    }
    if (n == 0) break;
    out.data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::vector<std::string_view> lines_of(const std::string& text) {  // each with its '\n'
  std::vector<std::string_view> out;
  size_t s = 0;
  while (s < text.size()) {
    size_t e = text.find('\n', s);
    e = e == std::string::npos ? text.size() : e + 1;
    out.emplace_back(text.data() + s, e - s);
    s = e;
  }
  return out;
}

class Output {
 public:
  void add(std::string_view s) {
    if (full_) return;
    if (text_.size() + s.size() > kMaxOutput) {
      text_.append(s.substr(0, kMaxOutput - text_.size()));
      full_ = true;
      return;
    }
    text_.append(s);
  }
  std::string take() {
    std::string t = strip_trailing_newline(std::move(text_));
    if (full_) t += "\n... (output cut at 4 MiB)";
    return t;
  }

 private:
  std::string text_;
  bool full_ = false;
};

// ---- cat, head, tail, grep ------------------------------------------------------------------

void cat_file(const ShellCommand& c, const std::string& text, Output& out) {
  const bool number_nonblank = c.has('b'), number_all = c.has('n') && !number_nonblank;
  bool previous_blank = false;
  long n = 0;
  for (std::string_view line : lines_of(text)) {
    const bool blank = line == "\n";
    if (c.has('s') && blank && previous_blank) continue;
    previous_blank = blank;
    if (number_all || (number_nonblank && !blank)) {
      char num[32];
      std::snprintf(num, sizeof num, "%6ld\t", ++n);
      out.add(num);
    }
    if (c.has('T')) {
      std::string t;
      for (char ch : line) t += ch == '\t' ? std::string("^I") : std::string(1, ch);
      out.add(t);
    } else {
      out.add(line);
    }
  }
}

void head_file(const ShellCommand& c, const std::string& text, Output& out) {
  const int64_t n = parse_count(c.count).value_or(10);  // checked when the command was parsed
  if (c.count_flag == "c") {
    size_t k = n >= 0 ? std::min<size_t>(static_cast<size_t>(n), text.size())
                      : text.size() - std::min<size_t>(static_cast<size_t>(-n), text.size());
    out.add(std::string_view(text).substr(0, k));
    return;
  }
  auto lines = lines_of(text);
  size_t k = n >= 0 ? std::min<size_t>(static_cast<size_t>(n), lines.size())
                    : lines.size() - std::min<size_t>(static_cast<size_t>(-n), lines.size());
  for (size_t i = 0; i < k; ++i) out.add(lines[i]);
}

void tail_file(const ShellCommand& c, const std::string& text, Output& out) {
  const bool from_start = !c.count.empty() && c.count[0] == '+';  // tail -n +K: from line K on
  const int64_t v = std::llabs(parse_count(c.count).value_or(10));
  const size_t k = static_cast<size_t>(v);
  if (c.count_flag == "c") {
    size_t at = from_start ? std::min(text.size(), k > 0 ? k - 1 : 0)
                           : text.size() - std::min(k, text.size());
    out.add(std::string_view(text).substr(at));
    return;
  }
  auto lines = lines_of(text);
  size_t first = from_start ? std::min(lines.size(), k > 0 ? k - 1 : 0)
                            : lines.size() - std::min(k, lines.size());
  for (size_t i = first; i < lines.size(); ++i) out.add(lines[i]);
}

Status grep_file(const ShellCommand& c, const std::string& text, Output& out) {
  regex_t re;
  int flags = REG_NOSUB | (c.has('i') ? REG_ICASE : 0);
  if (int rc = ::regcomp(&re, c.pattern.c_str(), flags); rc != 0) {
    char msg[256];
    ::regerror(rc, &re, msg, sizeof msg);
    ::regfree(&re);
    return InvalidArgumentError(std::string("grep: ") + msg);
  }
  long n = 0;
  size_t offset = 0;
  for (std::string_view line : lines_of(text)) {
    ++n;
    std::string body(line.substr(0, line.size() - (line.back() == '\n' ? 1 : 0)));
    if (::regexec(&re, body.c_str(), 0, nullptr, 0) == 0) {
      if (c.has('n')) out.add(std::to_string(n) + ":");
      if (c.has('b')) out.add(std::to_string(offset) + ":");
      out.add(body + "\n");
    }
    offset += line.size();
  }
  ::regfree(&re);
  return Status::OK();
}

// GNU's messages for a file that cannot be read.
std::string read_error(const std::string& cmd, const std::string& file, int err) {
  const std::string why = base::errno_text(err);
  if (cmd == "head" || cmd == "tail") {
    if (err == EISDIR) return cmd + ": error reading '" + file + "': " + why;
    return cmd + ": cannot open '" + file + "' for reading: " + why;
  }
  return cmd + ": " + file + ": " + why;
}

// ---- ls ---------------------------------------------------------------------------------------

struct Entry {
  std::string name;  // as printed
  fs::path path;
  struct stat st {};
};

std::string mode_string(mode_t m) {
  std::string s(10, '-');
  s[0] = S_ISDIR(m)    ? 'd'
         : S_ISLNK(m)  ? 'l'
         : S_ISFIFO(m) ? 'p'
         : S_ISSOCK(m) ? 's'
         : S_ISCHR(m)  ? 'c'
         : S_ISBLK(m)  ? 'b'
                       : '-';
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if (m & (1 << (8 - i))) s[1 + i] = rwx[i];
  }
  if (m & S_ISUID) s[3] = (m & S_IXUSR) ? 's' : 'S';
  if (m & S_ISGID) s[6] = (m & S_IXGRP) ? 's' : 'S';
  if (m & S_ISVTX) s[9] = (m & S_IXOTH) ? 't' : 'T';
  return s;
}

std::string user_name(uid_t uid) {
  struct passwd pw, *res = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res) return pw.pw_name;
  return std::to_string(uid);
}

std::string group_name(gid_t gid) {
  struct group gr, *res = nullptr;
  char buf[4096];
  if (::getgrgid_r(gid, &gr, buf, sizeof buf, &res) == 0 && res) return gr.gr_name;
  return std::to_string(gid);
}

struct LsOptions {
  bool all = false, long_format = false, recursive = false, atime = false;
  char sort = 'n';  // n name, t time, S size
};

LsOptions ls_options(const ShellCommand& c) {
  LsOptions o;
  bool sort_given = false;
  for (char f : c.flags) {
    if (f == 'a') o.all = true;
    if (f == 'l') o.long_format = true;
    if (f == 'R') o.recursive = true;
    if (f == 'u') o.atime = true;
    if (f == 't' || f == 'S') {
      o.sort = f;
      sort_given = true;
    }
  }
  if (o.atime && !sort_given && !o.long_format) o.sort = 't';  // -u alone sorts by access time
  return o;
}

const timespec& time_of(const Entry& e, const LsOptions& o) {
  return o.atime ? e.st.st_atim : e.st.st_mtim;
}

void sort_entries(std::vector<Entry>& v, const LsOptions& o) {
  std::sort(v.begin(), v.end(), [&](const Entry& a, const Entry& b) {
    if (o.sort == 't') {
      const timespec &ta = time_of(a, o), &tb = time_of(b, o);
      if (ta.tv_sec != tb.tv_sec) return ta.tv_sec > tb.tv_sec;
      if (ta.tv_nsec != tb.tv_nsec) return ta.tv_nsec > tb.tv_nsec;
    } else if (o.sort == 'S' && a.st.st_size != b.st.st_size) {
      return a.st.st_size > b.st.st_size;
    }
    return a.name < b.name;
  });
}

std::string ls_time(const timespec& t) {
  const std::time_t now = std::time(nullptr);
  const bool recent = t.tv_sec > now - 15778476 && t.tv_sec <= now + 60;  // six months, as GNU
  std::tm tm{};
  localtime_r(&t.tv_sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, recent ? "%b %e %H:%M" : "%b %e  %Y", &tm);
  return buf;
}

// One block of entries: names, or GNU's long lines with a "total" first when `with_total`.
void print_entries(const std::vector<Entry>& entries, const LsOptions& o, bool with_total,
                   Output& out) {
  if (!o.long_format) {
    for (const auto& e : entries) out.add(e.name + "\n");
    return;
  }
  size_t wl = 0, wu = 0, wg = 0, ws = 0;
  long long blocks = 0;
  struct Row {
    std::string links, user, group, size;
  };
  std::vector<Row> rows;
  for (const auto& e : entries) {
    Row r{std::to_string(e.st.st_nlink), user_name(e.st.st_uid), group_name(e.st.st_gid),
          std::to_string(e.st.st_size)};
    wl = std::max(wl, r.links.size());
    wu = std::max(wu, r.user.size());
    wg = std::max(wg, r.group.size());
    ws = std::max(ws, r.size.size());
    blocks += e.st.st_blocks;
    rows.push_back(std::move(r));
  }
  if (with_total) out.add("total " + std::to_string((blocks + 1) / 2) + "\n");
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    const Row& r = rows[i];
    std::string line = mode_string(e.st.st_mode) + " " + std::string(wl - r.links.size(), ' ') +
                       r.links + " " + r.user + std::string(wu - r.user.size(), ' ') + " " +
                       r.group + std::string(wg - r.group.size(), ' ') + " " +
                       std::string(ws - r.size.size(), ' ') + r.size + " " +
                       ls_time(time_of(e, o)) + " " + e.name;
    if (S_ISLNK(e.st.st_mode)) {
      std::error_code ec;
      line += " -> " + fs::read_symlink(e.path, ec).string();
    }
    out.add(line + "\n");
  }
}

std::vector<Entry> read_dir(const fs::path& dir, const LsOptions& o) {
  std::vector<Entry> v;
  if (o.all) {
    for (const char* dot : {".", ".."}) {
      Entry e{dot, dir / dot};
      if (::stat((dir / dot).c_str(), &e.st) == 0) v.push_back(e);
    }
  }
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!o.all && name[0] == '.') continue;
    Entry e{name, it->path()};
    if (::lstat(e.path.c_str(), &e.st) == 0) v.push_back(std::move(e));
  }
  sort_entries(v, o);
  return v;
}

// Lists `dir` (shown as `shown`); with -R then each subdirectory (never through a link).
void list_dir(const fs::path& dir, const std::string& shown, const LsOptions& o, bool header,
              Output& out) {
  if (header) out.add(shown + ":\n");
  std::vector<Entry> entries = read_dir(dir, o);
  print_entries(entries, o, true, out);
  if (!o.recursive) return;
  for (const auto& e : entries) {
    if (e.name == "." || e.name == ".." || !S_ISDIR(e.st.st_mode)) continue;
    out.add("\n");
    list_dir(e.path, shown + "/" + e.name, o, true, out);
  }
}

}  // namespace

bool ShellCommand::has(char flag) const {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

WorkspaceShell::WorkspaceShell(fs::path root) : root_(std::move(root)) {}

bool WorkspaceShell::is_shell_command(const std::string& name) { return specs().count(name) > 0; }

std::string WorkspaceShell::usage(const std::string& name) {
  static const std::map<std::string, std::string> kUsage = {
      {"pwd", "pwd target\nwhere target is \"server\" or client name\n"},
      {"ls",
       "ls target [options] [files]\n where target is \"server\" or client name\n\npositional "
       "arguments:\n  "
       "file\n\noptions:\n  -a\n  -l    use a long listing format\n  -t    sort by modification "
       "time, newest "
       "first\n  -S    sort by file size, largest first\n  -R    list subdirectories recursively\n "
       " -u    with "
       "-l: show access time, otherwise: sort by access time\n"},
      {"cat",
       "cat target [options] fileName\n where target is \"server\" or client name\n\npositional "
       "arguments:\n  "
       "file\n\noptions:\n  -n    number all output lines\n  -b    number nonempty output lines, "
       "overrides "
       "-n\n  -s    suppress repeated empty output lines\n  -T    display TAB characters as ^I\n"},
      {"head",
       "head target [options] fileName\n where target is \"server\" or client name\n\npositional "
       "arguments:\n  file\n\noptions:\n  -c C  print the first C bytes of each file\n  -n N  "
       "print the "
       "first N lines instead of the first 10\n"},
      {"tail",
       "tail target [options] fileName\n where target is \"server\" or client name\n\npositional "
       "arguments:\n  file\n\noptions:\n  -c C  output the last C bytes\n  -n N  output the last N "
       "lines\n"},
      {"grep",
       "grep target [options] PATTERN fileName\n where target is \"server\" or client "
       "name\n\npositional "
       "arguments:\n  pattern\n  file\n\noptions:\n  -n       print line number with output "
       "lines\n  -i     "
       "  ignore case distinctions\n  -b       print the byte offset with output lines\n"},
  };
  auto it = kUsage.find(name);
  return it == kUsage.end() ? "" : it->second;
}

std::string WorkspaceShell::order(const std::vector<std::string>& argv) {
  config::Value v = config::Value::array();
  for (const auto& a : argv) v.push_back(a);
  return v.dump();
}

Result<ShellCommand> WorkspaceShell::parse_order(std::string_view order) {
  std::vector<std::string> argv;
  try {
    config::Value v = config::Value::parse(order);
    if (!v.is_array()) return InvalidArgumentError("bad shell command order: not a JSON array");
    for (const auto& a : v) {
      if (!a.is_string()) return InvalidArgumentError("bad shell command order: an argument is not a string");
      argv.push_back(a.get<std::string>());
    }
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("bad shell command order: ") + e.what());
  }
  if (argv.empty() || !is_shell_command(argv[0])) {
    return InvalidArgumentError("bad shell command order: not one of pwd, ls, cat, head, tail, grep");
  }
  return parse(argv);
}

Result<ShellCommand> WorkspaceShell::parse(const std::vector<std::string>& argv) {
  if (argv.empty() || !specs().count(argv[0])) return InvalidArgumentError("not a shell command");
  const Spec& spec = specs().at(argv[0]);
  ShellCommand c;
  c.name = argv[0];
  std::vector<std::string> positional, unknown;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() < 2 || a[0] != '-' || is_negative_number(a)) {
      positional.push_back(a);
      continue;
    }
    const char f = a[1];
    if (spec.int_flags.find(f) != std::string::npos) {
      std::string value;
      if (a.size() > 2) {
        value = a.substr(2);
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        return InvalidArgumentError(std::string("argument -") + f + ": expected one argument");
      }
      if (!parse_count(value)) {
        return InvalidArgumentError(std::string("argument -") + f + ": invalid int value: '" +
                                    value + "'");
      }
      c.count_flag = std::string(1, f);
      c.count = value;
      continue;
    }
    bool all_bool = true;
    for (size_t k = 1; k < a.size(); ++k)
      all_bool = all_bool && spec.bool_flags.find(a[k]) != std::string::npos;
    if (!all_bool) {
      unknown.push_back(a);
      continue;
    }
    for (size_t k = 1; k < a.size(); ++k) c.flags.push_back(a[k]);
  }
  if (spec.pattern && !positional.empty()) {
    c.pattern = positional.front();
    positional.erase(positional.begin());
  }
  if (c.name == "pwd") {
    if (!unknown.empty() || !positional.empty())
      return InvalidArgumentError("this command does not accept extra args");
    return c;
  }
  if (spec.max_files == 1 && positional.size() > 1)
    unknown.insert(unknown.end(), positional.begin() + 1, positional.end());
  if (!unknown.empty()) {
    std::string joined;
    for (const auto& u : unknown) joined += (joined.empty() ? "" : " ") + u;
    return InvalidArgumentError("unrecognized arguments: " + joined);
  }
  if (static_cast<int>(positional.size()) < spec.min_files) {
    return InvalidArgumentError(std::string("the following arguments are required: ") +
                                (spec.pattern && c.pattern.empty() ? "pattern, file" : "file"));
  }
  if (spec.max_files == 1 && !positional.empty()) positional.resize(1);
  if (spec.min_files > 0 && positional.size() != 1)
    return InvalidArgumentError("only one file is allowed");
  for (const auto& f : positional) NVF_RETURN_IF_ERROR(check_file(f, spec.text_only));
  c.files = std::move(positional);
  return c;
}

Result<fs::path> WorkspaceShell::resolve(const std::string& relative) const {
  if (!relative.empty() && relative[0] == '/')
    return InvalidArgumentError("absolute path is not allowed");
  for (const auto& part : fs::path(relative)) {
    if (part == "..") return InvalidArgumentError(".. in path name is not allowed");
  }
  std::error_code ec;
  const fs::path root = fs::canonical(root_, ec);
  if (ec)
    return NotFoundError("the workspace " + root_.string() + " is not there: " + ec.message());
  const fs::path path = fs::weakly_canonical(relative.empty() ? root : root / relative, ec);
  if (ec) return base::errno_status(ec.value(), "cannot resolve", relative);
  auto r = root.begin(), p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    if (p == path.end() || *r != *p) {
      return PermissionDeniedError(
          relative + ": the path leads out of the workspace through a symbolic link; refused");
    }
  }
  return path;
}

Result<std::string> WorkspaceShell::run(const ShellCommand& c) const {
  Output out;
  if (c.name == "pwd") {
    NVF_ASSIGN_OR_RETURN(fs::path root, resolve(""));
    return root.string();
  }
  if (c.name == "ls") {
    const LsOptions o = ls_options(c);
    const std::string shown = c.files.empty() ? "." : c.files[0];
    NVF_ASSIGN_OR_RETURN(fs::path path, resolve(c.files.empty() ? "" : c.files[0]));
    struct stat link {
    }, target{};
    const fs::path as_typed = c.files.empty() ? path : root_ / c.files[0];
    if (::lstat(as_typed.c_str(), &link) != 0 || ::stat(path.c_str(), &target) != 0) {
      return "ls: cannot access '" + shown + "': " + base::errno_text(errno);
    }
    // A directory (or, without -l, a link to one) is listed; anything else is printed itself.
    if (S_ISDIR(target.st_mode) && !(o.long_format && S_ISLNK(link.st_mode))) {
      list_dir(path, shown, o, o.recursive, out);
    } else {
      print_entries({Entry{shown, as_typed, link}}, o, false, out);
    }
    return out.take();
  }
  for (const std::string& file : c.files) {
    NVF_RETURN_IF_ERROR(check_file(file, true));
    NVF_ASSIGN_OR_RETURN(fs::path path, resolve(file));
    FileText text = read_text(path, kMaxRead, c.name == "tail");
    if (text.error != 0) {
      out.add(read_error(c.name, file, text.error) + "\n");
      continue;
    }
    if (c.name == "cat") cat_file(c, text.data, out);
    if (c.name == "head") head_file(c, text.data, out);
    if (c.name == "tail") tail_file(c, text.data, out);
    if (c.name == "grep") {
      if (Status s = grep_file(c, text.data, out); !s.ok()) return s.message();
    }
  }
  return out.take();
}

}  // namespace nvf::runtime
