// The compiled BPF object (probe.bpf.c, built by clang -target bpf at build time), embedded in the
// agent: see embed_bpf.cmake.
#pragma once

#include <cstddef>

namespace kdbg::ebpf {
extern const unsigned char kProbeBpfObject[];
extern const size_t kProbeBpfObjectSize;
}  // namespace kdbg::ebpf
