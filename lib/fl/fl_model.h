// Moved to the public API (include/nvflare/fl_model.h); this name stays for the code of the tree.
#pragma once

#include "nvflare/fl_model.h"
