// Compiled as the client module sees the tree: the runtime is above the client, so this include
// must fail (tests/layering/CMakeLists.txt checks the compiler's message).
#include "runtime/server_parent.h"

int nvf_layering_undeclared() { return 0; }
