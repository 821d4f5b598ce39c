// Moved to the public API (include/nvflare/client_torch.h); this name stays for the code of the tree.
#pragma once

#include "nvflare/client_torch.h"
