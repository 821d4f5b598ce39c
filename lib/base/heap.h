// Returning freed heap memory to the OS between rounds (FLARE's cleanup_memory, natively).
#pragma once

namespace nvf::base {

/// Calls malloc_trim(0) on glibc; a no-op elsewhere. Returns true when memory was released.
bool trim_heap();

/// Resident set size of this process now and at its peak (VmHWM), in bytes; 0 if unknown.
long long current_rss_bytes();
long long peak_rss_bytes();

}  // namespace nvf::base
