// A hostile admin for the deploy tests: logs in with a real admin kit and uploads a zip file's
// bytes as a job, bypassing `nvflare job submit`'s packing. Prints the server's reply as JSON.
// Usage: nvf_raw_submit ADMIN_KIT_DIR ZIP_FILE FOLDER_NAME
#include <iostream>

#include "base/sanitizer_slowdown.h"
#include "cellnet_grpc/grpc_driver.h"
#include "runtime/deploy_protocol.h"
#include "runtime/registration.h"
#include "runtime/startup_kit.h"
#include "security/openssl_process.h"
#include "tools/admin_client.h"

int main(int argc, char** argv) {
  using namespace nvf;
  security::init_openssl_for_process();
  if (argc != 4) {
    std::cerr << "usage: nvf_raw_submit ADMIN_KIT_DIR ZIP_FILE FOLDER_NAME\n";
    return 2;
  }
  auto kit = runtime::load_admin_kit(argv[1], "fed_admin.json");
  if (!kit.ok()) {
    std::cerr << kit.status().to_string() << "\n";
    return 1;
  }
  auto bytes = runtime::read_text(argv[2]);
  if (!bytes.ok()) {
    std::cerr << bytes.status().to_string() << "\n";
    return 1;
  }
  runtime::DriverFactory factory = [](const cellnet::DriverOptions& o) {
    return std::shared_ptr<cellnet::Driver>(cellnet_grpc::make_grpc_driver(o));
  };
  cellnet::DriverRegistry drivers;
  cellnet::DriverOptions dopt;
  dopt.tls = runtime::tls_config(*kit, true);
  drivers.add(factory(dopt));
  cellnet::CellOptions co;
  co.fqcn = "admin_raw";
  co.drivers = &drivers;
  cellnet::Cell cell(co);
  if (!cell.start().ok() || !cell.connect(runtime::server_url(*kit, kit->server)).ok() ||
      !cell.wait_for_peer("server", std::chrono::seconds(10)).ok()) {
    std::cerr << "cannot reach the server\n";
    return 1;
  }
  auto creds = runtime::register_with_server(cell, *kit, "admin", std::chrono::seconds(10));
  if (!creds.ok()) {
    std::cerr << creds.status().to_string() << "\n";
    return 1;
  }
  cell.set_auth_headers(runtime::auth_headers(*creds));
  cellnet::Message m = cellnet::Message::of(*bytes);
  m.headers.set(runtime::deploy::kHdrJobFolderName, argv[3]);
  auto r = cell.request("server", std::string(runtime::deploy::kChannelAdmin),
                        std::string(runtime::deploy::kTopicSubmitJob), std::move(m),
                        std::chrono::seconds(30) * base::kSanitizerSlowdown);  // a hostile zip takes the server long to check
  if (!r.ok()) {
    std::cerr << r.status().to_string() << "\n";
    return 1;
  }
  std::cout << r->payload.to_string() << "\n";
  cell.stop();
  drivers.stop_all();
  return 0;
}
