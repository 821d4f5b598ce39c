#include "base/heap.h"

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace nvf::base {

void configure_process_heap(size_t top_pad_bytes) {
#ifdef __GLIBC__
  const char* env = std::getenv("MALLOC_TOP_PAD_");
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((env && *env) || (tunables && std::strstr(tunables, "glibc.malloc.top_pad"))) return;
  mallopt(M_TOP_PAD, static_cast<int>(top_pad_bytes));
#else
  (void)top_pad_bytes;
#endif
}

bool trim_heap() {
#ifdef __GLIBC__
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

namespace {
long long status_field_kib(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  long long value = 0;
  size_t n = std::strlen(field);
  while (std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      std::sscanf(line + n + 1, "%lld", &value);
      break;
    }
  }
  std::fclose(f);
  return value;
}
}  // namespace

long long current_rss_bytes() { return status_field_kib("VmRSS") * 1024; }
long long peak_rss_bytes() { return status_field_kib("VmHWM") * 1024; }

}  // namespace nvf::base
