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
