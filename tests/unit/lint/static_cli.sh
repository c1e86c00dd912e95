#!/usr/bin/env bash
# lint.static-cli: the kdbg CLI carries its own gRPC, protobuf, Abseil, RE2, upb and c-ares
# (cmake/StaticGrpc.cmake says why), and has each library once: none of those among its DT_NEEDED
# entries, while OpenSSL stays shared (cpp-httplib's shared library uses it too).
# readelf -d prints one line per entry:
#   0x0000000000000001 (NEEDED)             Shared library: [libssl.so.3]
# Usage: static_cli.sh BUILD_DIR NAMES_REGEX
#   NAMES_REGEX: KDBG_STATIC_GRPC_NAMES of cmake/StaticGrpc.cmake, matched against each entry's
#   name without "lib" and ".so*" ("grpc++" for libgrpc++.so.1.51).
set -euo pipefail
build=${1:?usage: static_cli.sh BUILD_DIR NAMES_REGEX}
static_names=${2:?usage: static_cli.sh BUILD_DIR NAMES_REGEX}
cli=$build/cli/kdbg
[[ -x $cli ]] || { echo "lint.static-cli: $cli is missing: build it first" >&2; exit 1; }
mapfile -t needed < <(readelf -d "$cli" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
((${#needed[@]} > 0)) || { echo "lint.static-cli: readelf -d $cli listed no NEEDED entries" >&2; exit 1; }
fail=0 ssl=0
for lib in "${needed[@]}"; do
  name=${lib#lib}
  name=${name%%.so*}
  if [[ $name =~ $static_names ]]; then
    echo "lint.static-cli: $cli loads $lib: link it with kdbg_link_grpc_statically" >&2
    fail=1
  fi
  [[ $lib != libssl.so.3 ]] || ssl=1
done
if ((!ssl)); then
  echo "lint.static-cli: $cli does not load libssl.so.3: a static OpenSSL would be a second copy" \
    "beside cpp-httplib's (NEEDED: ${needed[*]})" >&2
  fail=1
fi
exit "$fail"
