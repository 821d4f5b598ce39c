// Faulting in memory that is about to be written, on a thread of its own, ahead of the writer.
//
// A receiver that fills a new model pays one page fault per 4 KiB page it first touches (the
// kernel zeroes each page); on the measured VMs that is 0.4-0.6 s per GiB, as long as the copy
// itself. A Prefaulter walks the regions in order with madvise(MADV_POPULATE_WRITE) (Linux 5.14+)
// so the writer, following behind, finds the pages present. It never writes to the memory (the
// kernel only maps zeroed pages), so it cannot race with the writer's bytes. Where the kernel lacks
// MADV_POPULATE_WRITE it does nothing.
//
// Ownership: the regions must stay mapped until stop() returns (the destructor calls it).
#pragma once

#include <atomic>
#include <cstddef>
#include <thread>
#include <utility>
#include <vector>

namespace nvf::base {

/// Faults in, for writing, the whole pages inside [data, data + size) on the calling thread
/// (MADV_POPULATE_WRITE): the kernel maps zeroed pages in one call instead of one fault per page.
/// Never changes bytes already there. Returns the bytes faulted in: 0 where the kernel lacks the
/// advice or the memory is not anonymous, less than asked when memory ran out.
size_t populate_pages(std::byte* data, size_t size);

class Prefaulter {
 public:
  using Region = std::pair<std::byte*, size_t>;

  /// Regions smaller than `min_bytes` in total are not worth a thread: nothing starts.
  explicit Prefaulter(std::vector<Region> regions, size_t min_bytes = 64u << 20);
  ~Prefaulter();
  Prefaulter(const Prefaulter&) = delete;
  Prefaulter& operator=(const Prefaulter&) = delete;

  /// Stops early (between steps of `kStep` bytes) and joins. Idempotent.
  void stop();
  /// Waits until every region is faulted in (or the thread gave up). Idempotent.
  void wait();
  /// Bytes faulted in so far (page-rounded; tests and diagnostics).
  size_t populated() const { return populated_.load(); }
  /// Whether the kernel supports MADV_POPULATE_WRITE (probed once per call).
  static bool supported();

  static constexpr size_t kStep = 8u << 20;

 private:
  void run();

  std::vector<Region> regions_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> populated_{0};
  std::thread thread_;
};

}  // namespace nvf::base
