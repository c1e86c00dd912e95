# Every dependency comes from Debian 12's packages (see scripts/deps).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)          # module mode: CONFIG mode fails on bookworm
find_package(gRPC CONFIG REQUIRED)       # gRPC::grpc++, gRPC::grpc_cpp_plugin
find_package(absl CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)   # target yaml-cpp
find_package(GTest CONFIG REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
pkg_check_modules(LIBELF REQUIRED IMPORTED_TARGET libelf)
pkg_check_modules(LIBDW REQUIRED IMPORTED_TARGET libdw)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)  # Go's regexp syntax (kdbg funcs, quick trace)
include(${CMAKE_CURRENT_LIST_DIR}/StaticGrpc.cmake)  # kdbg_link_grpc_statically (the CLI)

# kdbg_allocator: jemalloc in place of glibc's malloc for the shipped programs (kdbg-agent,
# kdbg-controller, kdbg) and the benchmarks that host the engines in process. Each hit allocates
# a few dozen small protobuf strings and messages per process it passes through; under glibc,
# malloc, free and malloc_consolidate were ~40% of the agent's and the controller's CPU while
# relaying hits (docs/STATUS.md, "Measured"). --no-as-needed keeps the library in DT_NEEDED, ahead
# of libc, though no object names a jemalloc symbol: the dynamic linker then binds malloc, free
# and operator new's calls to it. tests/unit/lint/allocator.sh checks the shipped programs. Under
# KDBG_FUZZ it is empty: ASan brings its own allocator.
pkg_check_modules(JEMALLOC REQUIRED jemalloc)
add_library(kdbg_allocator INTERFACE)
if(NOT KDBG_FUZZ)
  target_link_options(kdbg_allocator INTERFACE "LINKER:--push-state,--no-as-needed"
                      ${JEMALLOC_LINK_LIBRARIES} "LINKER:--pop-state")
endif()
