// Moved to the public API (include/nvflare/status.h); this name stays for the code of the tree.
#pragma once

#include "nvflare/status.h"
