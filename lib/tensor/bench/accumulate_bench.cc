// Times acc += w * x over a large float buffer against memcpy of the same bytes, in one run, and
// prints machine-readable lines:
//   accumulate_gib_per_s: X      (GiB of x consumed per second)
//   memcpy_gib_per_s: Y          (GiB copied per second)
//   accumulate_vs_memcpy_ratio: X/Y
// Usage: nvf_accumulate_bench [MiB=256] [iterations=5]. The best of the iterations counts.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "tensor/accumulate.h"

namespace {

constexpr std::align_val_t kAlign{64};

struct AlignedFree {
  void operator()(float* p) const { ::operator delete[](p, kAlign); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;

Buffer make_buffer(size_t n) {
  return Buffer(static_cast<float*>(::operator new[](n * sizeof(float), kAlign)));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 5;
  if (mib == 0 || iterations <= 0) {
    std::fprintf(stderr, "usage: %s [MiB>0] [iterations>0]\n", argv[0]);
    return 2;
  }
  const size_t bytes = mib << 20;
  const size_t n = bytes / sizeof(float);
  Buffer x = make_buffer(n);
  Buffer acc = make_buffer(n);
  Buffer dst = make_buffer(n);
  // Touch every page so the timings measure memory bandwidth, not page faults.
  for (size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i % 1000) * 0.001f;
    acc[i] = 0.0f;
    dst[i] = 0.0f;
  }
  double best_acc = 1e300;
  double best_copy = 1e300;
  for (int it = 0; it < iterations; ++it) {
    auto start = std::chrono::steady_clock::now();
    nvf::tensor::accumulate(acc.get(), x.get(), n, 0.5f);
    best_acc = std::min(best_acc, seconds_since(start));
    start = std::chrono::steady_clock::now();
    std::memcpy(dst.get(), x.get(), bytes);
    best_copy = std::min(best_copy, seconds_since(start));
  }
  // Keep the results observable so the work is not optimized away.
  volatile float sink = acc[n / 2] + dst[n / 3];
  (void)sink;
  const double gib = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
  const double acc_rate = gib / best_acc;
  const double copy_rate = gib / best_copy;
  std::printf("size_mib: %zu\niterations: %d\n", mib, iterations);
  std::printf("accumulate_gib_per_s: %.3f\n", acc_rate);
  std::printf("memcpy_gib_per_s: %.3f\n", copy_rate);
  std::printf("accumulate_vs_memcpy_ratio: %.3f\n", acc_rate / copy_rate);
  return 0;
}
