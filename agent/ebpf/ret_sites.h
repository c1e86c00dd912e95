// Decoding a Go function's code: whether an address starts an instruction (an inlined call's
// probe), and where the function returns: the addresses of its RET instructions, for the uprobes
// that report return values (never uretprobes: the kernel's return-address rewrite breaks when Go
// moves or copies a goroutine's stack, crashing the program; shared/design/EBPF.md).
//
// The function's machine code [entry, end) is decoded instruction by instruction with Capstone
// (x86-64), so every address returned is an instruction boundary (a uprobe in the middle of an
// instruction crashes the Go program). Go's compiler puts no data in a function's code, so a byte
// Capstone cannot decode means the bytes are not what we think: an error, never a guess.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kdbg::ebpf {

// The addresses of the RET instructions (`ret`, `ret imm16`, with any prefix: C3, C2 iw, F3 C3)
// in `code`, which is the machine code at virtual address `vaddr`. InvalidArgument naming the
// address of the first byte that does not decode.
absl::StatusOr<std::vector<uint64_t>> FindReturnSites(absl::string_view code, uint64_t vaddr);

// Whether an instruction of `code` (the machine code at `vaddr`) starts at `address`; the same
// errors.
absl::StatusOr<bool> StartsInstruction(absl::string_view code, uint64_t vaddr, uint64_t address);

}  // namespace kdbg::ebpf
