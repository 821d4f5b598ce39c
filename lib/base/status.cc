#include "base/status.h"

#include <cstdio>

namespace nvf {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kCancelled: return "CANCELLED";
    case StatusCode::kUnknown: return "UNKNOWN";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kAborted: return "ABORTED";
    case StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented: return "UNIMPLEMENTED";
    case StatusCode::kInternal: return "INTERNAL";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kDataLoss: return "DATA_LOSS";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(status_code_name(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

#define NVF_DEFINE_ERROR(fn, code) \
  Status fn(std::string message) { return Status(StatusCode::code, std::move(message)); }
NVF_DEFINE_ERROR(CancelledError, kCancelled)
NVF_DEFINE_ERROR(UnknownError, kUnknown)
NVF_DEFINE_ERROR(InvalidArgumentError, kInvalidArgument)
NVF_DEFINE_ERROR(DeadlineExceededError, kDeadlineExceeded)
NVF_DEFINE_ERROR(NotFoundError, kNotFound)
NVF_DEFINE_ERROR(AlreadyExistsError, kAlreadyExists)
NVF_DEFINE_ERROR(PermissionDeniedError, kPermissionDenied)
NVF_DEFINE_ERROR(ResourceExhaustedError, kResourceExhausted)
NVF_DEFINE_ERROR(FailedPreconditionError, kFailedPrecondition)
NVF_DEFINE_ERROR(AbortedError, kAborted)
NVF_DEFINE_ERROR(OutOfRangeError, kOutOfRange)
NVF_DEFINE_ERROR(UnimplementedError, kUnimplemented)
NVF_DEFINE_ERROR(InternalError, kInternal)
NVF_DEFINE_ERROR(UnavailableError, kUnavailable)
NVF_DEFINE_ERROR(DataLossError, kDataLoss)
NVF_DEFINE_ERROR(UnauthenticatedError, kUnauthenticated)
#undef NVF_DEFINE_ERROR

void check_failed(const char* file, int line, const char* expr, std::string_view msg) {
  std::fprintf(stderr, "nvflare: internal error: check failed at %s:%d: %s %.*s\n", file, line, expr,
               static_cast<int>(msg.size()), msg.data());
  std::fflush(stderr);
  std::abort();
}

}  // namespace nvf
