// How many times slower code runs under the sanitizer this build uses (TSan about 10x, ASan about
// 3x): tests multiply the deadlines they wait with by it, so a deadline that only a failure
// reaches stays out of reach under a sanitizer too. Never used to shorten anything, never by
// production code.
#pragma once

namespace nvf::base {

#if defined(__SANITIZE_THREAD__)
inline constexpr int kSanitizerSlowdown = 10;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr int kSanitizerSlowdown = 3;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr int kSanitizerSlowdown = 10;
#elif __has_feature(address_sanitizer)
inline constexpr int kSanitizerSlowdown = 3;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

}  // namespace nvf::base
