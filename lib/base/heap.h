// Returning freed heap memory to the OS between rounds (FLARE's cleanup_memory, natively).
#pragma once

#include <cstddef>

namespace nvf::base {

/// Calls malloc_trim(0) on glibc; a no-op elsewhere. Returns true when memory was released.
bool trim_heap();

/// The heap policy of our executables (called first in their main()): glibc keeps up to
/// `top_pad_bytes` of freed memory at the top of each arena instead of returning it to the kernel
/// at once (M_TOP_PAD), so per-message receive buffers are not faulted in again for every message
/// (decision 013). A MALLOC_TOP_PAD_ (or glibc.malloc.top_pad tunable) in the environment wins.
/// No-op elsewhere than glibc. Explicit trim_heap() calls still return memory between rounds.
void configure_process_heap(size_t top_pad_bytes = 32u << 20);

/// Resident set size of this process now and at its peak (VmHWM), in bytes; 0 if unknown.
long long current_rss_bytes();
long long peak_rss_bytes();

}  // namespace nvf::base
