// ClientConfig::from_environment: what the launcher's environment tells a trainer.
#include <gtest/gtest.h>

#include <cstdlib>

#include "nvflare/client.h"

namespace nvflare {
namespace {

class ClientConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("NVFLARE_CLIENT_URL", "uds:///tmp/nvf-test.sock", 1);
    ::setenv("NVFLARE_CLIENT_FQCN", "site-1.job.trainer", 1);
    ::setenv("NVFLARE_PARENT_FQCN", "site-1.job", 1);
  }
  void TearDown() override {
    for (const char* v : {"NVFLARE_CLIENT_URL", "NVFLARE_CLIENT_FQCN", "NVFLARE_PARENT_FQCN",
                          "NVFLARE_MEMORY_GC_ROUNDS"}) {
      ::unsetenv(v);
    }
  }
};

TEST_F(ClientConfigTest, ReadsMemoryGcRounds) {
  auto off = ClientConfig::from_environment();
  ASSERT_TRUE(off.ok()) << off.status().to_string();
  EXPECT_EQ(off->memory_gc_rounds, 0);
  ::setenv("NVFLARE_MEMORY_GC_ROUNDS", "2", 1);
  auto on = ClientConfig::from_environment();
  ASSERT_TRUE(on.ok());
  EXPECT_EQ(on->memory_gc_rounds, 2);
  EXPECT_EQ(on->parent_fqcn, "site-1.job");
}

TEST_F(ClientConfigTest, MissingVariableNamesIt) {
  ::unsetenv("NVFLARE_PARENT_FQCN");
  auto c = ClientConfig::from_environment();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("NVFLARE_PARENT_FQCN"), std::string::npos);
}

}  // namespace
}  // namespace nvflare
