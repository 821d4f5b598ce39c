# nvf_module(NAME SOURCES ... DEPS ... [PRIVATE_DEPS ...])
# One static library per module; code writes "base/status.h". The build enforces the layering:
# lib/ itself is never an include directory. Each module gets an include root of its own,
# <build>/module_include/<name>/, holding one link <name> -> lib/<name>, and exports only that
# root (plus include/, the public API). So a module sees the headers of the modules it links
# (DEPS, and theirs) and no others: an undeclared #include "runtime/x.h" is "No such file".
function(nvf_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(nvf_${name} STATIC ${M_SOURCES})
  set(root ${PROJECT_BINARY_DIR}/module_include/${name})
  file(MAKE_DIRECTORY ${root})
  file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${root}/${name} SYMBOLIC)
  target_include_directories(nvf_${name} PUBLIC ${root} ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(nvf_${name} PUBLIC ${M_DEPS} PRIVATE nvf_warnings ${M_PRIVATE_DEPS})
  set_target_properties(nvf_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# nvf_test_main: the main() of every gtest binary (tests/support/test_main.cc): gtest's, after the
# process setup our executables make first.
function(nvf_test_main_library)
  if(NOT TARGET nvf_test_main)
    add_library(nvf_test_main STATIC ${PROJECT_SOURCE_DIR}/tests/support/test_main.cc)
    target_link_libraries(nvf_test_main PUBLIC GTest::gtest PRIVATE nvf_security nvf_warnings)
  endif()
endfunction()

# nvf_module_tests(NAME SOURCES ... DEPS ...): one gtest binary per module.
function(nvf_module_tests name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  if(NOT NVF_BUILD_TESTS)
    return()
  endif()
  nvf_test_main_library()
  add_executable(nvf_${name}_tests ${T_SOURCES})
  target_link_libraries(nvf_${name}_tests PRIVATE nvf_${name} ${T_DEPS} nvf_test_main nvf_warnings)
  target_compile_definitions(nvf_${name}_tests PRIVATE
    NVF_SOURCE_DIR="${PROJECT_SOURCE_DIR}" NVF_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(nvf_${name}_tests DISCOVERY_MODE PRE_TEST PROPERTIES TIMEOUT ${NVF_UNIT_TEST_TIMEOUT} LABELS unit)
endfunction()
