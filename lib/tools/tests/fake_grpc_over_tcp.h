// A test double for the gRPC driver factory: serves grpc:// and grpcs:// URLs over plain TCP
// (cellnet's TcpDriver), ignoring the TLS settings, so that tests of code which connects through a
// runtime::DriverFactory (registration, probes) run without linking gRPC. Listener URLs come back
// as tcp://host:port; only their port matters to the tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cellnet/socket_driver.h"
#include "runtime/startup_kit.h"

namespace nvf::tools::testing {

class FakeGrpcOverTcp : public cellnet::Driver {
 public:
  std::vector<std::string> schemes() const override { return {"grpc", "grpcs"}; }
  Result<std::unique_ptr<cellnet::Listener>> listen(const std::string& url,
                                                    cellnet::ConnectionHandler* handler) override {
    return tcp_.listen(to_tcp(url), handler);
  }
  Result<std::shared_ptr<cellnet::Connection>> connect(const std::string& url,
                                                       cellnet::ConnectionHandler* handler,
                                                       std::chrono::milliseconds timeout) override {
    return tcp_.connect(to_tcp(url), handler, timeout);
  }
  void stop() override { tcp_.stop(); }

  static runtime::DriverFactory factory() {
    return [](const cellnet::DriverOptions&) { return std::make_shared<FakeGrpcOverTcp>(); };
  }

 private:
  static std::string to_tcp(const std::string& url) {
    auto at = url.find("://");
    return at == std::string::npos ? url : "tcp" + url.substr(at);
  }
  cellnet::TcpDriver tcp_;
};

}  // namespace nvf::tools::testing
