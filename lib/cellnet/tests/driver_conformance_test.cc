// Runs the driver conformance suite against inproc, uds and tcp, plus the behaviour specific to
// each (socket files, ports, names).
#include "cellnet/tests/driver_conformance.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "cellnet/inproc_driver.h"
#include "cellnet/socket_driver.h"

namespace nvf::cellnet {
namespace {

using std::chrono::milliseconds;

std::string unique_suffix() {
  static std::atomic<int> n{0};
  return std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// A 127.0.0.1 port that was free a moment ago: bound, read back and released.
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

DriverFactory inproc_factory() {
  return {"Inproc", [](const DriverOptions& o) { return std::make_unique<InprocDriver>(o); },
          [](const std::string&) { return "inproc://listener-" + unique_suffix(); },
          [](const std::string&) { return "inproc://nobody-" + unique_suffix(); }, false};
}

DriverFactory uds_factory() {
  return {"Uds", [](const DriverOptions& o) { return std::make_unique<UdsDriver>(o); },
          [](const std::string& dir) { return "uds://" + dir + "/l.sock"; },
          [](const std::string& dir) { return "uds://" + dir + "/nobody.sock"; }, true};
}

DriverFactory tcp_factory() {
  return {"Tcp", [](const DriverOptions& o) { return std::make_unique<TcpDriver>(o); },
          [](const std::string&) { return std::string("tcp://127.0.0.1:0"); },
          [](const std::string&) { return "tcp://127.0.0.1:" + std::to_string(free_port()); },
          true};
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Local, DriverConformance,
                         ::testing::Values(inproc_factory(), uds_factory(), tcp_factory()),
                         DriverFactoryName());

namespace {

class NullHandler : public ConnectionHandler {
 public:
  void on_connected(const std::shared_ptr<Connection>&) override {}
  void on_frame(const std::shared_ptr<Connection>&, Frame) override {}
  void on_closed(const std::shared_ptr<Connection>&, const Status&) override {}
};

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nvfdt-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(UdsDriverTest, ListenerCreatesPrivateSocketFileAndRemovesItOnStop) {
  TempDir dir;
  NullHandler h;
  UdsDriver driver;
  std::string path = dir.path() + "/a.sock";
  auto l = driver.listen("uds://" + path, &h);
  ASSERT_TRUE(l.ok()) << l.status().to_string();
  EXPECT_EQ((*l)->url(), "uds://" + path);
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  (*l)->stop();
  EXPECT_NE(::lstat(path.c_str(), &st), 0);
}

TEST(UdsDriverTest, RefusesPathLongerThanSunPath) {
  NullHandler h;
  UdsDriver driver;
  std::string path = "/tmp/" + std::string(120, 'x') + ".sock";
  auto l = driver.listen("uds://" + path, &h);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(l.status().message().find("sun_path"), std::string::npos) << l.status().message();
  auto c = driver.connect("uds://" + path, &h, milliseconds(1000));
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
}

TEST(UdsDriverTest, ReplacesStaleSocketFileButNotALiveListener) {
  TempDir dir;
  NullHandler h;
  std::string url = "uds://" + dir.path() + "/s.sock";
  {
    // A socket file whose listener is gone: bind without listen leaves one behind.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::string p = dir.path() + "/s.sock";
    std::memcpy(sa.sun_path, p.data(), p.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    ::close(fd);
  }
  UdsDriver driver;
  auto first = driver.listen(url, &h);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  auto second = driver.listen(url, &h);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("already listens"), std::string::npos)
      << second.status().message();
}

TEST(UdsDriverTest, RefusesRelativePathAndWrongScheme) {
  NullHandler h;
  UdsDriver driver;
  EXPECT_EQ(driver.listen("uds://relative.sock", &h).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(driver.listen("tcp://127.0.0.1:0", &h).status().code(), StatusCode::kInvalidArgument);
}

TEST(TcpDriverTest, PortZeroReportsTheChosenPort) {
  NullHandler h;
  TcpDriver driver;
  auto l = driver.listen("tcp://127.0.0.1:0", &h);
  ASSERT_TRUE(l.ok()) << l.status().to_string();
  auto u = parse_url((*l)->url());
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_GT(u->port, 0);
  auto c = driver.connect((*l)->url(), &h, milliseconds(2000));
  EXPECT_TRUE(c.ok()) << c.status().to_string();
}

TEST(TcpDriverTest, RefusesTlsUntilImplemented) {
  NullHandler h;
  DriverOptions o;
  o.tls.mode = TlsConfig::Mode::kMtls;
  TcpDriver driver(o);
  EXPECT_EQ(driver.listen("tcp://127.0.0.1:0", &h).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(SocketDriverTest, RefusesOversizedFrameAtSend) {
  NullHandler h;
  DriverOptions o;
  o.max_payload = 1000;
  TcpDriver driver(o);
  auto l = driver.listen("tcp://127.0.0.1:0", &h);
  ASSERT_TRUE(l.ok());
  auto c = driver.connect((*l)->url(), &h, milliseconds(2000));
  ASSERT_TRUE(c.ok());
  Frame f;
  f.payload.append(Slice::from_string(std::string(1001, 'x')));
  Status s = (*c)->send(f);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("max_message_size"), std::string::npos);
}

TEST(InprocDriverTest, NameInUseIsRefusedAndFreedByStop) {
  NullHandler h;
  InprocDriver driver;
  auto a = driver.listen("inproc://site-1", &h);
  ASSERT_TRUE(a.ok());
  auto b = driver.listen("inproc://site-1", &h);
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  (*a)->stop();
  EXPECT_TRUE(driver.listen("inproc://site-1", &h).ok());
}

TEST(InprocDriverTest, DriversAreSeparateNetworks) {
  NullHandler h;
  InprocDriver one;
  InprocDriver two;
  auto l = one.listen("inproc://server", &h);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(two.connect("inproc://server", &h, milliseconds(100)).status().code(),
            StatusCode::kUnavailable);
  EXPECT_TRUE(one.connect("inproc://server", &h, milliseconds(100)).ok());
}

}  // namespace
}  // namespace nvf::cellnet
