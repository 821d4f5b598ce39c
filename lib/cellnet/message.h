// A cellnet message: headers plus a payload of ref-counted slices, and the header names and
// return codes every layer shares. A value type; not synchronized.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "cellnet/buffer.h"
#include "cellnet/headers.h"

namespace nvf::cellnet {

struct Message {
  Headers headers;
  Buffer payload;

  static Message of(std::string payload) {
    Message m;
    m.payload.append(Slice::from_string(std::move(payload)));
    return m;
  }
};

/// Header names (FLARE's `cn__`/`sm__` prefixes, so logs read alike).
namespace hdr {
inline constexpr std::string_view kOrigin = "cn__origin";
inline constexpr std::string_view kDestination = "cn__destination";
inline constexpr std::string_view kFrom = "cn__from";
inline constexpr std::string_view kTo = "cn__to";
inline constexpr std::string_view kChannel = "cn__channel";
inline constexpr std::string_view kTopic = "cn__topic";
inline constexpr std::string_view kMsgType = "cn__msg_type";  // req | reply | fire | return | ack
inline constexpr std::string_view kReqId = "cn__req_id";
inline constexpr std::string_view kReturnCode = "cn__return_code";
inline constexpr std::string_view kError = "cn__error";
inline constexpr std::string_view kHops = "cn__hops";
/// Who the sender authenticated as (a site or a user name), written by the cell whose listener's
/// IncomingFilter accepted the frame, over whatever the sender put there. Handlers take a peer's
/// identity from here, never from the origin FQCN (a site behind a relay is "R1.site-1").
inline constexpr std::string_view kAuthenticated = "cn__authenticated";
inline constexpr std::string_view kStreamId = "sm__id";
inline constexpr std::string_view kStreamSeq = "sm__sq";
inline constexpr std::string_view kStreamOffset = "sm__os";
inline constexpr std::string_view kStreamSize = "sm__sz";
inline constexpr std::string_view kStreamType = "sm__dt";  // chunk | ack | error
inline constexpr std::string_view kFqcn = "fqcn";
inline constexpr std::string_view kVersion = "nvflare_version";
}  // namespace hdr

/// FLARE's return codes, carried in kReturnCode.
namespace rc {
inline constexpr std::string_view kOk = "ok";
inline constexpr std::string_view kTimeout = "timeout";
inline constexpr std::string_view kInvalidTarget = "invalid_target";
inline constexpr std::string_view kTargetUnreachable = "target_unreachable";
inline constexpr std::string_view kCommError = "comm_error";
inline constexpr std::string_view kMsgTooBig = "msg_too_big";
inline constexpr std::string_view kInvalidRequest = "invalid_request";
inline constexpr std::string_view kProcessException = "process_exception";
inline constexpr std::string_view kServiceUnavailable = "service_unavailable";
inline constexpr std::string_view kUnauthenticated = "unauthenticated";
inline constexpr std::string_view kAbortRun = "abort_run";
}  // namespace rc

/// The return code for a Status (OK → "ok", NOT_FOUND → invalid_request, ...).
std::string_view return_code_for(const Status& status);
/// The Status a requester sees for a return code and error text (naming the peer).
Status status_for_return_code(std::string_view code, std::string_view error, std::string_view peer);

}  // namespace nvf::cellnet
