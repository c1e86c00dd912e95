// Go's reflect.Kind (src/reflect/type.go, `type Kind uint`), the one copy of its values in kdbg.
// Two readers carry it: the DWARF of a Go binary (attribute DW_AT_go_kind, 0x2900, on every type
// DIE; agent/gobinary/dwarf.h) and Delve's JSON-RPC api.Variable ("kind":24 for a string;
// agent/delve/hit_format.cc). The values have not changed since Go 1.0.
#pragma once

#include <cstdint>

namespace kdbg::gobinary {

// reflect.Kind.
enum class GoKind : int {
  kInvalid = 0,
  kBool = 1,
  kInt = 2,
  kInt8 = 3,
  kInt16 = 4,
  kInt32 = 5,
  kInt64 = 6,
  kUint = 7,
  kUint8 = 8,
  kUint16 = 9,
  kUint32 = 10,
  kUint64 = 11,
  kUintptr = 12,
  kFloat32 = 13,
  kFloat64 = 14,
  kComplex64 = 15,
  kComplex128 = 16,
  kArray = 17,
  kChan = 18,
  kFunc = 19,
  kInterface = 20,
  kMap = 21,
  kPtr = 22,
  kSlice = 23,
  kString = 24,
  kStruct = 25,
  kUnsafePointer = 26,
};

// A number as a reader found it (JSON, DWARF udata) as a GoKind; anything outside 0..26 (a newer
// Go, a corrupt input) is kInvalid.
constexpr GoKind GoKindFromNumber(int64_t n) {
  return n >= 0 && n <= static_cast<int64_t>(GoKind::kUnsafePointer) ? static_cast<GoKind>(n)
                                                                     : GoKind::kInvalid;
}

}  // namespace kdbg::gobinary
