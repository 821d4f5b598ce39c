#include "base/prefault.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

namespace nvf::base {

namespace {

size_t page_size() {
  long p = ::sysconf(_SC_PAGESIZE);
  return p > 0 ? static_cast<size_t>(p) : 4096;
}

}  // namespace

bool Prefaulter::supported() {
  // A zero-length advice is accepted when the advice value is known (EINVAL when it is not).
  return ::madvise(nullptr, 0, MADV_POPULATE_WRITE) == 0;
}

Prefaulter::Prefaulter(std::vector<Region> regions, size_t min_bytes)
    : regions_(std::move(regions)) {
  size_t total = 0;
  for (const auto& r : regions_) total += r.second;
  if (total == 0 || total < min_bytes || !supported()) return;
  thread_ = std::thread([this] { run(); });
}

Prefaulter::~Prefaulter() { stop(); }

void Prefaulter::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Prefaulter::wait() {
  if (thread_.joinable()) thread_.join();
}

size_t populate_pages(std::byte* data, size_t size) {
  const size_t page = page_size();
  // Whole pages inside the range only: the writer faults a partial first or last page itself.
  const uintptr_t at = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + size) & ~(page - 1);
  if (at >= end) return 0;
  for (;;) {
    // Interrupted: the call is made again; the pages already present cost nothing the second time.
    if (::madvise(reinterpret_cast<void*>(at), end - at, MADV_POPULATE_WRITE) == 0) return end - at;
    if (errno != EINTR) return 0;  // unsupported, not anonymous memory, or out of memory
  }
}

void Prefaulter::run() {
  const size_t page = page_size();
  for (const auto& [data, size] : regions_) {
    // Steps start on page boundaries, so no page is left out between two of them.
    auto* at = reinterpret_cast<std::byte*>((reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1));
    std::byte* end = data + size;
    while (at < end) {
      if (stop_.load(std::memory_order_relaxed)) return;
      size_t n = std::min(kStep, static_cast<size_t>(end - at));
      size_t got = populate_pages(at, n);
      if (got == 0 && n >= page) return;  // the kernel will not help: stop trying
      populated_ += got;
      at += n;
    }
  }
}

}  // namespace nvf::base
