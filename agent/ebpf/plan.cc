#include "agent/ebpf/plan.h"

#include "agent/delve/hit_format.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/ebpf/itab_types.h"
#include "agent/ebpf/ret_sites.h"
#include "agent/gobinary/function_match.h"
#include "common/status.h"

namespace kdbg::ebpf {
namespace {

using gobinary::GoKind;
using gobinary::Piece;
using gobinary::TypeInfo;

bool IsIdent(absl::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// Only decimal digits (true for "").
bool AllDigits(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// A function name, not file:line or *address.
bool IsFunctionLocation(absl::string_view loc) {
  if (loc.empty() || loc[0] == '*' || absl::StrContains(loc, ':') || absl::StrContains(loc, ' ')) {
    return false;
  }
  return !absl::EndsWith(loc, ".go");
}

// Delve's `FILE:LINE` (a file named whole or by its path's end, a positive line), not
// `*ADDRESS`: {file, line}, or nullopt for any other location.
std::optional<std::pair<absl::string_view, int>> ParseFileLine(absl::string_view loc) {
  const size_t colon = loc.rfind(':');
  if (colon == absl::string_view::npos || colon == 0 || loc[0] == '*' ||
      absl::StrContains(loc, ' ')) {
    return std::nullopt;
  }
  absl::string_view digits = loc.substr(colon + 1);
  int line = 0;
  if (digits.empty() || !AllDigits(digits) || !absl::SimpleAtoi(digits, &line) || line <= 0) {
    return std::nullopt;
  }
  return std::make_pair(loc.substr(0, colon), line);
}

// Whether `fn` is the body of a range-over-func loop, which Go compiles into a closure named
// after the function with "-range" and a number ("main.walk-range1"; Delve's rangeParentName).
bool IsRangeFuncBody(absl::string_view fn) {
  const size_t at = fn.rfind("-range");
  if (at == absl::string_view::npos || at == 0) return false;
  return AllDigits(fn.substr(at + 6));
}

// Where a `FILE:LINE` location's probes go, as Delve breaks there (proc.FindFileLocation): once
// per group of the line's code (gobinary::LineSite), in the out-of-line function that holds it.
// At a function's first line (a group beginning at the entry) Delve skips the prologue, as for
// the function's name ("if we picked the entry point of the function, skip it"), and reports the
// hits where it does for the name (Go writes the prologue_end row on the `func` line; a leaf
// function has none, and both take its first statement): `body_pc` is then unset and the probe is
// the entry probe. Elsewhere in a body, `body_pc` is the group's first is_stmt row, where Delve
// breaks. Code the compiler inlined at the line, no code at all or an ambiguous file: the
// reason, and the script runs on Delve, which finds every kind of line and words its own errors.
struct LineTarget {
  gobinary::Function function;
  std::optional<uint64_t> body_pc;
};

absl::StatusOr<std::vector<LineTarget>> LineTargets(gobinary::DwarfReader& dwarf,
                                                    absl::string_view location,
                                                    absl::string_view file, int line) {
  auto refused = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("location ", location, " is not traced by eBPF (", why,
                     "; eBPF traces a function by its name, or a line of a function's own code)"));
  };
  auto code = dwarf.LineSites(file, line);
  if (!code.ok()) return refused(code.status().message());
  std::vector<LineTarget> out;
  for (const gobinary::LineSite& site : code->sites) {
    if (site.inlined) {
      return refused(
          absl::StrCat("part of its code is inlined in ", site.function, ", where Delve stops"));
    }
    if (IsRangeFuncBody(site.function)) {
      // Delve finds such a body's variables in the frames of the function whose loop it is.
      return refused(absl::StrCat("it is in ", site.function,
                                  ", the body of a range-over-func loop, whose variables live "
                                  "in the enclosing function's frame"));
    }
    auto fn = dwarf.FindFunction(site.function);
    if (!fn.ok()) return refused(fn.status().message());
    LineTarget t{*std::move(fn), std::nullopt};
    if (t.function.entry != site.pc) t.body_pc = site.pc;
    out.push_back(std::move(t));
  }
  return out;
}

constexpr int kDwarfToPtRegs[16] = {KDBG_RAX, KDBG_RDX, KDBG_RCX, KDBG_RBX, KDBG_RSI, KDBG_RDI,
                                    KDBG_RBP, KDBG_RSP, KDBG_R8,  KDBG_R9,  KDBG_R10, KDBG_R11,
                                    KDBG_R12, KDBG_R13, KDBG_R14, KDBG_R15};

kdbg_op Op(uint8_t code, uint8_t a = 0, int32_t off = 0, uint64_t imm = 0) {
  kdbg_op op{};
  op.code = code;
  op.a = a;
  op.off = off;
  op.imm = imm;
  return op;
}

// Where a value lives: in memory (ops leave its base address in acc; the value starts `offset`
// bytes after it), or in registers / stack slots given by DWARF pieces.
struct Place {
  bool memory = false;
  std::vector<kdbg_op> base;
  int64_t offset = 0;
  // At the probe, CFA = RSP + cfa_rsp: 8 at a function's entry and at a RET; at an inlined call,
  // the caller's frame size + 8 (gobinary::DwarfReader::CfaFromRsp).
  int64_t cfa_rsp = 8;
  struct At {
    uint64_t offset;  // within the value
    Piece piece;
  };
  std::vector<At> pieces;
};

// An alternative: the ops leading to it (guards included), where the value is, and its type.
struct Alt {
  std::vector<kdbg_op> prefix;
  Place place;
  TypeInfo type;
};

// Whether the alternative passes through an interface: a GUARD on the way compares its dynamic
// type's descriptor, which a KDBG_SLOT_NO_TYPE then carries (Slot::guard_types names it).
bool Guarded(const Alt& a) {
  return std::any_of(a.prefix.begin(), a.prefix.end(),
                     [](const kdbg_op& op) { return op.code == KDBG_OP_GUARD; });
}

constexpr absl::string_view kScriptMistakeUrl = "kdbg.io/ebpf/script-mistake";

// `s` with another message, its code and its payloads (the ScriptMistake mark) kept.
absl::Status WithMessage(const absl::Status& s, absl::string_view message) {
  absl::Status out(s.code(), message);
  s.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

// The edits (insert, delete, replace a letter, swap two adjacent ones) from `a` to `b`: the optimal
// string alignment distance, so that the typo "nmae" is one edit from "name".
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The index in `candidates` of the one nearest `want`, case ignored, within one edit for a
// `want` of up to 4 letters and two above (a typo, not another name); -1 if none.
int Nearest(absl::string_view want, const std::vector<std::string>& candidates) {
  const std::string w = absl::AsciiStrToLower(want);
  size_t best = w.size() <= 4 ? 2 : 3;  // one more than the edits allowed
  int nearest = -1;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string& c = candidates[i];
    if (c.size() + best <= w.size() || w.size() + best <= c.size()) continue;  // too long or short
    const size_t d = EditDistance(w, absl::AsciiStrToLower(c));
    if (d < best) {
      nearest = static_cast<int>(i);
      best = d;
    }
  }
  return nearest;
}

// What follows "x is T, which has no field F": " (did you mean Note?)" for the field of `fields`
// nearest F (Nearest), else " (its fields: ID, Customer, ...)".
std::string FieldHint(const std::string& field, const std::vector<std::string>& fields) {
  constexpr size_t kMaxListed = 12;
  if (int i = Nearest(field, fields); i >= 0) {
    return absl::StrCat(" (did you mean ", fields[static_cast<size_t>(i)], "?)");
  }
  if (fields.empty()) return "";
  const size_t n = std::min(fields.size(), kMaxListed);
  return absl::StrCat(
      " (its fields: ",
      absl::StrJoin(fields.begin(), fields.begin() + static_cast<ptrdiff_t>(n), ", "),
      fields.size() > n ? ", ..." : "", ")");
}

// What follows "location \"L\" not found" for a function name L: " (did you mean
// main.handleOrder?)", the binary's function (with a body or only inlined; a generic one by its
// name without type parameters) nearest L (Nearest), where L may be Delve's shorthand for a
// function of package main ("handleOrder"); "" for none, and for a file:line or an address.
std::string FunctionHint(gobinary::DwarfReader& dwarf, absl::string_view location) {
  if (!IsFunctionLocation(location)) return "";
  constexpr absl::string_view kMain = "main.";
  const bool shorthand = !absl::StrContains(location, ".");
  std::vector<std::string> names = dwarf.FunctionNames();
  for (std::string& n : dwarf.InlinedOnlyFunctions()) names.push_back(std::move(n));
  std::vector<std::string> full, compared;
  absl::flat_hash_set<std::string> seen;
  for (const std::string& n : names) {
    std::string name = gobinary::NameWithoutTypeParams(n);
    if (shorthand && !absl::StartsWith(name, kMain)) continue;
    if (!seen.insert(name).second) continue;
    compared.push_back(shorthand ? name.substr(kMain.size()) : name);
    full.push_back(std::move(name));
  }
  const int i = Nearest(location, compared);
  return i < 0 ? "" : absl::StrCat(" (did you mean ", full[static_cast<size_t>(i)], "?)");
}

// The place of a value of `type` that DWARF locates by `pieces`. A location without DW_OP_piece
// is the whole value: in one register, or contiguous on the stack (a parameter passed on the
// stack: "DW_OP_call_frame_cfa", the value at CFA + 0).
Place PlaceOf(const std::vector<Piece>& pieces, const TypeInfo& type, int64_t cfa_rsp = 8) {
  Place p;
  p.cfa_rsp = cfa_rsp;
  uint64_t off = 0;
  for (Piece pc : pieces) {
    if (pc.size == 0 && pieces.size() == 1 && pc.where == Piece::Where::kStack) pc.size = type.size;
    p.pieces.push_back(Place::At{off, pc});
    off += pc.size == 0 ? type.size : pc.size;
  }
  return p;
}

// The DWARF register number standing for KDBG_REG_DATA (probe_abi.h): a subprogram's data word.
constexpr int kDataDwarfReg = 1000;

// Where a subprogram finds a dynamic value that is its interface's data word (pointer-shaped:
// gobinary::IsDirectIface), as if it were in a register.
Place DataWord() {
  Place p;
  Piece piece;
  piece.where = Piece::Where::kRegister;
  piece.dwarf_reg = kDataDwarfReg;
  piece.size = 8;
  p.pieces.push_back(Place::At{0, piece});
  return p;
}

// Ops that leave the `size`-byte word at `offset` within the value in acc.
absl::StatusOr<std::vector<kdbg_op>> Word(const Place& p, uint64_t offset, uint64_t size) {
  std::vector<kdbg_op> ops;
  if (p.memory) {
    ops = p.base;
    ops.push_back(Op(KDBG_OP_LOAD, static_cast<uint8_t>(size),
                     static_cast<int32_t>(p.offset + static_cast<int64_t>(offset))));
    return ops;
  }
  for (const Place::At& at : p.pieces) {
    uint64_t psize = at.piece.size == 0 ? 8 : at.piece.size;
    if (offset < at.offset || offset + size > at.offset + psize) continue;
    if (at.piece.where == Piece::Where::kNone) break;
    if (at.piece.where == Piece::Where::kRegister) {
      if (at.piece.dwarf_reg == kDataDwarfReg) {
        if (offset != at.offset) break;
        ops.push_back(Op(KDBG_OP_REG, KDBG_REG_DATA));
        return ops;
      }
      if (at.piece.dwarf_reg >= 17 && at.piece.dwarf_reg <= 32) {
        // DWARF's XMM0-15 (a float in Go's register ABI): a uprobe's pt_regs has none of them.
        return absl::UnimplementedError(absl::StrCat(
            "a value in register xmm", at.piece.dwarf_reg - 17,
            ": the eBPF engine reads no floating-point register; --engine delve reads it"));
      }
      if (offset != at.offset || at.piece.dwarf_reg < 0 || at.piece.dwarf_reg >= 16) break;
      ops.push_back(Op(KDBG_OP_REG, static_cast<uint8_t>(kDwarfToPtRegs[at.piece.dwarf_reg])));
      return ops;
    }
    ops.push_back(Op(KDBG_OP_REG, KDBG_RSP));
    ops.push_back(Op(KDBG_OP_LOAD, static_cast<uint8_t>(size),
                     static_cast<int32_t>(p.cfa_rsp + at.piece.cfa_offset +
                                          static_cast<int64_t>(offset - at.offset))));
    return ops;
  }
  // NotFound: the DWARF locates only part of the value here (at an inlined call, a string in one
  // register); the value is unreadable at this probe, not a type this engine cannot read.
  return absl::NotFoundError(
      absl::StrCat("bytes ", offset, "..", offset + size, " of the value have no location here"));
}

// The place of a member at `offset` within the value at `p`.
Place Sub(const Place& p, uint64_t offset, uint64_t size) {
  Place out = p;
  if (p.memory) {
    out.offset += static_cast<int64_t>(offset);
    return out;
  }
  out.pieces.clear();
  for (const Place::At& at : p.pieces) {
    uint64_t psize = at.piece.size == 0 ? 8 : at.piece.size;
    if (at.offset + psize <= offset || at.offset >= offset + size) continue;
    Place::At a = at;
    if (a.offset < offset) {
      // Only a stack piece can be split: its slot's address moves.
      a.piece.cfa_offset += static_cast<int64_t>(offset - a.offset);
      a.piece.size = psize - (offset - a.offset);
      a.offset = 0;
    } else {
      a.offset -= offset;
    }
    out.pieces.push_back(a);
  }
  return out;
}

// The value the pointer word at `p` points to.
absl::StatusOr<Place> Deref(const Place& p) {
  KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> ops, Word(p, 0, 8));
  Place out;
  out.memory = true;
  out.base = std::move(ops);
  return out;
}

// What to add to the binary's link-time data addresses (itabs, type descriptors) for the running
// target's: 0 for a fixed-address executable, a PIE's load bias, nullopt for a PIE whose load bias
// is not known (its interfaces are not read then).
using Bias = std::optional<uint64_t>;

// The binary's types with a runtime descriptor (gobinary::RuntimeType), read once per plan and
// only when an expression needs them: what an empty interface's first word and an itab's Type
// word point at, moved by the load bias.
class RuntimeTypeTable {
 public:
  RuntimeTypeTable(gobinary::DwarfReader& dwarf, uint64_t bias) : dwarf_(dwarf), bias_(bias) {}

  // Every one, sorted by run-time address (DynamicType::word); shared by the slots that name them.
  std::shared_ptr<const std::vector<DynamicType>> All() {
    if (all_ == nullptr) {
      auto all = std::make_shared<std::vector<DynamicType>>();
      for (const gobinary::RuntimeType& r : dwarf_.RuntimeTypes()) {
        all->push_back(DynamicType{r.address + bias_, r.name, r.kind});  // sorted already
      }
      all_ = std::move(all);
    }
    return all_;
  }

  // The one named `name` ("*main.Order"), or nullptr.
  const gobinary::RuntimeType* Named(absl::string_view name) {
    if (by_name_.empty()) {
      for (const gobinary::RuntimeType& r : dwarf_.RuntimeTypes()) by_name_.emplace(r.name, &r);
    }
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }

  // Those with a field `field`: structs that have it, pointers to such structs. In name order.
  const std::vector<const gobinary::RuntimeType*>& WithField(const std::string& field) {
    auto [it, added] = with_field_.try_emplace(field);
    if (!added) return it->second;
    for (const gobinary::RuntimeType& r : dwarf_.RuntimeTypes()) {
      if (r.kind != GoKind::kStruct && r.kind != GoKind::kPtr) continue;
      auto t = dwarf_.Type(r.id);
      if (t.ok() && t->kind == GoKind::kPtr) t = dwarf_.Type(t->elem);
      if (!t.ok() || t->kind != GoKind::kStruct) continue;
      for (const gobinary::Member& m : t->members) {
        if (m.name == field) {
          it->second.push_back(&r);
          break;
        }
      }
    }
    std::sort(it->second.begin(), it->second.end(),
              [](const gobinary::RuntimeType* a, const gobinary::RuntimeType* b) {
                return a->name < b->name;
              });
    return it->second;
  }

 private:
  gobinary::DwarfReader& dwarf_;
  const uint64_t bias_;
  std::shared_ptr<const std::vector<DynamicType>> all_;
  absl::flat_hash_map<std::string, const gobinary::RuntimeType*> by_name_;
  absl::flat_hash_map<std::string, std::vector<const gobinary::RuntimeType*>> with_field_;
};

class Dispatcher;

class Compiler {
 public:
  Compiler(gobinary::DwarfReader& dwarf, Bias bias)
      : dwarf_(dwarf), bias_(bias), types_(dwarf, bias.value_or(0)) {}

  RuntimeTypeTable& types() { return types_; }
  // What prints of interfaces compile their dynamic values with (null: not read).
  Dispatcher* dispatcher() const { return dispatcher_; }
  void set_dispatcher(Dispatcher* d) { dispatcher_ = d; }
  // The most slots an interface's region takes (WholeValue::set_region_cap).
  int region_cap() const { return region_cap_; }
  void set_region_cap(int cap) { region_cap_ = cap; }

  // Applies `[index]` to every alternative (those it does not apply to are dropped, an error when
  // none is left): an element of a slice or array, a byte of a string (Delve's uint8). A slice's or
  // string's length is checked at the hit (KDBG_OP_CHECK: "index out of bounds", as Delve says); an
  // array's here.
  absl::StatusOr<std::vector<Alt>> Index(std::vector<Alt> alts, uint64_t index,
                                         const std::string& so_far) {
    return EachAlternative(std::move(alts), [&](Alt a) -> absl::StatusOr<std::vector<Alt>> {
      KDBG_ASSIGN_OR_RETURN(Alt x, IndexOne(std::move(a), index, so_far));
      return std::vector<Alt>{std::move(x)};
    });
  }

  // Whether a field chain through an interface also tries the types with that field that no
  // itab symbol pairs with the interface (those of itabs the runtime makes, and every type an
  // empty interface may hold): on by default; CompileProbe turns it off for a probe they take
  // past KDBG_MAX_OPS. `used_other_types` tells whether an expression compiled since the last
  // reset tried any.
  void set_other_types(bool on) { other_types_ = on; }
  bool used_other_types() const { return used_other_types_; }
  void reset_used_other_types() { used_other_types_ = false; }

  // Applies `.field` to every alternative; alternatives whose type lacks the field are dropped
  // (after an interface step) or an error (before one).
  absl::StatusOr<std::vector<Alt>> Field(std::vector<Alt> alts, const std::string& field,
                                         const std::string& so_far) {
    return EachAlternative(std::move(alts),
                           [&](Alt a) { return FieldOne(std::move(a), field, so_far); });
  }

 private:
  // `step` applied to every alternative, their results in order; an alternative it fails on is
  // dropped (a dynamic type the step does not apply to), and the last failure is the error when
  // none is left.
  template <typename Step>
  static absl::StatusOr<std::vector<Alt>> EachAlternative(std::vector<Alt> alts, Step step) {
    std::vector<Alt> out;
    absl::Status last_error;
    for (Alt& a : alts) {
      absl::StatusOr<std::vector<Alt>> r = step(std::move(a));
      if (!r.ok()) {
        last_error = r.status();
        continue;
      }
      for (Alt& x : *r) out.push_back(std::move(x));
    }
    if (out.empty()) return last_error;
    return out;
  }

  // `.field` on one alternative: the field itself, else a promoted one. "x is T, which has no
  // field F" is a ScriptMistake when nothing could give `x.F` a value at any hit: T, not reached
  // through an interface, is a predeclared type (string, int, ...), or a struct with no such
  // field declared or promoted, no embedded interface on the way (Delve looks into one's dynamic
  // value), and no method F of T or of an embedded type (Delve evaluates `x.M` to the method).
  absl::StatusOr<std::vector<Alt>> FieldOne(Alt a, const std::string& field,
                                            const std::string& so_far) {
    const bool guarded = Guarded(a);
    if (a.type.kind == GoKind::kPtr) {
      KDBG_ASSIGN_OR_RETURN(TypeInfo elem, dwarf_.Type(a.type.elem));
      if (elem.kind != GoKind::kStruct) {
        return absl::InvalidArgumentError(
            absl::StrCat(so_far, " is ", a.type.name, ": a pointer to a non-struct has no fields"));
      }
      KDBG_ASSIGN_OR_RETURN(Place p, Deref(a.place));
      a.place = std::move(p);
      a.type = std::move(elem);
    }
    if (a.type.kind == GoKind::kInterface) return Interface(a, field, so_far);
    if (a.type.kind != GoKind::kStruct) {
      absl::Status s = absl::InvalidArgumentError(
          absl::StrCat(so_far, " is ", a.type.name, ", which has no field ", field));
      // A predeclared type (string, int, bool, ...) has neither fields nor methods.
      const bool predeclared =
          (a.type.kind == GoKind::kString ||
           (a.type.kind >= GoKind::kBool && a.type.kind <= GoKind::kComplex128)) &&
          !absl::StrContains(a.type.name, ".");
      return predeclared && !guarded ? ScriptMistake(std::move(s)) : s;
    }
    const std::string type_name = a.type.name;
    // The field itself, else a promoted one: breadth first through the embedded fields (an
    // embedded pointer followed), in declaration order, the shallowest first, as Go selects it
    // and Delve finds it (findStructMemberOrMethod); each struct type once.
    std::deque<Alt> queue{std::move(a)};
    absl::flat_hash_set<std::string> seen;
    std::vector<std::string> fields;  // every field name on the way, for the message's hint
    std::vector<std::string> owners;  // the types whose methods `x.field` could name
    bool open = false;                // an embedded interface, or a type not followed
    while (!queue.empty()) {
      Alt s = std::move(queue.front());
      queue.pop_front();
      if (s.type.kind == GoKind::kPtr) {
        auto elem = dwarf_.Type(s.type.elem);
        if (!elem.ok()) {
          open = true;
          continue;
        }
        if (elem->kind == GoKind::kStruct) {
          auto p = Deref(s.place);
          if (!p.ok()) {
            open = true;
            continue;
          }
          s.place = *std::move(p);
        }
        s.type = *std::move(elem);
      }
      if (s.type.kind != GoKind::kStruct) {
        if (s.type.kind == GoKind::kInterface) open = true;
        owners.push_back(s.type.name);
        continue;
      }
      if (!seen.insert(s.type.name).second) continue;
      owners.push_back(s.type.name);
      for (const gobinary::Member& m : s.type.members) {
        fields.push_back(m.name);
        // An embedded field is named by its type, "Order" (Delve also takes "pkg.Order").
        const bool named =
            m.name == field || (m.embedded && absl::EndsWith(m.name, absl::StrCat(".", field)));
        if (!named && !m.embedded) continue;
        KDBG_ASSIGN_OR_RETURN(TypeInfo mt, dwarf_.Type(m.type));
        Alt next = s;
        next.place = Sub(s.place, m.offset, mt.size);
        next.type = std::move(mt);
        if (named) return std::vector<Alt>{std::move(next)};
        queue.push_back(std::move(next));
      }
    }
    absl::Status missing = absl::InvalidArgumentError(absl::StrCat(
        so_far, " is ", type_name, ", which has no field ", field, FieldHint(field, fields)));
    if (guarded || open || AnyMayHaveMethod(owners, field)) return missing;
    return ScriptMistake(std::move(missing));
  }

  // Whether a type of `owners` ("main.Order", "net/http.Request") may have a method `name`: the
  // binary has "pkg.T.name" or "pkg.(*T).name" (a body, or calls the compiler inlined). True for a
  // name that does not split that way (a generic instantiation, an unnamed type): a refusal is
  // never made on a guess.
  bool AnyMayHaveMethod(const std::vector<std::string>& owners, const std::string& name) {
    std::vector<std::string> candidates;
    for (absl::string_view t : owners) {
      t = absl::StripPrefix(t, "*");
      const size_t slash = t.rfind('/');
      const size_t dot = t.find('.', slash == absl::string_view::npos ? 0 : slash + 1);
      if (absl::StrContains(t, "[") || dot == absl::string_view::npos) return true;
      const absl::string_view pkg = t.substr(0, dot), type = t.substr(dot + 1);
      if (type.empty() || absl::StrContains(type, ".")) return true;
      candidates.push_back(absl::StrCat(pkg, ".", type, ".", name));
      candidates.push_back(absl::StrCat(pkg, ".(*", type, ").", name));
    }
    for (const std::string& c : candidates) {
      if (dwarf_.FindFunction(c).ok() || !dwarf_.InlinedCalls(c).empty()) return true;
    }
    const std::vector<std::string> inlined_only = dwarf_.InlinedOnlyFunctions();
    return std::any_of(candidates.begin(), candidates.end(), [&](const std::string& c) {
      return std::find(inlined_only.begin(), inlined_only.end(), c) != inlined_only.end();
    });
  }

  // `a[index]`: the element's place, behind a length check (CHECK) for a slice or string.
  absl::StatusOr<Alt> IndexOne(Alt a, uint64_t index, const std::string& so_far) {
    if (a.type.kind == GoKind::kArray) {
      KDBG_ASSIGN_OR_RETURN(TypeInfo elem, dwarf_.Type(a.type.elem));
      const uint64_t count = elem.size == 0 ? 0 : a.type.size / elem.size;
      if (index >= count) {
        return absl::InvalidArgumentError(
            absl::StrCat(so_far, " is ", a.type.name, ": index ", index, " out of bounds"));
      }
      a.place = Sub(a.place, index * elem.size, elem.size);
      a.type = std::move(elem);
      return a;
    }
    if (a.type.kind != GoKind::kSlice && a.type.kind != GoKind::kString) {
      return absl::InvalidArgumentError(
          absl::StrCat(so_far, " is ", a.type.name, ", which cannot be indexed"));
    }
    // {str *uint8; len int} and {array *T; len int; cap int}: the element type from the pointer.
    TypeInfo elem;
    if (a.type.kind == GoKind::kString) {
      KDBG_ASSIGN_OR_RETURN(elem, dwarf_.TypeByName("uint8"));
    } else {
      if (a.type.members.empty()) return absl::InternalError("a slice type without members");
      KDBG_ASSIGN_OR_RETURN(TypeInfo array, dwarf_.Type(a.type.members[0].type));
      KDBG_ASSIGN_OR_RETURN(elem, dwarf_.Type(array.elem));
    }
    if (index > static_cast<uint64_t>(INT32_MAX) / std::max<uint64_t>(elem.size, 1)) {
      return absl::InvalidArgumentError(absl::StrCat(so_far, "[", index, "]: index too large"));
    }
    KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> len, Word(a.place, 8, 8));
    KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> data, Word(a.place, 0, 8));
    a.prefix.insert(a.prefix.end(), len.begin(), len.end());
    a.prefix.push_back(Op(KDBG_OP_CHECK, 0, 0, index));
    Place p;
    p.memory = true;
    p.base = std::move(data);
    p.offset = static_cast<int64_t>(index * elem.size);
    a.place = std::move(p);
    a.type = std::move(elem);
    return a;
  }

  // One alternative per dynamic type the interface may hold: a guard on its type descriptor (an
  // empty interface's first word; a non-empty one's itab's Type, itab+8), then the concrete
  // value. Tried in order: the types the binary's itab symbols pair with the interface, then
  // (other_types_) every other type with the field. A guard compares the descriptor, not the
  // itab, so an itab the runtime made (an interface-to-interface conversion, a type assertion to
  // an interface) is matched as well as one the linker wrote.
  absl::StatusOr<std::vector<Alt>> Interface(const Alt& a, const std::string& field,
                                             const std::string& so_far) {
    if (!bias_.has_value()) {
      return absl::UnimplementedError(
          absl::StrCat(so_far,
                       " is an interface in a position-independent executable whose load address "
                       "is not known: use the Delve engine"));
    }
    if (dwarf_.RuntimeTypes().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(so_far,
                       " is an interface, and the binary's DWARF names no runtime type (no "
                       "runtime.types symbol) to tell its dynamic type by: use the Delve engine"));
    }
    std::vector<const gobinary::RuntimeType*> candidates;
    auto add = [&](const gobinary::RuntimeType* r) {
      if (r != nullptr && std::find(candidates.begin(), candidates.end(), r) == candidates.end()) {
        candidates.push_back(r);
      }
    };
    if (!a.type.empty_interface) {
      // A concrete type of an itab symbol without a runtime type in the DWARF cannot be told by
      // its descriptor: not tried (none in the Go 1.24-1.27 binaries checked).
      for (const gobinary::Itab& itab : dwarf_.ItabsFor(a.type.name)) {
        add(types_.Named(itab.concrete));
      }
    }
    const size_t by_itab_symbols = candidates.size();
    if (other_types_) {
      for (const gobinary::RuntimeType* r : types_.WithField(field)) add(r);
    }
    used_other_types_ |= candidates.size() > by_itab_symbols;
    // The word that names the dynamic type: the type descriptor's address.
    KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> type_word, Word(a.place, 0, 8));
    if (!a.type.empty_interface) type_word.push_back(Op(KDBG_OP_LOAD, 8, 8));  // ITab.Type
    KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> data, Word(a.place, 8, 8));
    std::vector<Alt> out;
    std::string last_error;
    for (const gobinary::RuntimeType* r : candidates) {
      auto ct = dwarf_.Type(r->id);
      if (!ct.ok()) continue;
      Alt c;
      c.prefix = a.prefix;
      c.prefix.insert(c.prefix.end(), type_word.begin(), type_word.end());
      c.prefix.push_back(Op(KDBG_OP_GUARD, 0, 0, r->address + *bias_));
      c.type = *ct;
      if (gobinary::IsDirectIface(dwarf_, *ct)) {
        // Pointer-shaped (a pointer, or a struct of one such field): the data word is the value
        // (FieldOne follows a pointer).
        c.place = Sub(a.place, 8, 8);
      } else {
        c.place.memory = true;  // the data word points to a copy of the value
        c.place.base = data;
      }
      auto f = FieldOne(std::move(c), field, absl::StrCat(so_far, ".(", r->name, ")"));
      if (!f.ok()) {
        last_error = std::string(f.status().message());
        continue;
      }
      for (Alt& x : *f) out.push_back(std::move(x));
    }
    if (out.empty()) {
      if (!other_types_ && !types_.WithField(field).empty()) {
        return absl::UnimplementedError(
            absl::StrCat(so_far, " is ", a.type.name, ": the types with a field ", field,
                         " take more read steps than this probe has left; use the Delve engine"));
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "no type ", a.type.empty_interface ? "in the binary" : "implementing " + a.type.name,
          " has a field ", field, last_error.empty() ? "" : absl::StrCat(" (", last_error, ")")));
    }
    return out;
  }

  gobinary::DwarfReader& dwarf_;
  Bias bias_;
  RuntimeTypeTable types_;
  bool other_types_ = true;
  bool used_other_types_ = false;
  Dispatcher* dispatcher_ = nullptr;
  int region_cap_ = KDBG_MAX_SLOTS;
};

// The slot format of a value of kind `k` read in one slot; nullopt for the kinds this engine does
// not read so (arrays, structs, maps, channels, functions, complex numbers).
std::optional<SlotFormat> KindFormat(GoKind k) {
  switch (k) {
    case GoKind::kString:
      return SlotFormat::kString;
    case GoKind::kBool:
      return SlotFormat::kBool;
    case GoKind::kInt:
    case GoKind::kInt8:
    case GoKind::kInt16:
    case GoKind::kInt32:
    case GoKind::kInt64:
      return SlotFormat::kSigned;
    case GoKind::kUint:
    case GoKind::kUint8:
    case GoKind::kUint16:
    case GoKind::kUint32:
    case GoKind::kUint64:
    case GoKind::kUintptr:
      return SlotFormat::kUnsigned;
    case GoKind::kPtr:
    case GoKind::kUnsafePointer:
      return SlotFormat::kPointer;
    case GoKind::kInterface:
      return SlotFormat::kInterface;
    case GoKind::kFloat32:
    case GoKind::kFloat64:
      return SlotFormat::kFloat;
    default:
      return std::nullopt;
  }
}

absl::StatusOr<SlotFormat> ScalarFormat(const TypeInfo& t, int* size) {
  *size = static_cast<int>(t.size == 0 ? 8 : t.size);
  if (std::optional<SlotFormat> f = KindFormat(t.kind)) return *f;
  return absl::UnimplementedError(absl::StrCat(
      t.name, " values (kind ", static_cast<int>(t.kind),
      ") are not read by the eBPF engine: print a string, integer, float, boolean, pointer or "
      "interface field of it, or use the Delve engine"));
}

// The dynamic types an interface slot of type `t` may hold (Slot::dynamic_types): by itab for a
// non-empty interface, by type descriptor for an empty one.
std::shared_ptr<const std::vector<DynamicType>> DynamicTypesOf(gobinary::DwarfReader& dwarf,
                                                               RuntimeTypeTable& types,
                                                               uint64_t bias, const TypeInfo& t) {
  if (t.empty_interface) return types.All();
  auto out = std::make_shared<std::vector<DynamicType>>();
  for (const gobinary::Itab& itab : dwarf.ItabsFor(t.name)) {
    DynamicType d;
    d.word = itab.address + bias;
    d.name = itab.concrete;
    if (absl::StartsWith(d.name, "*")) {
      d.kind = GoKind::kPtr;
    } else if (auto ct = dwarf.TypeByName(d.name); ct.ok()) {
      d.kind = ct->kind;
    }
    out->push_back(std::move(d));
  }
  std::sort(out->begin(), out->end(),
            [](const DynamicType& a, const DynamicType& b) { return a.word < b.word; });
  return out;
}

// The constants Delve describes a value of integer type `t` by (Slot::constants; Delve's
// constantsMap.Get: only a type whose name has a package, sorted by value, their names without the
// type's package), or null.
std::shared_ptr<const std::vector<gobinary::Constant>> ConstantsFor(gobinary::DwarfReader& dwarf,
                                                                    const TypeInfo& t) {
  if (!absl::StrContains(t.name, '.') || absl::StartsWith(t.name, "C.")) return nullptr;
  std::vector<gobinary::Constant> constants = dwarf.ConstantsOf(t.id);
  if (constants.empty()) return nullptr;
  // Delve's packageName: up to the first '.' after the last '/'.
  const size_t slash = t.name.rfind('/');
  const size_t dot = t.name.find('.', slash == std::string::npos ? 0 : slash);
  const std::string prefix = t.name.substr(0, dot + 1);
  for (gobinary::Constant& c : constants) {
    if (absl::StartsWith(c.name, prefix)) c.name.erase(0, prefix.size());
  }
  std::stable_sort(
      constants.begin(), constants.end(),
      [](const gobinary::Constant& a, const gobinary::Constant& b) { return a.value < b.value; });
  return std::make_shared<const std::vector<gobinary::Constant>>(std::move(constants));
}

// Ops that store the two 8-byte words at `offset` within the value in slot.w0 and slot.w1: one
// read after one walk of the chain when the value is in memory.
absl::Status StoreTwoWords(const Place& p, uint64_t offset, std::vector<kdbg_op>* body) {
  if (p.memory) {
    body->insert(body->end(), p.base.begin(), p.base.end());
    body->push_back(
        Op(KDBG_OP_LOAD2, 0, static_cast<int32_t>(p.offset + static_cast<int64_t>(offset))));
    return absl::OkStatus();
  }
  for (uint8_t w = 0; w < 2; ++w) {
    KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> ops, Word(p, offset + 8 * w, 8));
    body->insert(body->end(), ops.begin(), ops.end());
    body->push_back(Op(KDBG_OP_STORE, w));
  }
  return absl::OkStatus();
}

// Appends one alternative filling `slot`: ALT, `body` (each op naming the slot), END.
void AppendAlternative(uint16_t slot, const std::vector<kdbg_op>& body, std::vector<kdbg_op>* ops) {
  kdbg_op alt = Op(KDBG_OP_ALT);
  alt.slot = slot;
  ops->push_back(alt);
  for (kdbg_op o : body) {
    o.slot = slot;
    ops->push_back(o);
  }
  kdbg_op end = Op(KDBG_OP_END);
  end.slot = slot;
  ops->push_back(end);
}

// What a slot reads of its value.
enum class Read {
  kValue,        // the value (ScalarFormat)
  kLen,          // len() of a string, slice, map or channel
  kCap,          // cap() of a slice or channel
  kSliceHeader,  // a slice's len and cap (SlotFormat::kSliceHeader; its elements are not read)
};

// What a print or condition reads of its expression's value.
Read ReadOf(const Expr& e) {
  if (e.len) return Read::kLen;
  return e.cap ? Read::kCap : Read::kValue;
}

// Appends the ops of one slot: every alternative, in order.
absl::Status EmitSlot(gobinary::DwarfReader& dwarf, RuntimeTypeTable& types, Bias bias,
                      const std::vector<Alt>& alts, Read read, uint16_t slot,
                      std::vector<kdbg_op>* ops, Slot* meta) {
  bool first = true;
  for (const Alt& a : alts) {
    std::vector<kdbg_op> body = a.prefix;
    SlotFormat f;
    int size = 8;
    std::string type = a.type.name;
    if (read == Read::kLen) {
      if (a.type.kind == GoKind::kMap || a.type.kind == GoKind::kChan) {
        // A map or channel is a pointer to its header, whose first word is the count: Go 1.24+'s
        // internal/runtime/maps.Map{used uint64; ...}, before it runtime.hmap{count int; ...};
        // runtime.hchan{qcount uint; dataqsiz uint; ...}. A nil one's len is 0.
        KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> w, Word(a.place, 0, 8));
        body.insert(body.end(), w.begin(), w.end());
        body.push_back(Op(KDBG_OP_LOAD0, 8, 0));
      } else if (a.type.kind == GoKind::kString || a.type.kind == GoKind::kSlice) {
        KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> w, Word(a.place, 8, 8));
        body.insert(body.end(), w.begin(), w.end());
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("len() of ", a.type.name, ": only strings, slices, maps and channels"));
      }
      body.push_back(Op(KDBG_OP_STORE, 0));
      f = SlotFormat::kSigned;
      type = "int";
    } else if (read == Read::kCap) {
      if (a.type.kind == GoKind::kChan) {
        // runtime.hchan's second word, dataqsiz (a nil channel's cap is 0).
        KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> w, Word(a.place, 0, 8));
        body.insert(body.end(), w.begin(), w.end());
        body.push_back(Op(KDBG_OP_LOAD0, 8, 8));
      } else if (a.type.kind == GoKind::kSlice) {
        KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> w, Word(a.place, 16, 8));
        body.insert(body.end(), w.begin(), w.end());
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("cap() of ", a.type.name, ": only slices and channels"));
      }
      body.push_back(Op(KDBG_OP_STORE, 0));
      f = SlotFormat::kSigned;
      type = "int";
    } else if (read == Read::kSliceHeader) {
      if (a.type.kind != GoKind::kSlice) {
        return absl::InvalidArgumentError(absl::StrCat(a.type.name, " is not a slice"));
      }
      KDBG_RETURN_IF_ERROR(StoreTwoWords(a.place, 8, &body));  // {array, len, cap}
      f = SlotFormat::kSliceHeader;
    } else {
      KDBG_ASSIGN_OR_RETURN(f, ScalarFormat(a.type, &size));
      if (f == SlotFormat::kInterface && !bias.has_value()) {
        return absl::UnimplementedError(absl::StrCat(
            a.type.name,
            " is an interface in a position-independent executable whose load address is not "
            "known: use the Delve engine"));
      }
      if (f == SlotFormat::kString || f == SlotFormat::kInterface) {
        // Two words: {pointer, length}, {itab, data}.
        KDBG_RETURN_IF_ERROR(StoreTwoWords(a.place, 0, &body));
        if (f == SlotFormat::kString) body.push_back(Op(KDBG_OP_STR));
      } else {
        KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> w0, Word(a.place, 0, size));
        body.insert(body.end(), w0.begin(), w0.end());
        body.push_back(Op(KDBG_OP_STORE, 0));
      }
    }
    if (first) {
      meta->format = f;
      meta->size = size;
      meta->type = type;
      if (read == Read::kValue && (f == SlotFormat::kSigned || f == SlotFormat::kUnsigned)) {
        meta->constants = ConstantsFor(dwarf, a.type);
      }
      if (f == SlotFormat::kInterface) {
        meta->dynamic_types = DynamicTypesOf(dwarf, types, *bias, a.type);
        meta->by_itab = !a.type.empty_interface;
      }
      first = false;
    } else if (meta->format != f || meta->size != size ||
               ((f == SlotFormat::kPointer || f == SlotFormat::kInterface) && meta->type != type)) {
      // Pointers and interfaces print their type: alternatives must agree on it.
      continue;  // a dynamic type whose field differs in kind: not compiled
    }
    if (meta->guard_types == nullptr && Guarded(a)) meta->guard_types = types.All();
    AppendAlternative(slot, body, ops);
  }
  return absl::OkStatus();
}

// The payload marking a whole value's failure as a value Delve shows and this engine does not
// read (NotReadError), not a limit or a location.
constexpr char kNotReadPayload[] = "kdbg.dev/ebpf/not-read";
// The payload marking a whole value's failure as one of room (WholeValue::Room).
constexpr char kRoomPayload[] = "kdbg.dev/ebpf/room";
bool IsRoom(const absl::Status& s) { return s.GetPayload(kRoomPayload).has_value(); }
bool IsNotRead(const absl::Status& s) { return s.GetPayload(kNotReadPayload).has_value(); }

// What of a value Delve loads (proc.LoadConfig), as far as it shapes a value of the kinds
// WholeValue reads; MaxVariableRecurse is 1 in both of kdbg's.
struct LoadConfig {
  bool follow_pointers = true;
  int max_struct_fields = -1;  // -1: all
  int max_array_values = 64;
};
// A print's (proc.LoadFullValue), and a hit's arguments' (the LoadArgs the Delve engine sets on its
// breakpoints, agent/delve/rpc_client.cc: pointers not followed, the first 3 fields of a struct).
constexpr LoadConfig kPrintLoad{true, -1, 64};
constexpr LoadConfig kArgsLoad{false, 3, 16};
constexpr int kMaxVariableRecurse = 1;

// The slots of a record a tracepoint's prints take at most (a slot kept for each print after one);
// its arguments take those left.
constexpr int kPrintSlots = 96;
// The slots of a region a subprogram reads a dynamic value into: its first holds the descriptor.
constexpr int kMaxRegion = 15;
// The slots one element of a slice may take (KDBG_OP_EACH).
constexpr int kMaxElementSlots = 32;
// The caps on a region tried in turn while a hit's values do not fit (WholeValue::EmitFitting,
// CompileProbe): a region takes its interface's largest subprogram within the cap.
constexpr int kRegionCaps[] = {kMaxRegion, 7, 3};

// What Delve prints of a value and the eBPF engine does not read (IsNotRead): `path` is `type`
// `what`.
absl::Status NotReadError(const std::string& path, const std::string& type,
                          absl::string_view what) {
  absl::Status s = absl::UnimplementedError(absl::StrCat(
      path, " is ", type, what,
      "; the eBPF engine prints whole values of strings, numbers, booleans, pointers, interfaces, "
      "structs, slices and maps of them, as Delve does: print the fields needed, or use --engine "
      "delve"));
  s.SetPayload(kNotReadPayload, absl::Cord("1"));
  return s;
}

// Compiles a value printed whole (Slot::whole), a pointer or a struct, as Delve loads it
// (proc.(*Variable).loadValueInternal) with `config`: each string, number, boolean and pointer word
// it shows takes a record slot, from `first` up to `limit` (exclusive). With a `dispatcher`, a
// non-empty interface's dynamic value (KDBG_OP_CALL) and a slice's elements other than numbers
// (KDBG_OP_EACH) are read too, by subprograms; without one they are NotRead. `nest`: the CALLs
// and EACHs the code compiled runs inside (0 for a probe's own ops), at most KDBG_MAX_CALL_DEPTH.
class WholeValue {
 public:
  WholeValue(gobinary::DwarfReader& dwarf, RuntimeTypeTable& types, Bias bias, LoadConfig config,
             uint16_t first, uint16_t limit, std::vector<kdbg_op>* ops,
             Dispatcher* dispatcher = nullptr, int nest = 0)
      : dwarf_(dwarf),
        types_(types),
        bias_(bias),
        config_(config),
        first_(first),
        next_(first),
        limit_(limit),
        ops_(ops),
        dispatcher_(dispatcher),
        nest_(nest) {}

  // The value `a` (named `path` in errors: "n.Next.At") at recursion level `level`, printed
  // `depth` deep (delve::kFormatDepth). Unimplemented for a value Delve loads that this engine does
  // not read (elements of slices, arrays and maps, empty interfaces' dynamic values, ...; a
  // non-empty interface's without a dispatcher), or more slots
  // than `limit` leaves.
  absl::Status Emit(const Alt& a, const std::string& path, int level, int depth, ValueNode* node) {
    node->type = a.type.name;
    node->kind = a.type.kind;
    // Printed as its type and {...}: nothing to read.
    if (depth > delve::kFormatDepth && a.type.kind != GoKind::kString) return absl::OkStatus();
    switch (a.type.kind) {
      case GoKind::kPtr: {
        KDBG_ASSIGN_OR_RETURN(TypeInfo elem, dwarf_.Type(a.type.elem));
        if (elem.kind == GoKind::kInterface && config_.follow_pointers) {
          return NotReadError(path, a.type.name, ", a pointer to an interface");
        }
        KDBG_RETURN_IF_ERROR(Leaf(a, path, node));
        ValueNode& target = node->children.emplace_back();
        target.type = elem.name;
        target.kind = elem.kind;
        // A pointer to a pointer goes one level deeper, and past kMaxVariableRecurse is not
        // followed.
        const bool to_pointer = elem.kind == GoKind::kPtr;
        if (!config_.follow_pointers || (to_pointer && level > kMaxVariableRecurse)) {
          node->only_addr = true;
          return absl::OkStatus();
        }
        Alt t;
        t.prefix = a.prefix;
        KDBG_ASSIGN_OR_RETURN(t.place, Deref(a.place));
        t.type = std::move(elem);
        return Emit(t, path, to_pointer ? level + 1 : level, depth + 1, &target);
      }
      case GoKind::kStruct: {
        node->fields = static_cast<int64_t>(a.type.members.size());
        if (level > kMaxVariableRecurse) return absl::OkStatus();  // its fields not loaded
        for (const gobinary::Member& m : a.type.members) {
          if (config_.max_struct_fields >= 0 &&
              std::cmp_greater_equal(node->children.size(), config_.max_struct_fields)) {
            break;
          }
          // A closure's captured variable ("&x"): Delve reads it through the pointer.
          if (absl::StartsWith(m.name, "&"))
            return NotReadError(path, a.type.name, ", a closure's variables");
          Alt f;
          f.prefix = a.prefix;
          KDBG_ASSIGN_OR_RETURN(f.type, dwarf_.Type(m.type));
          f.place = Sub(a.place, m.offset, f.type.size);
          ValueNode& field = node->children.emplace_back();
          field.name = m.name;
          KDBG_RETURN_IF_ERROR(
              Emit(f, absl::StrCat(path, ".", m.name), level + 1, depth + 1, &field));
        }
        return absl::OkStatus();
      }
      case GoKind::kArray:
      case GoKind::kSlice:
        return Elements(a, path, level, depth, node);
      case GoKind::kInterface:
        return Interface(a, path, level, depth, node);
      case GoKind::kMap:
        return MapEntries(a, path, level, depth, node);
      default: {
        int size = 0;
        if (!ScalarFormat(a.type, &size).ok() || a.type.kind == GoKind::kUnsafePointer) {
          return NotReadError(path, a.type.name, "");
        }
        return Leaf(a, path, node);
      }
    }
  }

  // The slots taken so far.
  int slots() const { return next_ - first_; }

  // At most `cap` slots for an interface's region (kMaxRegion unless set).
  void set_region_cap(int cap) { max_region_ = cap; }

  // Emit, giving each interface's region (its largest dynamic type's subprogram, which the fields
  // after it may need room beside) at most each of kRegionCaps in turn, from the cap set: the
  // first that fits.
  absl::Status EmitFitting(const Alt& a, const std::string& path, int level, int depth,
                           ValueNode* node) {
    const size_t ops_before = ops_->size();
    const ValueNode start = *node;
    absl::Status s;
    for (int cap : kRegionCaps) {
      if (cap > max_region_) continue;
      ops_->resize(ops_before);
      *node = start;
      next_ = first_;
      region_cap_ = cap;
      s = Emit(a, path, level, depth, node);
      if (s.ok() || !s.GetPayload(kRoomPayload).has_value()) return s;
    }
    return s;
  }

 private:
  absl::Status Interface(const Alt& a, const std::string& path, int level, int depth,
                         ValueNode* node);
  absl::Status EachElement(const Alt& a, const std::string& path, int level, int depth,
                           ValueNode* node);
  absl::Status MapEntries(const Alt& a, const std::string& path, int level, int depth,
                          ValueNode* node);

  // NotRead for a CALL, EACH or MAP of `a` past KDBG_MAX_CALL_DEPTH of them.
  absl::Status NestWithin(const Alt& a, const std::string& path) const {
    if (nest_ < KDBG_MAX_CALL_DEPTH) return absl::OkStatus();
    return NotReadError(path, a.type.name,
                        absl::StrCat(", nested in more than ", KDBG_MAX_CALL_DEPTH,
                                     " interfaces, slices and maps"));
  }

  // An array or slice, as Delve loads its elements (proc.(*Variable).loadArrayValues: the first
  // MaxArrayValues, at the next recursion level). Of numbers or booleans (ValueNode::element): an
  // array of at most 64 bytes, in 16-byte slots; a slice's header, then the bytes of its first
  // MaxArrayValues elements copied as a string's bytes are, 64 to a slot. A slice of other
  // elements: by its element type's subprogram (EachElement). Other arrays: NotRead.
  absl::Status Elements(const Alt& a, const std::string& path, int level, int depth,
                        ValueNode* node) {
    gobinary::TypeId elem_id = a.type.elem;
    if (a.type.kind == GoKind::kSlice) {  // {array *T, len, cap}
      if (a.type.members.empty()) return NotReadError(path, a.type.name, "");
      KDBG_ASSIGN_OR_RETURN(TypeInfo data, dwarf_.Type(a.type.members.front().type));
      elem_id = data.elem;
    }
    KDBG_ASSIGN_OR_RETURN(TypeInfo elem, dwarf_.Type(elem_id));
    node->max_elements = config_.max_array_values;
    int size = 0;
    auto format = ScalarFormat(elem, &size);
    const bool number = format.ok() && *format != SlotFormat::kString &&
                        *format != SlotFormat::kPointer && *format != SlotFormat::kInterface &&
                        elem.size > 0 && elem.size <= 8;
    if (a.type.kind == GoKind::kSlice && !number) return EachElement(a, path, level, depth, node);
    if (!number || (a.type.kind == GoKind::kArray && a.type.size > 4 * 16)) {
      return NotReadError(path, a.type.name, "");
    }
    node->element.type = elem.name;
    node->element.format = *format;
    node->element.size = size;
    node->element.constants = ConstantsFor(dwarf_, elem);
    if (a.type.kind == GoKind::kSlice) {
      KDBG_RETURN_IF_ERROR(Leaf(a, path, node, Read::kSliceHeader));
      // The STR op copies at most KDBG_STR_MAX elements' bytes, KDBG_STR_MAX bytes to a slot.
      const int bytes = std::min(node->max_elements, KDBG_STR_MAX) * static_cast<int>(elem.size);
      node->slots = 1;
      for (int at = 0; at < bytes; at += KDBG_STR_MAX) {
        std::vector<kdbg_op> chunk = a.prefix;
        KDBG_RETURN_IF_ERROR(StoreTwoWords(a.place, 0, &chunk));  // {data, len}
        chunk.push_back(
            Op(KDBG_OP_STR, static_cast<uint8_t>(elem.size), 0, static_cast<uint64_t>(at)));
        KDBG_RETURN_IF_ERROR(Raw(path, chunk));
        ++node->slots;
      }
      return absl::OkStatus();
    }
    node->array_len = static_cast<int64_t>(a.type.size / elem.size);
    node->slot = next_ - first_;
    for (uint64_t at = 0; at < a.type.size; at += 16) {
      std::vector<kdbg_op> chunk = a.prefix;
      for (uint8_t w = 0; w < 2 && at + 8 * w < a.type.size; ++w) {
        KDBG_ASSIGN_OR_RETURN(
            std::vector<kdbg_op> word,
            Word(a.place, at + 8 * w, std::min<uint64_t>(8, a.type.size - at - 8 * w)));
        chunk.insert(chunk.end(), word.begin(), word.end());
        chunk.push_back(Op(KDBG_OP_STORE, w));
      }
      KDBG_RETURN_IF_ERROR(Raw(path, chunk));
      ++node->slots;
    }
    return absl::OkStatus();
  }

  // The next slot, filled by `body` (one alternative).
  absl::Status Raw(const std::string& path, const std::vector<kdbg_op>& body) {
    KDBG_RETURN_IF_ERROR(Room(path));
    AppendAlternative(next_++, body, ops_);
    return absl::OkStatus();
  }

  // `a` read into the next slot as EmitSlot reads it (`read`: kValue, or a slice's kSliceHeader).
  absl::Status Leaf(const Alt& a, const std::string& path, ValueNode* node,
                    Read read = Read::kValue) {
    KDBG_RETURN_IF_ERROR(Room(path));
    KDBG_RETURN_IF_ERROR(EmitSlot(dwarf_, types_, bias_, {a}, read, next_, ops_, &node->leaf));
    node->slot = next_++ - first_;
    return absl::OkStatus();
  }

  absl::Status Room(const std::string& path) const {
    if (next_ < limit_) return absl::OkStatus();
    absl::Status s = absl::UnimplementedError(absl::StrCat(
        path, ": the value printed whole takes more slots than are left for it (a hit carries ",
        KDBG_MAX_SLOTS, ", ", kPrintSlots,
        " for its prints); print the fields needed, or use --engine delve"));
    s.SetPayload(kRoomPayload, absl::Cord("1"));
    return s;
  }

  gobinary::DwarfReader& dwarf_;
  RuntimeTypeTable& types_;
  Bias bias_;
  LoadConfig config_;
  uint16_t first_;
  uint16_t next_;
  uint16_t limit_;
  std::vector<kdbg_op>* ops_;
  Dispatcher* dispatcher_;
  int nest_;
  int region_cap_ = KDBG_MAX_SLOTS;
  int max_region_ = kMaxRegion;
};

// Compiles the subprograms of the dynamic types printed interfaces may hold (Subprograms), each
// (type, variant) once per plan, into `out`.
class Dispatcher {
 public:
  Dispatcher(gobinary::DwarfReader& dwarf, RuntimeTypeTable& types, uint64_t bias,
             std::shared_ptr<Subprograms> out)
      : dwarf_(dwarf), types_(types), bias_(bias), out_(std::move(out)) {}

  std::shared_ptr<const Subprograms> subprograms() const { return out_; }
  // Whether a type was left out because the subprograms were full.
  bool full() const { return full_; }

  // The variant of a subprogram: what shapes the value it reads (probe_abi.h, KDBG_OP_CALL).
  static uint32_t Variant(LoadConfig config, int level, int depth, int nest) {
    return static_cast<uint32_t>(nest * 512 + (config.follow_pointers ? 0 : 256) +
                                 std::min(level, 15) * 16 + std::min(depth, 15));
  }

  // What a CALL for an interface of type `iface` at recursion level `level`, its dynamic value at
  // format depth `depth`, run inside `nest` CALLs and EACHs, runs: the variant, and the slots of
  // its region (the largest of the subprograms of its dynamic types that fit in `room`).
  // Unimplemented (NotRead) when none does.
  struct Site {
    uint32_t variant = 0;
    int slots = 0;
  };
  absl::StatusOr<Site> For(const TypeInfo& iface, const std::string& path, LoadConfig config,
                           int level, int depth, int nest, int room) {
    Site site;
    site.variant = Variant(config, level, depth, nest);
    bool over_room = false;
    for (const gobinary::RuntimeType* r : Candidates(iface)) {
      const DynamicValue* v = Compile(*r, config, level, depth, nest, site.variant);
      if (v != nullptr && v->slots <= room) site.slots = std::max(site.slots, v->slots);
      over_room |= v != nullptr && v->slots > room;
    }
    if (site.slots == 0 && over_room) {
      absl::Status s = absl::UnimplementedError(absl::StrCat(
          path, " is ", iface.name,
          ": the values of its dynamic types take more slots than are left (a hit carries ",
          KDBG_MAX_SLOTS, ", ", kPrintSlots,
          " for its prints); print the fields needed, or use --engine delve"));
      s.SetPayload(kRoomPayload, absl::Cord("1"));
      return s;
    }
    if (site.slots == 0) {
      absl::Status s = absl::UnimplementedError(
          absl::StrCat(path, " is ", iface.name,
                       ": no dynamic type it holds in this binary is one the eBPF engine prints; "
                       "print the fields needed, or use --engine delve"));
      s.SetPayload(kNotReadPayload, absl::Cord("1"));
      return s;
    }
    return site;
  }

  // The subprogram reading one element of type `elem` (of slice `path`) at recursion level
  // `level` (its elements'), printed `depth` deep, run inside `nest` CALLs and EACHs (its EACH's
  // included), its interfaces' regions at most `region_cap` slots: compiled the first time, with
  // the element's address as KDBG_REG_DATA, in at most kMaxElementSlots slots. NotRead when this
  // engine does not read such an element (not remembered: the error names `path`).
  absl::StatusOr<const ElementValue*> Element(gobinary::TypeId elem, const std::string& path,
                                              LoadConfig config, int level, int depth, int nest,
                                              int region_cap) {
    const std::pair<uint32_t, uint64_t> key{
        Variant(config, level, depth, nest) + (static_cast<uint32_t>(region_cap) << 16), elem};
    if (auto it = out_->elements.find(key); it != out_->elements.end()) return &it->second;
    KDBG_ASSIGN_OR_RETURN(TypeInfo t, dwarf_.Type(elem));
    Alt a;
    a.type = std::move(t);
    a.place.memory = true;
    a.place.base = {Op(KDBG_OP_REG, KDBG_REG_DATA)};
    ElementValue v;
    std::vector<kdbg_op> ops;
    WholeValue whole(dwarf_, types_, bias_, config, 0, kMaxElementSlots, &ops, this, nest);
    whole.set_region_cap(region_cap);
    if (absl::Status s = whole.EmitFitting(a, absl::StrCat(path, "[0]"), level, depth, &v.shape);
        !s.ok()) {
      if (!IsRoom(s)) return s;
      // Not Room for the caller: EmitFitting tried the smaller regions, and no other value's
      // room would make an element fit.
      return absl::UnimplementedError(absl::StrCat(
          path, ": an element or entry of it takes more than the ", kMaxElementSlots,
          " slots this engine gives one; print the fields needed, or use --engine delve"));
    }
    ops.push_back(Op(KDBG_OP_RET));
    std::optional<uint32_t> pc = Place(ops, whole.slots());
    if (!pc.has_value()) {
      return NotReadError(path, "a slice or map", " whose elements' subprogram does not fit");
    }
    v.pc = *pc;
    v.slots = whole.slots();
    return &out_->elements.emplace(key, std::move(v)).first->second;
  }

 private:
  // The types whose subprograms a CALL on an interface of type `iface` looks up: for a non-empty
  // interface those the binary's itab symbols pair with it, by name; for an empty one (any holds
  // any type, and no symbol pairs a type with it) the scalar types, whose values are one slot
  // each (ScalarCandidate): the predeclared ones, then named ones in the binary's order up to
  // kMaxEmptyInterfaceTypes (Delve's own binary has 361 scalar types; a large service's many
  // named strings would otherwise take the dispatch table's room from its interfaces' types).
  const std::vector<const gobinary::RuntimeType*>& Candidates(const TypeInfo& iface) {
    auto [it, added] = candidates_.try_emplace(iface.name);
    if (!added) return it->second;
    if (!iface.empty_interface) {
      for (const gobinary::Itab& itab : dwarf_.ItabsFor(iface.name)) {
        if (const gobinary::RuntimeType* r = types_.Named(itab.concrete)) it->second.push_back(r);
      }
      return it->second;
    }
    std::vector<const gobinary::RuntimeType*> named;
    for (const gobinary::RuntimeType& r : dwarf_.RuntimeTypes()) {
      if (!ScalarCandidate(r.kind)) continue;
      (absl::StrContains(r.name, ".") ? named : it->second).push_back(&r);
    }
    it->second.insert(it->second.end(), named.begin(), named.end());
    if (it->second.size() > kMaxEmptyInterfaceTypes) it->second.resize(kMaxEmptyInterfaceTypes);
    return it->second;
  }
  static constexpr size_t kMaxEmptyInterfaceTypes = 1024;

  // The kinds an empty interface's candidates have: those read in one slot (KindFormat) but
  // pointers and interfaces, whose targets Delve prints.
  static bool ScalarCandidate(GoKind k) {
    std::optional<SlotFormat> f = KindFormat(k);
    return f.has_value() && *f != SlotFormat::kPointer && *f != SlotFormat::kInterface;
  }

  // Where `ops`, a subprogram of `slots` slots, start in the subprograms: an identical one already
  // there is shared (the subprograms of `int` and of `time.Duration` read the same 8 bytes; a
  // subprogram's ops are position-independent, as it is compiled before its place is known); else
  // they are appended. Null (and full()) when they do not fit KDBG_MAX_SUBOPS.
  std::optional<uint32_t> Place(const std::vector<kdbg_op>& ops, int slots) {
    std::string key = absl::StrCat(slots, ":");
    key.append(reinterpret_cast<const char*>(ops.data()), ops.size() * sizeof(kdbg_op));
    if (auto it = placed_.find(key); it != placed_.end()) return it->second;
    if (out_->ops.size() + ops.size() > KDBG_MAX_SUBOPS) {
      full_ = true;
      return std::nullopt;
    }
    const auto pc = static_cast<uint32_t>(out_->ops.size());
    out_->ops.insert(out_->ops.end(), ops.begin(), ops.end());
    placed_.emplace(std::move(key), pc);
    return pc;
  }

  // The subprogram of `r` for `variant`, compiled the first time; null when this engine does not
  // read its value (or the subprograms are full).
  const DynamicValue* Compile(const gobinary::RuntimeType& r, LoadConfig config, int level,
                              int depth, int nest, uint32_t variant) {
    const std::pair<uint32_t, uint64_t> key{variant, r.address + bias_};
    if (!tried_.insert(key).second) return out_->Find(key.first, key.second);
    auto t = dwarf_.Type(r.id);
    if (!t.ok()) return nullptr;
    Alt a;
    a.type = *t;
    if (gobinary::IsDirectIface(dwarf_, *t)) {
      a.place = DataWord();  // the data word is the value
    } else {
      a.place.memory = true;  // the data word points to a copy of the value
      a.place.base = {Op(KDBG_OP_REG, KDBG_REG_DATA)};
    }
    DynamicValue v;
    v.word = key.second;
    v.variant = variant;
    v.data.name = "data";
    std::vector<kdbg_op> ops;
    WholeValue whole(dwarf_, types_, bias_, config, 1, kMaxRegion, &ops, this, nest);
    if (!whole.EmitFitting(a, r.name, level, depth, &v.data).ok()) return nullptr;
    ops.push_back(Op(KDBG_OP_RET));
    if (out_->values.size() >= KDBG_MAX_DISPATCH) {
      full_ = true;
      return nullptr;
    }
    std::optional<uint32_t> pc = Place(ops, 1 + whole.slots());
    if (!pc.has_value()) return nullptr;
    v.pc = *pc;
    v.slots = 1 + whole.slots();
    return &out_->values.emplace(key, std::move(v)).first->second;
  }

  gobinary::DwarfReader& dwarf_;
  RuntimeTypeTable& types_;
  const uint64_t bias_;
  std::shared_ptr<Subprograms> out_;
  // Node-based: Compile, while For walks one interface's list, may add another's.
  absl::node_hash_map<std::string, std::vector<const gobinary::RuntimeType*>> candidates_;
  absl::flat_hash_set<std::pair<uint32_t, uint64_t>> tried_;
  absl::flat_hash_map<std::string, uint32_t> placed_;  // Place's runs, by their bytes
  bool full_ = false;
};

// Whether a value of type `t` (printed, an argument or a result) is read by its dynamic type's
// subprogram: an interface, when there is a dispatcher (an empty one not everywhere:
// WholeValue::Interface).
bool ReadsDynamicValue(const TypeInfo& t, const Dispatcher* d) {
  return d != nullptr && t.kind == GoKind::kInterface;
}

// The subprograms a value compiled with `d` names (null without one): what its Slot holds.
std::shared_ptr<const Subprograms> SubprogramsOf(const Dispatcher* d) {
  return d != nullptr ? d->subprograms() : nullptr;
}

// Whether kRegionCaps has a smaller cap than `cap` left to try.
bool SmallerRegionsLeft(int cap) { return cap > kRegionCaps[std::size(kRegionCaps) - 1]; }

// An interface: its two words; its dynamic value as Delve loads it (proc.(*Variable).loadInterface:
// at the interface's own level while that is at most kMaxVariableRecurse, else by address), by the
// subprogram of its dynamic type, whose region follows the words. An empty interface's
// subprograms are those of the scalar types (Dispatcher::Candidates; another type shows its type
// and address, which is what Delve shows where it does not follow pointers): read as the value
// printed, and anywhere in an argument or result (`args ...any`'s elements); a print holding one
// deeper (a struct's field, a slice's element), where Delve prints every type whole, stays
// NotRead and runs on Delve.
absl::Status WholeValue::Interface(const Alt& a, const std::string& path, int level, int depth,
                                   ValueNode* node) {
  const bool any_in_print = a.type.empty_interface && depth > 0 && config_.follow_pointers;
  if (any_in_print) {
    return NotReadError(path, a.type.name,
                        ", an empty interface inside a value printed whole (print it on its own)");
  }
  if (!ReadsDynamicValue(a.type, dispatcher_) || !bias_.has_value()) {
    return NotReadError(path, a.type.name, a.type.empty_interface ? ", an empty interface" : "");
  }
  KDBG_RETURN_IF_ERROR(Leaf(a, path, node));
  if (level > kMaxVariableRecurse) {
    node->only_addr = true;
    return absl::OkStatus();
  }
  KDBG_RETURN_IF_ERROR(NestWithin(a, path));
  KDBG_ASSIGN_OR_RETURN(Dispatcher::Site site,
                        dispatcher_->For(a.type, path, config_, level, depth + 1, nest_ + 1,
                                         std::min(limit_ - next_, region_cap_)));
  node->region = next_ - first_;
  node->region_slots = site.slots;
  node->variant = site.variant;
  kdbg_op call =
      Op(KDBG_OP_CALL,
         static_cast<uint8_t>(site.slots | (a.type.empty_interface ? 0 : KDBG_CALL_ITAB)),
         static_cast<int32_t>(next_), site.variant);
  call.slot = static_cast<uint16_t>(first_ + node->slot);
  ops_->push_back(call);
  next_ = static_cast<uint16_t>(next_ + site.slots);
  return absl::OkStatus();
}

// A slice of elements other than numbers: its length and capacity, its data pointer, and an EACH
// that reads its first MaxArrayValues elements, each by its element type's subprogram at the next
// recursion level, as Delve loads them, into the record's slots past the probe's own (as many as
// fit at the hit: probe_abi.h). Elements that take no slot (a struct past the recursion level,
// a value past the format's depth) need no EACH: they print from their shape alone.
absl::Status WholeValue::EachElement(const Alt& a, const std::string& path, int level, int depth,
                                     ValueNode* node) {
  if (dispatcher_ == nullptr) return NotReadError(path, a.type.name, "");
  KDBG_RETURN_IF_ERROR(NestWithin(a, path));
  KDBG_ASSIGN_OR_RETURN(TypeInfo data, dwarf_.Type(a.type.members.front().type));
  KDBG_ASSIGN_OR_RETURN(TypeInfo elem, dwarf_.Type(data.elem));
  if (elem.size == 0 || elem.size > 0xffffff) return NotReadError(path, a.type.name, "");
  const int max = std::min(config_.max_array_values, 255);
  KDBG_ASSIGN_OR_RETURN(const ElementValue* e,
                        dispatcher_->Element(data.elem, path, config_, level + 1, depth + 1,
                                             nest_ + 1, std::min(region_cap_, max_region_)));
  KDBG_RETURN_IF_ERROR(Leaf(a, path, node, Read::kSliceHeader));
  node->region = next_ - first_;
  std::vector<kdbg_op> pointer = a.prefix;
  KDBG_ASSIGN_OR_RETURN(std::vector<kdbg_op> w, Word(a.place, 0, 8));
  pointer.insert(pointer.end(), w.begin(), w.end());
  pointer.push_back(Op(KDBG_OP_STORE, 0));
  KDBG_RETURN_IF_ERROR(Raw(path, pointer));
  if (e->slots > 0) {
    kdbg_op each = Op(KDBG_OP_EACH, static_cast<uint8_t>(e->slots), node->region + first_,
                      KDBG_EACH_IMM(KDBG_MAX_OPS + e->pc, elem.size, max));
    each.slot = static_cast<uint16_t>(first_ + node->slot);
    ops_->push_back(each);
  }
  node->element_slots = e->slots;
  node->children.push_back(e->shape);
  node->slots = next_ - first_ - node->slot;
  return absl::OkStatus();
}

// The runtime's slot of map `map` (Go 1.24+ swiss tables, internal/runtime/maps), `struct { key K;
// elem V }`, from the types Go's linker writes for each map type ("map[string]int" -> pointer to
// "map<string,int>" {used uint64 +0; seed; dirPtr **table<string,int> +16; dirLen int +24; ...},
// "table<string,int>" {...; groups groupReference<string,int> +16}, groupReference {data
// *noalg.map.group[string]int +0; lengthMask uint64 +8}, the group {ctrl uint64 +0; slots
// [8]struct { key string; elem int } +8}), checked against the layout the BPF program walks
// (probe_abi.h, KDBG_OP_MAP). NotRead for another layout (Go before 1.24: runtime.hmap's buckets)
// or a key or element stored by pointer (over 128 bytes).
absl::StatusOr<TypeInfo> SwissSlot(gobinary::DwarfReader& dwarf, const TypeInfo& map,
                                   const std::string& path) {
  auto other = [&](absl::string_view why) {
    return NotReadError(path, map.name, absl::StrCat(" (", why, ")"));
  };
  // A type the DWARF does not give says so as any other layout does (NotRead).
  auto type = [&](gobinary::TypeId id) -> absl::StatusOr<TypeInfo> {
    auto t = dwarf.Type(id);
    if (!t.ok()) return other(absl::StrCat("its DWARF: ", t.status().message()));
    return t;
  };
  auto member = [&](const TypeInfo& t, absl::string_view name,
                    uint64_t offset) -> absl::StatusOr<TypeInfo> {
    for (const gobinary::Member& m : t.members) {
      if (m.name == name && m.offset == offset) return type(m.type);
    }
    return other(absl::StrCat("not a Go 1.24+ map: ", t.name, " has no ", name, " at +", offset));
  };
  if (map.elem == 0 || map.key == 0 || map.value == 0) {
    return other("its runtime header is not in the DWARF");
  }
  KDBG_ASSIGN_OR_RETURN(TypeInfo header, type(map.elem));
  KDBG_ASSIGN_OR_RETURN(TypeInfo used, member(header, "used", 0));
  KDBG_ASSIGN_OR_RETURN(TypeInfo dir_len, member(header, "dirLen", 24));
  KDBG_ASSIGN_OR_RETURN(TypeInfo dir_ptr, member(header, "dirPtr", 16));
  KDBG_ASSIGN_OR_RETURN(TypeInfo table_ptr, type(dir_ptr.elem));
  KDBG_ASSIGN_OR_RETURN(TypeInfo table, type(table_ptr.elem));
  KDBG_ASSIGN_OR_RETURN(TypeInfo groups, member(table, "groups", 16));
  KDBG_ASSIGN_OR_RETURN(TypeInfo mask, member(groups, "lengthMask", 8));
  KDBG_ASSIGN_OR_RETURN(TypeInfo data, member(groups, "data", 0));
  KDBG_ASSIGN_OR_RETURN(TypeInfo group, type(data.elem));
  KDBG_ASSIGN_OR_RETURN(TypeInfo ctrl, member(group, "ctrl", 0));
  KDBG_ASSIGN_OR_RETURN(TypeInfo slots, member(group, "slots", 8));
  KDBG_ASSIGN_OR_RETURN(TypeInfo slot, type(slots.elem));
  if (used.size != 8 || dir_len.size != 8 || mask.size != 8 || ctrl.size != 8 || slot.size == 0 ||
      slot.size > 0xffffff || slots.size != 8 * slot.size || group.size != 8 + slots.size) {
    return other(absl::StrCat("its groups are not 8 slots of ", slot.size, " bytes"));
  }
  KDBG_ASSIGN_OR_RETURN(TypeInfo key, type(map.key));
  KDBG_ASSIGN_OR_RETURN(TypeInfo value, type(map.value));
  KDBG_ASSIGN_OR_RETURN(TypeInfo slot_key, member(slot, "key", 0));
  if (slot_key.name != key.name) return other("its keys are stored by pointer");
  for (const gobinary::Member& m : slot.members) {
    if (m.name != "elem") continue;
    KDBG_ASSIGN_OR_RETURN(TypeInfo elem, type(m.type));
    if (elem.name != value.name) return other("its elements are stored by pointer");
    return slot;
  }
  return other("its slots have no elem");
}

// A map, as Delve loads it (proc.(*Variable).loadMap: its first MaxArrayValues entries, keys and
// elements at the next recursion level; past kMaxVariableRecurse its length only): its pointer,
// and a MAP that reads its length and finds its entries, each read by the subprogram of its
// runtime slot struct (its key and elem fields at the next level) into the record's slots past
// the probe's own (as many as fit at the hit: probe_abi.h); a map in its entries too, as the
// nesting allows. A MAP that reads only the length (`a` 0: the first word of the header, Go
// 1.24+'s `used` as runtime.hmap's `count` before it) finds no entries.
absl::Status WholeValue::MapEntries(const Alt& a, const std::string& path, int level, int depth,
                                    ValueNode* node) {
  const int max = std::min(config_.max_array_values, KDBG_MAP_MAX);
  const ElementValue* e = nullptr;
  uint64_t slot_size = 0;
  if (level <= kMaxVariableRecurse) {
    if (dispatcher_ == nullptr) return NotReadError(path, a.type.name, "");
    KDBG_RETURN_IF_ERROR(NestWithin(a, path));
    KDBG_ASSIGN_OR_RETURN(TypeInfo slot, SwissSlot(dwarf_, a.type, path));
    slot_size = slot.size;
    // The slot struct at the map's level and depth: its key and elem one deeper, as Delve's.
    KDBG_ASSIGN_OR_RETURN(e, dispatcher_->Element(slot.id, path, config_, level, depth, nest_ + 1,
                                                  std::min(region_cap_, max_region_)));
  }
  Alt pointer = a;  // the map's one word, read as a pointer is
  pointer.type.kind = GoKind::kPtr;
  pointer.type.size = 8;
  KDBG_RETURN_IF_ERROR(Leaf(pointer, path, node));
  node->leaf.type = a.type.name;
  node->region = next_ - first_;
  KDBG_RETURN_IF_ERROR(Room(path));
  ++next_;
  node->max_elements = e != nullptr ? max : 0;
  node->element_slots = e != nullptr ? e->slots : 0;
  if (e != nullptr) node->children.push_back(e->shape);
  kdbg_op m = Op(KDBG_OP_MAP, static_cast<uint8_t>(node->element_slots), node->region + first_,
                 KDBG_EACH_IMM(KDBG_MAX_OPS + (e != nullptr ? e->pc : 0), slot_size, max));
  m.slot = static_cast<uint16_t>(first_ + node->slot);
  ops_->push_back(m);
  return absl::OkStatus();
}

// Go's ABIInternal integer registers in assignment order, as DWARF numbers them: RAX, RBX, RCX,
// RDI, RSI, R8, R9, R10, R11 (src/cmd/compile/abi-internal.md).
constexpr int kAbiIntRegs[] = {0, 3, 2, 5, 4, 8, 9, 10, 11};
constexpr int kAbiIntRegCount = 9;

// How many integer registers ABIInternal gives a value of this type; -1 when this engine does not
// follow its assignment (structs, arrays, complex values: their register use depends on their
// fields), 0 for floats (they take floating-point registers).
int AbiIntRegs(const TypeInfo& t) {
  switch (t.kind) {
    case GoKind::kString:
    case GoKind::kInterface:
      return 2;
    case GoKind::kSlice:
      return 3;
    case GoKind::kFloat32:
    case GoKind::kFloat64:
      return 0;
    case GoKind::kBool:
    case GoKind::kInt:
    case GoKind::kInt8:
    case GoKind::kInt16:
    case GoKind::kInt32:
    case GoKind::kInt64:
    case GoKind::kUint:
    case GoKind::kUint8:
    case GoKind::kUint16:
    case GoKind::kUint32:
    case GoKind::kUint64:
    case GoKind::kUintptr:
    case GoKind::kPtr:
    case GoKind::kUnsafePointer:
    case GoKind::kChan:
    case GoKind::kMap:
    case GoKind::kFunc:
      return 1;
    default:
      return -1;
  }
}

// The return probes of `entry` (plan.h): one per RET of its function, reading its results. Empty
// when the function has no results.
absl::StatusOr<std::vector<ProbePlan>> CompileReturns(gobinary::DwarfReader& dwarf,
                                                      RuntimeTypeTable& types, Bias bias,
                                                      Dispatcher* dispatcher,
                                                      const ProbePlan& entry, size_t entry_index) {
  const gobinary::Function& fn = entry.function;
  std::vector<const gobinary::Parameter*> results;
  for (const gobinary::Parameter& p : fn.params) {
    if (p.is_return) results.push_back(&p);
  }
  std::vector<ProbePlan> out;
  if (results.empty() || fn.end <= fn.entry) return out;
  KDBG_ASSIGN_OR_RETURN(std::string code, dwarf.CodeBytes(fn.entry, fn.end - fn.entry));
  if (code.size() != fn.end - fn.entry) {
    return absl::OutOfRangeError(absl::StrCat("the code of ", fn.name, " is not all in the file"));
  }
  KDBG_ASSIGN_OR_RETURN(std::vector<uint64_t> sites, FindReturnSites(code, fn.entry));
  for (uint64_t site : sites) {
    ProbePlan rp;
    rp.tracepoint = entry.tracepoint;
    rp.location = entry.location;
    rp.script_line = entry.script_line;
    rp.function = fn;
    rp.address = site;
    KDBG_ASSIGN_OR_RETURN(rp.file_offset, dwarf.FileOffset(site));
    rp.file = entry.file;
    rp.line = entry.line;
    if (auto pos = dwarf.LineAt(site); pos.ok()) {
      rp.file = pos->first;
      rp.line = pos->second;
    }
    rp.is_return = true;
    rp.entry = entry_index;
    int next_reg = 0;       // the next ABIInternal integer register
    bool abi_known = true;  // false past a result whose register use this engine cannot tell
    uint16_t slot = 0;
    for (size_t k = 0; k < results.size(); ++k) {
      const gobinary::Parameter* p = results[k];
      // A slot kept for each result after this one.
      const int limit = KDBG_MAX_SLOTS - static_cast<int>(results.size() - k - 1);
      Slot meta;
      meta.name = p->name;
      auto type = dwarf.Type(p->type);
      if (!type.ok()) {
        meta.unread = "(unreadable type unknown)";
        abi_known = false;
        rp.results.push_back(std::move(meta));
        continue;
      }
      meta.type = type->name;
      const int regs = AbiIntRegs(*type);
      Alt a;
      a.type = *type;
      bool located = false;
      auto pieces = dwarf.ParameterAt(fn, p->name, site);
      // At a RET the frame is popped: a location in it (-N -l code keeps results in frame slots
      // until it loads them into the registers) is no longer the result's.
      const bool in_registers = pieces.ok() && !pieces->empty() &&
                                std::all_of(pieces->begin(), pieces->end(), [](const Piece& pc) {
                                  return pc.where == Piece::Where::kRegister;
                                });
      if (in_registers) {
        a.place = PlaceOf(*pieces, a.type);
        located = true;
      } else if (abi_known && regs > 0 && next_reg + regs <= kAbiIntRegCount) {
        // No DWARF location at the RET: at a RET the ABI itself says where the results are.
        for (int r = 0; r < regs; ++r) {
          Piece pc;
          pc.where = Piece::Where::kRegister;
          pc.dwarf_reg = kAbiIntRegs[next_reg + r];
          pc.size = regs == 1 ? a.type.size : 8;
          a.place.pieces.push_back(Place::At{static_cast<uint64_t>(8 * r), pc});
        }
        located = true;
      }
      // A value that does not fit the registers left goes to the stack, and the next results
      // still take registers (abi-internal.md); one this engine cannot follow ends the fallback.
      if (regs < 0) {
        abi_known = false;
      } else if (next_reg + regs <= kAbiIntRegCount) {
        next_reg += regs;
      }
      if (!located) {
        meta.unread = "<optimized out>";
        rp.results.push_back(std::move(meta));
        continue;
      }
      if (slot >= limit) {  // (a result past KDBG_MAX_SLOTS: each takes a slot at least)
        meta.unread = absl::StrCat("(unreadable past the ", KDBG_MAX_SLOTS,
                                   " values an eBPF hit carries; --engine delve reads it)");
        rp.results.push_back(std::move(meta));
        continue;
      }
      std::vector<kdbg_op> ops;
      absl::Status s = absl::UnimplementedError("not read whole");
      if (ReadsDynamicValue(a.type, dispatcher)) {
        // Its dynamic value as Delve loads a result (dlv trace's LoadArgs, as arguments), when a
        // subprogram of its types reads it; else its words.
        WholeValue whole(dwarf, types, bias, kArgsLoad, slot, static_cast<uint16_t>(limit), &ops,
                         dispatcher);
        auto node = std::make_shared<ValueNode>();
        s = whole.EmitFitting(a, p->name, 0, 0, node.get());
        if (s.ok()) {
          meta.whole = std::move(node);
          meta.whole_slots = whole.slots();
          meta.subprograms = SubprogramsOf(dispatcher);
        } else {
          ops.clear();
        }
      }
      if (!s.ok()) s = EmitSlot(dwarf, types, bias, {a}, Read::kValue, slot, &ops, &meta);
      if (!s.ok()) {
        meta.unread =
            absl::StrCat("(unreadable ", type->name, " results are not read by the eBPF engine)");
        rp.results.push_back(std::move(meta));
        continue;
      }
      slot = static_cast<uint16_t>(slot + (meta.whole != nullptr ? meta.whole_slots : 1));
      rp.ops.insert(rp.ops.end(), ops.begin(), ops.end());
      rp.results.push_back(std::move(meta));
    }
    if (rp.ops.size() > KDBG_MAX_OPS) continue;  // cannot happen with scalar results
    out.push_back(std::move(rp));
  }
  return out;
}

// The probe address: the JBE of the stack check when the prologue is one Go emits.
struct ProbeSite {
  uint64_t address;
  bool check_flags;
};

ProbeSite FindProbeSite(gobinary::DwarfReader& dwarf, const gobinary::Function& fn) {
  auto bytes = dwarf.CodeBytes(fn.entry, 32);
  if (!bytes.ok()) return {fn.entry, false};
  const std::string& b = *bytes;
  auto at = [&](size_t i, absl::string_view pat) {
    return b.size() >= i + pat.size() && b.compare(i, pat.size(), pat.data(), pat.size()) == 0;
  };
  size_t i = 0;
  if (at(0, "\x49\x3b\x66\x10")) {  // CMPQ SP, 16(R14)
    i = 4;
  } else if (at(0, "\x4c\x8d\x64\x24") && at(5, "\x4d\x3b\x66\x10")) {  // LEAQ -N(SP), R12 (disp8)
    i = 9;
  } else if (at(0, "\x4c\x8d\xa4\x24") && at(8, "\x4d\x3b\x66\x10")) {  // (disp32)
    i = 12;
  } else if (at(0, "\x49\x89\xe4")) {
    // A frame above StackBig (4 KiB) guards against underflow first:
    //   MOVQ SP, R12; SUBQ $N, R12 (imm32 or imm8); JB morestack (rel8 or rel32);
    //   CMPQ R12, 16(R14); JBE morestack
    size_t j = at(3, "\x49\x81\xec") ? 10 : at(3, "\x49\x83\xec") ? 7 : 0;
    if (j == 0) return {fn.entry, false};
    if (at(j, "\x72")) {
      j += 2;
    } else if (at(j, "\x0f\x82")) {
      j += 6;
    } else {
      return {fn.entry, false};
    }
    if (!at(j, "\x4d\x3b\x66\x10")) return {fn.entry, false};
    i = j + 4;
  } else {
    return {fn.entry, false};
  }
  if (at(i, "\x76") || at(i, "\x0f\x86")) return {fn.entry + i, true};  // JBE rel8 / rel32
  return {fn.entry, false};
}

// The comparison of `c` with a value read as `value` describes, exactly as Go compares them;
// Unimplemented when Go would not compare them this way (Delve then evaluates it).
absl::Status CompileComparison(const Cond& c, const Slot& value, ProbePlan* pp) {
  auto mismatch = [&](absl::string_view constant) {
    return absl::UnimplementedError(absl::StrCat("compares a ", value.type, " with ", constant,
                                                 ": the BPF program does not evaluate it"));
  };
  const bool equality = c.op == KDBG_COND_EQ || c.op == KDBG_COND_NE;
  pp->cond_op = c.op;
  // The value's bits in w0: all of them for a word or more (strings and interfaces compare w0's
  // length or itab word).
  pp->cond_shift = value.size >= 8 ? 0 : static_cast<uint32_t>(64 - 8 * value.size);
  switch (value.format) {
    case SlotFormat::kString:
      if (c.literal != Cond::Literal::kString || !equality) return mismatch("that constant");
      pp->cond_kind = KDBG_COND_STRING;
      pp->cond_imm = c.string_value.size();
      pp->cond_str = c.string_value;
      return absl::OkStatus();
    case SlotFormat::kBool:
      if (c.literal != Cond::Literal::kBool || !equality) return mismatch("that constant");
      pp->cond_kind = KDBG_COND_UNSIGNED;
      pp->cond_imm = c.bool_value ? 1 : 0;
      return absl::OkStatus();
    case SlotFormat::kPointer:
    case SlotFormat::kInterface:
      // An interface is nil exactly when its itab word (w0) is 0.
      if (c.literal != Cond::Literal::kNil || !equality) return mismatch("that constant");
      pp->cond_kind = KDBG_COND_UNSIGNED;
      pp->cond_imm = 0;
      return absl::OkStatus();
    case SlotFormat::kSigned: {
      if (c.literal != Cond::Literal::kInt) return mismatch("a non-integer");
      const int bits = value.size * 8;
      const int64_t max = bits >= 64 ? INT64_MAX : (int64_t{1} << (bits - 1)) - 1;
      const int64_t min = bits >= 64 ? INT64_MIN : -(int64_t{1} << (bits - 1));
      if ((!c.negative && c.uint_value > static_cast<uint64_t>(max)) || c.int_value < min) {
        return mismatch("a constant out of its range");
      }
      pp->cond_kind = KDBG_COND_SIGNED;
      pp->cond_imm = static_cast<uint64_t>(c.int_value);
      return absl::OkStatus();
    }
    case SlotFormat::kUnsigned: {
      if (c.literal != Cond::Literal::kInt) return mismatch("a non-integer");
      const int bits = value.size * 8;
      const uint64_t max = bits >= 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1;
      if ((c.negative && c.uint_value != 0) || c.uint_value > max) {
        return mismatch("a constant out of its range");
      }
      pp->cond_kind = KDBG_COND_UNSIGNED;
      pp->cond_imm = c.uint_value;
      return absl::OkStatus();
    }
    case SlotFormat::kSliceHeader:  // an argument's slot, never a condition's
    case SlotFormat::kFloat:        // Delve compares floats
      break;
  }
  return mismatch("that constant");
}

}  // namespace

absl::StatusOr<Expr> ParseExpr(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  Expr e;
  for (absl::string_view builtin : {"len(", "cap("}) {
    if (!absl::ConsumePrefix(&s, builtin)) continue;
    if (!absl::ConsumeSuffix(&s, ")")) {
      return absl::InvalidArgumentError(absl::StrCat("unbalanced ", builtin));
    }
    (builtin == "len(" ? e.len : e.cap) = true;
    s = absl::StripAsciiWhitespace(s);
    break;
  }
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "`", text, "` is not a parameter, a field chain (a.b.c, a.b[2].c) or len() of one"));
  };
  for (absl::string_view part : absl::StrSplit(s, '.')) {
    // An identifier, then any constant indexes: "Items[2]", "grid[1][0]".
    const size_t bracket = part.find('[');
    if (!IsIdent(part.substr(0, bracket))) return bad();
    e.path.emplace_back(part.substr(0, bracket));
    absl::string_view rest = bracket == absl::string_view::npos ? "" : part.substr(bracket);
    while (!rest.empty()) {
      const size_t close = rest.find(']');
      uint64_t index = 0;
      if (rest[0] != '[' || close == absl::string_view::npos || close < 2 ||
          !std::all_of(rest.begin() + 1, rest.begin() + static_cast<std::ptrdiff_t>(close),
                       [](char c) { return c >= '0' && c <= '9'; }) ||
          !absl::SimpleAtoi(rest.substr(1, close - 1), &index)) {
        return bad();
      }
      e.path.push_back(absl::StrCat("[", index, "]"));
      rest.remove_prefix(close + 1);
    }
  }
  return e;
}

namespace {

// Consumes the comparison operator `*s` begins with ("==", "!=", "<=", ">=", "<", ">"), as a
// condition and a hit condition write it; nullopt if none.
std::optional<kdbg_cond_op> ConsumeComparison(absl::string_view* s) {
  static constexpr std::pair<absl::string_view, kdbg_cond_op> kOps[] = {
      {"==", KDBG_COND_EQ}, {"!=", KDBG_COND_NE}, {"<=", KDBG_COND_LE},
      {">=", KDBG_COND_GE}, {"<", KDBG_COND_LT},  {">", KDBG_COND_GT}};
  for (const auto& [text, op] : kOps) {
    if (absl::ConsumePrefix(s, text)) return op;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<Cond> ParseCond(absl::string_view text) {
  auto not_exact = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "condition `", absl::StripAsciiWhitespace(text), "` ", why,
        ": the BPF program evaluates only VALUE OP CONSTANT (VALUE as in `print`, OP one of == != "
        "< <= > >=, CONSTANT an integer, true, false, nil or a string of at most ",
        KDBG_STR_MAX, " bytes without escapes)"));
  };
  absl::string_view s = absl::StripAsciiWhitespace(text);
  Cond c;
  c.literal = Cond::Literal::kBool;
  c.bool_value = false;
  absl::string_view lhs = s, rhs;
  if (absl::ConsumePrefix(&lhs, "!")) {
    c.op = KDBG_COND_EQ;  // !x  ==  x == false
  } else if (size_t i = s.find_first_of("=!<>"); i != absl::string_view::npos) {
    lhs = s.substr(0, i);
    absl::string_view rest = s.substr(i);
    std::optional<kdbg_cond_op> op = ConsumeComparison(&rest);
    if (!op.has_value()) return not_exact("has an operator other than a comparison");
    c.op = *op;
    rhs = absl::StripAsciiWhitespace(rest);
    if (rhs.empty()) return not_exact("has nothing to compare with");
  } else {
    c.op = KDBG_COND_NE;  // x  ==  x != false
  }
  auto e = ParseExpr(lhs);
  if (!e.ok()) return not_exact("does not compare a parameter, a field chain or len() of one");
  c.operand = *std::move(e);
  if (rhs.empty()) return c;
  if (rhs == "true" || rhs == "false") {
    c.literal = Cond::Literal::kBool;
    c.bool_value = rhs == "true";
  } else if (rhs == "nil") {
    c.literal = Cond::Literal::kNil;
  } else if (rhs.size() >= 2 && rhs.front() == '"' && rhs.back() == '"') {
    absl::string_view body = rhs.substr(1, rhs.size() - 2);
    if (absl::StrContains(body, "\\") || absl::StrContains(body, "\"")) {
      return not_exact("has a string constant with escapes or quotes");
    }
    if (body.size() > KDBG_STR_MAX) {
      return not_exact(absl::StrCat("has a string constant longer than ", KDBG_STR_MAX, " bytes"));
    }
    c.literal = Cond::Literal::kString;
    c.string_value = std::string(body);
  } else {
    absl::string_view digits = rhs;
    c.negative = absl::ConsumePrefix(&digits, "-");
    uint64_t v = 0;
    bool ok = false;
    if (absl::ConsumePrefix(&digits, "0x") || absl::ConsumePrefix(&digits, "0X")) {
      ok = !digits.empty() && absl::SimpleHexAtoi(digits, &v);
    } else {
      ok = !digits.empty() && std::isdigit(static_cast<unsigned char>(digits[0])) &&
           absl::SimpleAtoi(digits, &v);
    }
    if (!ok) return not_exact("compares with something other than a constant");
    if (c.negative && v > uint64_t{1} << 63) return not_exact("has a constant out of range");
    c.literal = Cond::Literal::kInt;
    c.uint_value = v;
    c.int_value = c.negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  }
  return c;
}

std::optional<Disqualification> CheckScript(const delve::TraceScript& script) {
  for (const delve::ScriptBreakpoint& bp : script.breakpoints) {
    if (!IsFunctionLocation(bp.location) && !ParseFileLine(bp.location).has_value()) {
      return Disqualification{
          bp.line, absl::StrCat("location ", bp.location,
                                " is not traced by eBPF (eBPF traces `trace [name] FUNCTION` "
                                "and `trace [name] FILE:LINE`)")};
    }
    if (!bp.cond.empty()) {
      auto c = ParseCond(bp.cond);
      if (!c.ok()) return Disqualification{bp.cond_line, std::string(c.status().message())};
    }
    for (size_t i = 0; i < bp.prints.size(); ++i) {
      int line = i < bp.print_lines.size() ? bp.print_lines[i] : bp.line;
      auto e = ParseExpr(bp.prints[i]);
      if (!e.ok()) return Disqualification{line, std::string(e.status().message())};
    }
    if (bp.prints.size() > kPrintSlots) {
      return Disqualification{
          bp.line, absl::StrCat("more than ", kPrintSlots, " print expressions on one tracepoint")};
    }
  }
  return std::nullopt;
}

namespace {

// Whether `at`, where the DWARF puts `what`, starts an instruction of `fn`'s out-of-line code,
// [entry, end) (decoded: a uprobe in the middle of an instruction crashes the Go program).
absl::Status CheckInstructionStart(gobinary::DwarfReader& dwarf, absl::string_view fn,
                                   uint64_t entry, uint64_t end, uint64_t at,
                                   absl::string_view what) {
  if (end <= entry || at < entry || at >= end) {
    return absl::InternalError(
        absl::StrCat(what, " at 0x", absl::Hex(at), " is outside ", fn, "'s code"));
  }
  const uint64_t n = end - entry;
  KDBG_ASSIGN_OR_RETURN(std::string code, dwarf.CodeBytes(entry, n));
  if (code.size() != n) {
    return absl::OutOfRangeError(absl::StrCat("the code of ", fn, " is not all in the file"));
  }
  KDBG_ASSIGN_OR_RETURN(bool starts, StartsInstruction(code, entry, at));
  if (!starts) {
    return absl::InternalError(absl::StrCat("0x", absl::Hex(at), " (where the DWARF says ", what,
                                            ") is not an instruction boundary"));
  }
  return absl::OkStatus();
}

// One probe of tracepoint `bp`: at its function's out-of-line entry (`call` null, `body_pc`
// unset; `fn` the function), at one call the compiler inlined (`fn` is call->callee: the call's
// parameters), or at `body_pc`, a line in `fn`'s out-of-line body (LineTargets), where the
// parameters are read from their DWARF locations at that PC in `fn`'s frame.
// A print or condition of a value the probe has no location for is not an error, as Delve
// evaluates it there: the print says so, the condition lets every call through (Delve reports a
// hit whose condition fails to evaluate).
// `whole_args`: struct arguments read field by field (as Delve lists them), else said to be unread;
// `*used_whole_args` tells whether any was.
absl::StatusOr<ProbePlan> CompileProbeOnce(
    const delve::ScriptBreakpoint& bp, absl::string_view script_name, gobinary::DwarfReader& dwarf,
    Bias bias, Compiler& compiler, const gobinary::Function& fn, const gobinary::InlinedCall* call,
    std::optional<uint64_t> body_pc, bool whole_args, bool* used_whole_args) {
  auto where = [&](int line, absl::string_view msg) {
    return absl::StrCat(script_name, ":", line, ": ", msg);
  };
  ProbePlan pp;
  pp.tracepoint = bp.name;
  pp.location = bp.location;
  pp.script_line = bp.line;
  pp.function = fn;
  int64_t cfa_rsp = 8;  // at the entry probe (nothing pushed yet)
  if (body_pc.has_value()) {
    // Delve's breakpoint on the line, and where it reports the hits; past the prologue, so the
    // stack check cannot run the probe twice for one pass, and the frame is the function's.
    KDBG_RETURN_IF_ERROR(CheckInstructionStart(dwarf, fn.name, fn.entry, fn.end, *body_pc,
                                               absl::StrCat("line ", bp.location, " begins")));
    KDBG_ASSIGN_OR_RETURN(cfa_rsp, dwarf.CfaFromRsp(*body_pc));
    pp.address = *body_pc;
    pp.report_pc = *body_pc;
    KDBG_ASSIGN_OR_RETURN(auto pos, dwarf.LineAt(*body_pc));
    pp.file = pos.first;
    pp.line = pos.second;
  } else if (call == nullptr) {
    ProbeSite site = FindProbeSite(dwarf, pp.function);
    pp.address = site.address;
    pp.check_flags = site.check_flags;
    pp.file = pp.function.file;
    pp.line = pp.function.line;
    pp.report_pc = pp.function.entry;
    auto pe = dwarf.AfterPrologue(pp.function);
    if (pe.ok() && pe->has_value()) {
      auto pos = dwarf.LineAt(**pe);
      if (pos.ok()) {
        pp.file = pos->first;
        pp.line = pos->second;
        pp.report_pc = **pe;
      }
    }
  } else {
    // Where Delve puts its breakpoint for the call, and reports it: the call's first address, in
    // the caller (file and line are the inlined code's).
    KDBG_RETURN_IF_ERROR(CheckInstructionStart(
        dwarf, call->caller, call->caller_entry, call->caller_end, call->callee.entry,
        absl::StrCat(call->callee.name, " is inlined in ", call->caller)));
    // The call's values on the stack are in the caller's frame.
    KDBG_ASSIGN_OR_RETURN(cfa_rsp, dwarf.CfaFromRsp(fn.entry));
    pp.address = fn.entry;
    pp.report_pc = fn.entry;
    pp.caller = call->caller;
    pp.file = fn.file;
    pp.line = fn.line;
  }
  KDBG_ASSIGN_OR_RETURN(pp.file_offset, dwarf.FileOffset(pp.address));
  pp.cfa_rsp = cfa_rsp;
  pp.stack_depth = bp.stack_depth;
  // A print's first name at a line inside the body: a parameter or a local in scope there, as
  // Delve's evaluator finds it (a local may shadow a parameter there; the hit's args are the
  // parameters themselves).
  auto variable = [&](const std::string& name) -> absl::StatusOr<Alt> {
    auto v = dwarf.VariableAt(pp.function, name, *body_pc, pp.line);
    if (!v.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(v.status().message(), ", nor a variable of package ",
                       gobinary::FunctionPackage(pp.function.name),
                       " (the eBPF engine reads parameters, locals and package variables)"));
    }
    KDBG_ASSIGN_OR_RETURN(std::vector<Piece> pieces, v->pieces);  // NotFound: optimized out
    Alt a;
    KDBG_ASSIGN_OR_RETURN(a.type, dwarf.Type(v->type));
    a.place = PlaceOf(pieces, a.type, cfa_rsp);
    if (v->escaped) {  // "&name": the location holds the pointer to the value
      KDBG_ASSIGN_OR_RETURN(a.place, Deref(a.place));
      KDBG_ASSIGN_OR_RETURN(a.type, dwarf.Type(a.type.elem));
    }
    return a;
  };
  // The parameters' alternatives, by name. NotFound: the parameter has no value at the probe (no
  // location list entry; at an inlined call, no DIE at all).
  auto param = [&](const std::string& name) -> absl::StatusOr<Alt> {
    for (const gobinary::Parameter& p : pp.function.params) {
      if (p.name != name || p.is_return) continue;
      KDBG_ASSIGN_OR_RETURN(std::vector<Piece> pieces,
                            dwarf.ParameterAt(pp.function, name, pp.address));
      Alt a;
      KDBG_ASSIGN_OR_RETURN(a.type, dwarf.Type(p.type));
      a.place = PlaceOf(pieces, a.type, cfa_rsp);
      return a;
    }
    if (call != nullptr) {
      for (const gobinary::Parameter& p : call->declared) {
        if (p.name == name && !p.is_return) {
          return absl::NotFoundError(absl::StrCat("could not find symbol value for ", name));
        }
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        pp.function.name, " has no parameter ", name, ", nor has package ",
        gobinary::FunctionPackage(pp.function.name), " a variable ", name,
        " (at a function's entry the eBPF engine reads parameters and package variables; at a "
        "line inside it, also locals)"));
  };
  // A package variable, as Delve's evaluator finds a name no local or parameter has
  // (proc.EvalScope.findGlobal): `name` in the package of the code the probe is in, or
  // `pkg.name` by its full name ("main.sink"); at its link-time address plus the load bias.
  // `used`: the expression's steps it takes (1 or 2). NotFound: no such variable.
  auto global = [&](const Expr& e, size_t* used) -> absl::StatusOr<Alt> {
    std::vector<std::pair<std::string, size_t>> names = {
        {absl::StrCat(gobinary::FunctionPackage(pp.function.name), ".", e.path[0]), 1}};
    if (e.path.size() > 1 && !absl::StartsWith(e.path[1], "[")) {
      names.emplace_back(absl::StrCat(e.path[0], ".", e.path[1]), 2);
    }
    for (const auto& [name, steps] : names) {
      auto g = dwarf.Global(name);
      if (absl::IsNotFound(g.status())) continue;
      KDBG_RETURN_IF_ERROR(g.status());  // ambiguous: Delve takes one of them
      if (!bias.has_value()) {
        return absl::FailedPreconditionError(
            absl::StrCat(name,
                         " is at an address the eBPF engine cannot know: the executable is "
                         "position-independent and where it is loaded is unknown"));
      }
      Alt a;
      KDBG_ASSIGN_OR_RETURN(a.type, dwarf.Type(g->type));
      a.place.memory = true;
      a.place.base = {Op(KDBG_OP_CONST, 0, 0, g->address + *bias)};
      *used = steps;
      return a;
    }
    return absl::NotFoundError(absl::StrCat("no package variable ", names[0].first));
  };
  // The alternatives of a parsed expression: its parameter (or local, or package variable), then
  // each field.
  auto alternatives = [&](const Expr& e) -> absl::StatusOr<std::vector<Alt>> {
    absl::StatusOr<Alt> root = body_pc.has_value() ? variable(e.path[0]) : param(e.path[0]);
    size_t used = 1;
    if (absl::IsInvalidArgument(root.status())) {  // no such parameter or local
      auto g = global(e, &used);
      if (!absl::IsNotFound(g.status())) root = std::move(g);
    }
    if (!root.ok()) return root.status();
    std::vector<Alt> alts{*std::move(root)};
    std::string so_far =
        absl::StrJoin(e.path.begin(), e.path.begin() + static_cast<std::ptrdiff_t>(used), ".");
    for (size_t k = used; k < e.path.size(); ++k) {
      const std::string& step = e.path[k];
      uint64_t index = 0;
      if (absl::StartsWith(step, "[") &&
          absl::SimpleAtoi(absl::string_view(step).substr(1, step.size() - 2), &index)) {
        KDBG_ASSIGN_OR_RETURN(alts, compiler.Index(std::move(alts), index, so_far));
        absl::StrAppend(&so_far, step);
      } else {
        KDBG_ASSIGN_OR_RETURN(alts, compiler.Field(std::move(alts), step, so_far));
        absl::StrAppend(&so_far, ".", step);
      }
    }
    return alts;
  };
  // A value the probe has no location for (NotFound: a parameter without a location list entry
  // there, one an inlined call has no DIE for, a value only partly located) is no error of the
  // script: a print of it says so, as Delve's hit does (the Delve engine prints <optimized out>
  // for a declared parameter Delve cannot find), and a condition on it lets every call through,
  // as Delve reports a hit whose condition fails to evaluate.
  uint16_t slot = 0;
  for (size_t i = 0; i < bp.prints.size(); ++i) {
    int line = i < bp.print_lines.size() ? bp.print_lines[i] : bp.line;
    auto fail = [&](const absl::Status& s) {
      return WithMessage(s, where(line, absl::StrCat(bp.prints[i], ": ", s.message())));
    };
    auto e = ParseExpr(bp.prints[i]);
    if (!e.ok()) return fail(e.status());
    Slot meta;
    meta.name = bp.prints[i];
    auto alts = alternatives(*e);
    std::vector<kdbg_op> ops;
    absl::Status s = alts.status();
    const bool single =
        alts.ok() && ReadOf(*e) == Read::kValue && alts->size() == 1 && !Guarded(alts->front());
    const GoKind kind = single ? alts->front().type.kind : GoKind::kInvalid;
    const bool dynamic = single && ReadsDynamicValue(alts->front().type, compiler.dispatcher());
    if (kind == GoKind::kPtr || kind == GoKind::kStruct || kind == GoKind::kArray ||
        kind == GoKind::kSlice || kind == GoKind::kMap || dynamic) {
      // A pointer, struct, array, slice, map or non-empty interface, printed whole as Delve loads
      // it (a value reached through an interface keeps one slot: its dynamic types' targets
      // differ). Within the prints' kPrintSlots, a slot kept for each print after it.
      const auto limit = static_cast<uint16_t>(kPrintSlots - (bp.prints.size() - i - 1));
      WholeValue whole(dwarf, compiler.types(), bias, kPrintLoad, slot, limit, &ops,
                       compiler.dispatcher());
      whole.set_region_cap(compiler.region_cap());
      auto node = std::make_shared<ValueNode>();
      s = whole.EmitFitting(alts->front(), bp.prints[i], 0, 0, node.get());
      if (s.ok() || !dynamic) {
        meta.type = node->type;
        meta.whole = std::move(node);
        meta.whole_slots = whole.slots();
        meta.subprograms = SubprogramsOf(compiler.dispatcher());
      } else if (IsRoom(s) && SmallerRegionsLeft(compiler.region_cap())) {
        return fail(s);  // CompileProbe tries smaller regions before this value gives up its own
      } else {
        // No dynamic type it holds is read (or fits): its words, as before the subprograms.
        ops.clear();
        s = EmitSlot(dwarf, compiler.types(), bias, *alts, ReadOf(*e), slot, &ops, &meta);
      }
    } else if (alts.ok()) {
      s = EmitSlot(dwarf, compiler.types(), bias, *alts, ReadOf(*e), slot, &ops, &meta);
    }
    if (absl::IsNotFound(s)) {
      Slot unread;
      unread.name = bp.prints[i];
      unread.unread = alts.ok() ? absl::StrCat("(unreadable ", s.message(), ")")
                                : std::string(delve::kOptimizedOut);
      pp.vars.push_back(std::move(unread));
      continue;
    }
    if (!s.ok()) return fail(s);
    slot += meta.whole != nullptr ? meta.whole_slots : 1;
    pp.ops.insert(pp.ops.end(), ops.begin(), ops.end());
    pp.vars.push_back(std::move(meta));
  }
  // Arguments like Delve's: every parameter, in order. Strings, numbers, booleans, pointers and
  // interfaces are read; the others say why not. The condition's value takes the last slot.
  const uint16_t max_slots = bp.cond.empty() ? KDBG_MAX_SLOTS : KDBG_MAX_SLOTS - 1;
  for (const gobinary::Parameter& p : pp.function.params) {
    if (p.is_return) continue;
    Slot meta;
    meta.name = p.name;
    auto a = param(p.name);
    if (!a.ok()) {
      // NotFound: no location list entry covers the probe's PC (what Delve calls "could not
      // find loclist entry", printed <optimized out> by both engines).
      meta.unread = absl::IsNotFound(a.status())
                        ? std::string(delve::kOptimizedOut)
                        : absl::StrCat("(unreadable ", a.status().message(), ")");
      pp.args.push_back(std::move(meta));
      continue;
    }
    meta.type = a->type.name;
    if (slot >= max_slots) {
      meta.unread = absl::StrCat("(unreadable past the ", KDBG_MAX_SLOTS,
                                 " values an eBPF hit carries; --engine delve reads it)");
      pp.args.push_back(std::move(meta));
      continue;
    }
    std::vector<kdbg_op> ops;
    // A slice argument: its len and cap (Delve also prints up to 16 elements); a struct as Delve
    // lists it (kArgsLoad), when this engine reads each field it shows. EmitSlot fills `meta` only
    // when it succeeds.
    const Read what = a->type.kind == GoKind::kSlice ? Read::kSliceHeader : Read::kValue;
    absl::Status s;
    const GoKind kind = a->type.kind;
    const bool dynamic = ReadsDynamicValue(a->type, compiler.dispatcher());
    const bool whole_kind = kind == GoKind::kStruct || kind == GoKind::kArray ||
                            kind == GoKind::kSlice || kind == GoKind::kMap || dynamic;
    if (whole_kind && whole_args) {
      *used_whole_args = true;
      WholeValue whole(dwarf, compiler.types(), bias, kArgsLoad, slot, max_slots, &ops,
                       compiler.dispatcher());
      whole.set_region_cap(compiler.region_cap());
      auto node = std::make_shared<ValueNode>();
      s = whole.EmitFitting(*a, p.name, 0, 0, node.get());
      if (s.ok()) {
        meta.whole = std::move(node);
        meta.whole_slots = whole.slots();
        meta.subprograms = SubprogramsOf(compiler.dispatcher());
      } else if (IsRoom(s) && SmallerRegionsLeft(compiler.region_cap())) {
        return s;  // CompileProbe tries smaller regions before this argument gives up its value
      } else if (kind == GoKind::kSlice || dynamic) {
        // A slice's elements not read (or not fitting): its len and cap; an interface none of
        // whose dynamic types is read: its words.
        ops.clear();
        s = EmitSlot(dwarf, compiler.types(), bias, {*a}, what, slot, &ops, &meta);
      }
    } else if (kind == GoKind::kStruct || kind == GoKind::kArray) {
      s = absl::UnimplementedError("not read whole");  // said below
    } else {
      s = EmitSlot(dwarf, compiler.types(), bias, {*a}, what, slot, &ops, &meta);
    }
    if (!s.ok()) {
      // A value of a type this engine reads whose location it cannot follow here (at an inlined
      // call, a string the DWARF locates in one register) says why.
      int size = 0;
      // A struct says why when the reason is not its type (a location, the record's slots).
      const bool readable =
          what == Read::kSliceHeader || ScalarFormat(a->type, &size).ok() || absl::IsNotFound(s) ||
          ((kind == GoKind::kStruct || kind == GoKind::kArray) && whole_args && !IsNotRead(s));
      meta.unread = readable ? absl::StrCat("(unreadable ", s.message(), ")")
                             : absl::StrCat("(unreadable ", a->type.name,
                                            " values are not read by the eBPF engine; --engine "
                                            "delve reads them)");
      pp.args.push_back(std::move(meta));
      continue;
    }
    slot += meta.whole != nullptr ? meta.whole_slots : 1;
    pp.ops.insert(pp.ops.end(), ops.begin(), ops.end());
    pp.args.push_back(std::move(meta));
  }
  if (!bp.cond.empty()) {
    auto fail = [&](const absl::Status& s) {
      return WithMessage(s, where(bp.cond_line, absl::StrCat("cond ", bp.cond, ": ", s.message())));
    };
    auto c = ParseCond(bp.cond);
    if (!c.ok()) return fail(absl::UnimplementedError(c.status().message()));
    pp.cond = bp.cond;
    auto alts = alternatives(c->operand);
    Slot meta;
    std::vector<kdbg_op> ops;
    absl::Status s = alts.ok() ? EmitSlot(dwarf, compiler.types(), bias, *alts, ReadOf(c->operand),
                                          slot, &ops, &meta)
                               : alts.status();
    if (!absl::IsNotFound(s)) {  // else no comparison: every call is reported
      if (!s.ok()) return fail(s);
      s = CompileComparison(*c, meta, &pp);
      if (!s.ok()) return fail(s);
      pp.ops.insert(pp.ops.end(), ops.begin(), ops.end());
      pp.cond_slot = slot;
    }
  }
  if (!bp.hit_cond.empty()) {
    // "OP N" (script/trace_script.cc), as Delve's checkHitCond compares the hit count.
    absl::string_view text = bp.hit_cond;
    std::optional<kdbg_cond_op> op =
        absl::ConsumePrefix(&text, "%") ? KDBG_COND_REM : ConsumeComparison(&text);
    if (!op.has_value() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pp.hit_val) ||
        (op == KDBG_COND_REM && pp.hit_val == 0)) {
      return absl::InvalidArgumentError(
          where(bp.cond_line, absl::StrCat("cond -hitcount ", bp.hit_cond, ": not OP N")));
    }
    pp.hit_op = *op;
  }
  if (pp.ops.size() > KDBG_MAX_OPS) {
    return absl::InvalidArgumentError(
        where(bp.line, absl::StrCat("tracepoint ", bp.name, " needs ", pp.ops.size(),
                                    " read steps; the eBPF engine allows ", KDBG_MAX_OPS)));
  }
  return pp;
}

// CompileProbeOnce, and again when it fails (each time with interfaces' regions capped smaller
// while the values do not fit: kRegionCaps): first without reading whole struct, array and slice
// arguments (which the script does not ask for: each then says it is unread), then without the
// types no itab symbol names (Compiler::set_other_types: a field chain through an interface then
// reads what it read before they were tried, and a hit whose dynamic type is one of them names it,
// KDBG_SLOT_NO_TYPE), then without both. The last attempt's error when none compiles.
absl::StatusOr<ProbePlan> CompileProbe(const delve::ScriptBreakpoint& bp,
                                       absl::string_view script_name, gobinary::DwarfReader& dwarf,
                                       Bias bias, Compiler& compiler, const gobinary::Function& fn,
                                       const gobinary::InlinedCall* call,
                                       std::optional<uint64_t> body_pc) {
  compiler.reset_used_other_types();
  bool whole_args = false;
  // Interfaces' regions as large as their largest dynamic types first; smaller while the values
  // the hit carries do not all fit so (a later print or argument needs the slots).
  auto once = [&](bool whole) {
    absl::StatusOr<ProbePlan> r;
    for (int cap : kRegionCaps) {
      compiler.set_region_cap(cap);
      bool used = false;
      r = CompileProbeOnce(bp, script_name, dwarf, bias, compiler, fn, call, body_pc, whole, &used);
      whole_args = whole_args || used;
      if (r.ok() || !IsRoom(r.status())) break;
    }
    compiler.set_region_cap(kMaxRegion);
    return r;
  };
  auto pp = once(true);
  if (pp.ok()) return pp;
  if (whole_args) {
    pp = once(false);
    if (pp.ok()) return pp;
  }
  if (!compiler.used_other_types()) return pp;
  compiler.set_other_types(false);
  pp = once(true);
  if (!pp.ok() && whole_args) pp = once(false);
  compiler.set_other_types(true);
  return pp;
}

// NotFound from CompilePlan means the script's location is not in the binary (the engine choice
// then gives that error, not the Delve engine); any other NotFound on the way (a binary without
// .debug_frame, runtime.g without goid) becomes FailedPrecondition, which sends the script to
// Delve with the reason.
template <typename T>
absl::StatusOr<T> NotAbsent(absl::StatusOr<T> r) {
  if (absl::IsNotFound(r.status())) return absl::FailedPreconditionError(r.status().message());
  return r;
}

}  // namespace

absl::StatusOr<Plan> CompilePlan(const delve::TraceScript& script, absl::string_view script_name,
                                 gobinary::DwarfReader& dwarf,
                                 std::optional<uint64_t> pie_load_bias, bool returns) {
  if (script.breakpoints.size() > KDBG_MAX_TRACEPOINTS) {
    return absl::InvalidArgumentError(
        absl::StrCat(script_name, ": more than ", KDBG_MAX_TRACEPOINTS, " tracepoints"));
  }
  Plan plan;
  KDBG_ASSIGN_OR_RETURN(plan.goid_offset, NotAbsent(dwarf.GoidOffset()));
  const Bias bias = dwarf.IsPie() ? pie_load_bias : Bias(0);
  Compiler compiler(dwarf, bias);
  std::optional<Dispatcher> dispatcher;
  if (bias.has_value()) {
    dispatcher.emplace(dwarf, compiler.types(), *bias, plan.subprograms);
    compiler.set_dispatcher(&*dispatcher);
  }
  // Each tracepoint's return probes, armed after every tracepoint's calls while they fit.
  struct Returns {
    std::string label;  // "trace.dlv:3 main.summarize"
    absl::StatusOr<std::vector<ProbePlan>> probes;
    size_t body = 0;  // the index of the entry probe of the body they return from
    // The tracepoint has a condition or a hit condition: only its reported calls' returns.
    bool cond = false;
  };
  std::vector<Returns> pending;
  for (const delve::ScriptBreakpoint& bp : script.breakpoints) {
    auto where = [&](absl::string_view msg) {
      return absl::StrCat(script_name, ":", bp.line, ": ", msg);
    };
    // The functions a name covers, as Delve finds them: `handleOrder` is Delve's shorthand for
    // main.handleOrder, and a generic function's name without type parameters (`main.sum`) covers
    // every instantiation (main.sum[go.shape.int], ...).
    // Each function's out-of-line body (if any) and the calls the compiler inlined.
    // A line: the out-of-line bodies that hold its code (none of it inlined), each at its entry
    // (the function's first line) or at the line's first statement in the body (`body_pc`).
    struct Target {
      absl::StatusOr<gobinary::Function> body;
      std::vector<gobinary::InlinedCall> calls;
      std::optional<uint64_t> body_pc;
    };
    std::vector<Target> targets;
    if (auto file_line = ParseFileLine(bp.location)) {
      auto lines = LineTargets(dwarf, bp.location, file_line->first, file_line->second);
      if (!lines.ok()) return WithMessage(lines.status(), where(lines.status().message()));
      for (LineTarget& l : *lines) targets.push_back(Target{std::move(l.function), {}, l.body_pc});
    } else {
      for (const std::string& name : gobinary::FunctionNamesFor(bp.location)) {
        Target t{dwarf.FindFunction(name), dwarf.InlinedCalls(name), std::nullopt};
        if (t.body.ok() || !t.calls.empty()) {
          targets.push_back(std::move(t));
          break;
        }
        for (const std::string& inst : dwarf.Instantiations(name)) {
          targets.push_back(
              Target{dwarf.FindFunction(inst), dwarf.InlinedCalls(inst), std::nullopt});
        }
        if (!targets.empty()) break;
      }
    }
    size_t sites = 0;
    for (const Target& t : targets) sites += (t.body.ok() ? 1 : 0) + t.calls.size();
    if (sites == 0) {
      return absl::NotFoundError(where(absl::StrCat("location \"", bp.location, "\" not found",
                                                    FunctionHint(dwarf, bp.location))));
    }
    if (plan.probes.size() + sites > KDBG_MAX_PROBES) {
      return absl::ResourceExhaustedError(where(absl::StrCat(
          bp.location, " is at ", sites,
          " places (its bodies and the calls the compiler inlined): ",
          "with the script's other tracepoints that is more than the ", KDBG_MAX_PROBES,
          " probes the eBPF engine arms (Delve sets a breakpoint at each)")));
    }
    const size_t entry_index = plan.probes.size();
    for (const Target& t : targets) {
      if (t.body.ok()) {
        KDBG_ASSIGN_OR_RETURN(
            ProbePlan pp, NotAbsent(CompileProbe(bp, script_name, dwarf, bias, compiler, *t.body,
                                                 nullptr, t.body_pc)));
        pp.entry = entry_index;
        // Inlined calls have no RET: returns are the out-of-line body's. A line in the body
        // reports no return, as on Delve (only a function's tracepoint does).
        if (returns && !t.body_pc.has_value()) {
          pending.push_back(Returns{
              absl::StrCat(script_name, ":", bp.line, " ", t.body->name),
              CompileReturns(dwarf, compiler.types(), bias, compiler.dispatcher(), pp, entry_index),
              plan.probes.size(), !pp.cond.empty() || pp.hit_op != KDBG_COND_NONE});
        }
        plan.probes.push_back(std::move(pp));
      }
      for (const gobinary::InlinedCall& call : t.calls) {
        auto pp = NotAbsent(
            CompileProbe(bp, script_name, dwarf, bias, compiler, call.callee, &call, std::nullopt));
        if (!pp.ok()) {
          return WithMessage(
              pp.status(),
              absl::StrCat(pp.status().message(), " (at its call inlined in ", call.caller, ", ",
                           call.callee.file, ":", call.callee.line, ")"));
        }
        pp->entry = entry_index;
        plan.probes.push_back(*std::move(pp));
      }
    }
  }
  std::vector<std::string> over;                     // the tracepoints whose returns do not fit
  std::optional<absl::StatusOr<uint64_t>> stack_hi;  // read for the first conditional one
  if (std::any_of(plan.probes.begin(), plan.probes.end(),
                  [](const ProbePlan& p) { return p.stack_depth > 0; })) {
    // A stack's walk ends at the goroutine's stack top.
    stack_hi = dwarf.StackHiOffset();
    KDBG_ASSIGN_OR_RETURN(plan.stack_hi_offset, NotAbsent(*stack_hi));
  }
  for (Returns& r : pending) {
    if (r.probes.ok() && r.cond && !r.probes->empty()) {
      // Its returns are told from other calls' by the call's depth in its goroutine's stack.
      if (!stack_hi.has_value()) stack_hi = dwarf.StackHiOffset();
      if (!stack_hi->ok()) r.probes = stack_hi->status();
    }
    if (!r.probes.ok()) {
      plan.notes.push_back(absl::StrCat("returns not reported for ", r.label, " (",
                                        r.probes.status().message(), ")"));
    } else if (plan.probes.size() + r.probes->size() > KDBG_MAX_PROBES) {
      over.push_back(r.label);
    } else {
      if (r.cond && !r.probes->empty()) {
        plan.stack_hi_offset = **stack_hi;
        plan.probes[r.body].track = KDBG_TRACK_CALL;
        for (ProbePlan& rp : *r.probes) rp.track = KDBG_TRACK_RETURN;
      }
      for (ProbePlan& rp : *r.probes) plan.probes.push_back(std::move(rp));
    }
  }
  if (dispatcher.has_value() && dispatcher->full()) {
    plan.notes.push_back(absl::StrCat(
        "some dynamic types' values print by address (their subprograms would pass the ",
        KDBG_MAX_SUBOPS, " read steps or ", KDBG_MAX_DISPATCH,
        " types the eBPF engine loads); --engine delve prints them"));
  }
  if (!over.empty()) {
    plan.notes.push_back(absl::StrCat("returns not reported for ", absl::StrJoin(over, ", "),
                                      " (their RET probes would pass the ", KDBG_MAX_PROBES,
                                      " probes the eBPF engine arms)"));
  }
  return plan;
}

namespace {

// As Delve prints a float (service/api/conversions.go, convertFloatValue): "+Inf", "-Inf", "NaN",
// else strconv.FormatFloat(f, 'f', -1, bits) of the value as go/constant holds it: the shortest
// digits that read back as the same float32 or float64, written out without an exponent
// ("0.1", "123456.79" for a float32, "1000000000000000000000" for 1e21), and 0 for -0 (a
// go/constant value has no negative zero). std::to_chars gives the shortest digits in scientific
// notation ("1.2345679e+05"); in fixed notation it would write 1e21 as a float32 exactly
// ("1000000020040877342720").
std::string FormatFloat(uint64_t word, int size) {
  char buf[64];
  std::to_chars_result r;
  double d;
  if (size == 4) {
    float f;
    const auto bits = static_cast<uint32_t>(word);
    std::memcpy(&f, &bits, sizeof(f));
    d = f;
    r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  } else {
    std::memcpy(&d, &word, sizeof(d));
    r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  }
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (d == 0) return "0";
  if (r.ec != std::errc()) return "(unreadable float)";
  absl::string_view sci(buf, static_cast<size_t>(r.ptr - buf));  // "-1.2345679e+05"
  const bool negative = absl::ConsumePrefix(&sci, "-");
  const size_t e = sci.find('e');
  int exponent = 0;
  if (e == absl::string_view::npos || !absl::SimpleAtoi(sci.substr(e + 1), &exponent)) {
    return "(unreadable float)";
  }
  const std::string digits = absl::StrReplaceAll(sci.substr(0, e), {{".", ""}});
  const int point = exponent + 1;  // digits before the decimal point
  std::string out = negative ? "-" : "";
  if (point <= 0) {
    absl::StrAppend(&out, "0.", std::string(static_cast<size_t>(-point), '0'), digits);
  } else if (static_cast<size_t>(point) >= digits.size()) {
    absl::StrAppend(&out, digits, std::string(static_cast<size_t>(point) - digits.size(), '0'));
  } else {
    absl::StrAppend(&out, digits.substr(0, static_cast<size_t>(point)), ".",
                    digits.substr(static_cast<size_t>(point)));
  }
  return out;
}

}  // namespace

namespace {

// Why a slot holds no value ("nil pointer dereference"), as "(unreadable ...)" says; "" when it
// holds one.
std::string Unreadable(const Slot& slot, const kdbg_slot& v) {
  switch (v.status) {
    case KDBG_SLOT_OK:
      return "";
    case KDBG_SLOT_NIL:
      return "nil pointer dereference";
    case KDBG_SLOT_FAULT:
      return absl::StrCat("could not read memory at 0x", absl::Hex(v.w0));
    case KDBG_SLOT_RANGE:
      return "index out of bounds";
    case KDBG_SLOT_NO_TYPE: {
      // A field chain through an interface holding a type it has no alternative for (w0: the
      // type's descriptor): one without the field, or one left out for the probe's read steps.
      if (v.w0 == 0) return "nil interface";
      if (slot.guard_types != nullptr) {
        auto it =
            std::lower_bound(slot.guard_types->begin(), slot.guard_types->end(), v.w0,
                             [](const DynamicType& d, uint64_t word) { return d.word < word; });
        if (it != slot.guard_types->end() && it->word == v.w0) {
          return absl::StrCat("dynamic type ", it->name,
                              " is not one this expression was compiled for");
        }
      }
      return absl::StrCat("dynamic type at 0x", absl::Hex(v.w0), " not compiled");
    }
    default:
      return "not evaluated";
  }
}

// `value` (the integer n) as Delve's api.VariableValueAsString prints a value of a type with
// constants: "modeExec (4)", "modeRead|modeWrite (3)" (proc.(*constantType).describe: the constant
// equal to n, else n as the bitwise or of the single-bit constants when they make all of it),
// else `value` alone.
std::string WithConstants(const Slot& slot, int64_t n, std::string value) {
  if (slot.constants == nullptr) return value;
  std::string describe;
  for (const gobinary::Constant& c : *slot.constants) {
    if (c.value == n) {
      describe = c.name;
      break;
    }
  }
  if (describe.empty() && n != 0) {
    std::vector<absl::string_view> bits;
    uint64_t left = static_cast<uint64_t>(n);
    for (const gobinary::Constant& c : *slot.constants) {
      const auto v = static_cast<uint64_t>(c.value);
      if (std::popcount(v) == 1 && (left & v) != 0) {
        bits.push_back(c.name);
        left &= ~v;
      }
    }
    if (left == 0) describe = absl::StrJoin(bits, "|");
  }
  if (describe.empty()) return value;
  return absl::StrCat(describe, " (", value, ")");
}

// The dynamic type of interface `slot` holding words `v` (w0 not 0): by its itab or descriptor
// among the slot's dynamic types, else an itab made at run time read by `itabs`; null if unknown.
const DynamicType* DynamicTypeOf(const Slot& slot, const kdbg_slot& v, ItabTypes* itabs) {
  if (slot.dynamic_types != nullptr) {
    auto it = std::lower_bound(slot.dynamic_types->begin(), slot.dynamic_types->end(), v.w0,
                               [](const DynamicType& d, uint64_t word) { return d.word < word; });
    if (it != slot.dynamic_types->end() && it->word == v.w0) return &*it;
  }
  if (slot.by_itab && itabs != nullptr) return itabs->Lookup(v.w0);
  return nullptr;
}

// Record slot `k` of a value printed whole, read for node `n`: null, with *why set, when the
// record was cut before it or the slot holds no value.
const kdbg_slot* LeafSlot(const ValueNode& n, absl::Span<const kdbg_slot> values, int k,
                          std::string* why) {
  if (k < 0 || static_cast<size_t>(k) >= values.size()) {
    *why = "record truncated";
    return nullptr;
  }
  const kdbg_slot& v = values[static_cast<size_t>(k)];
  *why = Unreadable(n.leaf, v);
  return why->empty() ? &v : nullptr;
}

// What formats a whole value: the plan's subprograms (may be null), the session's itab reader, and
// the hit's whole record (slices' elements are in its slots past the probe's own).
struct WholeContext {
  const Subprograms* subprograms = nullptr;
  ItabTypes* itabs = nullptr;
  absl::Span<const kdbg_slot> record;
};

using delve::ApiVariable;

ApiVariable WholeVariable(const ValueNode& n, absl::Span<const kdbg_slot> values,
                          const WholeContext& cx);

// Delve's maxErrCount (pkg/proc/variables.go): loadArrayValues stops after more unreadable
// elements than this.
constexpr int kMaxErrCount = 3;

// `values` from `k` on (empty past their end).
absl::Span<const kdbg_slot> From(absl::Span<const kdbg_slot> values, size_t k) {
  return k <= values.size() ? values.subspan(k) : absl::Span<const kdbg_slot>();
}

// An array's or slice's elements (ValueNode::element, or element_slots) into `j`, as Delve's
// api.Variable has them: Len, Cap and the first MaxArrayValues elements as children.
ApiVariable Elements(const ValueNode& n, absl::Span<const kdbg_slot> values, const WholeContext& cx,
                     ApiVariable j) {
  auto slot = [&](int k, std::string* why) { return LeafSlot(n, values, k, why); };
  std::string why;
  std::string bytes;
  uint64_t len = 0, cap = 0;
  if (n.kind == GoKind::kSlice) {
    const kdbg_slot* header = slot(n.slot, &why);
    if (header == nullptr) {
      j.unreadable = why;
      return j;
    }
    len = header->w0;
    cap = header->w1;
    if (len > cap) {  // a slice header being written
      j.unreadable = absl::StrCat("slice length ", len, " above its capacity ", cap);
      return j;
    }
    // The data pointer: its own slot (elements read one by one), or each byte chunk's w0.
    const bool each = !n.children.empty();
    const int data_at = each ? n.region : n.slot + 1;
    if (len > 0 && static_cast<size_t>(data_at) < values.size() &&
        values[static_cast<size_t>(data_at)].w0 == 0 &&
        values[static_cast<size_t>(data_at)].status != KDBG_SLOT_UNSET) {
      j.unreadable = "non-zero length array with nil base";  // Delve's words
      return j;
    }
    if (each) {
      const kdbg_slot* data = slot(n.region, &why);
      if (data == nullptr) {
        j.unreadable = why;
        return j;
      }
      if (n.element_slots > 0 && data->w1 == 0) {
        // The EACH never ran (it writes where the elements start, always past slot 0): the hit's
        // steps ran out before it.
        j.unreadable = "not evaluated";
        return j;
      }
      j.len = static_cast<int64_t>(len);
      j.cap = static_cast<int64_t>(cap);
      // The EACH read data->n elements into the record from slot data->w1 on (fewer than Delve's
      // when the record ran out of slots: the rest then show as "...+N more"); elements that take
      // no slot print from their shape.
      uint64_t shown = std::min<uint64_t>(len, static_cast<uint64_t>(n.max_elements));
      if (n.element_slots > 0) shown = std::min<uint64_t>(shown, data->n);
      j.children.reserve(static_cast<size_t>(shown));
      int errors = 0;
      for (uint64_t i = 0; i < shown; ++i) {
        const uint64_t at = std::min<uint64_t>(
            data->w1 + i * static_cast<uint64_t>(n.element_slots), cx.record.size());
        ApiVariable e = WholeVariable(n.children.front(),
                                      n.element_slots > 0 ? From(cx.record, static_cast<size_t>(at))
                                                          : absl::Span<const kdbg_slot>(),
                                      cx);
        errors += e.unreadable.empty() ? 0 : 1;
        j.children.push_back(std::move(e));
        if (errors > kMaxErrCount) break;
      }
      return j;
    }
    for (int k = 1; k < n.slots; ++k) {
      const kdbg_slot* chunk = slot(n.slot + k, &why);
      if (chunk == nullptr) {
        j.unreadable = why;
        return j;
      }
      bytes.append(chunk->str, std::min<size_t>(chunk->n, KDBG_STR_MAX));
    }
  } else {
    len = cap = static_cast<uint64_t>(n.array_len);
    for (int k = 0; k < n.slots; ++k) {
      const kdbg_slot* chunk = slot(n.slot + k, &why);
      if (chunk == nullptr) {
        j.unreadable = why;
        return j;
      }
      for (uint64_t w : {chunk->w0, chunk->w1}) {
        for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>((w >> (8 * b)) & 0xff));
      }
    }
  }
  j.len = static_cast<int64_t>(len);
  j.cap = static_cast<int64_t>(cap);
  const auto size = static_cast<size_t>(n.element.size);
  const size_t shown = std::min<size_t>({static_cast<size_t>(std::min<uint64_t>(len, 1 << 20)),
                                         static_cast<size_t>(n.max_elements), bytes.size() / size});
  j.children.reserve(shown);
  for (size_t i = 0; i < shown; ++i) {
    kdbg_slot e{};
    e.status = KDBG_SLOT_OK;
    std::memcpy(&e.w0, bytes.data() + i * size, size);
    // No kind: delve::FormatVariable prints the value as it is.
    ApiVariable& c = j.children.emplace_back();
    c.type = n.element.type;
    c.value = FormatSlot(n.element, e);
  }
  return j;
}

// A map's entries (ValueNode, kMap) into `j`, as Delve's api.Variable has them: Len, and the first
// MaxArrayValues entries' keys and elements, one after the other, as children (those the MAP read:
// fewer when the record ran out of slots or the map is sparse past KDBG_MAP_GROUPS groups; the
// printer then shows "..."). Entries that take no slot print from their shape.
ApiVariable MapEntries(const ValueNode& n, absl::Span<const kdbg_slot> values,
                       const WholeContext& cx, ApiVariable j) {
  std::string why;
  const kdbg_slot* pointer = LeafSlot(n, values, n.slot, &why);
  if (pointer == nullptr) {
    j.unreadable = why;
    return j;
  }
  j.base = pointer->w0;  // the runtime's header; 0: a nil map (no entries)
  if (pointer->w0 == 0) {
    j.len = 0;
    return j;
  }
  // Its length and entries (the MAP's slot): unset when the hit's steps ran out before the MAP
  // was done.
  const kdbg_slot* header = LeafSlot(n, values, n.region, &why);
  if (header == nullptr) {
    j.unreadable = why;
    return j;
  }
  j.len = static_cast<int64_t>(header->w0);
  uint64_t shown = std::min<uint64_t>(header->w0, static_cast<uint64_t>(n.max_elements));
  if (n.element_slots > 0) shown = std::min<uint64_t>(shown, header->n);
  j.children.reserve(static_cast<size_t>(2 * shown));
  int errors = 0;
  for (uint64_t i = 0; i < shown && !n.children.empty(); ++i) {
    const uint64_t at = std::min<uint64_t>(header->w1 + i * static_cast<uint64_t>(n.element_slots),
                                           cx.record.size());
    ApiVariable entry = WholeVariable(n.children.front(),
                                      n.element_slots > 0 ? From(cx.record, static_cast<size_t>(at))
                                                          : absl::Span<const kdbg_slot>(),
                                      cx);
    // The slot struct {key, elem}: its two fields are the entry.
    std::vector<ApiVariable>& fields = entry.children;
    if (fields.size() != 2) break;
    errors += !fields[0].unreadable.empty() || !fields[1].unreadable.empty() ? 1 : 0;
    j.children.push_back(std::move(fields[0]));
    j.children.push_back(std::move(fields[1]));
    if (errors > kMaxErrCount) break;  // as Delve's loadMap
  }
  return j;
}

// An interface `n` whose words are `v`, into `j`: nil (no children); its dynamic value as its
// type's subprogram read it into the region (the descriptor in the region's first slot, the value's
// slots counted from there); else (by address, a type not compiled, or one that did not fit) its
// words as FormatSlot prints them, a value delve::FormatVariable shows as it is (no kind).
ApiVariable InterfaceValue(const ValueNode& n, absl::Span<const kdbg_slot> values,
                           const kdbg_slot& v, const WholeContext& cx, ApiVariable j) {
  if (v.w0 == 0) return j;
  if (n.only_addr) {
    // Past Delve's recursion level: its dynamic value by type only (Delve's data child, OnlyAddr,
    // never loaded; delve::FormatVariable prints "error(*pkg.T ...)").
    if (const DynamicType* dt = DynamicTypeOf(n.leaf, v, cx.itabs)) {
      ApiVariable& data = j.children.emplace_back();
      data.name = "data";
      data.type = dt->name;  // the plan's, or the itab reader's (valid until its Trim)
      data.kind = dt->kind;
      data.only_addr = true;
      return j;
    }
  }
  const DynamicValue* dv = nullptr;
  if (cx.subprograms != nullptr && n.region >= 0 && static_cast<size_t>(n.region) < values.size() &&
      values[static_cast<size_t>(n.region)].status == KDBG_SLOT_OK) {
    dv = cx.subprograms->Find(n.variant, values[static_cast<size_t>(n.region)].w0);
  }
  if (dv == nullptr) {
    ApiVariable words;
    words.name = n.name;
    words.type = n.type;
    words.value = FormatSlot(n.leaf, v, cx.itabs);
    return words;
  }
  j.children.push_back(
      WholeVariable(dv->data, From(values, static_cast<size_t>(n.region) + 1), cx));
  return j;
}

// Delve's api.Variable for `n` (service/api/types.go: the fields delve::FormatVariable reads)
// from the print's record slots. Its strings view the plan's and the itab reader's, which
// outlive the formatting.
ApiVariable WholeVariable(const ValueNode& n, absl::Span<const kdbg_slot> values,
                          const WholeContext& cx) {
  ApiVariable j;
  j.name = n.name;
  j.type = n.type;
  j.kind = n.kind;
  if (n.kind == GoKind::kArray || n.kind == GoKind::kSlice) {
    if (n.slots == 0) return j;  // nested too deep to be printed
    return Elements(n, values, cx, std::move(j));
  }
  if (n.kind == GoKind::kMap) {
    if (n.slot < 0) return j;  // nested too deep to be printed
    return MapEntries(n, values, cx, std::move(j));
  }
  if (n.slot < 0) {  // a struct, or nested too deep to be printed
    if (n.kind != GoKind::kStruct) return j;
    j.len = n.fields;  // its loaded fields, if any, are its children
    j.children.reserve(n.children.size());
    for (const ValueNode& c : n.children) j.children.push_back(WholeVariable(c, values, cx));
    return j;
  }
  std::string why;
  const kdbg_slot* leaf = LeafSlot(n, values, n.slot, &why);
  if (leaf == nullptr) {
    j.unreadable = std::move(why);
    return j;
  }
  const kdbg_slot& v = *leaf;
  if (n.kind == GoKind::kInterface) return InterfaceValue(n, values, v, cx, std::move(j));
  if (n.kind == GoKind::kString) {
    j.value.assign(v.str, std::min<size_t>(v.n, KDBG_STR_MAX));
    j.len = static_cast<int64_t>(v.w1);
    return j;
  }
  if (n.kind != GoKind::kPtr) {
    j.value = FormatSlot(n.leaf, v);
    return j;
  }
  // A pointer: its target, loaded (at its address), shown by address, or a nil pointer's (Delve's
  // variable at address 0, never loaded: no fields, no value).
  const ValueNode& target = n.children.front();
  ApiVariable t;
  if (v.w0 == 0 || n.only_addr) {
    t.type = target.type;
    t.kind = target.kind;
    t.only_addr = n.only_addr;
  } else {
    t = WholeVariable(target, values, cx);
  }
  t.addr = v.w0;
  j.children.push_back(std::move(t));
  return j;
}

}  // namespace

std::string FormatWhole(const Slot& slot, absl::Span<const kdbg_slot> values, ItabTypes* itabs,
                        absl::Span<const kdbg_slot> record) {
  return delve::FormatVariable(
      WholeVariable(*slot.whole, values, {slot.subprograms.get(), itabs, record}));
}

std::string FormatSlot(const Slot& slot, const kdbg_slot& v, ItabTypes* itabs) {
  if (std::string why = Unreadable(slot, v); !why.empty()) {
    return absl::StrCat("(unreadable ", why, ")");
  }
  int bits = slot.size * 8;
  uint64_t raw = v.w0;
  if (bits < 64) raw &= (uint64_t{1} << bits) - 1;
  switch (slot.format) {
    case SlotFormat::kString: {
      size_t n = v.n > KDBG_STR_MAX ? KDBG_STR_MAX : v.n;
      std::string s = delve::QuoteGoString(absl::string_view(v.str, n));
      if (v.w1 > n) absl::StrAppend(&s, "...+", v.w1 - n, " more");
      return s;
    }
    case SlotFormat::kSigned: {
      int64_t x = static_cast<int64_t>(raw);
      if (bits < 64 && (raw >> (bits - 1)) & 1)
        x = static_cast<int64_t>(raw | ~((uint64_t{1} << bits) - 1));
      return WithConstants(slot, x, absl::StrCat(x));
    }
    case SlotFormat::kUnsigned:
      return WithConstants(slot, static_cast<int64_t>(raw), absl::StrCat(raw));
    case SlotFormat::kBool:
      return (raw & 0xff) != 0 ? "true" : "false";
    case SlotFormat::kPointer:
      if (raw == 0) return "nil";
      return absl::StrCat("(", slot.type, ")(0x", absl::Hex(raw), ")");
    case SlotFormat::kInterface: {
      if (v.w0 == 0) return absl::StrCat(slot.type, " nil");
      const DynamicType* dt = DynamicTypeOf(slot, v, itabs);
      if (dt == nullptr) {
        // A non-empty interface's itab made at run time whose type could not be read (no
        // `itabs`, or the DWARF does not name it); an empty interface's type without DWARF.
        return absl::StrCat(slot.type, "((unreadable dynamic type at 0x", absl::Hex(v.w0),
                            ", not in the binary's itab symbols or DWARF))");
      }
      if (dt->kind == GoKind::kPtr) {
        if (v.w1 == 0) return absl::StrCat(slot.type, "((", dt->name, ")(nil))");
        return absl::StrCat(slot.type, "((", dt->name, ")(0x", absl::Hex(v.w1), "))");
      }
      return absl::StrCat(slot.type, "(", dt->name,
                          dt->kind == GoKind::kStruct ? " {...})" : " ...)");
    }
    case SlotFormat::kSliceHeader:
      return absl::StrCat(slot.type, " len: ", v.w0, ", cap: ", v.w1,
                          v.w0 == 0 ? ", []" : ", [...]");
    case SlotFormat::kFloat:
      return FormatFloat(v.w0, slot.size);
  }
  return "";
}

uint32_t ProbePlan::RecordSlots() const {
  uint32_t n = 0;
  for (const auto* list : {&vars, &args}) {
    for (const Slot& s : *list) n += !s.unread.empty() ? 0 : s.whole != nullptr ? s.whole_slots : 1;
  }
  for (const Slot& s : results) n += !s.unread.empty() ? 0 : s.whole != nullptr ? s.whole_slots : 1;
  return n;
}

absl::Status ScriptMistake(absl::Status status) {
  if (!status.ok()) status.SetPayload(kScriptMistakeUrl, absl::Cord("field"));
  return status;
}

bool IsScriptMistake(const absl::Status& status) {
  return status.GetPayload(kScriptMistakeUrl).has_value();
}

}  // namespace kdbg::ebpf
