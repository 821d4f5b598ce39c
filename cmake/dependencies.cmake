# Every third-party dependency is found here, once. Debian 12 packages provide all of them.
find_package(Threads REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(LibArchive REQUIRED)
find_package(OpenSSL 3 REQUIRED)
# libedit (BSD editline): line editing and history for the interactive tools (lib/tools only).
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBEDIT REQUIRED IMPORTED_TARGET libedit)
if(NVF_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(NVF_WITH_TORCH)
  # Found here, at the top, so its imported targets are visible to every directory that trains.
  find_package(Torch REQUIRED)
endif()
