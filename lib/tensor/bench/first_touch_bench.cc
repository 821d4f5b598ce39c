// Times the first write of fresh memory, the cost a process pays for every page of a model it has
// never held, in the ways a tensor's memory can get its pages, and prints `name: value` lines:
//   first_touch_s_per_gib_<way>: seconds to write every byte of MiB of fresh memory, per GiB
// Ways: fault_4k (4 KiB pages, one fault per page), populate_4k (MADV_POPULATE_WRITE first),
// fault_2m and populate_2m (the same with MADV_HUGEPAGE), tensor (Tensor::uninitialized as nvflare
// allocates: NVFLARE_HUGE_PAGES decides), and touch_after_populate_4k (only the first read of one
// byte per page after populating: what is left of a fault once the kernel has the page).
// Usage: nvf_first_touch_bench [MiB=1024] [WAY...]   (default: every way, one after the other)
#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/prefault.h"
#include "tensor/tensor.h"

namespace {

constexpr size_t kHuge = size_t{2} << 20;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Fresh anonymous memory on a 2 MiB boundary (the reservation's head and tail are given back).
std::byte* map_fresh(size_t bytes, size_t* reserved, void** base) {
  *reserved = bytes + kHuge;
  void* raw = ::mmap(nullptr, *reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  *base = raw;
  return reinterpret_cast<std::byte*>((reinterpret_cast<uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1));
}

// Seconds for one way over `bytes` of fresh memory; negative when the memory is not there.
double run(const std::string& way, size_t bytes) {
  if (way == "tensor") {
    double start = now();
    auto t = nvf::tensor::Tensor::uninitialized(nvf::tensor::DType::kU8, {static_cast<int64_t>(bytes)});
    if (!t.ok()) return -1;
    std::memset(t->mutable_data(), 1, bytes);
    return now() - start;
  }
  size_t reserved = 0;
  void* base = nullptr;
  std::byte* p = map_fresh(bytes, &reserved, &base);
  if (p == nullptr) return -1;
  const bool huge = way.size() > 3 && way.compare(way.size() - 3, 3, "_2m") == 0;
  ::madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  double seconds = 0;
  if (way == "touch_after_populate_4k") {
    nvf::base::populate_pages(p, bytes);
    double start = now();
    volatile unsigned sum = 0;
    for (size_t i = 0; i < bytes; i += 4096) sum = sum + static_cast<unsigned>(p[i]);
    seconds = now() - start;
  } else {
    double start = now();
    if (way.rfind("populate", 0) == 0) nvf::base::populate_pages(p, bytes);
    std::memset(p, 1, bytes);
    seconds = now() - start;
  }
  ::munmap(base, reserved);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024;
  std::vector<std::string> ways;
  for (int i = 2; i < argc; ++i) ways.emplace_back(argv[i]);
  if (ways.empty()) ways = {"fault_4k", "populate_4k", "fault_2m", "populate_2m", "tensor", "touch_after_populate_4k"};
  const std::vector<std::string> known = {"fault_4k", "populate_4k", "fault_2m", "populate_2m", "tensor",
                                          "touch_after_populate_4k"};
  for (const auto& w : ways) {
    bool ok = false;
    for (const auto& k : known) ok = ok || k == w;
    if (!ok || mib == 0) {
      std::fprintf(stderr, "usage: %s [MiB>0] [fault_4k|populate_4k|fault_2m|populate_2m|tensor|touch_after_populate_4k...]\n",
                   argv[0]);
      return 2;
    }
  }
  if (!nvf::base::Prefaulter::supported()) std::printf("note: kernel without MADV_POPULATE_WRITE\n");
  const size_t bytes = mib << 20;
  const double gib = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
  for (const auto& w : ways) {
    double s = run(w, bytes);
    if (s < 0) {
      std::fprintf(stderr, "%s: cannot map %zu MiB\n", w.c_str(), mib);
      return 1;
    }
    std::printf("first_touch_s_per_gib_%s: %.3f\n", w.c_str(), s / gib);
    std::fflush(stdout);
  }
  return 0;
}
