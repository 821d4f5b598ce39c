// Moved to the public API (include/nvflare/torch.h); this name stays for the code of the tree.
#pragma once

#include "nvflare/torch.h"
