// Runs the cell-over-real-transport suite (cell_transport_suite.h) over the Unix-socket and TCP
// drivers: both carry raw bytes (the malformed-bytes cases run) and give every connection its own
// reader thread (a peer may stop reading without holding anyone else's thread).
#include "cellnet/tests/cell_transport_placement_suite.h"
#include "cellnet/tests/cell_transport_suite.h"

#include "cellnet/socket_driver.h"

namespace nvf::cellnet::transport_suite {
namespace {

Transport uds() {
  return {"Uds", [](const DriverOptions& o) { return std::make_shared<UdsDriver>(o); },
          [](const std::string& dir, const std::string& who) { return "uds://" + dir + "/" + who + ".sock"; },
          /*raw_socket=*/true, /*handler_may_block=*/true};
}

Transport tcp() {
  return {"Tcp", [](const DriverOptions& o) { return std::make_shared<TcpDriver>(o); },
          [](const std::string&, const std::string&) { return std::string("tcp://127.0.0.1:0"); },
          /*raw_socket=*/true, /*handler_may_block=*/true};
}

INSTANTIATE_TEST_SUITE_P(Socket, CellTransportTest, ::testing::Values(uds(), tcp()), TransportName());
INSTANTIATE_TEST_SUITE_P(Socket, StalledPeerTest, ::testing::Values(uds(), tcp()), TransportName());

}  // namespace
}  // namespace nvf::cellnet::transport_suite
