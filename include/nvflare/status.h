// Status and Result<T>: the error vocabulary of every module.
//
// A Status is OK or carries a canonical code (gRPC's set) and a message written for a person: what
// was wrong, where (file, field, peer) and what to do. Result<T> holds either a value or a non-OK
// Status. Both are cheap to move and safe to use from any thread (they are values).
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace nvf {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  /// "INVALID_ARGUMENT: message" (or "OK").
  std::string to_string() const;

  /// Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status with_context(std::string_view context) const;

  /// Marks a status as deliberately ignored.
  void ignore() const {}

  bool operator==(const Status& other) const = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

Status CancelledError(std::string message);
Status UnknownError(std::string message);
Status InvalidArgumentError(std::string message);
Status DeadlineExceededError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status PermissionDeniedError(std::string message);
Status ResourceExhaustedError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status OutOfRangeError(std::string message);
Status UnimplementedError(std::string message);
Status InternalError(std::string message);
Status UnavailableError(std::string message);
Status DataLossError(std::string message);
Status UnauthenticatedError(std::string message);

[[noreturn]] void check_failed(const char* file, int line, const char* expr, std::string_view msg);

/// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(data_).ok()) {
      check_failed(__FILE__, __LINE__, "!status.ok()", "Result built from an OK Status");
    }
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  Status status() const { return ok() ? Status::OK() : std::get<Status>(data_); }

  T& value() & { return checked(); }
  const T& value() const& { return checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return checked(); }
  T&& operator*() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &checked(); }

  T value_or(T fallback) const& { return ok() ? std::get<T>(data_) : std::move(fallback); }

 private:
  T& checked() {
    if (!ok()) check_failed(__FILE__, __LINE__, "ok()", std::get<Status>(data_).to_string());
    return std::get<T>(data_);
  }
  const T& checked() const {
    if (!ok()) check_failed(__FILE__, __LINE__, "ok()", std::get<Status>(data_).to_string());
    return std::get<T>(data_);
  }

  std::variant<Status, T> data_;
};

}  // namespace nvf

#define NVF_CONCAT_INNER(a, b) a##b
#define NVF_CONCAT(a, b) NVF_CONCAT_INNER(a, b)

/// Returns the Status of `expr` from the enclosing function when it is not OK.
#define NVF_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::nvf::Status nvf_status_ = (expr);            \
    if (!nvf_status_.ok()) return nvf_status_;     \
  } while (0)

#define NVF_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

/// `NVF_ASSIGN_OR_RETURN(auto x, make_x());` binds the value or returns the error.
#define NVF_ASSIGN_OR_RETURN(lhs, expr) \
  NVF_ASSIGN_OR_RETURN_IMPL(NVF_CONCAT(nvf_result_, __LINE__), lhs, expr)

/// A broken invariant is a bug: log and abort.
#define NVF_CHECK(cond)                                                     \
  do {                                                                      \
    if (!(cond)) ::nvf::check_failed(__FILE__, __LINE__, #cond, "");        \
  } while (0)
