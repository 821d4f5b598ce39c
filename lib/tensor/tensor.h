// Moved to the public API (include/nvflare/tensor.h); this name stays for the code of the tree.
#pragma once

#include "nvflare/tensor.h"
