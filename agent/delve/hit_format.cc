#include "agent/delve/hit_format.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/delve/json_access.h"
#include "agent/gobinary/go_kind.h"

namespace kdbg::delve {
namespace {

using jsonx::Arr;
using jsonx::Bool;
using jsonx::Int;
using jsonx::Obj;
using jsonx::Str;
using jsonx::Uint;
using nlohmann::json;

using gobinary::GoKind;

// What Format reads of a value, the same for Delve's JSON and for an ApiVariable: each JSON
// accessor falls back (jsonx) where a field is missing or of another type.
bool IsObject(const json& v) { return v.is_object(); }
std::string UnreadableOf(const json& v) { return Str(v, "unreadable"); }
GoKind KindOf(const json& v) { return gobinary::GoKindFromNumber(Int(v, "kind")); }
std::string NameOf(const json& v) { return Str(v, "name"); }
std::string TypeOf(const json& v) { return Str(v, "type"); }
std::string ValueOf(const json& v) { return Str(v, "value"); }
int64_t LenOf(const json& v) { return Int(v, "len"); }
int64_t CapOf(const json& v) { return Int(v, "cap"); }
uint64_t BaseOf(const json& v) { return Uint(v, "base"); }
bool HasAddr(const json& v) { return v.is_object() && v.contains("addr"); }
uint64_t AddrOf(const json& v) { return Uint(v, "addr"); }
bool OnlyAddr(const json& v) { return Bool(v, "onlyAddr"); }
const json& ChildrenOf(const json& v) { return Arr(v, "children"); }

bool IsObject(const ApiVariable& /*v*/) { return true; }
const std::string& UnreadableOf(const ApiVariable& v) { return v.unreadable; }
GoKind KindOf(const ApiVariable& v) { return v.kind; }
absl::string_view NameOf(const ApiVariable& v) { return v.name; }
absl::string_view TypeOf(const ApiVariable& v) { return v.type; }
const std::string& ValueOf(const ApiVariable& v) { return v.value; }
int64_t LenOf(const ApiVariable& v) { return v.len; }
int64_t CapOf(const ApiVariable& v) { return v.cap; }
uint64_t BaseOf(const ApiVariable& v) { return v.base; }
bool HasAddr(const ApiVariable& v) { return v.addr.has_value(); }
uint64_t AddrOf(const ApiVariable& v) { return v.addr.value_or(0); }
bool OnlyAddr(const ApiVariable& v) { return v.only_addr; }
const std::vector<ApiVariable>& ChildrenOf(const ApiVariable& v) { return v.children; }

template <typename V>
std::string Format(const V& v, int depth);

// Whether pointer `v` is nil: Delve's target at address 0, never loaded, of the pointer's element
// kind (a struct with no fields, an int with no value), readable.
template <typename V>
bool IsNilPointer(const V& v) {
  const auto& ch = ChildrenOf(v);
  return ch.size() == 1 && IsObject(ch[0]) && HasAddr(ch[0]) && AddrOf(ch[0]) == 0 &&
         UnreadableOf(ch[0]).empty();
}

template <typename V>
std::string Children(const V& v, int depth, bool with_names, int64_t total) {
  std::string out;
  const auto& ch = ChildrenOf(v);
  size_t n = ch.size();
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ", ";
    if (with_names) absl::StrAppend(&out, NameOf(ch[i]), ": ");
    out += Format(ch[i], depth + 1);
  }
  if (total > static_cast<int64_t>(n))
    absl::StrAppend(&out, n > 0 ? ", " : "", "...+", total - static_cast<int64_t>(n), " more");
  return out;
}

template <typename V>
std::string Format(const V& v, int depth) {
  if (!IsObject(v)) return "";
  const auto& unreadable = UnreadableOf(v);
  if (!unreadable.empty()) {
    // Delve's two words for "optimized code keeps no value here": an empty DWARF location
    // expression, or a location list with no entry covering this PC.
    if (absl::StrContains(unreadable, "empty OP stack") ||
        absl::StrContains(unreadable, "could not find loclist entry")) {
      return std::string(kOptimizedOut);
    }
    return absl::StrCat("(unreadable ", unreadable, ")");
  }
  GoKind kind = KindOf(v);
  const auto& type = TypeOf(v);
  const auto& value = ValueOf(v);
  int64_t len = LenOf(v);
  const auto& ch = ChildrenOf(v);
  size_t nch = ch.size();
  if (depth > kFormatDepth)
    return kind == GoKind::kString ? QuoteGoString(value) : absl::StrCat(type, " {...}");
  switch (kind) {
    case GoKind::kString: {
      std::string s = QuoteGoString(value);
      if (len > static_cast<int64_t>(value.size())) {
        absl::StrAppend(&s, "...+", len - static_cast<int64_t>(value.size()), " more");
      }
      return s;
    }
    case GoKind::kPtr:
      if (nch == 0) return absl::StrCat("(", type, ")(nil)");
      // Not `*main.T {}` (its target printed), nor `(*main.T)(0x0)` (by its address).
      if (IsNilPointer(v)) return "nil";
      if (OnlyAddr(ch[0])) return absl::StrCat("(", type, ")(0x", absl::Hex(AddrOf(ch[0])), ")");
      return absl::StrCat("*", Format(ch[0], depth + 1));
    case GoKind::kStruct:
      return absl::StrCat(type, " {", Children(v, depth, true, len), "}");
    case GoKind::kSlice:
    case GoKind::kArray:
      return absl::StrCat(type, " len: ", len, ", cap: ", CapOf(v), ", [",
                          Children(v, depth, false, len), "]");
    case GoKind::kMap: {
      // Delve's api.Variable: `base` the runtime's header (0: a nil map), children the first
      // MaxArrayValues entries' keys and elements in turn; none past its recursion level.
      if (nch == 0 && BaseOf(v) == 0 && len == 0) return absl::StrCat(type, " nil");
      std::string out = absl::StrCat(type, " [");
      for (size_t i = 0; i + 1 < nch; i += 2) {
        if (i > 0) out += ", ";
        absl::StrAppend(&out, Format(ch[i], depth + 1), ": ", Format(ch[i + 1], depth + 1));
      }
      const auto shown = static_cast<int64_t>(nch / 2);
      if (len > shown && shown == 0) absl::StrAppend(&out, "...");
      if (len > shown && shown > 0) absl::StrAppend(&out, ", ...+", len - shown, " more");
      return out + "]";
    }
    case GoKind::kInterface:
      if (nch == 0 || (KindOf(ch[0]) == GoKind::kInvalid && AddrOf(ch[0]) == 0)) {
        return absl::StrCat(type, " nil");
      }
      // Past the recursion level Delve loads (MaxVariableRecurse), its dynamic value is never
      // loaded (Delve's data child OnlyAddr, with no value or children): its type only,
      // "error(*pkg.T ...)", never a pointer's missing target taken for nil (dlv's own printer
      // writes "..." for such a pointer, "*(*T)(0x...)" for another kind).
      if (OnlyAddr(ch[0])) return absl::StrCat(type, "(", TypeOf(ch[0]), " ...)");
      // A nil pointer in it keeps its type: "error((*main.E)(nil))".
      if (KindOf(ch[0]) == GoKind::kPtr && IsNilPointer(ch[0])) {
        return absl::StrCat(type, "((", TypeOf(ch[0]), ")(nil))");
      }
      return absl::StrCat(type, "(", Format(ch[0], depth + 1), ")");
    case GoKind::kFunc:
      return value.empty() ? "nil" : std::string(value);
    default:
      if (value.empty() && kind == GoKind::kInvalid) return "(invalid)";
      return std::string(value);
  }
}

// Delve's api.Variable flags (service/api/types.go).
constexpr int64_t kVariableReturnArgument = 1 << 4;

void AddVariables(const json& list, google::protobuf::RepeatedPtrField<kdbg::v1::Variable>* out,
                  bool skip_return_values = false) {
  if (!list.is_array()) return;
  for (const json& v : list) {
    // At function entry the results are not computed yet: dlv trace does not show them either.
    if (skip_return_values && (Int(v, "flags") & kVariableReturnArgument) != 0) continue;
    kdbg::v1::Variable* pv = out->Add();
    pv->set_name(Str(v, "name"));
    pv->set_type(Str(v, "type"));
    pv->set_value(Format(v, 0));
  }
}

}  // namespace

std::string QuoteGoString(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);  // the usual string needs no escape
  out.push_back('"');
  size_t plain = 0;  // start of the run not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out.push_back('"');
  return out;
}

std::string FormatVariable(const json& v) { return Format(v, 0); }

std::string FormatVariable(const ApiVariable& v) { return Format(v, 0); }

kdbg::v1::HitEvent BuildHit(const json& thread, const std::string& tracepoint, int64_t hit_count) {
  kdbg::v1::HitEvent hit;
  hit.set_tracepoint(tracepoint);
  hit.set_goroutine(Int(thread, "goroutineID"));
  hit.set_function(Str(Obj(thread, "function"), "name"));
  hit.set_file(Str(thread, "file"));
  hit.set_line(static_cast<int32_t>(Int(thread, "line")));
  hit.set_hit_count(hit_count);
  const json& info = Obj(thread, "breakPointInfo");
  AddVariables(Arr(info, "arguments"), hit.mutable_args(), /*skip_return_values=*/true);
  AddVariables(Arr(info, "variables"), hit.mutable_vars());
  for (const json& f : Arr(info, "stacktrace")) {
    kdbg::v1::StackFrame* pf = hit.add_stack();
    pf->set_function(Str(Obj(f, "function"), "name"));
    pf->set_file(Str(f, "file"));
    pf->set_line(static_cast<int32_t>(Int(f, "line")));
    pf->set_pc(Uint(f, "pc"));
  }
  if (hit.goroutine() == 0) hit.set_goroutine(Int(Obj(info, "goroutine"), "id"));
  return hit;
}

std::string RootIdentifier(absl::string_view expression) {
  auto ident = [](char c, bool first) {
    return c == '_' || absl::ascii_isalpha(static_cast<unsigned char>(c)) ||
           (!first && absl::ascii_isdigit(static_cast<unsigned char>(c)));
  };
  size_t n = 0;
  while (n < expression.size() && ident(expression[n], n == 0)) ++n;
  return std::string(expression.substr(0, n));
}

void MarkOptimizedOut(bool optimized, std::set<std::string>* known,
                      const std::function<bool(const std::string&)>& declared,
                      kdbg::v1::HitEvent* hit) {
  const std::string kNotFound = "could not find symbol value for ";
  for (const kdbg::v1::Variable& a : hit->args()) known->insert(a.name());
  for (kdbg::v1::Variable& v : *hit->mutable_vars()) {
    const std::string& value = v.value();
    if (!absl::StartsWith(value, "(unreadable ")) {
      known->insert(v.name());
      if (std::string root = RootIdentifier(v.name()); !root.empty()) known->insert(root);
      continue;
    }
    size_t at = value.find(kNotFound);
    if (!optimized || at == std::string::npos) continue;
    absl::string_view missing = absl::string_view(value).substr(at + kNotFound.size());
    absl::ConsumeSuffix(&missing, ")");
    std::string root = RootIdentifier(v.name());
    if (root.empty() || missing != root) continue;
    if (known->count(root) > 0 || (declared && declared(root))) v.set_value(kOptimizedOut);
  }
}

}  // namespace kdbg::delve
