// The dynamic type behind an itab the plan has no symbol for: one the Go runtime made while the
// target ran (runtime.getitab, for an interface-to-interface conversion or a type assertion to an
// interface when the binary has no "go:itab.T,I" symbol for that pair). Go 1.22+'s
//   type ITab struct { Inter *InterfaceType; Type *Type; Hash uint32; Fun [1]uintptr }
// (internal/abi; Go 1.17-1.21's runtime.itab has the same first two words) holds the type
// descriptor's address at itab+8: read from the target's memory after the hit (the runtime
// allocates itabs in persistent memory and never frees them), named by the binary's DWARF
// (gobinary::RuntimeType, moved by the PIE load bias). The target is neither stopped nor traced.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "agent/ebpf/plan.h"
#include "agent/gobinary/dwarf.h"
#include "common/proc_reader.h"

namespace kdbg::ebpf {

class ItabTypes {
 public:
  // Every runtime type of the binary, sorted by address (DwarfReader::RuntimeTypes); called once,
  // at the first lookup, so that a session whose interfaces all have itab symbols never pays for
  // it.
  using TypesLoader = std::function<absl::StatusOr<std::vector<gobinary::RuntimeType>>()>;

  ItabTypes(const ProcReader& proc, pid_t pid, uint64_t bias, TypesLoader load)
      : proc_(proc), pid_(pid), bias_(bias), load_(std::move(load)) {}

  // The type of the itab at `itab` (a run-time address), or nullptr: its memory unreadable, or a
  // type the DWARF does not name. Remembered per itab; the pointer stays valid until Trim. Not
  // thread-safe.
  const DynamicType* Lookup(uint64_t itab);

  // Forgets every itab once kMaxItabs or more are remembered (a target that makes itabs without
  // end), invalidating Lookup's pointers: called between hits, never while one is formatted.
  void Trim();

  static constexpr size_t kMaxItabs = 4096;

 private:
  const ProcReader& proc_;
  const pid_t pid_;
  const uint64_t bias_;
  TypesLoader load_;
  std::optional<std::vector<gobinary::RuntimeType>> types_;  // after the first lookup
  absl::node_hash_map<uint64_t, std::optional<DynamicType>> known_;
};

}  // namespace kdbg::ebpf
