// The main() of every gtest binary: gtest_main's, after the process setup our executables make
// first (OpenSSL without its exit-time cleanup, security/openssl_process.h), so that tests exiting
// with gRPC's threads still running do not crash after their last test.
#include <gtest/gtest.h>

#include "security/openssl_process.h"

int main(int argc, char** argv) {
  nvf::security::init_openssl_for_process();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
