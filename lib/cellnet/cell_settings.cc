#include "cellnet/cell_settings.h"

#include <string>

namespace nvf::cellnet {
namespace {

double value(const config::EffectiveTimeouts& t, std::string_view name, double fallback) {
  return t.resolved(name).value_or(fallback);
}

std::chrono::milliseconds seconds(const config::EffectiveTimeouts& t, std::string_view name, double fallback) {
  return std::chrono::milliseconds(static_cast<int64_t>(value(t, name, fallback) * 1000));
}

}  // namespace

CellOptions cell_options_from(const config::EffectiveTimeouts& t) {
  CellOptions o;
  o.chunk_size = static_cast<size_t>(value(t, "streaming_chunk_size", static_cast<double>(o.chunk_size)));
  o.window_size = static_cast<size_t>(value(t, "streaming_window_size", static_cast<double>(o.window_size)));
  o.ack_interval = static_cast<size_t>(value(t, "streaming_ack_interval", static_cast<double>(o.ack_interval)));
  o.ack_progress_timeout = seconds(t, "streaming_ack_progress_timeout", 60);
  o.ack_check_interval = seconds(t, "streaming_ack_progress_check_interval", 5);
  o.read_timeout = seconds(t, "streaming_read_timeout", 300);
  o.heartbeat_interval = seconds(t, "heartbeat_interval", 60);
  o.send_stall_timeout = seconds(t, "sfm_send_stall_timeout", 45);
  o.send_stall_consecutive_checks = static_cast<int>(value(t, "sfm_send_stall_consecutive_checks", 3));
  o.close_stalled_connection = value(t, "sfm_close_stalled_connection", 0) != 0;
  o.max_message_size = static_cast<uint64_t>(value(t, "max_message_size", static_cast<double>(o.max_message_size)));
  o.reconnect_initial = seconds(t, "connector_reconnect_initial", 1);
  o.reconnect_max = seconds(t, "connector_reconnect_max", 10);
  return o;
}

DownloadOptions download_options_from(const config::EffectiveTimeouts& t, std::string_view prefix) {
  DownloadOptions o;
  std::string p(prefix);
  o.per_request_timeout = seconds(t, p + "streaming_per_request_timeout", 600);
  double chunk = value(t, p + "download_chunk_size", 2 << 20);
  if (chunk > 0) o.chunk_size = static_cast<uint64_t>(chunk);
  o.max_retries = static_cast<int>(value(t, "download_retry_max_tries", 3));
  o.initial_backoff = seconds(t, "download_retry_initial_backoff", 2);
  o.max_backoff = seconds(t, "download_retry_max_backoff", 60);
  return o;
}

DriverOptions driver_options_from(const config::EffectiveTimeouts& t) {
  DriverOptions o;
  o.send_timeout = seconds(t, "streaming_send_timeout", 30);
  o.max_payload = static_cast<uint64_t>(value(t, "max_message_size", static_cast<double>(o.max_payload)));
  return o;
}

}  // namespace nvf::cellnet
