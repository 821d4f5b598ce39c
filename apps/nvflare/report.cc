#include <iostream>

#include "commands.h"

namespace nvf::app {

int report(const Status& status) {
  if (status.ok()) return kExitOk;
  std::cerr << "Error: " << status.message() << "\n";
  return kExitError;
}

}  // namespace nvf::app
