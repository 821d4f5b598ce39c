#include "security/openssl_process.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "base/process.h"
#include "base/sanitizer_slowdown.h"

namespace nvf::security {
namespace {

// Runs the probe once; its shell-style exit code (128 + signal when it crashed).
int run_probe(bool plain) {
  base::SpawnOptions o;
  o.argv = {OPENSSL_EXIT_PROBE_BIN};
  if (plain) o.argv.push_back("--plain");
  auto child = base::spawn(o);
  if (!child.ok()) {
    ADD_FAILURE() << child.status().to_string();
    return -1;
  }
  auto exit = child->wait(std::chrono::seconds(30) * base::kSanitizerSlowdown);
  if (!exit.ok()) {
    ADD_FAILURE() << exit.status().to_string();
    (void)child->terminate(std::chrono::seconds(1));
    return -1;
  }
  return exit->shell_code();
}

TEST(OpenSslProcessTest, InitIsIdempotent) {
  EXPECT_TRUE(init_openssl_for_process());
  EXPECT_TRUE(init_openssl_for_process());
}

// Regression: `nvflare job submit` died with SIGSEGV after its work, now and then, when OpenSSL's
// exit handler freed its state under gRPC's threads. With the setup first, a process exiting with
// threads inside OpenSSL exits cleanly every time.
TEST(OpenSslProcessTest, AProcessEndingWithThreadsInsideOpenSslExitsCleanly) {
  for (int i = 0; i < 25; ++i) ASSERT_EQ(run_probe(false), 0) << "run " << i;
}

// The control: without the setup the probe does crash (most runs on the machines we measured), so
// the test above can fail. Skipped, not failed, where no run of 40 happens to crash.
TEST(OpenSslProcessTest, WithoutTheSetupTheProbeCrashes) {
  if (base::kSanitizerSlowdown > 1) {
    // The sanitizer takes over the crash (and may hang in its own exit path): nothing to count.
    GTEST_SKIP() << "under a sanitizer the probe's crash is the sanitizer's to report";
  }
  for (int i = 0; i < 40; ++i) {
    int code = run_probe(true);
    ASSERT_GE(code, 0);
    if (code > 128) return;  // killed by a signal: the race is real
    ASSERT_EQ(code, 0);
  }
  GTEST_SKIP() << "no run of the probe without the setup crashed here";
}

}  // namespace
}  // namespace nvf::security
