#include "cellnet/message.h"

namespace nvf::cellnet {

std::string_view return_code_for(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return rc::kOk;
    case StatusCode::kDeadlineExceeded: return rc::kTimeout;
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kOutOfRange:
    case StatusCode::kAlreadyExists: return rc::kInvalidRequest;
    case StatusCode::kUnavailable: return rc::kServiceUnavailable;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied: return rc::kUnauthenticated;
    case StatusCode::kAborted:
    case StatusCode::kCancelled: return rc::kAbortRun;
    case StatusCode::kResourceExhausted: return rc::kMsgTooBig;
    default: return rc::kProcessException;
  }
}

Status status_for_return_code(std::string_view code, std::string_view error, std::string_view peer) {
  std::string msg = std::string(peer) + ": " + std::string(error.empty() ? code : error);
  if (code == rc::kOk) return Status::OK();
  if (code == rc::kTimeout) return DeadlineExceededError(msg);
  if (code == rc::kInvalidTarget) return InvalidArgumentError(msg);
  if (code == rc::kTargetUnreachable || code == rc::kCommError) return UnavailableError(msg);
  if (code == rc::kMsgTooBig) return ResourceExhaustedError(msg);
  if (code == rc::kInvalidRequest) return InvalidArgumentError(msg);
  if (code == rc::kServiceUnavailable) return UnavailableError(msg);
  if (code == rc::kUnauthenticated) return UnauthenticatedError(msg);
  if (code == rc::kAbortRun) return AbortedError(msg);
  return InternalError(msg);
}

}  // namespace nvf::cellnet
