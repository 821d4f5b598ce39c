# Use ccache when it is installed: rebuilds on 2 cores are dominated by unchanged files.
find_program(NVF_CCACHE ccache)
if(NVF_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${NVF_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${NVF_CCACHE})
endif()
