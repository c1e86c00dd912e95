// From a trace script to uprobe programs: which scripts the eBPF engine can run (qualification),
// and the compilation of each tracepoint's print expressions into the read steps the BPF program
// interprets (probe_abi.h), with the probe address.
//
// Qualifies: every tracepoint is a function entry (`trace [name] FUNCTION`: `handleOrder`,
// `main.handleOrder`, `net/http.(*conn).serve`, `main.sum` for every instantiation of a generic
// function; or `trace [name] FILE:LINE`: at a function's first line, the line of its `func`,
// Delve breaks past the prologue as for the name and reports the hits at that line; at a line in a
// function's body, at the line's first statement, where the parameters are read from their DWARF
// locations at that PC, and no returns are reported (as on Delve); a line with code the compiler
// inlined runs on Delve), every `on .. print` expression is
//   expr := IDENT ( "." IDENT )*  |  "len(" expr ")"
// and every `cond` is one the BPF program evaluates exactly (ParseCond):
//   cond := expr OP constant  |  expr  |  "!" expr          OP := == != < <= > >=
// against an integer (decimal or 0x hex, in the value's range), true/false, nil (pointers and
// interfaces, == and != only) or a string literal of at most 64 bytes (== and != only).
// where IDENT starts at a parameter (at a line in a body, also at a local variable in scope there:
// gobinary::DwarfReader::VariableAt) or, failing those, at a package variable (`sink` of the
// probed code's package, or `main.sink`: gobinary::DwarfReader::Global) and each `.field` goes
// through a struct, a pointer to a struct
// or a non-empty interface (one alternative per itab symbol of that interface), ending on a string,
// integer, boolean, pointer or interface (its two words; an itab symbol names a non-empty one's
// dynamic type, the DWARF's runtime type addresses an empty one's); len() of a string or slice; or
// a pointer, struct, slice or non-empty interface printed whole, as Delve loads it for a print
// (ValueNode), when each value Delve shows of it is one of those and they fit the record. A hit's
// args are every parameter (a struct as Delve lists an argument's, its first 3 fields): those of
// other types carry a Slot::unread text instead of a slot. Anything else runs on Delve, and the
// Disqualification says which script line and why.
//
// Return values: a tracepoint on a function with results also gets one probe on each RET
// instruction of the function (ret_sites.h: decoded, never uretprobes); with a `cond`, they report
// the returns of the calls whose condition held only (the BPF program pairs them by goroutine and
// stack depth: probe_abi.h, kdbg_track). At a RET the
// frame is gone (CFA = RSP + 8 again) and Go's ABIInternal holds the results in RAX, RBX, RCX,
// RDI, RSI, R8-R11 in order (a string takes two); each result is read from its DWARF location at
// that PC, else from that assignment; a result of a type this engine does not read prints
// `(unreadable ...)`. No RET decoded (or decoding failed): no return events for it, and a note.
//
// Where the probe goes (shared/design/EBPF.md): Go functions begin with a stack check
//   [LEAQ -N(SP), R12]  CMPQ SP|R12, 16(R14)   JBE morestack
// or, for a frame above 4 KiB,
//   MOVQ SP, R12  SUBQ $N, R12  JB morestack  CMPQ R12, 16(R14)  JBE morestack
// The probe sits on the JBE (decoded from these exact encodings, so at an instruction boundary)
// and the BPF program ignores hits where CF|ZF is set (the function is about to grow its stack and
// will be entered again): one event per call. A function without a recognised check is probed at
// its entry PC (an instruction boundary by definition). At both places nothing has been spilled
// yet and CFA = RSP + 8.
//
// Inlined calls: a function the compiler inlined has a probe at each inlined call too, where Delve
// puts its breakpoints (the call's DW_AT_low_pc, else its first range; checked to start an
// instruction by decoding the caller), reading the call's own parameter DIEs there; a hit names
// the caller as its function, as Delve's does. A function inlined at every call has only these.
// No return probes for inlined calls (no RET); more call probes than KDBG_MAX_PROBES is an error
// (ResourceExhausted), never a silent subset; return probes past it are named in Plan::notes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "agent/delve/trace_script.h"
#include "agent/ebpf/probe_abi.h"
#include "agent/gobinary/dwarf.h"

namespace kdbg::ebpf {

struct Disqualification {
  int line = 0;  // script line that keeps the script off eBPF (0: the whole script)
  std::string reason;
};

// Without the binary: the script's shape. nullopt when it qualifies.
std::optional<Disqualification> CheckScript(const delve::TraceScript& script);

// A parsed print expression.
struct Expr {
  bool len = false;  // len() of it
  bool cap = false;  // cap() of it
  // "o", "Customer", "Name"; an index is its own step: `o.Items[2]` is "o", "Items", "[2]".
  std::vector<std::string> path;
};
absl::StatusOr<Expr> ParseExpr(absl::string_view text);

// A parsed condition: `operand op constant`. A bare `expr` is `expr != false`, `!expr` is
// `expr == false` (booleans only; checked against the type when compiled).
struct Cond {
  enum class Literal { kInt, kBool, kNil, kString };
  Expr operand;
  kdbg_cond_op op = KDBG_COND_NE;
  Literal literal = Literal::kBool;
  int64_t int_value = 0;  // kInt (kUint64 constants above INT64_MAX: uint_value)
  uint64_t uint_value = 0;
  bool negative = false;  // kInt: the constant was written with a minus sign
  bool bool_value = false;
  std::string string_value;  // kString, unquoted
};
// InvalidArgument saying why the condition is not one the BPF program evaluates exactly.
absl::StatusOr<Cond> ParseCond(absl::string_view text);

// How the agent turns a filled slot back into text, like `dlv print`. kInterface: a non-empty
// interface's two words, w0 the itab (0: nil), w1 the data word. kSliceHeader (arguments only): a
// slice's len (w0) and cap (w1), its elements not read.
enum class SlotFormat {
  kString,
  kSigned,
  kUnsigned,
  kBool,
  kPointer,
  kInterface,
  kSliceHeader,
  kFloat,  // float32 (size 4) or float64 (size 8), read from memory (uprobes save no XMM register)
};

// A dynamic type an interface slot may hold, by the interface's first word: for a non-empty
// interface its itab, from the binary's itab symbols ("go:itab.*net/http.response,io.Writer" at
// 0x724e80: {0x724e80, "*net/http.response", kPtr}); for an empty one (any) the type descriptor
// (gobinary::RuntimeType).
struct DynamicType {
  uint64_t word = 0;
  std::string name;
  gobinary::GoKind kind = gobinary::GoKind::kInvalid;  // kInvalid: not in the DWARF
};

class ItabTypes;  // itab_types.h
struct ValueNode;
struct Subprograms;

struct Slot {
  std::string name;  // the expression as written, or the parameter's name
  std::string type;  // Go type name: "string", "int", "*main.Order"
  SlotFormat format = SlotFormat::kSigned;
  int size = 8;  // bytes of the integer (sign/zero extension from the register word)
  // Non-empty: a value this engine does not read (an argument or result of a type it does not
  // read, or one optimized out at the probe); printed as this text and given no record slot.
  std::string unread;
  // kInterface: the dynamic types it may hold, sorted by `word`; an empty interface's are every
  // type of the binary (shared by the copies of this slot in the plan and the session).
  std::shared_ptr<const std::vector<DynamicType>> dynamic_types;
  // kInterface: the first word is an itab (a non-empty interface), not a type descriptor.
  bool by_itab = false;
  // A field chain through an interface: the types its guards compare (every runtime type of the
  // binary, sorted by `word`, their descriptors' run-time addresses), which name the dynamic type
  // a KDBG_SLOT_NO_TYPE carries.
  std::shared_ptr<const std::vector<DynamicType>> guard_types;
  // kSigned, kUnsigned of a named type with constants ("main.mode": modeRead = 1, ...): those,
  // sorted by value, their package prefix trimmed ("modeRead"), by which Delve describes a value
  // ("modeRead|modeWrite (3)"; proc.(*Variable).ConstDescr); null for none.
  std::shared_ptr<const std::vector<gobinary::Constant>> constants;
  // A print of a whole pointer or struct (`print n`): the value as Delve loads it, whose leaves
  // take `whole_slots` record slots from this slot's on (FormatWhole); null for one slot.
  std::shared_ptr<const ValueNode> whole;
  int whole_slots = 0;
  // The plan's subprograms, which `whole`'s interfaces name by variant (null: none). Only slots
  // hold it: a subprogram's own nodes do not, or the table would own itself.
  std::shared_ptr<const Subprograms> subprograms;
};

// A value printed whole, shaped as Delve's proc.Variable after loading it for a print
// (proc.LoadFullValue: pointers followed; the fields of a struct at recursion level 0 or 1, a
// pointer's target at its pointer's level, one deeper for a pointer to a pointer, which past level
// 1 is shown by address): what the Delve engine formats (delve::FormatVariable). Strings, numbers,
// booleans and pointer words are read into record slots; structs are their fields.
struct ValueNode {
  std::string name;  // a field's; "" for the value and a pointer's target
  std::string type;  // Go's name for its type: "*main.node", "main.point", "int32"
  gobinary::GoKind kind = gobinary::GoKind::kInvalid;
  // The record slot it is read into, counted from the print's first (-1: nothing read: a struct,
  // or a value nested past delve::kFormatDepth, printed as its type); `leaf` formats it.
  int slot = -1;
  Slot leaf;
  bool only_addr = false;  // a pointer shown by its address: its target is not loaded
  // A struct: its field count (Delve's Len); its fields, when Delve loads them, are `children`.
  int64_t fields = 0;
  std::vector<ValueNode> children;  // a struct's loaded fields, a pointer's target
  // An array or slice: how many elements Delve loads at most (MaxArrayValues), an array's length,
  // and the record slots it takes from `slot` on (0: nested too deep to be printed). Of numbers
  // or booleans, how each element is formatted (`element.size` bytes each): an array's bytes are
  // in those slots (16 bytes each: w0, w1); a slice's length and capacity in `slot` (w0, w1) and
  // the bytes of its first max_elements elements in the slots after it (str, 64 bytes each).
  Slot element;
  int max_elements = 0;
  int64_t array_len = 0;
  int slots = 0;
  // A slice of other elements (strings, pointers, structs, interfaces, slices), read one by one
  // by the subprogram of its element type (KDBG_OP_EACH): its length and capacity in `slot`, its
  // data pointer in `region` (whose w1 and n the EACH sets: the record slot of its first element
  // and how many it read), `element_slots` slots per element in the record's slots past the
  // probe's own, each shaped as children[0] (its slots counted from the element's first; 0 slots:
  // no EACH, the shape alone prints each element).
  int element_slots = 0;
  // A map (Go 1.24+ swiss tables), its entries read one by one as Delve iterates them
  // (KDBG_OP_MAP): its pointer in `slot` (0: nil); its length in `region`'s w0 (w1, n: the record
  // slot of its first entry, how many were read), `element_slots` slots per entry past the
  // probe's own, each shaped as children[0], the runtime's slot struct {key K; elem V} whose two
  // fields Delve prints as "key: elem"; at most max_elements.
  // A non-empty interface: its two words in `slot` (`leaf` formats them when its dynamic value is
  // not read); its dynamic value, when Delve loads it (proc.(*Variable).loadInterface: at the
  // interface's recursion level, up to 1), read by the subprogram of its dynamic type for
  // `variant` into the `region_slots` slots from `region` (the Slot's Subprograms), else
  // `only_addr`.
  int region = -1;
  int region_slots = 0;
  uint32_t variant = 0;
};

// The subprograms of a plan (probe_abi.h, KDBG_OP_CALL): for each dynamic type a printed
// interface may hold and each variant (the interface's recursion level and format depth in what is
// printed), the read steps of its value as Delve loads it. Shared by every probe and print.
struct DynamicValue {
  uint64_t word = 0;  // the type descriptor's run-time address
  uint32_t variant = 0;
  uint32_t pc = 0;  // its first op in Subprograms::ops
  int slots = 0;    // of its region: slot 0 the descriptor, the value's from 1
  ValueNode data;   // the dynamic value (Delve's "data" child), its slots counted in the region
};
// The subprogram of one element of a slice (KDBG_OP_EACH) or entry of a map (KDBG_OP_MAP): its
// slots counted from the element's first (at most 32: plan.cc, kMaxElementSlots).
struct ElementValue {
  uint32_t pc = 0;  // its first op in Subprograms::ops
  int slots = 0;
  ValueNode shape;
};
struct Subprograms {
  std::vector<kdbg_op> ops;
  // Those compiled, by (variant, word).
  std::map<std::pair<uint32_t, uint64_t>, DynamicValue> values;
  // Elements' subprograms, by (variant + the region cap << 16, the element type's DIE offset).
  std::map<std::pair<uint32_t, uint64_t>, ElementValue> elements;
  const DynamicValue* Find(uint32_t variant, uint64_t word) const {
    auto it = values.find({variant, word});
    return it == values.end() ? nullptr : &it->second;
  }
};

struct ProbePlan {
  std::string tracepoint;  // the script's name for it
  std::string location;    // as written
  int script_line = 0;
  gobinary::Function function;
  std::string file;  // where Delve would report the hit: the first statement after the prologue
  int line = 0;
  uint64_t address = 0;  // virtual address of the probe
  // Where Delve breaks for this probe, the hit's own frame in a stack (the function's first PC
  // past its prologue for an entry probe on the stack check; else `address`).
  uint64_t report_pc = 0;
  int64_t cfa_rsp = 8;  // CFA - RSP at `address` (gobinary::DwarfReader::CfaFromRsp)
  // `on .. stack N`: N, the frames past the hit's own reported (calls only; 0: none).
  int stack_depth = 0;
  uint64_t file_offset = 0;  // what the uprobe takes
  bool check_flags = false;  // the probe is on the stack-check JBE
  // An inlined call of the function (gobinary::InlinedCall): the function it was inlined into,
  // which a hit names as Delve does ("" for the out-of-line entry and its returns). `function`
  // is then the call's (its parameters are the call's), `entry` the tracepoint's first probe.
  std::string caller;
  std::vector<kdbg_op> ops;
  // The print expressions, in order; those without `unread` take slots 0.. (a value with no
  // location at the probe, common at an inlined call, is `unread`: "<optimized out>").
  std::vector<Slot> vars;
  // Every parameter, in order, as Delve lists a function's arguments; those without `unread` take
  // the following slots.
  std::vector<Slot> args;
  // A return probe (on one RET of the function, see ret_sites.h): `results` in order, the slots
  // from 0 (those without `unread`); vars, args and cond are empty.
  bool is_return = false;
  // The index in Plan::probes of the tracepoint's first probe (its out-of-line entry, else its
  // first inlined call): its entry, inlined calls and returns count hits and are disarmed
  // together.
  size_t entry = 0;
  // KDBG_TRACK_CALL: the entry probe of a conditional tracepoint's body with results, whose
  // reported calls' returns are awaited; KDBG_TRACK_RETURN: a return probe of one (probe_abi.h).
  kdbg_track track = KDBG_TRACK_NONE;
  std::vector<Slot> results;
  std::string cond;  // as written ("" for none)
  // The condition's comparison (cond_op KDBG_COND_NONE: none), as kdbg_probe carries it; its value
  // is computed into slot cond_slot (after vars and args: not in the record).
  kdbg_cond_op cond_op = KDBG_COND_NONE;
  kdbg_cond_kind cond_kind = KDBG_COND_SIGNED;
  uint32_t cond_slot = 0;
  uint32_t cond_shift = 0;
  uint64_t cond_imm = 0;
  std::string cond_str;
  // `cond -hitcount` (call probes only): its comparison with hit_val (KDBG_COND_REM for `%`), as
  // kdbg_probe carries it; KDBG_COND_NONE: none.
  kdbg_cond_op hit_op = KDBG_COND_NONE;
  uint64_t hit_val = 0;

  // The slots a record of this probe carries: vars, then the args and results that are read.
  uint32_t RecordSlots() const;
};

// Every tracepoint's call probes come first, then the return probes, which are armed only while
// they fit in KDBG_MAX_PROBES: a tracepoint whose returns are not armed (over that, or its code
// not decoded) gets a note saying so, never silence.
struct Plan {
  std::vector<ProbePlan> probes;
  uint64_t goid_offset = 0;
  // runtime.g.stack.hi, when a probe's track is not NONE or it reports stacks.
  uint64_t stack_hi_offset = 0;
  // "returns not reported for trace.dlv:3 main.summarize, trace.dlv:4 main.summarize (their RET
  // probes would pass the 256 probes the eBPF engine arms)": shown with the armed tracepoints.
  std::vector<std::string> notes;
  // The subprograms the probes' KDBG_OP_CALLs run (never null).
  std::shared_ptr<Subprograms> subprograms = std::make_shared<Subprograms>();
};

// Compiles a qualifying script against the binary. Errors name the script line:
//   NotFound          "trace.dlv:1: location \"nope\" not found"
//   InvalidArgument   "trace.dlv:2: o.Nope: *main.Order has no field Nope"
//   Unimplemented     "trace.dlv:2: d.x: ..." (a value this engine cannot read)
//   FailedPrecondition, ResourceExhausted: what the binary lacks, more probes than it arms
// Only NotFound means the location is not in the binary. A value with no location at a probe is
// no error: its print is unreadable (`<optimized out>`), its condition lets every call through.
// `pie_load_bias`: for a position-independent executable, where the running target was loaded
// (its run-time addresses minus the link-time ones); without it a PIE's interfaces are not read.
// `returns` false: no return probes at all (TraceSpec::no_returns).
absl::StatusOr<Plan> CompilePlan(const delve::TraceScript& script, absl::string_view script_name,
                                 gobinary::DwarfReader& dwarf,
                                 std::optional<uint64_t> pie_load_bias = std::nullopt,
                                 bool returns = true);

// Whether `status`, from CompilePlan, is a mistake of the script itself that no engine could
// evaluate at any hit: a field the value's static type does not have, neither declared, nor
// promoted from an embedded field, nor as a method of the type or of an embedded one, and not
// reached through an interface (whose dynamic value might have it); or any field of a value of a
// predeclared type (string, int, bool, ...: neither fields nor methods):
//   InvalidArgument "trace.dlv:2: r.RemoteAdr: r is net/http.Request, which has no field
//                    RemoteAdr (did you mean RemoteAddr?)"
// The engine choice refuses such a script rather than run it on Delve, where every hit would
// stop the target to print the same error.
bool IsScriptMistake(const absl::Status& status);
// `status` (not OK) marked so that IsScriptMistake tells it.
absl::Status ScriptMistake(absl::Status status);

// Formats one slot of a record as the Delve engine prints the same value (agent/delve/
// hit_format.h): "\"127.0.0.1:5\"...+3 more", "42", "true", "(*main.T)(0xc000..)",
// "nil", interfaces "io.Writer((*net/http.response)(0xc000..))",
// "main.Describer((*main.Order)(nil))" (a nil *T in it), "error nil"; or "(unreadable ...)". A
// dynamic type that is not a pointer is named, its value elided: "main.Describer(main.label
// {...})", "error(syscall.Errno ...)"; a slice argument whose elements are not read
// "[]string len: 3, cap: 4, [...]" ("[]" when empty).
// `itabs` (may be null) names the dynamic type of an interface value whose itab the plan has no
// symbol for (made at run time): "error((*main.memo)(0xc000..))" instead of "(unreadable dynamic
// type at 0x...)". A field chain through an interface holding a type it was not compiled for:
// "(unreadable dynamic type main.label is not one this expression was compiled for)".
std::string FormatSlot(const Slot& slot, const kdbg_slot& value, ItabTypes* itabs = nullptr);

// Formats a print of a whole value (slot.whole) from its record slots (`values`: slot.whole_slots
// of them) as the Delve engine prints what Delve loads: "*main.node {Name: \"root\", Next: nil,
// At: main.point {X: 2, Y: -1}, Count: *2, ...}".
// An interface in it whose dynamic value was not read (a type not compiled) prints as FormatSlot
// prints it, with `itabs`; past Delve's recursion level, by its dynamic type only ("error(*T
// ...)", as the Delve engine prints Delve's unloaded value).
// `record`: the hit's whole record, whose slots past the probe's own hold slices' elements
// (KDBG_OP_EACH).
std::string FormatWhole(const Slot& slot, absl::Span<const kdbg_slot> values,
                        ItabTypes* itabs = nullptr, absl::Span<const kdbg_slot> record = {});

}  // namespace kdbg::ebpf
