# Use ccache when it is installed: rebuilds on 2 cores are dominated by unchanged files.
# Paths below the source tree are hashed relative to it (CCACHE_BASEDIR) and the working
# directory is left out of the hash (CCACHE_NOHASHDIR), so a second checkout of the same commit
# (a clean clone for CI, a worktree) reuses the objects of the first instead of compiling again.
find_program(NVF_CCACHE ccache)
if(NVF_CCACHE)
  set(nvf_ccache_launcher ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${PROJECT_SOURCE_DIR} CCACHE_NOHASHDIR=1
      ${NVF_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${nvf_ccache_launcher})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${nvf_ccache_launcher})
endif()
