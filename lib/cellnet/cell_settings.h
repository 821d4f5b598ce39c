// Cell and download settings taken from the timeout registry (DESIGN §4.8: timeouts are data), so
// the values the registry documents and checks are the values the transport uses. Stateless.
#pragma once

#include <string_view>

#include "cellnet/cell.h"
#include "cellnet/downloader.h"
#include "config/timeouts.h"

namespace nvf::cellnet {

/// CellOptions with every streaming, stall-guard, heartbeat and reconnect knob from `t`
/// (streaming_chunk_size, streaming_window_size, streaming_ack_interval,
/// streaming_ack_progress_timeout/_check_interval, streaming_read_timeout, heartbeat_interval,
/// sfm_send_stall_timeout/_consecutive_checks, sfm_close_stalled_connection, max_message_size,
/// connector_reconnect_initial/_max). fqcn, drivers and logger are left for the caller.
CellOptions cell_options_from(const config::EffectiveTimeouts& t);

/// DownloadOptions from `<prefix>streaming_per_request_timeout`, `<prefix>download_chunk_size`
/// and download_retry_*; `prefix` is "tensor_" or "np_".
DownloadOptions download_options_from(const config::EffectiveTimeouts& t, std::string_view prefix = "tensor_");

/// DriverOptions' send timeout (streaming_send_timeout) and max payload (max_message_size).
DriverOptions driver_options_from(const config::EffectiveTimeouts& t);

}  // namespace nvf::cellnet
