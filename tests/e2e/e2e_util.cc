#include "e2e_util.h"

#include "tensor/npy.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "base/files.h"
#include "base/process.h"

namespace nvf::e2e {

int free_port() {
  static std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = pick(rng);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    ::close(fd);
    if (ok) return port;
  }
  ADD_FAILURE() << "no free port between 20000 and 32000";
  return 0;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

std::optional<pid_t> read_pid(const std::filesystem::path& file) { return base::read_pid_file(file); }

bool running(pid_t pid, bool as_group) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    auto stat = base::read_file(e.path() / "stat");
    if (!stat.ok()) continue;
    auto close = stat->rfind(')');
    if (close == std::string::npos || close + 2 >= stat->size()) continue;
    std::istringstream rest(stat->substr(close + 2));
    char state = 0;
    long ppid = 0, pgrp = 0;
    rest >> state >> ppid >> pgrp;
    long id = std::atol(e.path().filename().c_str());
    if (state != 'Z' && (as_group ? pgrp == pid : id == pid)) return true;
  }
  return false;
}

bool accepts(int port) { return base::local_port_accepts(port); }

RunResult run_nvflare(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                      const std::map<std::string, std::string>& env, std::chrono::seconds timeout) {
  std::vector<std::string> argv{NVFLARE_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, cwd, env, timeout);
}

RunResult run_program(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                      const std::map<std::string, std::string>& env, std::chrono::seconds timeout) {
  base::SpawnOptions o;
  o.argv = argv;
  o.env_set = env;
  o.env_unset = {"NVFLARE_HOME", "NVFLARE_POC_WORKSPACE", "NVFLARE_STARTUP_KIT_DIR"};
  o.working_dir = cwd;
  o.capture_output = true;
  RunResult result;
  auto child = base::spawn(o);
  if (!child.ok()) {
    ADD_FAILURE() << child.status().to_string();
    return result;
  }
  // Read output on a thread so a hang is caught by the wait deadline below.
  int fd = child->output_fd();
  std::thread reader([fd, &result] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0) result.out.append(buf, static_cast<size_t>(n));
  });
  auto exit = child->wait(timeout);
  if (!exit.ok()) {
    ADD_FAILURE() << argv[0] << " hung: " << exit.status().to_string();
    exit = child->terminate(std::chrono::milliseconds(500));
  }
  reader.join();
  result.exit_code = exit.ok() ? exit->shell_code() : -1;
  return result;
}

TempDir::TempDir() {
  std::string tmpl = ::testing::TempDir() + "nvf_e2e_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

config::Value E2eTest::load(const std::filesystem::path& p) {
  auto v = config::load_file(p);
  EXPECT_TRUE(v.ok()) << v.status().to_string();
  return v.ok() ? *v : config::Value();
}

void E2eTest::save(const std::filesystem::path& p, const config::Value& v) {
  ASSERT_TRUE(base::atomic_write(p, config::to_pretty_json(v)).ok());
}

void PocE2eTest::TearDown() {
  if (HasFailure()) print_log_problems();
  nv({"poc", "stop"});
}

void PocE2eTest::print_log_problems() {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(ws(), ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() != "log.txt") continue;
    std::ifstream in(it->path());
    std::string line;
    std::vector<std::string> problems;
    while (std::getline(in, line)) {
      if (line.find(" - warn") != std::string::npos || line.find(" - error") != std::string::npos ||
          line.find(" - critical") != std::string::npos) {
        problems.push_back(line.substr(0, 400));
      }
    }
    if (problems.empty()) continue;
    std::cerr << "---- " << std::filesystem::relative(it->path(), ws(), ec).string() << ": " << problems.size()
              << " warnings and errors, the last 30:\n";
    for (size_t i = problems.size() > 30 ? problems.size() - 30 : 0; i < problems.size(); ++i)
      std::cerr << problems[i] << "\n";
  }
}

void PocE2eTest::prepare_poc(int clients, const std::string& extra_admins, bool without_localhost,
                             const std::string& scheme) {
  auto scratch = run_env({"poc", "prepare", "-n", std::to_string(clients)}, work_.path() / "scratch");
  ASSERT_EQ(scratch.exit_code, 0) << scratch.out;
  auto text = base::read_file(work_.path() / "scratch" / "project.yml");
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  std::string yml = *text;
  fl_port_ = free_port();
  admin_port_ = free_port();
  while (admin_port_ == fl_port_) admin_port_ = free_port();
  replace_all(yml, "fed_learn_port: 8002", "fed_learn_port: " + std::to_string(fl_port_));
  replace_all(yml, "admin_port: 8003", "admin_port: " + std::to_string(admin_port_));
  if (!extra_admins.empty()) {
    ASSERT_NE(yml.find("\n# The same methods"), std::string::npos) << "FLARE's project.yml changed";
    replace_all(yml, "\n# The same methods", "\n" + extra_admins + "\n# The same methods");
  }
  if (without_localhost) {
    ASSERT_NE(yml.find("    default_host: localhost\n"), std::string::npos) << "FLARE's POC project.yml changed";
    replace_all(yml, "    default_host: localhost\n", "");
  }
  if (!scheme.empty()) {
    ASSERT_NE(yml.find("      scheme: grpc\n"), std::string::npos) << "FLARE's POC project.yml changed";
    replace_all(yml, "      scheme: grpc\n", "      scheme: " + scheme + "\n");
  }
  project_yml_ = yml;
  ASSERT_TRUE(base::atomic_write(work_.path() / "project.yml", yml).ok());
  auto r = nv({"poc", "prepare", "-i", (work_.path() / "project.yml").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
}

void PocE2eTest::start_sites(int normal, const std::vector<std::string>& slow) {
  for (int i = 1; i <= normal; ++i) {
    auto r = nv({"poc", "start", "-p", "site-" + std::to_string(i)});
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  for (const auto& site : slow) {
    std::map<std::string, std::string> env = extra_env_;
    env["HOME"] = home_.path().string();
    env["NVFLARE_POC_WORKSPACE"] = ws().string();
    env["NVFLARE_TEST_CLIENT_JOB_START_DELAY_MS"] = "4000";
    auto r = run_nvflare({"poc", "start", "-p", site}, work_.path(), env);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
}

std::string PocE2eTest::submitted_id(const std::string& out) {
  auto at = out.find("Submitted job: ");
  return at == std::string::npos ? std::string() : out.substr(at + 15, 36);
}

std::string PocE2eTest::expect_exact_hello_numpy(const RunResult& sub) {
  EXPECT_EQ(sub.exit_code, 0) << sub.out;
  std::string id = submitted_id(sub.out);
  EXPECT_NE(sub.out.find("job " + id + ": FINISHED:COMPLETED"), std::string::npos) << sub.out;
  auto dl = admin("download_job " + id + " " + (work_.path() / ("dl-" + id)).string());
  EXPECT_EQ(dl.exit_code, 0) << dl.out;
  auto npy = tensor::read_npy(work_.path() / ("dl-" + id) / id / "workspace" / "models" / "server.npy");
  EXPECT_TRUE(npy.ok()) << npy.status().to_string();
  if (npy.ok()) {
    EXPECT_EQ(npy->to_doubles(), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
  }
  return id;
}

std::filesystem::path PocE2eTest::source_job(const std::string& name) {
  return std::filesystem::path(NVF_SOURCE_DIR) / "jobs" / name;
}

std::filesystem::path PocE2eTest::hello_numpy_for_sites(int sites, int min_clients) {
  namespace fs = std::filesystem;
  fs::path dir = work_.path() / ("job" + std::to_string(sites));
  std::error_code ec;
  fs::copy(source_job("hello-numpy"), dir, fs::copy_options::recursive, ec);
  config::Value meta = load(dir / "meta.json");
  config::Value names = config::Value::array({"server"});
  for (int i = 1; i <= sites; ++i) names.push_back("site-" + std::to_string(i));
  meta["deploy_map"] = {{"app", names}};
  meta["min_clients"] = min_clients;
  save(dir / "meta.json", meta);
  config::Value srv = load(dir / "app" / "config" / "config_fed_server.json");
  srv["min_clients"] = min_clients;
  save(dir / "app" / "config" / "config_fed_server.json", srv);
  return dir;
}

void PocE2eTest::expect_completed_without(const std::string& id, const std::string& missing,
                                          const std::vector<std::string>& slow) {
  namespace fs = std::filesystem;
  auto server_log = base::read_file(prod() / "server" / "log.txt");
  ASSERT_TRUE(server_log.ok());
  EXPECT_NE(server_log->find("deploy to " + missing + " failed"), std::string::npos) << *server_log;
  const fs::path dl = work_.path() / ("dl-" + id);
  auto r = admin("download_job " + id + " " + dl.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto job_log = base::read_file(dl / id / "workspace" / "log.txt");
  ASSERT_TRUE(job_log.ok());
  EXPECT_EQ(job_log->find("declared dead"), std::string::npos) << *job_log;
  auto npy = tensor::read_npy(dl / id / "workspace" / "models" / "server.npy");
  ASSERT_TRUE(npy.ok()) << npy.status().to_string();
  EXPECT_EQ(npy->to_doubles(), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11, 12}));
  for (const auto& site : slow) EXPECT_TRUE(fs::exists(prod() / site / id / ("app_" + site))) << site;
}

bool wait_until(const std::vector<std::filesystem::path>& dirs, std::chrono::seconds timeout,
                const std::function<bool()>& ready) {
  int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return ready();
  for (const auto& d : dirs) ::inotify_add_watch(fd, d.c_str(), IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ok = ready();
  while (!ok) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      char buf[4096];
      while (::read(fd, buf, sizeof buf) > 0) {
      }
    }
    ok = ready();
  }
  ::close(fd);
  return ok;
}

bool wait_for_text(const std::filesystem::path& file, const std::string& text, std::chrono::seconds timeout) {
  return wait_until({file.parent_path()}, timeout, [&] {
    auto content = base::read_file(file);
    return content.ok() && content->find(text) != std::string::npos;
  });
}

}  // namespace nvf::e2e
