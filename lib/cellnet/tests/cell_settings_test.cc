#include "cellnet/cell_settings.h"

#include <gtest/gtest.h>

namespace nvf::cellnet {
namespace {

using namespace std::chrono_literals;

TEST(CellSettingsTest, DefaultsComeFromTheRegistry) {
  auto t = config::TimeoutRegistry::defaults().effective();
  CellOptions c = cell_options_from(t);
  EXPECT_EQ(c.chunk_size, 1u << 20);
  EXPECT_EQ(c.window_size, 16u << 20);
  EXPECT_EQ(c.ack_interval, 4u << 20);
  EXPECT_EQ(c.ack_progress_timeout, 60s);
  EXPECT_EQ(c.ack_check_interval, 5s);
  EXPECT_EQ(c.send_stall_timeout, 45s);
  EXPECT_EQ(c.send_stall_consecutive_checks, 3);
  EXPECT_FALSE(c.close_stalled_connection);
  EXPECT_EQ(c.reconnect_initial, 1s);
  EXPECT_EQ(c.reconnect_max, 10s);
  DownloadOptions d = download_options_from(t);
  EXPECT_EQ(d.per_request_timeout, 600s);
  EXPECT_EQ(d.max_retries, 3);
  EXPECT_EQ(d.initial_backoff, 2s);
  EXPECT_EQ(d.chunk_size, 2u << 20);
  EXPECT_EQ(driver_options_from(t).send_timeout, 30s);
}

TEST(CellSettingsTest, OverridesReachTheCell) {
  auto t = config::TimeoutRegistry::defaults().effective();
  t.set("streaming_window_size", 8 << 20, "test");
  t.set("sfm_close_stalled_connection", 1, "test");
  t.set("tensor_streaming_per_request_timeout", 30, "test");
  EXPECT_EQ(cell_options_from(t).window_size, 8u << 20);
  EXPECT_TRUE(cell_options_from(t).close_stalled_connection);
  EXPECT_EQ(download_options_from(t).per_request_timeout, 30s);
}

}  // namespace
}  // namespace nvf::cellnet
