// DWARF queries on a Go executable, for engines that read the target's memory themselves (the eBPF
// engine): functions and their parameters' locations at a PC, type layouts, itab symbols, types
// by their runtime descriptor's address, the
// goroutine id's offset in runtime.g, and the bytes and file offsets of code. Built on libdw and
// libelf (elfutils); part of the one Go-binary inspector (library kdbg_gobinary).
//
// What Go 1.17+ (amd64, register ABI) writes and this reader relies on, from a Go 1.26 binary:
//   DW_TAG_subprogram  DW_AT_name "main.handleOrder", DW_AT_low_pc 0x621b60, DW_AT_high_pc 492,
//                      DW_AT_frame_base (DW_OP_call_frame_cfa)
//     DW_TAG_formal_parameter "tag", DW_AT_location (location list):
//       [0x0, 0x85)   DW_OP_reg8 (r8); DW_OP_piece: 8; DW_OP_reg9 (r9); DW_OP_piece: 8
//       [0x85, 0x1ec) DW_OP_fbreg: 40; DW_OP_piece: 8; DW_OP_fbreg: 48; DW_OP_piece: 8
//   Types carry DW_AT_go_kind (0x2900, reflect.Kind): string is a struct {str *uint8; len int}
//   of kind 24; a slice a struct {array; len; cap} of kind 23; an interface a DW_TAG_typedef of
//   kind 20 to runtime.iface {tab; data} or runtime.eface {_type; data}; a named interface may be
//   a typedef (no kind) of that typedef.
//   Symbols: "go:itab.*main.Order,main.Describer" (Go >= 1.20; "go.itab." before) at the itab's
//   address.
//
// Thread safety: none; one reader per thread (open one per session), and readers sharing one
// GoBinary must not run concurrently (libdw).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/gobinary/go_binary.h"
#include "agent/gobinary/go_kind.h"

namespace kdbg::gobinary {

using TypeId = uint64_t;  // the DIE offset of a type

struct Member {
  std::string name;
  uint64_t offset = 0;
  TypeId type = 0;
  // An embedded field (DW_AT_go_embedded_field 0x2903: 1), named by its type: `*Base` in a struct
  // is the member "Base" of type *main.Base, whose fields are promoted.
  bool embedded = false;
};

struct TypeInfo {
  TypeId id = 0;
  GoKind kind = GoKind::kInvalid;
  std::string name;  // Go's spelling: "*net/http.Request", "[]string", "main.Describer"
  uint64_t size = 0;
  TypeId elem = 0;   // pointer target, array element; a map's header struct behind its pointer
                     // ("map<string,int>": Go 1.24+'s internal/runtime/maps.Map, or runtime.hmap)
  TypeId key = 0;    // a map's key type (DW_AT_go_key)
  TypeId value = 0;  // a map's element type (DW_AT_go_elem)
  bool empty_interface = false;  // interface{} / any (eface: type word, not itab)
  std::vector<Member> members;   // structs (string, slice and interface headers too)
};

// Where one piece of a value lives at a PC.
struct Piece {
  // kNone: the DWARF gives this piece no location ("DW_OP_piece 0x8, DW_OP_fbreg -416,
  // DW_OP_piece 0x8": a string whose pointer is gone, its length on the stack); Delve reads such
  // bytes as zeros, this reader's callers as unreadable.
  enum class Where { kRegister, kStack, kNone };
  Where where = Where::kRegister;
  int dwarf_reg = 0;       // kRegister: DWARF register number (0 RAX, 1 RDX, 2 RCX, 3 RBX, ...)
  int64_t cfa_offset = 0;  // kStack: the value is at CFA + cfa_offset
  uint64_t size = 0;       // bytes; 0 when the expression had no DW_OP_piece (whole value)
};

struct Parameter {
  std::string name;
  TypeId type = 0;
  bool is_return = false;  // DW_AT_variable_parameter 1 (Go's results)
};

// A function's code: its out-of-line body (DW_TAG_subprogram), or one call of it the compiler
// inlined (DW_TAG_inlined_subroutine: `entry` is where the inlined code begins, and the
// parameters are those the call's DIE lists, which may be fewer than the function's).
struct Function {
  std::string name;
  uint64_t entry = 0;  // DW_AT_low_pc (an inlined call: its low_pc, else its first range's start)
  uint64_t end = 0;    // DW_AT_high_pc as an address (an inlined call: the end of that range)
  std::string file;
  int line = 0;  // the line of the entry PC in the line table
  std::vector<Parameter> params;
  uint64_t die = 0;  // the DIE whose children are `params` (what ParameterAt reads)
};

// A package-level variable: Go writes it under its unit as
//   DW_TAG_variable  DW_AT_name "main.sink", DW_AT_location (DW_OP_addr 0x7b2e48), DW_AT_type
struct GlobalVariable {
  TypeId type = 0;
  uint64_t address = 0;  // link-time
};

// A constant of a type, as Go writes each typed package-level constant under its unit:
//   DW_TAG_constant  DW_AT_name "crypto/internal/fips140/bigmod.yes",
//                    DW_AT_type <"crypto/internal/fips140/bigmod.choice">, DW_AT_const_value 1
struct Constant {
  std::string name;  // full: "main.modeRead"
  int64_t value = 0;
};

// One call site where the compiler inlined a function. Go writes it inside the caller's
// subprogram (possibly nested in lexical blocks and other inlined calls) as
//   DW_TAG_inlined_subroutine  DW_AT_abstract_origin <the function's DW_AT_inline DIE>,
//                              DW_AT_ranges 0x9ea8 (or DW_AT_low_pc/high_pc),
//                              DW_AT_call_file 0x2, DW_AT_call_line 23
//     DW_TAG_formal_parameter  DW_AT_abstract_origin <the parameter's>, DW_AT_location ...
// with no DIE for a parameter the compiler folded away (a constant argument) and none for
// results.
struct InlinedCall {
  Function callee;                  // the inlined function at this site (name: the function's own)
  std::vector<Parameter> declared;  // the function's parameters as declared (its abstract DIE)
  std::string caller;               // the out-of-line function holding the site ("main.handle")
  uint64_t caller_entry = 0;        // the caller's code, [caller_entry, caller_end)
  uint64_t caller_end = 0;
};

// A value a trace script names at a PC of a function's own code: one of its parameters, or a
// local variable in scope there (DwarfReader::VariableAt). Go writes a local as
//   DW_TAG_variable  DW_AT_name "qty", DW_AT_decl_line 146, DW_AT_type, DW_AT_location (list)
// in the subprogram or in a DW_TAG_lexical_block (DW_AT_ranges) of it, and one it moved to the
// heap as "&qty" of type *int, whose location holds the pointer.
struct Variable {
  TypeId type = 0;         // the DIE's type: for an escaped one, the pointer (*int)
  bool escaped = false;    // the DIE is "&name": the value is behind the pointer it locates
  bool parameter = false;  // a DW_TAG_formal_parameter
  uint64_t decl_line = 0;  // DW_AT_decl_line (0: none)
  // Its pieces at the PC asked for: NotFound when the location list has no entry there (Delve:
  // "could not find loclist entry"), Unimplemented as ParameterAt.
  absl::StatusOr<std::vector<Piece>> pieces = absl::NotFoundError("no location");
};

struct Itab {
  std::string concrete;   // "*main.Order"
  std::string interface;  // "main.Describer"
  uint64_t address = 0;
};

// A type the Go runtime knows by the address of its type descriptor (what an empty interface's
// first word, or an itab's Type, points at). Go writes it on the type's DIE as
//   DW_AT_go_runtime_type (0x2904): 0x55460
// an offset from the runtime.types symbol (0x680000 in that binary: main.label's descriptor is at
// 0x6d5460).
struct RuntimeType {
  uint64_t address = 0;
  std::string name;  // Go's spelling: "main.label", "*main.Order", "string"
  GoKind kind = GoKind::kInvalid;
  TypeId id = 0;  // its DIE (DwarfReader::Type)
};

// The code of one source line, as Delve's `FILE:LINE` breakpoint finds it (pkg/locspec's file
// match, then proc.FindFileLocation): the line-table rows of that file and line, grouped by the
// out-of-line function whose code holds them and, within it, by the deepest call the compiler
// inlined there; Delve breaks once per group, at its first row flagged is_stmt (else its first).
struct LineSite {
  std::string function;  // the out-of-line function ("main.handleSlash")
  uint64_t pc = 0;       // the group's first is_stmt row, else its first
  bool inlined = false;  // the rows are in a call the compiler inlined into `function`
};

struct SourceLine {
  std::string file;             // the one file of the binary that matched, as the line table has it
  std::vector<LineSite> sites;  // by pc
};

// The code at one PC, as Delve's stack trace names it (proc.stackIterator.appendInlineCalls):
// the out-of-line function whose DW_TAG_subprogram holds it, and the calls the compiler inlined
// there, innermost first (Delve's reader.InlineStack: every DW_TAG_inlined_subroutine, in the
// subprogram, its lexical blocks and other inlined calls, whose ranges hold the PC).
struct PcCode {
  std::string function;  // "net/http.(*conn).serve"
  uint64_t entry = 0;    // the subprogram's DW_AT_low_pc
  struct Inlined {
    std::string function;   // the inlined function's name ("main.clampQty")
    std::string call_file;  // DW_AT_call_file, a path from the unit's file table
    int call_line = 0;      // DW_AT_call_line
  };
  std::vector<Inlined> inlined;
};

class DwarfReader {
 public:
  // On an opened binary: uses the GoBinary's ELF and DWARF handles (no second reader of the
  // file), and keeps it alive. FailedPrecondition when it has no DWARF (stripped: -ldflags=-w).
  static absl::StatusOr<std::unique_ptr<DwarfReader>> On(std::shared_ptr<const GoBinary> binary);
  // GoBinary::Open(path), then On: errors as both.
  static absl::StatusOr<std::unique_ptr<DwarfReader>> Open(const std::string& path);
  virtual ~DwarfReader() = default;

  // By Go's full name ("main.handleOrder", "net/http.(*conn).serve"): its out-of-line body.
  // NotFound if absent (a function the compiler inlined at every call has none).
  virtual absl::StatusOr<Function> FindFunction(absl::string_view name) = 0;
  // The full names of the instantiations of the generic function `name` ("main.sum" ->
  // "main.sum[go.shape.int]", "main.sum[go.shape.float64]"; "main.(*List).Push" ->
  // "main.(*List[go.shape.int]).Push"), as Delve matches a generic function by its name without
  // type parameters; with or without an out-of-line body; empty if none.
  virtual std::vector<std::string> Instantiations(absl::string_view name) = 0;
  // Every call site where the compiler inlined `name`, in DWARF order; empty if none. The first
  // call walks every compile unit's functions once (kept for the reader's life).
  virtual std::vector<InlinedCall> InlinedCalls(absl::string_view name) = 0;
  // The functions the compiler inlined at every call: no out-of-line body, at least one inlined
  // call ("main.half"); sorted. What the symbol table cannot list, and a trace script can name.
  // Walks every unit's functions as InlinedCalls does (once for both).
  virtual std::vector<std::string> InlinedOnlyFunctions() = 0;
  // The full names of the functions with an out-of-line body ("main.handleOrder",
  // "main.sum[go.shape.int]"), in no order: with InlinedOnlyFunctions, every function a trace
  // script can name.
  virtual std::vector<std::string> FunctionNames() = 0;
  // The pieces of `param` of `fn` (an out-of-line function or an inlined call) at `pc`; NotFound
  // when the location list has no entry for pc (the value is not available there) or `fn` has no
  // such parameter, Unimplemented for DWARF operations this reader does not evaluate.
  virtual absl::StatusOr<std::vector<Piece>> ParameterAt(const Function& fn,
                                                         absl::string_view param, uint64_t pc) = 0;
  // `name` at `pc`, on source line `line`, in `fn`'s out-of-line body, as Delve's evaluator finds
  // an identifier (proc.EvalScope.Locals with reader.Variables): the parameters and variables of
  // the function and of its lexical blocks whose ranges hold pc (not those of inlined calls); a
  // local only from the line after its DW_AT_decl_line (one a closure captures,
  // DW_AT_go_closure_offset, from that line), parameters everywhere; "&name" (moved to the heap) as
  // name; of several, the one in the deepest block, then the one declared last (Delve marks the
  // others shadowed). NotFound when none is in scope (a global, a typo, a local declared further
  // down).
  virtual absl::StatusOr<Variable> VariableAt(const Function& fn, absl::string_view name,
                                              uint64_t pc, int line) = 0;
  // Typedefs without a Go kind are followed; a typedef of kind interface is the interface.
  virtual absl::StatusOr<TypeInfo> Type(TypeId id) = 0;
  // By Go name ("*main.Order", "main.label"). NotFound if the binary has no such type.
  virtual absl::StatusOr<TypeInfo> TypeByName(absl::string_view name) = 0;
  // Every itab symbol for `interface_name`.
  virtual std::vector<Itab> ItabsFor(absl::string_view interface_name) = 0;
  // Every type with a runtime descriptor, sorted by address (read once per reader); empty when the
  // binary has no runtime.types symbol (stripped of its symbol table).
  virtual const std::vector<RuntimeType>& RuntimeTypes() = 0;
  // Offset of `goid` in runtime.g.
  virtual absl::StatusOr<uint64_t> GoidOffset() = 0;
  // Offset of the goroutine's stack top, `stack.hi`, in runtime.g (g.stack is a runtime.stack
  // {lo, hi uintptr}; 8 in every Go release so far).
  virtual absl::StatusOr<uint64_t> StackHiOffset() = 0;
  // The file offset of virtual address `vaddr` in an executable PT_LOAD segment (what uprobes
  // take); OutOfRange if no such segment maps it.
  virtual absl::StatusOr<uint64_t> FileOffset(uint64_t vaddr) = 0;
  // True for a position-independent executable (ET_DYN): its addresses move by the load bias.
  virtual bool IsPie() = 0;
  // GoBinary::EntryAddress.
  virtual uint64_t EntryAddress() = 0;
  // Up to `n` bytes of the file at virtual address `vaddr`.
  virtual absl::StatusOr<std::string> CodeBytes(uint64_t vaddr, size_t n) = 0;
  // Where the canonical frame address is at `pc`, as an offset from RSP (CFA = RSP + offset), from
  // the call frame information Go writes in .debug_frame (readelf: "0x6220a0 rsp+8", "0x6220bd
  // rsp+464": 8 at a function's entry, the frame's size + 8 in its body). NotFound when no FDE
  // covers pc, Unimplemented for a rule other than RSP + offset.
  virtual absl::StatusOr<int64_t> CfaFromRsp(uint64_t pc) = 0;
  // Where Delve puts a breakpoint on `fn` and reports its hits (FirstPCAfterPrologue): the first
  // line-table row flagged prologue_end in [fn.entry, fn.end); failing that (a leaf function
  // without a stack check: "main.go 122 0x622080", "main.go 123 0x622085 x") the first flagged
  // is_stmt; nullopt if neither.
  virtual absl::StatusOr<std::optional<uint64_t>> AfterPrologue(const Function& fn) = 0;
  // Where line `line` of `file` has code. `file` names a source file whole or as its part after a
  // '/' ("main.go" matches "/src/hello/main.go"), as Delve matches it. NotFound when no file
  // matches or the line has no code; FailedPrecondition naming the candidates when more than one
  // file matches (Delve: "ambiguous"). Functions Delve skips (wrappers named "·dwrap·", those
  // flagged DW_AT_trampoline) are left out. Reads every unit's line table.
  virtual absl::StatusOr<SourceLine> LineSites(absl::string_view file, int line) = 0;
  // The source position of `pc` in the line table: {file, line}; NotFound if none.
  virtual absl::StatusOr<std::pair<std::string, int>> LineAt(uint64_t pc) = 0;
  // The package variable named `name` in full ("main.sink", "net/http.DefaultServeMux"), or by its
  // package's last path element ("http.DefaultServeMux") when exactly one package so named has it
  // (Delve's evaluator maps a package's short name to its paths the same way); NotFound when the
  // binary has none (or none at a fixed address), FailedPrecondition when several packages of that
  // short name have it.
  virtual absl::StatusOr<GlobalVariable> Global(absl::string_view name) = 0;
  // The constants whose DW_AT_type is `type` (a TypeInfo::id), in the DWARF's order; none for most
  // types. Delve names an integer of a named type by them (proc.(*Variable).ConstDescr).
  virtual std::vector<Constant> ConstantsOf(TypeId type) = 0;
  // The function and inlined calls holding `pc`; NotFound when no subprogram's code holds it
  // (assembly without DWARF, a PC outside the binary's code).
  virtual absl::StatusOr<PcCode> CodeAt(uint64_t pc) = 0;
};

// The full names a trace script's function location may stand for, in the order to try them:
// itself, and for a bare name Delve's shorthand for package main ("handleOrder" ->
// "main.handleOrder").
std::vector<std::string> FunctionNamesFor(absl::string_view location);

// `name` without its type parameters: every bracketed part removed
// ("main.(*List[go.shape.int]).Push"
// -> "main.(*List).Push"), as Delve's Function.NameWithoutTypeParams.
std::string NameWithoutTypeParams(absl::string_view name);

// Whether Go stores a value of type `t` in an interface's data word itself rather than behind a
// pointer to a copy (the compiler's IsDirectIface): a pointer, channel, map, function or
// unsafe.Pointer, or a struct of exactly one field / an array of exactly one element of such a
// type (`struct{ o *Order }`). False when a type on the way cannot be read.
bool IsDirectIface(DwarfReader& dwarf, const TypeInfo& t);

// DWARF register number -> the amd64 register's name ("rax"); "" if unknown.
std::string DwarfRegisterName(int reg);

}  // namespace kdbg::gobinary
