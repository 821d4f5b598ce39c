// The driver conformance suite: the behaviour every Driver (inproc, uds, tcp, grpc) must show,
// written once as value-parameterized gtest cases over a DriverFactory.
//
// The TEST_Ps live in driver_conformance.cc, built as the CMake object library
// `nvf_cellnet_conformance`; a test binary links it and instantiates the suite with its factories:
//
//   // CMake: nvf_module_tests(cellnet_grpc SOURCES tests/grpc_driver_test.cc
//   //                         DEPS nvf_cellnet_conformance)
//   #include "cellnet/tests/driver_conformance.h"
//   INSTANTIATE_TEST_SUITE_P(Grpc, DriverConformance, ::testing::Values(grpc_factory()),
//                            nvf::cellnet::DriverFactoryName());
//
// RecordingHandler is a ConnectionHandler that records callbacks and lets a test wait for them
// with a deadline (never by sleeping). It checks the callback contract as it goes: on_connected
// before any frame, nothing after on_closed, on_closed at most once. Its methods may be called
// from any thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "base/sanitizer_slowdown.h"
#include "cellnet/driver.h"

namespace nvf::cellnet {

/// How to make and address one driver under test.
struct DriverFactory {
  std::string name;  // the gtest parameter name: letters, digits and '_'
  std::function<std::unique_ptr<Driver>(const DriverOptions&)> make_driver;
  /// A URL to listen on. `tmp_dir` is a fresh short directory (under /tmp) the test removes.
  std::function<std::string(const std::string& tmp_dir)> listen_url;
  /// A URL nothing listens on (connecting must fail with UNAVAILABLE).
  std::function<std::string(const std::string& tmp_dir)> unused_url;
  /// The listener reads our frames straight off a stream socket (tcp, uds): enables the tests
  /// that write malformed bytes or stop reading through a raw socket.
  bool raw_socket = false;
};

inline void PrintTo(const DriverFactory& f, std::ostream* os) { *os << f.name; }

/// Names instantiated tests after the factory: DriverConformance/FramesArrive.../Tcp.
struct DriverFactoryName {
  std::string operator()(const ::testing::TestParamInfo<DriverFactory>& info) const {
    return info.param.name;
  }
};

class RecordingHandler : public ConnectionHandler {
 public:
  struct Closed {
    std::shared_ptr<Connection> conn;
    Status reason;
  };
  struct Received {
    std::shared_ptr<Connection> conn;
    Frame frame;
  };

  void on_connected(const std::shared_ptr<Connection>& conn) override;
  void on_frame(const std::shared_ptr<Connection>& conn, Frame frame) override;
  void on_closed(const std::shared_ptr<Connection>& conn, const Status& reason) override;

  /// Runs on the driver thread inside on_frame, before the frame is recorded. Set it before the
  /// first connection exists.
  void set_frame_hook(std::function<void(const std::shared_ptr<Connection>&, const Frame&)> hook);
  /// Sends every received frame back on its connection. Set before the first connection.
  void set_echo(bool echo);

  /// Waits (at most `timeout`) until the counts reach the given numbers; false on timeout.
  bool wait_connected(size_t n, std::chrono::milliseconds timeout = kWait);
  /// Frames: counts those held now (take_frames() empties the list).
  bool wait_frames(size_t n, std::chrono::milliseconds timeout = kWait);
  bool wait_closed(size_t n, std::chrono::milliseconds timeout = kWait);

  std::vector<std::shared_ptr<Connection>> connected() const;
  std::vector<Closed> closed() const;
  /// Moves out the frames received so far (releasing big payloads).
  std::vector<Received> take_frames();
  /// Broken callback rules, plus connections that saw on_connected but no on_closed.
  std::vector<std::string> violations(bool expect_all_closed) const;

  static constexpr std::chrono::milliseconds kWait{20000 * base::kSanitizerSlowdown};  // only reached when a test fails

 private:
  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  mutable std::mutex mu_;
  std::condition_variable cv_;                          // guarded by mu_
  std::vector<std::shared_ptr<Connection>> connected_;  // guarded by mu_
  std::vector<Received> frames_;                        // guarded by mu_
  std::vector<Closed> closed_;                          // guarded by mu_
  std::map<const Connection*, int> state_;              // guarded by mu_: 1 connected, 2 closed
  std::vector<std::string> violations_;                 // guarded by mu_
  std::function<void(const std::shared_ptr<Connection>&, const Frame&)> hook_;
  bool echo_ = false;
};

/// The suite. Each test gets a fresh driver, a server and a client handler and a temp directory.
class DriverConformance : public ::testing::TestWithParam<DriverFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// Options the tests use unless they need others: small timeouts so failures show fast.
  static DriverOptions test_options();
  /// Makes the driver under test (replacing none: call once per test, before listen()).
  Driver& make_driver(const DriverOptions& options = test_options());
  /// Listens on the factory's URL with server_; null (and a failure recorded) on error.
  Listener* listen();
  /// Connects client_ (or `handler`) to the listener; null (and a failure recorded) on error.
  std::shared_ptr<Connection> connect(ConnectionHandler* handler = nullptr);
  /// Connects and waits for both on_connected; returns {client side, server side}.
  std::pair<std::shared_ptr<Connection>, std::shared_ptr<Connection>> connect_pair();

  std::string tmp_dir_;
  RecordingHandler server_;
  RecordingHandler client_;
  std::unique_ptr<Driver> driver_;
  std::unique_ptr<Listener> listener_;
};

}  // namespace nvf::cellnet
