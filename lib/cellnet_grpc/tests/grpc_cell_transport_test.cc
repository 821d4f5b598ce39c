// Runs the cell-over-real-transport suite (cellnet/tests/cell_transport_suite.h) over the gRPC
// driver on 127.0.0.1 (plain grpc://). The raw-byte malformed-frame cases need a stream socket
// and are skipped inside the suite; so are the stopped-reader cases, since gRPC calls handlers on
// its shared callback threads (a raw peer parked in on_frame would hold one of them).
#include "cellnet/tests/cell_transport_placement_suite.h"
#include "cellnet/tests/cell_transport_suite.h"

#include "cellnet_grpc/grpc_driver.h"

namespace nvf::cellnet::transport_suite {
namespace {

Transport grpc() {
  return {"Grpc",
          [](const DriverOptions& o) { return std::shared_ptr<Driver>(cellnet_grpc::make_grpc_driver(o)); },
          [](const std::string&, const std::string&) { return std::string("grpc://127.0.0.1:0"); },
          /*raw_socket=*/false, /*handler_may_block=*/false};
}

INSTANTIATE_TEST_SUITE_P(Grpc, CellTransportTest, ::testing::Values(grpc()), TransportName());
INSTANTIATE_TEST_SUITE_P(Grpc, StalledPeerTest, ::testing::Values(grpc()), TransportName());

}  // namespace
}  // namespace nvf::cellnet::transport_suite
