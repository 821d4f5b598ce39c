// Moved to the public API (include/nvflare/dtype.h); this name stays for the code of the tree.
#pragma once

#include "nvflare/dtype.h"
