// What a peer sends to a handler: an FLModel header (task data, results), a model message with
// its manifest, a trainer's metric message (experiment tracking), and FLARE's optimizer /
// stop-condition arguments a job config carries.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cellnet/message.h"
#include "config/value.h"
#include "fl/analytics.h"
#include "fl/fl_model.h"
#include "protocol/protocol.h"
#include "workflows/fedavg.h"
#include "workflows/fedopt.h"
#include "workflows/np_model_persistor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto header = nvf::fl::decode_fl_model_header(text);
  if (header.ok()) (void)nvf::fl::encode_fl_model_header(*header);
  nvf::cellnet::Message m = nvf::cellnet::Message::of(text);
  m.headers.set("manifest", text.substr(0, size / 2));
  (void)nvf::protocol::decode_model_message(m, "fuzz");
  (void)nvf::workflows::parse_stop_condition(text);
  (void)nvf::fl::parse_metric_message(text, "site-1", 1.0);
  auto v = nvf::config::parse(text, nvf::config::Format::kJson, "fuzz");
  if (v.ok()) {
    (void)nvf::workflows::parse_server_optimizer(*v, *v, 3);
    (void)nvf::fl::tensor_from_nested_list(*v);
  }
  return 0;
}
