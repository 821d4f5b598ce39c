# NVF_SANITIZE: build everything with a sanitizer (the asan / tsan presets; scripts/test.sh
# --preset asan|tsan). "address" is ASan + UBSan, and undefined behaviour aborts the test that
# hits it; "thread" is TSan. "fuzzer" adds libFuzzer's coverage to ASan + UBSan (the fuzz preset,
# clang only): the fuzz targets under fuzz/ link the fuzzer's main. Third-party libraries come
# from Debian and are not instrumented; suppressions for them live in tests/sanitizers/.
set(NVF_SANITIZE "" CACHE STRING "Sanitizer to build with: address, thread, fuzzer or empty")
set_property(CACHE NVF_SANITIZE PROPERTY STRINGS "" address thread fuzzer)
if(NVF_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(NVF_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NVF_SANITIZE STREQUAL "fuzzer")
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "NVF_SANITIZE=fuzzer needs clang (the fuzz preset sets CC=clang, CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(NOT NVF_SANITIZE STREQUAL "")
  message(FATAL_ERROR "NVF_SANITIZE='${NVF_SANITIZE}': use address, thread or fuzzer")
endif()
# CTest's per-test timeouts grow with the sanitizer's slowdown, as the tests' own deadlines do
# (base/sanitizer_slowdown.h): TSan runs about 10x slower, ASan about 3x.
if(NVF_SANITIZE STREQUAL "thread")
  set(NVF_TEST_SLOWDOWN 10)
elseif(NVF_SANITIZE STREQUAL "address" OR NVF_SANITIZE STREQUAL "fuzzer")
  set(NVF_TEST_SLOWDOWN 3)
else()
  set(NVF_TEST_SLOWDOWN 1)
endif()
math(EXPR NVF_UNIT_TEST_TIMEOUT "120 * ${NVF_TEST_SLOWDOWN}")
math(EXPR NVF_E2E_TEST_TIMEOUT "300 * ${NVF_TEST_SLOWDOWN}")
