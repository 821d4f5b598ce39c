// Experiment tracking (FLARE's analytics: flare.log, SummaryWriter, TBAnalyticsReceiver): a trainer
// logs scalars, the client job forwards them to the server job, and every AnalyticsReceiver among
// the server app's components records them.
//
// The metric message (trainer → client job → server job, JSON):
//   {"type": "SCALAR", "tag": "loss", "value": 0.5, "step": 3}
//   {"type": "SCALARS", "tag": "acc", "values": {"train": 0.9, "val": 0.8}, "step": 3}
// SCALARS become one metric per name, tagged "<tag>/<name>" (as TensorBoard's add_scalars).
//
// Plain values and a parser: safe from any thread. Receivers say their own thread rules.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fl/component_registry.h"
#include "nvflare/status.h"

namespace nvf::fl {

struct Metric {
  std::string site;
  std::string tag;
  double value = 0;
  int64_t step = 0;
  double wall_time = 0;  // seconds since the epoch, when the server job got it
};

/// Parses one metric message from `site` (a peer's bytes: every field is checked).
/// Errors: INVALID_ARGUMENT naming the field ("metric from site-1: tag: ...").
Result<std::vector<Metric>> parse_metric_message(std::string_view json, const std::string& site, double wall_time);

/// A server component that records metrics. record() is called from the server job's handler
/// threads, one metric at a time per receiver (the engine serializes the calls); close() once at
/// the end of the run.
class AnalyticsReceiver : public Component {
 public:
  virtual Status record(const Metric& metric) = 0;
  virtual void close() {}
};

}  // namespace nvf::fl
