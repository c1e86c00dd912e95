#include "agent/gobinary/build_info.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kdbg::gobinary {
namespace {

bool ReadUvarint(absl::string_view* s, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && !s->empty(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(s->front());
    s->remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

bool ReadVarString(absl::string_view* s, absl::string_view* out) {
  uint64_t n = 0;
  if (!ReadUvarint(s, &n) || n > s->size()) return false;
  *out = s->substr(0, n);
  s->remove_prefix(n);
  return true;
}

// Undoes Go's strconv.Quote for the escapes build settings use; other text is kept as is.
std::string Unquote(absl::string_view v) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  v = v.substr(1, v.size() - 2);
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\\' || i + 1 == v.size()) {
      out += v[i];
      continue;
    }
    char c = v[++i];
    out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
  }
  return out;
}

uint32_t Load32(absl::string_view s, size_t at) {
  uint32_t v = 0;
  std::memcpy(&v, s.data() + at, 4);  // notes are in the file's byte order: little-endian here
  return v;
}

// One ELF note: name `name` (with its NUL, padded to 4), type `type`; its descriptor bytes.
absl::string_view NoteDesc(absl::string_view note, absl::string_view name, uint32_t type) {
  if (note.size() < 12) return {};
  uint32_t namesz = Load32(note, 0), descsz = Load32(note, 4), ntype = Load32(note, 8);
  size_t name_at = 12, desc_at = 12 + ((static_cast<size_t>(namesz) + 3) & ~size_t{3});
  if (ntype != type || namesz != name.size() + 1 || note.size() < desc_at ||
      note.size() - desc_at < descsz || note.substr(name_at, name.size()) != name) {
    return {};
  }
  return note.substr(desc_at, descsz);
}

}  // namespace

std::string BuildInfo::Setting(absl::string_view key) const {
  for (const auto& [k, v] : settings) {
    if (k == key) return v;
  }
  return "";
}

std::optional<BuildInfo> ParseGoBuildInfo(absl::string_view s) {
  static constexpr absl::string_view kMagic("\xff Go buildinf:", 14);
  if (s.size() < 32 || s.substr(0, 14) != kMagic) return std::nullopt;
  uint8_t flags = static_cast<uint8_t>(s[15]);
  if ((flags & 2) == 0) return std::nullopt;  // pointer format (Go < 1.18)
  s.remove_prefix(32);
  absl::string_view version, mod;
  if (!ReadVarString(&s, &version) || !ReadVarString(&s, &mod)) return std::nullopt;
  BuildInfo info;
  info.go_version = std::string(version);
  // Module info is framed by 16-byte sentinels.
  if (mod.size() >= 33 && mod[mod.size() - 17] == '\n') mod = mod.substr(16, mod.size() - 32);
  for (absl::string_view line : absl::StrSplit(mod, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits('\t', 2));
    if (f.size() < 2) continue;
    if (f[0] == "mod" || (f[0] == "path" && info.module_path.empty())) {
      info.module_path = std::string(f[1]);
    } else if (f[0] == "build") {
      absl::string_view kv = line.substr(6);  // after "build\t"
      size_t eq = kv.find('=');
      if (eq == absl::string_view::npos) continue;
      info.settings.emplace_back(std::string(kv.substr(0, eq)), Unquote(kv.substr(eq + 1)));
    }
  }
  return info;
}

std::string ParseGoBuildIdNote(absl::string_view section) {
  return std::string(NoteDesc(section, absl::string_view("Go\0", 3), 4));
}

std::string ParseGnuBuildIdNote(absl::string_view section) {
  absl::string_view desc = NoteDesc(section, "GNU", 3);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : desc) {
    out += kHex[(static_cast<uint8_t>(c) >> 4) & 0xf];
    out += kHex[static_cast<uint8_t>(c) & 0xf];
  }
  return out;
}

bool FlagsDisableOptimization(absl::string_view flags) {
  for (absl::string_view f : absl::StrSplit(flags, absl::ByAnyChar(" =\"'"), absl::SkipEmpty())) {
    if (f == "-N") return true;
  }
  return false;
}

std::string GoVersionFromProducer(absl::string_view producer) {
  if (!absl::ConsumePrefix(&producer, "Go cmd/compile ")) return "";
  return std::string(producer.substr(0, producer.find(';')));
}

std::optional<GoVersion> ParseGoVersion(absl::string_view v) {
  v = absl::StripAsciiWhitespace(v);
  absl::ConsumePrefix(&v, "devel ");
  absl::ConsumePrefix(&v, "go");
  std::vector<absl::string_view> p = absl::StrSplit(v, absl::ByAnyChar(".-+ "));
  if (p.size() < 2) return std::nullopt;
  // "21rc2", "27-abc": leading digits only.
  auto digits = [](absl::string_view s) {
    size_t i = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return s.substr(0, i);
  };
  GoVersion out;
  if (!absl::SimpleAtoi(p[0], &out.major) || !absl::SimpleAtoi(digits(p[1]), &out.minor)) {
    return std::nullopt;
  }
  if (p.size() >= 3 && digits(p[1]).size() == p[1].size()) {
    (void)absl::SimpleAtoi(digits(p[2]), &out.patch);
  }
  return out;
}

bool GoVersionNewerThan(absl::string_view go_version, absl::string_view max_major_minor) {
  std::optional<GoVersion> a = ParseGoVersion(go_version), b = ParseGoVersion(max_major_minor);
  if (!a || !b) return false;
  return a->major > b->major || (a->major == b->major && a->minor > b->minor);
}

}  // namespace kdbg::gobinary
