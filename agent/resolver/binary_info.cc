#include "agent/resolver/binary_info.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fd.h"
#include "common/status.h"

namespace kdbg::agent {
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

struct ElfCloser {
  void operator()(Elf* e) const { elf_end(e); }
};

// "-N -l" in a producer string or gcflags value means no optimisation and no inlining.
bool SaysNoOptimisation(absl::string_view flags) {
  bool n = false;
  for (absl::string_view f : absl::StrSplit(flags, absl::ByAnyChar(" =\"'"), absl::SkipEmpty())) {
    if (f == "-N") n = true;
  }
  return n;
}

class ElfBinaryReader : public BinaryReader {
 public:
  ElfBinaryReader() { elf_version(EV_CURRENT); }

  absl::StatusOr<kdbg::v1::BinaryInfo> Read(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoToStatus(errno, absl::StrCat("open executable ", path));
    std::unique_ptr<Elf, ElfCloser> elf(elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr));
    if (elf == nullptr || elf_kind(elf.get()) != ELF_K_ELF) {
      return absl::InvalidArgumentError(absl::StrCat(path, " is not an ELF file"));
    }
    size_t shstrndx = 0;
    if (elf_getshdrstrndx(elf.get(), &shstrndx) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": no section name table (", elf_errmsg(-1), ")"));
    }
    kdbg::v1::BinaryInfo info;
    bool has_symtab = false;
    bool has_dwarf = false;
    std::string gcflags;
    bool have_buildinfo = false;
    for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn != nullptr;
         scn = elf_nextscn(elf.get(), scn)) {
      GElf_Shdr shdr;
      if (gelf_getshdr(scn, &shdr) == nullptr) continue;
      const char* name = elf_strptr(elf.get(), shstrndx, shdr.sh_name);
      if (name == nullptr) continue;
      absl::string_view n(name);
      if (n == ".symtab") has_symtab = true;
      if (n == ".debug_info" || n == ".zdebug_info") has_dwarf = true;
      if (n == ".go.buildinfo" || n == ".note.go.buildid") {
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (data == nullptr || data->d_buf == nullptr) continue;
        absl::string_view bytes(static_cast<const char*>(data->d_buf), data->d_size);
        if (n == ".go.buildinfo") {
          std::string version, module;
          if (ParseGoBuildInfo(bytes, &version, &module, &gcflags)) {
            have_buildinfo = true;
            info.set_go_version(version);
            info.set_module_path(module);
          }
        } else if (bytes.size() > 16 && bytes.substr(12, 4) == absl::string_view("Go\0\0", 4)) {
          uint32_t descsz = 0;
          std::memcpy(&descsz, bytes.data() + 4, 4);
          info.set_build_id(std::string(bytes.substr(16, descsz)));
        }
      }
    }
    info.set_stripped(!has_symtab);
    info.set_has_dwarf(has_dwarf);
    std::string producer;
    if (has_dwarf) producer = MainProducer(elf.get());
    // Go before 1.18 has no inline build info: the compiler's DWARF producer still names it.
    if (info.go_version().empty() && absl::StartsWith(producer, "Go cmd/compile ")) {
      absl::string_view p = absl::StripPrefix(producer, "Go cmd/compile ");
      info.set_go_version(std::string(p.substr(0, p.find(';'))));
    }
    if (have_buildinfo && absl::StrContains(gcflags, "-N")) {
      info.set_optimized(!SaysNoOptimisation(gcflags));
    } else if (!producer.empty()) {
      info.set_optimized(
          !SaysNoOptimisation(producer.substr(std::min(producer.size(), producer.find(';')))));
    } else {
      info.set_optimized(true);  // go build's default
    }
    return info;
  }

 private:
  // DW_AT_producer of the "main" package's compile unit (else the first Go unit's).
  static std::string MainProducer(Elf* elf) {
    Dwarf* dw = dwarf_begin_elf(elf, DWARF_C_READ, nullptr);
    if (dw == nullptr) return "";
    std::string first;
    Dwarf_Off off = 0, next = 0;
    size_t hsize = 0;
    std::string result;
    while (dwarf_nextcu(dw, off, &next, &hsize, nullptr, nullptr, nullptr) == 0) {
      Dwarf_Die die;
      if (dwarf_offdie(dw, off + hsize, &die) != nullptr) {
        Dwarf_Attribute attr;
        const char* prod = dwarf_formstring(dwarf_attr(&die, DW_AT_producer, &attr));
        const char* name = dwarf_diename(&die);
        if (prod != nullptr && first.empty()) first = prod;
        if (prod != nullptr && name != nullptr && absl::string_view(name) == "main") {
          result = prod;
          break;
        }
      }
      off = next;
    }
    dwarf_end(dw);
    return result.empty() ? first : result;
  }
};

}  // namespace

bool ParseGoBuildInfo(absl::string_view s, std::string* go_version, std::string* module_path,
                      std::string* gcflags) {
  static constexpr absl::string_view kMagic("\xff Go buildinf:", 14);
  if (s.size() < 32 || s.substr(0, 14) != kMagic) return false;
  uint8_t flags = static_cast<uint8_t>(s[15]);
  if ((flags & 2) == 0) return false;  // pointer format (Go < 1.18): not parsed here
  s.remove_prefix(32);
  absl::string_view version, mod;
  if (!ReadVarString(&s, &version) || !ReadVarString(&s, &mod)) return false;
  *go_version = std::string(version);
  // Module info is framed by 16-byte sentinels.
  if (mod.size() >= 33 && mod[mod.size() - 17] == '\n') {
    mod = mod.substr(16, mod.size() - 32);
  }
  for (absl::string_view line : absl::StrSplit(mod, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits('\t', 2));
    if (f.size() >= 2 && f[0] == "mod") {
      *module_path = std::string(f[1]);
    } else if (f.size() >= 2 && f[0] == "path" && module_path->empty()) {
      *module_path = std::string(f[1]);
    } else if (f.size() >= 2 && f[0] == "build" && absl::StartsWith(f[1], "-gcflags=")) {
      *gcflags = std::string(absl::StripPrefix(f[1], "-gcflags="));
    }
  }
  return true;
}

bool GoVersionNewerThan(absl::string_view go_version, absl::string_view max_major_minor) {
  auto parse = [](absl::string_view v, int* major, int* minor) {
    v = absl::StripPrefix(v, "go");
    std::vector<absl::string_view> p = absl::StrSplit(v, absl::ByAnyChar(".-+ "));
    *major = *minor = 0;
    if (p.size() < 2) return false;
    // "1.21rc2": digits only.
    absl::string_view mi = p[1];
    size_t i = 0;
    while (i < mi.size() && mi[i] >= '0' && mi[i] <= '9') ++i;
    return absl::SimpleAtoi(p[0], major) && absl::SimpleAtoi(mi.substr(0, i), minor);
  };
  int a1, a2, b1, b2;
  if (!parse(go_version, &a1, &a2) || !parse(max_major_minor, &b1, &b2)) return false;
  return a1 > b1 || (a1 == b1 && a2 > b2);
}

std::unique_ptr<BinaryReader> NewElfBinaryReader() { return std::make_unique<ElfBinaryReader>(); }

}  // namespace kdbg::agent
