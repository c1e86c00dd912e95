#!/usr/bin/env bash
# lint.allocator: the shipped programs run on jemalloc, not glibc's malloc (kdbg_allocator in
# cmake/Dependencies.cmake says why). Each runs `--help` with MALLOC_CONF=stats_print:true, which
# makes jemalloc print its statistics at exit ("___ Begin jemalloc statistics ___" on stderr); a
# program whose malloc is glibc's ignores MALLOC_CONF and prints nothing of the kind.
# Usage: allocator.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: allocator.sh BUILD_DIR}
fail=0
for prog in cli/kdbg agent/kdbg-agent controller/kdbg-controller; do
  if [[ ! -x $build/$prog ]]; then
    echo "lint.allocator: $build/$prog is missing: build it first" >&2
    fail=1
    continue
  fi
  err=$(MALLOC_CONF=stats_print:true "$build/$prog" --help 2>&1 >/dev/null || true)
  if [[ $err != *"Begin jemalloc statistics"* ]]; then
    echo "lint.allocator: $prog does not allocate with jemalloc (link it with kdbg_allocator)" >&2
    fail=1
  fi
done
exit "$fail"
