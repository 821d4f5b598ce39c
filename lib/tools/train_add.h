// `nvflare train --add DELTA`: the built-in trainer without LibTorch (hello-numpy's trainer and
// the benchmarks'): adds DELTA to every floating-point weight it receives and sends the result
// back as FULL params with NUM_STEPS_CURRENT_ROUND 1. Written on the public Client API.
#pragma once

#include "base/status.h"

namespace nvf::tools {

/// Runs until the client job ends the run. Errors from the Client API.
Status run_add_trainer(double delta);

}  // namespace nvf::tools
