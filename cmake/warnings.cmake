# One interface target that carries the project's warning flags; every module links it.
add_library(nvf_warnings INTERFACE)
target_compile_options(nvf_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
