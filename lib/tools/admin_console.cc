#include "tools/admin_console.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>

#include "base/strings.h"
#include "runtime/workspace_shell.h"
#include "tools/admin_client.h"
#include "tools/admin_output.h"

namespace nvf::tools {
namespace fs = std::filesystem;

namespace {

enum class Confirm { kNone, kYesNo, kUserName };

struct CommandInfo {
  std::string description, usage;
  Confirm confirm = Confirm::kNone;
  bool visible = true;
};

// The console's own commands ("Client Initiated" in FLARE's help), in FLARE's order.
const std::vector<std::pair<std::string, CommandInfo>>& client_commands() {
  static const auto* table = new std::vector<std::pair<std::string, CommandInfo>>{
      {"bye", {"exit from the client", "bye"}},
      {"help", {"get command help information", "help"}},
      {"lpwd", {"print local work dir of the admin client", "lpwd"}},
      {"timeout", {"set/show command timeout", "timeout [value]"}},
      {"info", {"show folder setup info", "info"}},
  };
  return *table;
}

// The server commands this build implements, with FLARE's descriptions and usages.
const std::map<std::string, CommandInfo>& server_commands() {
  using runtime::WorkspaceShell;
  static const auto* table = new std::map<std::string, CommandInfo>{
      {"abort_job",
       {"abort a job if it is running or dispatched", "abort_job job_id", Confirm::kYesNo}},
      {"app_command", {"execute an app-defined command", "app_command job_id topic # cmd_data"}},
      {"cat", {"show content of a file", WorkspaceShell::usage("cat")}},
      {"check_status", {"check status of the FL server/client", "check_status server|client"}},
      {"clone_job", {"clone a job with a new job_id", "clone_job job_id"}},
      {"configure_job_log",
       {"configure logging of a running job",
        "configure_job_log job_id server|client <client-name>... config"}},
      {"configure_site_log",
       {"configure logging of a site", "configure_site_log server|client <client-name>... config"}},
      {"dead", {"mark a client as dead", "dead <client-name>", Confirm::kNone, false}},
      {"delete_job",
       {"delete a job and persisted workspace", "delete_job job_id", Confirm::kUserName}},
      {"download_job", {"download a specified job", "download_job job_id [destination]"}},
      {"download_job_components",
       {"download additional components for a specified job", "download_job_components job_id"}},
      {"get_job_meta", {"get meta info of specified job", "get_job_meta job_id"}},
      {"grep", {"search for PATTERN in a file.", WorkspaceShell::usage("grep")}},
      {"head", {"print the first 10 lines of a file", WorkspaceShell::usage("head")}},
      {"list_job", {"list additional components of specified job", "list_job job_id"}},
      {"list_job_components",
       {"list additional components of specified job", "list_job_components job_id", Confirm::kNone,
        false}},
      {"list_jobs",
       {"list submitted jobs",
        "list_jobs [-n name_prefix] [-d] [-u] [-r] [-m num_of_jobs] [job_id_prefix]"}},
      {"list_sessions", {"list user sessions", "list_sessions", Confirm::kNone, false}},
      {"ls", {"list files in work dir", WorkspaceShell::usage("ls")}},
      {"monitor_job", {"wait until a job finishes", "monitor_job job_id [timeout]"}},
      {"pwd", {"print the name of work directory", WorkspaceShell::usage("pwd")}},
      {"remove_client", {"remove a FL client", "remove_client <client-name>", Confirm::kUserName}},
      {"report_env", {"get env info of a client", "report_env server|client <client-name> ..."}},
      {"report_resources",
       {"get the resources info", "report_resources server | client <client-name> ..."}},
      {"reset_errors",
       {"reset processing errors of specified job", "reset_errors job_id server|client"}},
      {"restart",
       {"restart the FL server/client", "restart server|client|all", Confirm::kUserName}},
      {"show_errors",
       {"show processing errors of specified job", "show_errors job_id server|client"}},
      {"show_scopes",
       {"show configured scope names on server/client", "show_scopes server|client|all ..."}},
      {"show_stats", {"show processing stats of specified job", "show_stats job_id server|client"}},
      {"shutdown",
       {"shutdown the FL server/client", "shutdown server|client|all", Confirm::kUserName}},
      {"submit_job", {"submit a job", "submit_job job_folder"}},
      {"sys_info", {"get the system info", "sys_info server|client <client-name> ..."}},
      {"tail", {"print the last 10 lines of a file", WorkspaceShell::usage("tail")}},
  };
  return *table;
}

const CommandInfo* find_client_command(const std::string& name) {
  for (const auto& [n, info] : client_commands()) {
    if (n == name) return &info;
  }
  return nullptr;
}

// FLARE's split_to_args: shell quoting when the line has quotes, else words between spaces.
std::vector<std::string> split_args(const std::string& line) {
  if (line.find_first_of("\"'") != std::string::npos) {
    auto words = base::shell_split(line);
    if (words.ok() && !words->empty()) return *words;
  }
  return base::split(line, ' ', true);
}

// FLARE's join_args: words with whitespace, quotes or backslashes in double quotes.
std::string join_args(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    bool quote = std::any_of(a.begin(), a.end(), [](char c) {
      return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\\';
    });
    std::string word = a;
    if (quote) {
      word = "\"";
      for (char c : a) word += (c == '\\' || c == '"') ? std::string("\\") + c : std::string(1, c);
      word += "\"";
    }
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

std::string python_float_text(double v) { return python_json_dumps(config::Value(v), -1); }

std::string table_of(const std::vector<std::pair<std::string, std::string>>& rows) {
  config::Value t = config::Value::array({config::Value::array({"Command", "Description"})});
  for (const auto& [name, desc] : rows) t.push_back(config::Value::array({name, desc}));
  return render_admin_table(t);
}

}  // namespace

AdminConsole::AdminConsole(AdminConsoleSession& session, LineReader& input, std::ostream& out,
                           AdminConsoleOptions options)
    : session_(session), input_(input), out_(out), options_(std::move(options)) {}

std::vector<std::string> AdminConsole::command_names() {
  std::vector<std::string> names;
  for (const auto& [n, info] : client_commands()) names.push_back(n);
  for (const auto& [n, info] : server_commands()) names.push_back(n);
  std::sort(names.begin(), names.end());
  return names;
}

void AdminConsole::write(const std::string& text) {
  if (!file_only_) out_ << text;
  if (file_.is_open()) file_ << text;
}

void AdminConsole::write_stdout(const std::string& text) { out_ << text; }

Status AdminConsole::run() {
  if (input_.interactive())
    out_ << "Type ? to list commands; type \"? cmdName\" to show usage of a command.\n";
  input_.set_idle_timeout(options_.idle_timeout);
  for (;;) {
    out_ << std::flush;
    auto line = input_.read_line(input_.interactive() ? options_.prompt : "", true);
    if (!line) {  // end of input: FLARE's console takes it as `bye`
      if (input_.timed_out()) {
        auto ms = options_.idle_timeout.count();
        std::string secs = ms % 1000 == 0 ? std::to_string(ms / 1000) : std::to_string(ms / 1000.0);
        out_ << "Logging out due to inactivity for " << secs << " seconds\n" << std::flush;
      }
      session_.logout();
      return Status::OK();
    }
    if (!handle_line(*line)) break;
  }
  out_ << std::flush;
  return ended_;
}

bool AdminConsole::handle_line(const std::string& raw) {
  const std::string line(base::trim(raw));
  if (line.empty()) return true;
  const auto [cmd, arg] = split_command_line(line);  // `?` is help
  if (cmd == "bye") {
    session_.logout();
    return false;
  }
  if (cmd == "help") {
    help(arg);
    return true;
  }
  if (cmd == "lpwd") {
    std::error_code ec;
    write(fs::current_path(ec).string() + "\n");
    return true;
  }
  if (cmd == "timeout") {
    timeout(arg);
    return true;
  }
  bool keep_going = run_command(line);
  if (file_.is_open()) file_.close();
  file_only_ = false;
  return keep_going;
}

void AdminConsole::help(const std::string& arg) {
  if (arg.empty()) {
    std::vector<std::pair<std::string, std::string>> client, server;
    for (const auto& [n, info] : client_commands()) client.emplace_back(n, info.description);
    for (const auto& [n, info] : server_commands()) {
      if (info.visible) server.emplace_back(n, info.description);
    }
    write("Client Initiated / Overseer Commands\n" + table_of(client));
    write("\nServer Commands\n" + table_of(server));
    return;
  }
  std::vector<std::string> local, remote;
  for (const auto& p : base::split(arg, ' ', true)) {
    if (find_client_command(p)) local.push_back(p);
    if (server_commands().count(p)) remote.push_back(p);
    if (!find_client_command(p) && !server_commands().count(p))
      write("Undefined command " + p + "\n");
  }
  auto show = [&](const std::string& title, const std::vector<std::string>& names, bool server) {
    if (names.empty()) return;
    write(title + "\n---------------\n");
    for (const auto& n : names) {
      const CommandInfo& info = server ? server_commands().at(n) : *find_client_command(n);
      write("Command: " + n + "\nDescription: " + info.description + "\nUsage: " + info.usage +
            "\n\n");
    }
  };
  show("Client Commands", local, false);
  show("Server Commands", remote, true);
}

// FLARE's do_timeout: no value shows it, 0 unsets it.
void AdminConsole::timeout(const std::string& arg) {
  if (arg.empty()) {
    write((timeout_ ? python_float_text(*timeout_) : std::string("not set")) + "\n");
    return;
  }
  char* end = nullptr;
  const double t = std::strtod(arg.c_str(), &end);
  if (end == arg.c_str() || *end != '\0' || t < 0 || t != t) {
    write("invalid timeout value - must be float number >= 0.0\n");
    return;
  }
  session_.set_timeout(t);
  if (t == 0) {
    timeout_.reset();
    write("command timeout is unset\n");
  } else {
    timeout_ = t;
    write("command timeout is set to " + python_float_text(t) + "\n");
  }
}

bool AdminConsole::confirmed(const std::string& command) {
  const auto it = server_commands().find(command);
  const Confirm how = it == server_commands().end() ? Confirm::kNone : it->second.confirm;
  if (how == Confirm::kNone) return true;
  if (how == Confirm::kUserName && !options_.user_name.empty()) {
    auto answer = input_.read_line("Confirm with User Name: ", false);
    if (answer && std::string(base::trim(*answer)) == options_.user_name) return true;
    write("user name mismatch\n");
    return false;
  }
  auto answer = input_.read_line("Are you sure (y/N): ", false);
  const std::string a = answer ? base::to_lower(base::trim(*answer)) : "";
  return a == "y" || a == "yes";
}

bool AdminConsole::run_command(const std::string& typed) {
  std::string line = typed;
  std::vector<std::string> args;
  if (line.find_first_of("\"'") != std::string::npos) {
    args = split_args(line);
  } else {
    line = std::string(base::trim(line.substr(0, line.find('#'))));  // "# props" are not sent
    args = split_args(line);
  }
  if (args.empty()) return true;
  const std::string cmd = args[0];

  // FLARE's output redirection: ">file" (screen and file) or ">>file" (file only).
  std::optional<size_t> redirect;
  for (size_t k = 0; k < args.size(); ++k) {
    if (args[k].rfind(">", 0) != 0) continue;
    if (redirect) {
      write("Error: only one output file is supported\n");
      return true;
    }
    redirect = k;
  }
  if (redirect) {
    const bool only = args[*redirect].rfind(">>", 0) == 0;
    const std::string name = args[*redirect].substr(only ? 2 : 1);
    if (name.empty()) {
      write("Error: output file name must not be empty\n");
      return true;
    }
    args.erase(args.begin() + static_cast<long>(*redirect));
    line = join_args(args);
    file_.open(name, std::ios::out | std::ios::trunc);
    if (!file_.is_open()) {
      write("Error: cannot open file " + name + ": " + std::strerror(errno) + "\n");
      return true;
    }
    file_only_ = only;
  }

  if (cmd != "info" && !server_commands().count(cmd)) {
    write("Undefined command " + cmd + "\n");
    return true;
  }
  if (!confirmed(cmd)) return true;

  const auto start = std::chrono::steady_clock::now();
  Result<config::Value> reply =
      cmd == "info"
          ? Result<config::Value>(config::Value{
                {"status", "ok"},
                {"details", "Local Upload Source: " + options_.upload_dir.string() +
                                "\nLocal Download Destination: " + options_.download_dir.string() +
                                "\n"}})
          : session_.execute(line);
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  if (!reply.ok()) {
    write("Error: " + reply.status().message() + "\n");
    return true;
  }
  write(render_admin_reply(*reply));
  const std::string status = admin_reply_status(*reply);
  if (status == "not_authenticated") {
    ended_ = UnauthenticatedError("the server ended this session: log in again");
    return false;
  }
  write_stdout(admin_done_line(took, std::chrono::system_clock::now()) + "\n");
  if (cmd == "shutdown" && status == "ok" && args.size() > 1 &&
      (args[1] == "server" || args[1] == "all")) {
    write("Goodbye!\n");
    return false;
  }
  return true;
}

namespace {

// An AdminClient as the console's session; timeout 0 restores the login timeout.
class ClientSession : public AdminConsoleSession {
 public:
  explicit ClientSession(AdminClient& client)
      : client_(client), default_timeout_(client.timeout()) {}
  Result<config::Value> execute(const std::string& line) override {
    return run_admin_command(client_, line);
  }
  void set_timeout(double seconds) override {
    client_.set_timeout(seconds <= 0
                            ? default_timeout_
                            : std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  }
  void logout() override { client_.logout(); }

 private:
  AdminClient& client_;
  std::chrono::milliseconds default_timeout_;
};

fs::path history_file() {
  const char* home = std::getenv("HOME");
  return home && *home ? fs::path(home) / ".nvflare" / ".admin_cli_history" : fs::path();
}

}  // namespace

Status run_admin_console(const runtime::AdminKit& kit,
                         const runtime::DriverFactory& external_driver,
                         std::chrono::milliseconds timeout) {
  std::cout << "Trying to login, please wait ...\n" << std::flush;
  NVF_ASSIGN_OR_RETURN(auto client, AdminClient::connect(kit, external_driver, timeout));
  std::cout << "Logged into server at " << client->server_address()
            << " with SSID: " << client->ssid() << "\n";
  ClientSession session(*client);
  auto input = make_stdin_reader(history_file(), AdminConsole::command_names());
  AdminConsoleOptions options;
  options.user_name = kit.name;
  options.upload_dir = kit.upload_dir;
  options.download_dir = kit.download_dir;
  options.prompt = kit.prompt;
  options.idle_timeout = kit.idle_timeout;
  AdminConsole console(session, *input, std::cout, options);
  return console.run();
}

}  // namespace nvf::tools
