// Prints docs/timeouts.md from the timeout registry:
//   build/lib/config/nvf_gen_timeouts_doc > docs/timeouts.md
#include <iostream>

#include "config/timeouts.h"

int main() {
  std::cout << nvf::config::render_timeouts_markdown(nvf::config::TimeoutRegistry::defaults());
  return std::cout.good() ? 0 : 1;
}
