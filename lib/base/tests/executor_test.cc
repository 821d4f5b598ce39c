#include "base/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <stdexcept>
#include <vector>

namespace nvf::base {
namespace {

using namespace std::chrono_literals;

TEST(ExecutorTest, SerialExecutorKeepsOrder) {
  SerialExecutor ex("serial");
  ex.start();
  std::vector<int> seen;
  std::promise<void> done;
  for (int i = 0; i < 100; ++i) ex.post([&seen, i] { seen.push_back(i); });
  ex.post([&done] { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  ex.stop();
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
}

TEST(ExecutorTest, PoolRunsTasksConcurrently) {
  ThreadPool pool("pool", 2);
  pool.start();
  // Two tasks that each wait for the other: only completes if both run at once.
  std::promise<void> a, b;
  auto fa = a.get_future().share();
  auto fb = b.get_future().share();
  std::promise<bool> r1, r2;
  pool.post([&] { a.set_value(); r1.set_value(fb.wait_for(10s) == std::future_status::ready); });
  pool.post([&] { b.set_value(); r2.set_value(fa.wait_for(10s) == std::future_status::ready); });
  EXPECT_TRUE(r1.get_future().get());
  EXPECT_TRUE(r2.get_future().get());
  pool.stop();
}

// Regression: a task that threw ended the process (an exception escaping a pool thread).
TEST(ExecutorTest, ATaskThatThrowsDoesNotStopThePool) {
  ThreadPool pool("pool", 1);
  pool.start();
  std::promise<void> ran;
  ASSERT_TRUE(pool.post([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(pool.post([&] { ran.set_value(); }));
  EXPECT_EQ(ran.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  pool.stop();
}

TEST(ExecutorTest, PostAfterStopIsRefused) {
  ThreadPool pool("pool", 1);
  pool.start();
  pool.stop();
  EXPECT_FALSE(pool.post([] {}));
}

TEST(ExecutorTest, StopDrainsQueuedTasks) {
  SerialExecutor ex("drain");
  ex.start();
  std::atomic<int> count{0};
  for (int i = 0; i < 50; ++i) ex.post([&] { count++; });
  ex.stop(/*drain=*/true);
  EXPECT_EQ(count.load(), 50);
}

// Regression: a pool stopped from one of its own tasks cleared its threads while that thread was
// still joinable (std::terminate). Now the stopping thread finishes its task and is joined by the
// next stop() or the destructor, called from another thread.
TEST(ExecutorTest, APoolStoppedFromItsOwnTaskEndsCleanly) {
  std::atomic<int> after{0};
  std::promise<void> stopped;
  {
    ThreadPool pool("self-stop", 2);
    pool.start();
    ASSERT_TRUE(pool.post([&] {
      pool.stop();
      stopped.set_value();
    }));
    ASSERT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(pool.post([&] { after++; }));  // stopped: refuses work
    pool.stop();                                // joins the thread that stopped it; idempotent
  }
  EXPECT_EQ(after.load(), 0);
}

TEST(ExecutorTest, APoolStoppedFromItsOwnTaskCanBeDestroyedAtOnce) {
  std::promise<void> stopped;
  auto pool = std::make_unique<SerialExecutor>("self-stop");
  pool->start();
  ASSERT_TRUE(pool->post([&] {
    pool->stop(false);
    stopped.set_value();
  }));
  ASSERT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
  pool.reset();  // joins the task's thread from here
}

}  // namespace
}  // namespace nvf::base
