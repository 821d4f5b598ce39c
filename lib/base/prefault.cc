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

void Prefaulter::run() {
  const size_t page = page_size();
  for (const auto& [data, size] : regions_) {
    // Whole pages inside the region only: the writer faults a partial first or last page itself.
    auto begin = reinterpret_cast<uintptr_t>(data);
    uintptr_t end = begin + size;
    uintptr_t at = (begin + page - 1) & ~(page - 1);
    end &= ~(page - 1);
    while (at < end) {
      if (stop_.load(std::memory_order_relaxed)) return;
      size_t n = static_cast<size_t>(std::min<uintptr_t>(kStep, end - at));
      int rc = ::madvise(reinterpret_cast<void*>(at), n, MADV_POPULATE_WRITE);
      if (rc != 0 && errno != EINTR) return;  // out of memory or not anonymous memory: stop helping
      if (rc == 0) {
        populated_ += n;
        at += n;
      }
    }
  }
}

}  // namespace nvf::base
