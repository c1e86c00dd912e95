#include "agent/gobinary/dwarf.h"

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace kdbg::gobinary {
namespace {

constexpr int kDwAtGoKind = 0x2900;
constexpr int kDwAtGoKey = 0x2901;   // on a map's typedef: its key type
constexpr int kDwAtGoElem = 0x2902;  // on a map's typedef: its element type
constexpr int kDwAtGoEmbeddedField = 0x2903;
constexpr int kDwAtGoRuntimeType = 0x2904;  // an offset from runtime.types
// On a generic function's type parameter: "DW_TAG_typedef .param0 DW_AT_type <[]go.shape.int>
// DW_AT_go_dict_index 0". Its name is no Go type's: the value's type is the shape beneath.
constexpr int kDwAtGoDictIndex = 0x2906;
// On a variable a closure captures (Delve: godwarf.AttrGoClosureOffset).
constexpr int kDwAtGoClosureOffset = 0x2907;

const char* Name(Dwarf_Die* die) {
  const char* n = dwarf_diename(die);
  return n == nullptr ? "" : n;
}

uint64_t UdataAttr(Dwarf_Die* die, int at, uint64_t dflt = 0) {
  Dwarf_Attribute attr;
  Dwarf_Word v;
  if (dwarf_attr(die, at, &attr) == nullptr || dwarf_formudata(&attr, &v) != 0) return dflt;
  return v;
}

// A flag attribute (Go writes DW_AT_go_embedded_field as DW_FORM_flag); false when absent.
bool FlagAttr(Dwarf_Die* die, int at) {
  Dwarf_Attribute attr;
  if (dwarf_attr(die, at, &attr) == nullptr) return false;
  bool flag = false;
  if (dwarf_formflag(&attr, &flag) == 0) return flag;
  Dwarf_Word v = 0;
  return dwarf_formudata(&attr, &v) == 0 && v != 0;
}

// Through DW_AT_abstract_origin: the parameters of an out-of-line copy of a function the compiler
// also inlined, and of each inlined call, have their name and type only on the abstract DIE
// ("DW_TAG_formal_parameter DW_AT_abstract_origin <0x27df1> DW_AT_location 0x20330").
bool TypeRef(Dwarf_Die* die, Dwarf_Die* out) {
  Dwarf_Attribute attr;
  return dwarf_attr_integrate(die, DW_AT_type, &attr) != nullptr &&
         dwarf_formref_die(&attr, out) != nullptr;
}

// The formal parameters among `die`'s children, in order.
std::vector<Parameter> Params(Dwarf_Die* die) {
  std::vector<Parameter> out;
  Dwarf_Die child;
  if (dwarf_child(die, &child) != 0) return out;
  do {
    if (dwarf_tag(&child) != DW_TAG_formal_parameter) continue;
    Parameter p;
    p.name = Name(&child);
    Dwarf_Die t;
    if (TypeRef(&child, &t)) p.type = dwarf_dieoffset(&t);
    Dwarf_Attribute vp;
    bool flag = false;
    if (dwarf_attr_integrate(&child, DW_AT_variable_parameter, &vp) != nullptr) {
      dwarf_formflag(&vp, &flag);
    }
    p.is_return = flag;
    out.push_back(std::move(p));
  } while (dwarf_siblingof(&child, &child) == 0);
  return out;
}

// The source position of `pc` in compile unit `cu`'s line table: {file, line}; nullopt if none.
std::optional<std::pair<std::string, int>> LineIn(Dwarf_Die* cu, uint64_t pc) {
  Dwarf_Line* line = dwarf_getsrc_die(cu, pc);
  if (line == nullptr) return std::nullopt;
  std::pair<std::string, int> out;
  const char* f = dwarf_linesrc(line, nullptr, nullptr);
  if (f != nullptr) out.first = f;
  dwarf_lineno(line, &out.second);
  return out;
}

// fn's file and line: those of `pc` in the line table of `die`'s compile unit.
void LineOf(Dwarf_Die* die, uint64_t pc, Function* fn) {
  Dwarf_Die cu;
  if (dwarf_diecu(die, &cu, nullptr, nullptr) == nullptr) return;
  if (auto pos = LineIn(&cu, pc)) std::tie(fn->file, fn->line) = *pos;
}

class LibdwReader final : public DwarfReader {
 public:
  // On `bin`'s ELF and DWARF handles (GoBinary owns them).
  absl::Status Init(std::shared_ptr<const GoBinary> bin) {
    bin_ = std::move(bin);
    dwarf_ = bin_->dwarf();
    if (dwarf_ == nullptr && !bin_->dwarf_problem().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(bin_->path(), " has damaged DWARF debug info (", bin_->dwarf_problem(),
                       "): values cannot be read from it; rebuild the binary"));
    }
    if (dwarf_ == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          bin_->path(),
          " has no DWARF debug info (built with -ldflags='-s -w' or -w?): values cannot be "
          "read without it"));
    }
    Index();
    return absl::OkStatus();
  }

  absl::StatusOr<Function> FindFunction(absl::string_view name) override {
    auto it = functions_.find(name);
    if (it == functions_.end()) {
      return absl::NotFoundError(absl::StrCat("function ", name, " not found"));
    }
    Dwarf_Die die;
    if (dwarf_offdie(dwarf_, it->second, &die) == nullptr) return absl::InternalError("bad DIE");
    Function fn;
    fn.name = std::string(name);
    fn.die = it->second;
    Dwarf_Addr lo = 0, hi = 0;
    if (dwarf_lowpc(&die, &lo) != 0 || dwarf_highpc(&die, &hi) != 0) {
      return absl::NotFoundError(absl::StrCat("function ", name, " has no code (inlined only?)"));
    }
    fn.entry = lo;
    fn.end = hi;
    LineOf(&die, lo, &fn);
    fn.params = Params(&die);
    return fn;
  }

  std::vector<std::string> Instantiations(absl::string_view name) override {
    auto it = generic_.find(name);
    if (it == generic_.end()) return {};
    return it->second;
  }

  std::vector<std::string> FunctionNames() override {
    std::vector<std::string> out;
    out.reserve(functions_.size());
    for (const auto& [name, off] : functions_) out.push_back(name);
    return out;
  }

  std::vector<std::string> InlinedOnlyFunctions() override {
    IndexInlinedCalls();
    std::vector<std::string> out;
    for (const auto& [name, off] : abstract_) {
      if (!functions_.contains(name) && inlined_.contains(off)) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<InlinedCall> InlinedCalls(absl::string_view name) override {
    std::vector<InlinedCall> out;
    auto abstract = abstract_.find(name);
    if (abstract == abstract_.end()) return out;
    IndexInlinedCalls();
    auto sites = inlined_.find(abstract->second);
    Dwarf_Die abstract_die;
    if (sites == inlined_.end() ||
        dwarf_offdie(dwarf_, abstract->second, &abstract_die) == nullptr) {
      return out;
    }
    const std::vector<Parameter> declared = Params(&abstract_die);
    for (const auto& [site_off, caller_off] : sites->second) {
      Dwarf_Die site, caller;
      if (dwarf_offdie(dwarf_, site_off, &site) == nullptr ||
          dwarf_offdie(dwarf_, caller_off, &caller) == nullptr) {
        continue;
      }
      // Where Delve puts its breakpoint for this call: DW_AT_low_pc, else the first range
      // (dwarf_ranges yields low_pc/high_pc first when the DIE has them).
      Dwarf_Addr base = 0, start = 0, end = 0;
      if (dwarf_ranges(&site, 0, &base, &start, &end) <= 0) continue;
      // Delve also skips a call without its call line.
      if (!dwarf_hasattr(&site, DW_AT_call_file) || !dwarf_hasattr(&site, DW_AT_call_line)) {
        continue;
      }
      InlinedCall call;
      call.callee.name = std::string(name);
      call.callee.die = site_off;
      call.callee.entry = start;
      call.callee.end = end;
      LineOf(&site, start, &call.callee);
      call.callee.params = Params(&site);
      call.declared = declared;
      call.caller = Name(&caller);
      Dwarf_Addr lo = 0, hi = 0;
      if (dwarf_lowpc(&caller, &lo) == 0 && dwarf_highpc(&caller, &hi) == 0) {
        call.caller_entry = lo;
        call.caller_end = hi;
      }
      out.push_back(std::move(call));
    }
    return out;
  }

  absl::StatusOr<std::vector<Piece>> ParameterAt(const Function& fn, absl::string_view param,
                                                 uint64_t pc) override {
    Dwarf_Die die;
    if (fn.die == 0 || dwarf_offdie(dwarf_, fn.die, &die) == nullptr) {
      return absl::NotFoundError(absl::StrCat("function ", fn.name, " not found"));
    }
    Dwarf_Die child;
    if (dwarf_child(&die, &child) != 0) return absl::NotFoundError("no parameters");
    do {
      if (dwarf_tag(&child) != DW_TAG_formal_parameter || param != Name(&child)) continue;
      return LocationAt(&child, absl::StrCat("parameter ", param), pc);
    } while (dwarf_siblingof(&child, &child) == 0);
    return absl::NotFoundError(absl::StrCat(fn.name, " has no parameter ", param));
  }

  absl::StatusOr<Variable> VariableAt(const Function& fn, absl::string_view name, uint64_t pc,
                                      int line) override {
    Dwarf_Die die;
    if (fn.die == 0 || dwarf_offdie(dwarf_, fn.die, &die) == nullptr) {
      return absl::NotFoundError(absl::StrCat("function ", fn.name, " not found"));
    }
    const std::string escaped = absl::StrCat("&", name);
    struct Found {
      Dwarf_Die die;
      int depth = -1;
      uint64_t decl_line = 0;
    };
    std::optional<Found> best;
    // Delve sorts the candidates by (depth, decl line), stably, and takes the last: a later one
    // of equal rank replaces an earlier one here too. A parameter counts as depth 0.
    std::function<void(Dwarf_Die*, int)> walk = [&](Dwarf_Die* scope, int depth) {
      Dwarf_Die child;
      if (dwarf_child(scope, &child) != 0) return;
      do {
        const int tag = dwarf_tag(&child);
        if (tag == DW_TAG_lexical_block) {
          if (dwarf_haspc(&child, pc) == 1) walk(&child, depth + 1);
          continue;
        }
        if (tag != DW_TAG_formal_parameter && tag != DW_TAG_variable) continue;
        const std::string n = Name(&child);
        if (n != name && n != escaped) continue;
        int decl = 0;
        const bool has_decl = dwarf_decl_line(&child, &decl) == 0;
        if (tag == DW_TAG_variable && has_decl) {
          const bool captured = dwarf_hasattr(&child, kDwAtGoClosureOffset) != 0;
          if (line < decl + (captured ? 0 : 1)) continue;  // not declared yet at this line
        }
        Found f{child, tag == DW_TAG_formal_parameter && depth <= 1 ? 0 : depth,
                has_decl ? static_cast<uint64_t>(decl) : 0};
        if (!best || f.depth > best->depth ||
            (f.depth == best->depth && f.decl_line >= best->decl_line)) {
          best = f;
        }
      } while (dwarf_siblingof(&child, &child) == 0);
    };
    walk(&die, 1);
    if (!best) {
      return absl::NotFoundError(absl::StrCat(name, " is not a parameter of ", fn.name,
                                              " or a local in scope at line ", line));
    }
    Variable v;
    v.escaped = Name(&best->die) == escaped;
    v.parameter = dwarf_tag(&best->die) == DW_TAG_formal_parameter;
    v.decl_line = best->decl_line;
    Dwarf_Die t;
    if (TypeRef(&best->die, &t)) v.type = dwarf_dieoffset(&t);
    v.pieces =
        LocationAt(&best->die, absl::StrCat(v.parameter ? "parameter " : "variable ", name), pc);
    return v;
  }

  absl::StatusOr<TypeInfo> Type(TypeId id) override {
    Dwarf_Die die;
    if (dwarf_offdie(dwarf_, id, &die) == nullptr) {
      return absl::InternalError(absl::StrCat("no type DIE at ", id));
    }
    // A typedef without a Go kind only renames (main.Describer -> main.Describer of kind 20).
    std::string outer_name;
    for (int i = 0; i < 8 && dwarf_tag(&die) == DW_TAG_typedef; ++i) {
      if (outer_name.empty() && !dwarf_hasattr(&die, kDwAtGoDictIndex)) outer_name = Name(&die);
      if (UdataAttr(&die, kDwAtGoKind) != 0) break;
      Dwarf_Die next;
      if (!TypeRef(&die, &next)) break;
      die = next;
    }
    TypeInfo t;
    t.id = dwarf_dieoffset(&die);
    t.name = outer_name.empty() ? Name(&die) : outer_name;
    t.kind = GoKindFromNumber(static_cast<int64_t>(UdataAttr(&die, kDwAtGoKind)));
    t.size = UdataAttr(&die, DW_AT_byte_size);
    int tag = dwarf_tag(&die);
    if (tag == DW_TAG_typedef) {
      // An interface: the header struct beneath holds the layout.
      Dwarf_Die hdr;
      if (TypeRef(&die, &hdr)) {
        // A typedef may name another ("error" -> "error" -> runtime.iface, seen in Go 1.26's
        // DWARF for a parameter's type): follow them to the header struct, keeping a kind met
        // on the way.
        for (int hops = 0; hops < 8 && dwarf_tag(&hdr) == DW_TAG_typedef; ++hops) {
          if (t.kind == GoKind::kInvalid) {
            t.kind = GoKindFromNumber(static_cast<int64_t>(UdataAttr(&hdr, kDwAtGoKind)));
          }
          Dwarf_Die next;
          if (!TypeRef(&hdr, &next)) break;
          hdr = next;
        }
        if (t.kind == GoKind::kMap) {
          // "map[string]int" -> "*map<string,int>": a map is a pointer to the runtime's header.
          // Its key and element types are on the typedef of the map type ("main.Tags" names
          // that typedef).
          Dwarf_Die d = die, header;
          auto ref = [](Dwarf_Die* from, int at) -> TypeId {
            Dwarf_Attribute attr;
            Dwarf_Die to;
            return dwarf_attr(from, at, &attr) != nullptr &&
                           dwarf_formref_die(&attr, &to) != nullptr
                       ? dwarf_dieoffset(&to)
                       : 0;
          };
          for (int hops = 0; hops < 8 && t.key == 0; ++hops) {
            t.key = ref(&d, kDwAtGoKey);
            t.value = ref(&d, kDwAtGoElem);
            Dwarf_Die next;
            if (dwarf_tag(&d) != DW_TAG_typedef || !TypeRef(&d, &next)) break;
            d = next;
          }
          if (dwarf_tag(&hdr) == DW_TAG_pointer_type && TypeRef(&hdr, &header)) {
            t.elem = dwarf_dieoffset(&header);
          }
          t.size = 8;
          return t;
        }
        t.empty_interface = absl::StrContains(Name(&hdr), "eface");
        t.size = UdataAttr(&hdr, DW_AT_byte_size);
        Members(&hdr, &t);
      }
      if (t.kind == GoKind::kInvalid) t.kind = GoKind::kInterface;
      return t;
    }
    if (tag == DW_TAG_pointer_type) {
      Dwarf_Die e;
      if (TypeRef(&die, &e)) t.elem = dwarf_dieoffset(&e);
      if (t.kind == GoKind::kInvalid) t.kind = GoKind::kPtr;
      if (t.size == 0) t.size = 8;
    } else if (tag == DW_TAG_array_type) {
      Dwarf_Die e;
      if (TypeRef(&die, &e)) t.elem = dwarf_dieoffset(&e);
      if (t.kind == GoKind::kInvalid) t.kind = GoKind::kArray;
    } else if (tag == DW_TAG_structure_type) {
      Members(&die, &t);
      if (t.kind == GoKind::kInvalid) t.kind = GoKind::kStruct;
    } else if (tag == DW_TAG_base_type && t.kind == GoKind::kInvalid) {
      t.kind = BaseKind(&die);
    }
    return t;
  }

  absl::StatusOr<TypeInfo> TypeByName(absl::string_view name) override {
    auto it = types_.find(name);
    if (it == types_.end()) return absl::NotFoundError(absl::StrCat("type ", name, " not found"));
    return Type(it->second);
  }

  std::vector<Itab> ItabsFor(absl::string_view interface_name) override {
    LoadSymbols();
    std::vector<Itab> out;
    for (const Itab& i : itabs_) {
      if (i.interface == interface_name) out.push_back(i);
    }
    return out;
  }

  const std::vector<RuntimeType>& RuntimeTypes() override {
    if (runtime_types_loaded_) return runtime_types_;
    runtime_types_loaded_ = true;
    uint64_t base = 0;
    for (const FunctionSymbol& sym : bin_->DataSymbols("runtime.types")) {
      if (sym.name == "runtime.types") base = sym.address;
    }
    if (base == 0) return runtime_types_;
    ForEachTopLevelDie([&](Dwarf_Die* d) {
      Dwarf_Attribute attr;
      Dwarf_Word rt = 0;
      Dwarf_Addr rt_addr = 0;
      if (dwarf_attr(d, kDwAtGoRuntimeType, &attr) == nullptr) return;
      if (dwarf_formudata(&attr, &rt) != 0) {
        if (dwarf_formaddr(&attr, &rt_addr) != 0) return;
        rt = rt_addr;
      }
      if (rt == 0) return;
      auto t = Type(dwarf_dieoffset(d));
      if (!t.ok() || t->name.empty()) return;
      runtime_types_.push_back(RuntimeType{base + rt, t->name, t->kind, t->id});
    });
    std::sort(runtime_types_.begin(), runtime_types_.end(),
              [](const RuntimeType& a, const RuntimeType& b) { return a.address < b.address; });
    return runtime_types_;
  }

  absl::StatusOr<uint64_t> GoidOffset() override { return MemberOffset("runtime.g", {"goid"}); }

  absl::StatusOr<uint64_t> StackHiOffset() override {
    return MemberOffset("runtime.g", {"stack", "hi"});
  }

  absl::StatusOr<uint64_t> FileOffset(uint64_t vaddr) override {
    return bin_->CodeFileOffset(vaddr);
  }

  bool IsPie() override { return bin_->IsPie(); }

  uint64_t EntryAddress() override { return bin_->EntryAddress(); }

  absl::StatusOr<std::string> CodeBytes(uint64_t vaddr, size_t n) override {
    return bin_->CodeBytes(vaddr, n);
  }

  absl::StatusOr<int64_t> CfaFromRsp(uint64_t pc) override {
    if (cfi_ == nullptr) cfi_ = dwarf_getcfi(dwarf_);  // owned by dwarf_
    if (cfi_ == nullptr) return absl::NotFoundError("the binary has no call frame information");
    Dwarf_Frame* frame = nullptr;
    if (dwarf_cfi_addrframe(cfi_, pc, &frame) != 0) {
      return absl::NotFoundError(absl::StrCat("no call frame information covers 0x", absl::Hex(pc),
                                              ": ", dwarf_errmsg(-1)));
    }
    Dwarf_Op* ops = nullptr;  // in `frame`
    size_t nops = 0;
    absl::StatusOr<int64_t> out = absl::UnimplementedError(
        absl::StrCat("the frame address at 0x", absl::Hex(pc), " is not RSP + an offset"));
    constexpr int kDwarfRsp = 7;
    if (dwarf_frame_cfa(frame, &ops, &nops) == 0 && nops == 1) {
      if (ops[0].atom == DW_OP_breg0 + kDwarfRsp) {
        out = static_cast<int64_t>(ops[0].number);
      } else if (ops[0].atom == DW_OP_bregx && ops[0].number == kDwarfRsp) {
        out = static_cast<int64_t>(ops[0].number2);
      }
    }
    free(frame);  // NOLINT(cppcoreguidelines-no-malloc): libdw allocates it with malloc
    return out;
  }

  absl::StatusOr<std::optional<uint64_t>> AfterPrologue(const Function& fn) override {
    Dwarf_Die die, cu;
    if (fn.die == 0 || dwarf_offdie(dwarf_, fn.die, &die) == nullptr ||
        dwarf_diecu(&die, &cu, nullptr, nullptr) == nullptr) {
      return absl::NotFoundError(absl::StrCat("function ", fn.name, " not found"));
    }
    Dwarf_Lines* lines = nullptr;
    size_t n = 0;
    if (dwarf_getsrclines(&cu, &lines, &n) != 0) return absl::InternalError("no line table");
    std::optional<uint64_t> first_stmt;  // the rows are sorted by address
    for (size_t i = 0; i < n; ++i) {
      Dwarf_Line* l = dwarf_onesrcline(lines, i);
      Dwarf_Addr a = 0;
      bool flag = false;
      if (l == nullptr || dwarf_lineaddr(l, &a) != 0) continue;
      if (a < fn.entry || a >= fn.end) continue;
      if (dwarf_lineprologueend(l, &flag) == 0 && flag) return std::optional<uint64_t>(a);
      if (!first_stmt && dwarf_linebeginstatement(l, &flag) == 0 && flag) first_stmt = a;
    }
    return first_stmt;
  }

  absl::StatusOr<SourceLine> LineSites(absl::string_view file, int line) override {
    // The file, as locspec's partialPathMatch: the whole path, or its end after a '/'.
    auto matches = [&](absl::string_view path) {
      if (file.size() + 1 < path.size()) {
        return absl::EndsWith(path, file) && path[path.size() - file.size() - 1] == '/';
      }
      return path == file;
    };
    std::vector<std::string> candidates;
    // The units whose file table names a candidate (only their line tables are read), with it.
    std::vector<std::pair<Dwarf_Off, std::string>> units;
    ForEachUnit([&](Dwarf_Die* cu) {
      Dwarf_Files* files = nullptr;
      size_t n = 0;
      if (dwarf_getsrcfiles(cu, &files, &n) != 0) return;
      for (size_t i = 0; i < n; ++i) {
        const char* f = dwarf_filesrc(files, i, nullptr, nullptr);
        if (f == nullptr || !matches(f)) continue;
        // DWARF 5 lists the unit's primary file twice (entries 0 and 1).
        if (units.empty() || units.back().first != dwarf_dieoffset(cu) ||
            units.back().second != f) {
          units.emplace_back(dwarf_dieoffset(cu), f);
        }
        if (std::find(candidates.begin(), candidates.end(), f) == candidates.end()) {
          candidates.emplace_back(f);
        }
      }
    });
    if (candidates.empty()) {
      return absl::NotFoundError(absl::StrCat("no source file ", file, " in the binary"));
    }
    if (candidates.size() > 1) {
      std::sort(candidates.begin(), candidates.end());
      return absl::FailedPreconditionError(absl::StrCat(
          file, " is ambiguous: ", absl::StrJoin(candidates, ", "), " (name more of its path)"));
    }
    SourceLine out;
    out.file = candidates[0];
    // {function DIE, deepest inlined call's DIE or 0} -> its rows {address, is_stmt}.
    std::map<std::pair<Dwarf_Off, Dwarf_Off>, std::vector<std::pair<uint64_t, bool>>> groups;
    for (const auto& [unit, unit_file] : units) {
      Dwarf_Die cu;
      Dwarf_Lines* lines = nullptr;
      size_t n = 0;
      if (unit_file != out.file || dwarf_offdie(dwarf_, unit, &cu) == nullptr ||
          dwarf_getsrclines(&cu, &lines, &n) != 0) {
        continue;
      }
      for (size_t i = 0; i < n; ++i) {
        Dwarf_Line* l = dwarf_onesrcline(lines, i);
        int lineno = 0;
        Dwarf_Addr a = 0;
        bool end = false, stmt = false;
        const char* f = l == nullptr ? nullptr : dwarf_linesrc(l, nullptr, nullptr);
        if (f == nullptr || dwarf_lineno(l, &lineno) != 0 || lineno != line || out.file != f ||
            dwarf_lineaddr(l, &a) != 0 || (dwarf_lineendsequence(l, &end) == 0 && end)) {
          continue;
        }
        dwarf_linebeginstatement(l, &stmt);
        // The function holding the row (the one binary inspector's symbol table), by its DIE.
        absl::StatusOr<FunctionSymbol> sym = bin_->FunctionAt(a);
        auto die = sym.ok() ? functions_.find(sym->name) : functions_.end();
        Dwarf_Die fn;
        if (die == functions_.end() || dwarf_offdie(dwarf_, die->second, &fn) == nullptr) continue;
        groups[{die->second, DeepestInlined(&fn, a)}].emplace_back(a, stmt);
      }
    }
    for (auto& [key, rows] : groups) {
      Dwarf_Die fn;
      if (dwarf_offdie(dwarf_, key.first, &fn) == nullptr) continue;
      const char* name = Name(&fn);
      if (std::strstr(name, "\302\267dwrap\302\267") != nullptr ||
          FlagAttr(&fn, DW_AT_trampoline)) {
        continue;
      }
      std::sort(rows.begin(), rows.end());
      auto stmt = std::find_if(rows.begin(), rows.end(), [](const auto& r) { return r.second; });
      out.sites.push_back(
          LineSite{name, stmt != rows.end() ? stmt->first : rows.front().first, key.second != 0});
    }
    if (out.sites.empty()) {
      return absl::NotFoundError(absl::StrCat("no code at ", out.file, ":", line));
    }
    std::sort(out.sites.begin(), out.sites.end(),
              [](const LineSite& a, const LineSite& b) { return a.pc < b.pc; });
    return out;
  }

  absl::StatusOr<std::pair<std::string, int>> LineAt(uint64_t pc) override {
    Dwarf_Die cu;
    if (!UnitAt(pc, &cu)) {
      return absl::NotFoundError(absl::StrCat("no compile unit covers 0x", absl::Hex(pc)));
    }
    auto pos = LineIn(&cu, pc);
    if (!pos) return absl::NotFoundError(absl::StrCat("no line for 0x", absl::Hex(pc)));
    return *std::move(pos);
  }

  std::vector<Constant> ConstantsOf(TypeId type) override {
    auto it = constants_.find(type);
    return it == constants_.end() ? std::vector<Constant>{} : it->second;
  }

  absl::StatusOr<GlobalVariable> Global(absl::string_view name) override {
    auto it = globals_.find(name);
    if (it == globals_.end() && !absl::StrContains(name, '/')) {
      const std::string suffix = absl::StrCat("/", name);
      for (auto g = globals_.begin(); g != globals_.end(); ++g) {
        if (!absl::EndsWith(g->first, suffix)) continue;
        if (it != globals_.end()) {
          return absl::FailedPreconditionError(
              absl::StrCat(name, " names more than one package variable (", it->first, ", ",
                           g->first, "): not guessed here; Delve takes one of them"));
        }
        it = g;
      }
    }
    Dwarf_Die die;
    if (it == globals_.end() || dwarf_offdie(dwarf_, it->second, &die) == nullptr) {
      return absl::NotFoundError(absl::StrCat("no package variable ", name));
    }
    GlobalVariable g;
    Dwarf_Die t;
    if (TypeRef(&die, &t)) g.type = dwarf_dieoffset(&t);
    Dwarf_Attribute attr;
    Dwarf_Op* ops = nullptr;
    size_t nops = 0;
    if (g.type == 0 || dwarf_attr(&die, DW_AT_location, &attr) == nullptr ||
        ExpressionAt(&attr, 0, &ops, &nops) != 1 || nops != 1 || ops[0].atom != DW_OP_addr) {
      return absl::NotFoundError(absl::StrCat("package variable ", name, " has no address"));
    }
    g.address = ops[0].number;
    return g;
  }

  absl::StatusOr<PcCode> CodeAt(uint64_t pc) override {
    // The subprogram whose ranges hold pc, by the DWARF (as Delve names functions), not the
    // symbol table that LineSites consults: assembly functions are named there with their ABI
    // ("runtime.goexit.abi0"), in the DWARF as Delve prints them ("runtime.goexit").
    Dwarf_Die cu, fn;
    if (!UnitAt(pc, &cu) || dwarf_child(&cu, &fn) != 0) {
      return absl::NotFoundError(absl::StrCat("no compile unit covers 0x", absl::Hex(pc)));
    }
    bool found = false;
    do {
      found = dwarf_tag(&fn) == DW_TAG_subprogram && dwarf_haspc(&fn, pc) == 1;
    } while (!found && dwarf_siblingof(&fn, &fn) == 0);
    if (!found) return absl::NotFoundError(absl::StrCat("no function holds 0x", absl::Hex(pc)));
    PcCode out;
    out.function = Name(&fn);
    Dwarf_Addr lo = 0;
    if (dwarf_lowpc(&fn, &lo) == 0) out.entry = lo;
    Dwarf_Files* files = nullptr;
    size_t nfiles = 0;
    if (dwarf_getsrcfiles(&cu, &files, &nfiles) != 0) files = nullptr;
    // Delve's order: a call's own inlined calls (deeper) before it. A call or block holds pc when
    // its ranges do or one of its descendants' do: Delve merges each DIE's children's ranges into
    // its own (godwarf.Tree.resolveRanges), as Go's DWARF for a call inlined within an inlined
    // call may leave the outer call's ranges without the inner's code. Returns whether any DIE
    // under `parent` holds pc.
    std::function<bool(Dwarf_Die*, int)> walk = [&](Dwarf_Die* parent, int depth) {
      Dwarf_Die c;
      bool any = false;
      if (depth > 64 || !dwarf_haschildren(parent) || dwarf_child(parent, &c) != 0) return any;
      do {
        const int tag = dwarf_tag(&c);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_lexical_block) continue;
        const bool below = walk(&c, depth + 1);
        if (!below && dwarf_haspc(&c, pc) != 1) continue;
        any = true;
        if (tag != DW_TAG_inlined_subroutine) continue;
        PcCode::Inlined in;
        in.function = Name(&c);
        const uint64_t file = UdataAttr(&c, DW_AT_call_file, ~uint64_t{0});
        const char* path = files != nullptr && file < nfiles
                               ? dwarf_filesrc(files, file, nullptr, nullptr)
                               : nullptr;
        if (path != nullptr) in.call_file = path;
        in.call_line = static_cast<int>(UdataAttr(&c, DW_AT_call_line));
        out.inlined.push_back(std::move(in));
      } while (dwarf_siblingof(&c, &c) == 0);
      return any;
    };
    walk(&fn, 0);
    return out;
  }

 private:
  static GoKind BaseKind(Dwarf_Die* die) {
    uint64_t enc = UdataAttr(die, DW_AT_encoding);
    uint64_t size = UdataAttr(die, DW_AT_byte_size);
    switch (enc) {
      case DW_ATE_boolean:
        return GoKind::kBool;
      case DW_ATE_signed:
        return size == 1   ? GoKind::kInt8
               : size == 2 ? GoKind::kInt16
               : size == 4 ? GoKind::kInt32
                           : GoKind::kInt64;
      case DW_ATE_unsigned:
        return size == 1   ? GoKind::kUint8
               : size == 2 ? GoKind::kUint16
               : size == 4 ? GoKind::kUint32
                           : GoKind::kUint64;
      default:
        return GoKind::kInvalid;
    }
  }

  static void Members(Dwarf_Die* die, TypeInfo* t) {
    Dwarf_Die m;
    if (dwarf_child(die, &m) != 0) return;
    do {
      if (dwarf_tag(&m) != DW_TAG_member) continue;
      Member mem;
      mem.name = Name(&m);
      mem.offset = UdataAttr(&m, DW_AT_data_member_location);
      mem.embedded = FlagAttr(&m, kDwAtGoEmbeddedField);
      Dwarf_Die mt;
      if (TypeRef(&m, &mt)) mem.type = dwarf_dieoffset(&mt);
      t->members.push_back(std::move(mem));
    } while (dwarf_siblingof(&m, &m) == 0);
  }

  // dwarf_getlocation_addr of a DW_AT_location: its expression at `pc` in `*ops`; the number of
  // expressions found (1), 0 for none at pc, -1 on error.
  static int ExpressionAt(Dwarf_Attribute* attr, uint64_t pc, Dwarf_Op** ops, size_t* nops) {
    int n = dwarf_getlocation_addr(attr, pc, ops, nops, 1);
    Dwarf_Block block;
    if (n < 0 && dwarf_whatform(attr) == DW_FORM_block1 && dwarf_formblock(attr, &block) == 0 &&
        block.length < 128) {
      // Go writes a location that holds everywhere (a parameter passed on the stack:
      // "DW_AT_location: 1 byte block: 9c (DW_OP_call_frame_cfa)"; a package variable:
      // "DW_OP_addr 0x9ac4a8") as DW_FORM_block1, which libdw refuses in a DWARF >= 4 unit (only
      // exprloc there). Under 128 bytes a block1 is encoded exactly as an exprloc (its length
      // byte is the ULEB128 of the length).
      Dwarf_Attribute as_exprloc = *attr;
      as_exprloc.form = DW_FORM_exprloc;
      n = dwarf_getlocation_addr(&as_exprloc, pc, ops, nops, 1);
    }
    return n;
  }

  // The pieces of the value `die` (a parameter or variable, `what` in errors) locates at `pc`:
  // NotFound when it has no location there.
  static absl::StatusOr<std::vector<Piece>> LocationAt(Dwarf_Die* die, absl::string_view what,
                                                       uint64_t pc) {
    Dwarf_Attribute attr;
    if (dwarf_attr(die, DW_AT_location, &attr) == nullptr) {
      return absl::NotFoundError(absl::StrCat(what, " has no location"));
    }
    Dwarf_Op* ops = nullptr;
    size_t nops = 0;
    if (ExpressionAt(&attr, pc, &ops, &nops) <= 0) {
      return absl::NotFoundError(absl::StrCat(what, " is not available at 0x", absl::Hex(pc)));
    }
    return Pieces(ops, nops, what);
  }

  static absl::StatusOr<std::vector<Piece>> Pieces(Dwarf_Op* ops, size_t nops,
                                                   absl::string_view what) {
    std::vector<Piece> out;
    Piece cur;
    bool have = false;
    for (size_t i = 0; i < nops; ++i) {
      uint8_t op = ops[i].atom;
      if (op >= DW_OP_reg0 && op <= DW_OP_reg31) {
        cur = Piece{Piece::Where::kRegister, op - DW_OP_reg0, 0, 0};
        have = true;
      } else if (op == DW_OP_regx) {
        cur = Piece{Piece::Where::kRegister, static_cast<int>(ops[i].number), 0, 0};
        have = true;
      } else if (op == DW_OP_call_frame_cfa) {
        cur = Piece{Piece::Where::kStack, 0, 0, 0};
        have = true;
      } else if (op == DW_OP_fbreg) {
        // Go's frame base is DW_OP_call_frame_cfa.
        cur = Piece{Piece::Where::kStack, 0, static_cast<int64_t>(ops[i].number), 0};
        have = true;
      } else if (op == DW_OP_consts || op == DW_OP_constu) {
        if (i + 1 < nops && ops[i + 1].atom == DW_OP_plus && cur.where == Piece::Where::kStack) {
          cur.cfa_offset += static_cast<int64_t>(ops[i].number);
          ++i;
        } else {
          return absl::UnimplementedError(absl::StrCat(what, ": DWARF location uses a constant"));
        }
      } else if (op == DW_OP_plus_uconst && cur.where == Piece::Where::kStack) {
        cur.cfa_offset += static_cast<int64_t>(ops[i].number);
      } else if (op == DW_OP_piece) {
        if (!have) cur = Piece{Piece::Where::kNone, 0, 0, 0};
        cur.size = ops[i].number;
        out.push_back(cur);
        have = false;
      } else {
        return absl::UnimplementedError(
            absl::StrCat(what, ": DWARF location operation 0x", absl::Hex(op), " not supported"));
      }
    }
    if (have) out.push_back(cur);
    if (std::all_of(out.begin(), out.end(),
                    [](const Piece& p) { return p.where == Piece::Where::kNone; })) {
      return absl::NotFoundError(absl::StrCat(what, " is optimized away here"));
    }
    return out;
  }

  // The deepest DW_TAG_inlined_subroutine under `fn` whose code holds `pc`; 0 if none.
  Dwarf_Off DeepestInlined(Dwarf_Die* fn, uint64_t pc) {
    Dwarf_Off deepest = 0;
    int deepest_depth = -1;
    ForEachInlinedCall(fn, 0, [&](Dwarf_Die* call, int depth) {
      if (depth > deepest_depth && dwarf_haspc(call, pc) == 1) {
        deepest = dwarf_dieoffset(call);
        deepest_depth = depth;
      }
    });
    return deepest;
  }

  // Calls `each` with every DW_TAG_inlined_subroutine under `parent` (Go writes them in their
  // caller's subprogram, in lexical blocks and in other inlined calls) and its nesting depth.
  void ForEachInlinedCall(Dwarf_Die* parent, int depth,
                          const std::function<void(Dwarf_Die*, int)>& each) {
    Dwarf_Die c;
    if (depth > 64 || !dwarf_haschildren(parent) || dwarf_child(parent, &c) != 0) return;
    do {
      const int tag = dwarf_tag(&c);
      if (tag == DW_TAG_inlined_subroutine) each(&c, depth);
      if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) {
        ForEachInlinedCall(&c, depth + 1, each);
      }
    } while (dwarf_siblingof(&c, &c) == 0);
  }

  // Calls `each` with every compile unit's DIE.
  void ForEachUnit(const std::function<void(Dwarf_Die*)>& each) {
    Dwarf_Off off = 0, next = 0;
    size_t hsize = 0;
    while (dwarf_nextcu(dwarf_, off, &next, &hsize, nullptr, nullptr, nullptr) == 0) {
      Dwarf_Die cu;
      if (dwarf_offdie(dwarf_, off + hsize, &cu) != nullptr) each(&cu);
      off = next;
    }
  }

  // Calls `each` with every DIE right under a compile unit (Go's functions and types).
  void ForEachTopLevelDie(const std::function<void(Dwarf_Die*)>& each) {
    ForEachUnit([&](Dwarf_Die* cu) {
      Dwarf_Die d;
      if (dwarf_child(cu, &d) != 0) return;
      do {
        each(&d);
      } while (dwarf_siblingof(&d, &d) == 0);
    });
  }

  void Index() {
    ForEachTopLevelDie([&](Dwarf_Die* d) {
      const int tag = dwarf_tag(d);
      const char* n = dwarf_diename(d);
      if (n == nullptr) return;
      if (tag == DW_TAG_subprogram) {
        bool known = false;
        if (dwarf_hasattr(d, DW_AT_low_pc)) {
          known = functions_.emplace(n, dwarf_dieoffset(d)).second;
        } else if (dwarf_hasattr(d, DW_AT_inline)) {
          known = abstract_.emplace(n, dwarf_dieoffset(d)).second;  // inlined somewhere
        }
        // An instantiation of a generic function, once even when it has both DIEs.
        if (known && std::strchr(n, '[') != nullptr &&
            !(functions_.contains(n) && abstract_.contains(n))) {
          generic_[NameWithoutTypeParams(n)].emplace_back(n);
        }
      } else if (tag == DW_TAG_variable) {
        globals_.emplace(n, dwarf_dieoffset(d));
      } else if (tag == DW_TAG_constant) {
        Dwarf_Die type;
        Dwarf_Attribute attr;
        Dwarf_Sword value = 0;
        if (TypeRef(d, &type) && dwarf_attr(d, DW_AT_const_value, &attr) != nullptr &&
            dwarf_formsdata(&attr, &value) == 0) {
          constants_[dwarf_dieoffset(&type)].push_back(Constant{n, static_cast<int64_t>(value)});
        }
      } else if (tag == DW_TAG_base_type || tag == DW_TAG_pointer_type ||
                 tag == DW_TAG_structure_type || tag == DW_TAG_typedef ||
                 tag == DW_TAG_array_type) {
        types_.emplace(n, dwarf_dieoffset(d));
      }
    });
  }

  // The compile unit whose code covers `pc`. Not dwarf_addrdie: Go writes no .debug_aranges,
  // and libdw before 0.189 does not fall back to the units' own ranges (a Go 1.26 unit:
  // "DW_AT_low_pc 0x5c64e0, DW_AT_ranges 0xcc30"), so it finds none.
  bool UnitAt(uint64_t pc, Dwarf_Die* out) {
    if (!unit_ranges_loaded_) {
      unit_ranges_loaded_ = true;
      ForEachUnit([&](Dwarf_Die* cu) {
        Dwarf_Addr base = 0, start = 0, end = 0;
        ptrdiff_t it = 0;
        while ((it = dwarf_ranges(cu, it, &base, &start, &end)) > 0) {
          unit_ranges_.push_back(UnitRange{start, end, dwarf_dieoffset(cu)});
        }
      });
      std::sort(unit_ranges_.begin(), unit_ranges_.end(),
                [](const UnitRange& a, const UnitRange& b) { return a.start < b.start; });
    }
    auto it = std::upper_bound(unit_ranges_.begin(), unit_ranges_.end(), pc,
                               [](uint64_t p, const UnitRange& r) { return p < r.start; });
    if (it == unit_ranges_.begin()) return false;
    --it;
    return pc < it->end && dwarf_offdie(dwarf_, it->unit, out) != nullptr;
  }

  // The offset of the field chain `path` ({"stack", "hi"}) in the struct type named `type`.
  absl::StatusOr<uint64_t> MemberOffset(absl::string_view type,
                                        std::initializer_list<absl::string_view> path) {
    KDBG_ASSIGN_OR_RETURN(TypeInfo t, TypeByName(type));
    uint64_t offset = 0;
    for (auto name = path.begin(); name != path.end(); ++name) {
      auto m = std::find_if(t.members.begin(), t.members.end(),
                            [&](const Member& x) { return x.name == *name; });
      if (m == t.members.end()) {
        return absl::NotFoundError(
            absl::StrCat(type, " has no ", absl::StrJoin(path, "."), " field"));
      }
      offset += m->offset;
      if (name + 1 != path.end()) {
        KDBG_ASSIGN_OR_RETURN(t, Type(m->type));
      }
    }
    return offset;
  }

  // inlined_: every DW_TAG_inlined_subroutine, by its abstract origin, with the out-of-line
  // function that holds it. Inlined calls sit in their caller's subprogram, in lexical blocks and
  // in other inlined calls; a call inlined in another package's code is in that package's unit.
  void IndexInlinedCalls() {
    if (inlined_indexed_) return;
    inlined_indexed_ = true;
    ForEachTopLevelDie([&](Dwarf_Die* d) {
      if (dwarf_tag(d) != DW_TAG_subprogram || !dwarf_hasattr(d, DW_AT_low_pc)) return;
      const Dwarf_Off caller = dwarf_dieoffset(d);
      ForEachInlinedCall(d, 0, [&](Dwarf_Die* call, int /*depth*/) {
        Dwarf_Attribute attr;
        Dwarf_Die origin;
        if (dwarf_attr(call, DW_AT_abstract_origin, &attr) != nullptr &&
            dwarf_formref_die(&attr, &origin) != nullptr) {
          inlined_[dwarf_dieoffset(&origin)].emplace_back(dwarf_dieoffset(call), caller);
        }
      });
    });
  }

  void LoadSymbols() {
    if (symbols_loaded_) return;
    symbols_loaded_ = true;
    for (const char* prefix : {"go:itab.", "go.itab."}) {
      for (const FunctionSymbol& sym : bin_->DataSymbols(prefix)) {
        absl::string_view name(sym.name);
        name.remove_prefix(std::strlen(prefix));
        // The concrete type may itself contain commas (generic instantiations): split at the
        // last one.
        size_t comma = name.rfind(',');
        if (comma == absl::string_view::npos) continue;
        itabs_.push_back(Itab{std::string(name.substr(0, comma)),
                              std::string(name.substr(comma + 1)), sym.address});
      }
    }
  }

  std::shared_ptr<const GoBinary> bin_;
  Dwarf* dwarf_ = nullptr;    // bin_'s
  Dwarf_CFI* cfi_ = nullptr;  // dwarf_'s, read on first use
  absl::flat_hash_map<std::string, Dwarf_Off> functions_;
  absl::flat_hash_map<std::string, Dwarf_Off> types_;
  absl::flat_hash_map<std::string, Dwarf_Off> globals_;  // package variables, by full name
  absl::flat_hash_map<Dwarf_Off, std::vector<Constant>> constants_;  // by their type's DIE
  absl::flat_hash_map<std::string, Dwarf_Off> abstract_;  // DW_AT_inline subprograms, by name
  // A generic function's name without type parameters -> its instantiations' full names.
  absl::flat_hash_map<std::string, std::vector<std::string>> generic_;
  bool inlined_indexed_ = false;
  struct UnitRange {
    uint64_t start = 0, end = 0;
    Dwarf_Off unit = 0;  // the unit's DIE
  };
  bool unit_ranges_loaded_ = false;
  std::vector<UnitRange> unit_ranges_;  // sorted by start
  // abstract origin -> {inlined call's DIE, its out-of-line caller's DIE}
  absl::flat_hash_map<Dwarf_Off, std::vector<std::pair<Dwarf_Off, Dwarf_Off>>> inlined_;
  bool symbols_loaded_ = false;
  std::vector<Itab> itabs_;
  bool runtime_types_loaded_ = false;
  std::vector<RuntimeType> runtime_types_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DwarfReader>> DwarfReader::On(
    std::shared_ptr<const GoBinary> binary) {
  if (binary == nullptr) return absl::InvalidArgumentError("DwarfReader::On: no binary");
  auto r = std::make_unique<LibdwReader>();
  KDBG_RETURN_IF_ERROR(r->Init(std::move(binary)));
  return std::unique_ptr<DwarfReader>(std::move(r));
}

absl::StatusOr<std::unique_ptr<DwarfReader>> DwarfReader::Open(const std::string& path) {
  KDBG_ASSIGN_OR_RETURN(std::unique_ptr<GoBinary> bin, GoBinary::Open(path));
  return On(std::shared_ptr<const GoBinary>(std::move(bin)));
}

bool IsDirectIface(DwarfReader& dwarf, const TypeInfo& t) {
  switch (t.kind) {
    case GoKind::kPtr:
    case GoKind::kChan:
    case GoKind::kMap:
    case GoKind::kFunc:
    case GoKind::kUnsafePointer:
      return true;
    case GoKind::kStruct: {
      if (t.members.size() != 1) return false;
      auto m = dwarf.Type(t.members[0].type);
      return m.ok() && IsDirectIface(dwarf, *m);
    }
    case GoKind::kArray: {
      auto e = dwarf.Type(t.elem);
      // One element: the array is as big as its element (a direct one is 8 bytes, never 0).
      return t.elem != 0 && e.ok() && e->size == t.size && IsDirectIface(dwarf, *e);
    }
    default:
      return false;
  }
}

std::vector<std::string> FunctionNamesFor(absl::string_view location) {
  std::vector<std::string> out = {std::string(location)};
  if (!absl::StrContains(location, ".")) out.push_back(absl::StrCat("main.", location));
  return out;
}

std::string NameWithoutTypeParams(absl::string_view name) {
  std::string out;
  int depth = 0;
  for (char c : name) {
    if (c == '[') {
      ++depth;
    } else if (c == ']' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out.push_back(c);
    }
  }
  return out;
}

std::string DwarfRegisterName(int reg) {
  static const char* const kNames[] = {"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
                                       "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  if (reg < 0 || reg >= 16) return "";
  return kNames[reg];
}

}  // namespace kdbg::gobinary
