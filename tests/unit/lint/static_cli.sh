#!/usr/bin/env bash
# lint.static-cli: the kdbg CLI carries its own gRPC, protobuf, Abseil, RE2, upb and c-ares
# (cmake/StaticGrpc.cmake says why), and has each library once: none of those six among its
# DT_NEEDED entries, while OpenSSL stays shared (cpp-httplib's shared library uses it too).
# readelf -d prints one line per entry:
#   0x0000000000000001 (NEEDED)             Shared library: [libssl.so.3]
# Usage: static_cli.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: static_cli.sh BUILD_DIR}
cli=$build/cli/kdbg
[[ -x $cli ]] || { echo "lint.static-cli: $cli is missing: build it first" >&2; exit 1; }
needed=$(readelf -d "$cli" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[[ -n $needed ]] || { echo "lint.static-cli: readelf -d $cli listed no NEEDED entries" >&2; exit 1; }
fail=0
for lib in $needed; do
  if [[ $lib =~ ^lib(grpc|gpr|upb|address_sorting|re2|cares|protobuf|absl_) ]]; then
    echo "lint.static-cli: $cli loads $lib: link it with kdbg_link_grpc_statically" >&2
    fail=1
  fi
done
if [[ " $(echo $needed) " != *" libssl.so.3 "* ]]; then
  echo "lint.static-cli: $cli does not load libssl.so.3: a static OpenSSL would be a second copy" \
    "beside cpp-httplib's (NEEDED: $(echo $needed))" >&2
  fail=1
fi
exit "$fail"
