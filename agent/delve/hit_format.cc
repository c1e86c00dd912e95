#include "agent/delve/hit_format.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace kdbg::delve {
namespace {

using nlohmann::json;

// reflect.Kind values Delve reports in "kind".
enum Kind {
  kBool = 1,
  kInt = 2,
  kUintptr = 12,
  kFloat64 = 14,
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

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
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
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

std::string Format(const json& v, int depth);

std::string Children(const json& v, int depth, bool with_names, int64_t total) {
  std::string out;
  const json& ch = v.contains("children") && v["children"].is_array() ? v["children"] : json();
  size_t n = ch.is_array() ? ch.size() : 0;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ", ";
    if (with_names) absl::StrAppend(&out, ch[i].value("name", ""), ": ");
    out += Format(ch[i], depth + 1);
  }
  if (total > static_cast<int64_t>(n))
    absl::StrAppend(&out, n > 0 ? ", " : "", "...+", total - static_cast<int64_t>(n), " more");
  return out;
}

std::string Format(const json& v, int depth) {
  if (!v.is_object()) return "";
  std::string unreadable = v.value("unreadable", "");
  if (!unreadable.empty()) return absl::StrCat("(unreadable ", unreadable, ")");
  int kind = v.value("kind", 0);
  std::string type = v.value("type", "");
  std::string value = v.value("value", "");
  int64_t len = v.value("len", int64_t{0});
  const json& ch = v.contains("children") && v["children"].is_array() ? v["children"] : json();
  size_t nch = ch.is_array() ? ch.size() : 0;
  if (depth > 3) return kind == kString ? Quote(value) : absl::StrCat(type, " {...}");
  switch (kind) {
    case kString: {
      std::string s = Quote(value);
      if (len > static_cast<int64_t>(value.size())) {
        absl::StrAppend(&s, "...+", len - static_cast<int64_t>(value.size()), " more");
      }
      return s;
    }
    case kPtr:
      if (nch == 0) return absl::StrCat("(", type, ")(nil)");
      if (ch[0].value("addr", uint64_t{0}) == 0 && ch[0].value("kind", 0) == 0) return "nil";
      if (ch[0].value("onlyAddr", false)) {
        return absl::StrCat("(", type, ")(0x", absl::Hex(ch[0].value("addr", uint64_t{0})), ")");
      }
      return absl::StrCat("*", Format(ch[0], depth + 1));
    case kStruct:
      return absl::StrCat(type, " {", Children(v, depth, true, len), "}");
    case kSlice:
    case kArray:
      return absl::StrCat(type, " len: ", len, ", cap: ", v.value("cap", int64_t{0}), ", [",
                          Children(v, depth, false, len), "]");
    case kMap: {
      std::string out = absl::StrCat(type, " [");
      for (size_t i = 0; i + 1 < nch; i += 2) {
        if (i > 0) out += ", ";
        absl::StrAppend(&out, Format(ch[i], depth + 1), ": ", Format(ch[i + 1], depth + 1));
      }
      if (len > static_cast<int64_t>(nch / 2)) absl::StrAppend(&out, nch > 0 ? ", " : "", "...");
      return out + "]";
    }
    case kInterface:
      if (nch == 0 || (ch[0].value("kind", 0) == 0 && ch[0].value("addr", uint64_t{0}) == 0)) {
        return absl::StrCat(type, " nil");
      }
      return absl::StrCat(type, "(", Format(ch[0], depth + 1), ")");
    case kFunc:
      return value.empty() ? "nil" : value;
    default:
      if (value.empty() && kind == 0) return "(invalid)";
      return value;
  }
}

void AddVariables(const json& list, google::protobuf::RepeatedPtrField<kdbg::v1::Variable>* out) {
  if (!list.is_array()) return;
  for (const json& v : list) {
    kdbg::v1::Variable* pv = out->Add();
    pv->set_name(v.value("name", ""));
    pv->set_type(v.value("type", ""));
    pv->set_value(Format(v, 0));
  }
}

}  // namespace

std::string FormatVariable(const json& v) { return Format(v, 0); }

kdbg::v1::HitEvent BuildHit(const json& thread, const std::string& tracepoint, int64_t hit_count) {
  kdbg::v1::HitEvent hit;
  hit.set_tracepoint(tracepoint);
  hit.set_goroutine(thread.value("goroutineID", int64_t{0}));
  if (thread.contains("function") && thread["function"].is_object()) {
    hit.set_function(thread["function"].value("name", ""));
  }
  hit.set_file(thread.value("file", ""));
  hit.set_line(thread.value("line", 0));
  hit.set_hit_count(hit_count);
  auto info = thread.find("breakPointInfo");
  if (info != thread.end() && info->is_object()) {
    if (info->contains("arguments")) AddVariables((*info)["arguments"], hit.mutable_args());
    if (info->contains("variables")) AddVariables((*info)["variables"], hit.mutable_vars());
    auto st = info->find("stacktrace");
    if (st != info->end() && st->is_array()) {
      for (const json& f : *st) {
        kdbg::v1::StackFrame* pf = hit.add_stack();
        if (f.contains("function") && f["function"].is_object()) {
          pf->set_function(f["function"].value("name", ""));
        }
        pf->set_file(f.value("file", ""));
        pf->set_line(f.value("line", 0));
        pf->set_pc(f.value("pc", uint64_t{0}));
      }
    }
    if (hit.goroutine() == 0 && info->contains("goroutine") && (*info)["goroutine"].is_object()) {
      hit.set_goroutine((*info)["goroutine"].value("id", int64_t{0}));
    }
  }
  return hit;
}

}  // namespace kdbg::delve
