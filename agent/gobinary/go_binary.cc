#include "agent/gobinary/go_binary.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/gobinary/build_info.h"
#include "common/status.h"

namespace kdbg::gobinary {
namespace {

absl::string_view SectionBytes(Elf_Scn* scn) {
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr || data->d_buf == nullptr) return {};
  return absl::string_view(static_cast<const char*>(data->d_buf), data->d_size);
}

// DW_AT_producer of the "main" package's compile unit, else the first unit's that has one.
std::string MainProducer(Dwarf* dw) {
  std::string first;
  Dwarf_Off off = 0, next = 0;
  size_t header_size = 0;
  while (dwarf_nextcu(dw, off, &next, &header_size, nullptr, nullptr, nullptr) == 0) {
    Dwarf_Die die;
    if (dwarf_offdie(dw, off + header_size, &die) != nullptr) {
      Dwarf_Attribute attr;
      const char* producer = dwarf_formstring(dwarf_attr(&die, DW_AT_producer, &attr));
      const char* name = dwarf_diename(&die);
      if (producer != nullptr && name != nullptr && absl::string_view(name) == "main") {
        return producer;
      }
      if (producer != nullptr && first.empty()) first = producer;
    }
    off = next;
  }
  return first;
}

// Calls `fn(scn, shdr, name)` for each section of `elf` whose header and name can be read, in
// order, until it returns false. False when `elf` has no section name table.
bool ForEachNamedSection(
    Elf* elf, const std::function<bool(Elf_Scn*, const GElf_Shdr&, absl::string_view)>& fn) {
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return false;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
    if (name != nullptr && !fn(scn, shdr, name)) break;
  }
  return true;
}

// The name of a DWARF string section of `elf` whose data does not end in a NUL byte, else "".
// Called after dwarf_begin_elf: libdw has decompressed SHF_COMPRESSED sections in place by then,
// so elf_getdata returns the bytes libdw reads strings from (DW_FORM_strp, DW_FORM_line_strp).
std::string UnterminatedStringSection(Elf* elf) {
  std::string bad;
  if (!ForEachNamedSection(elf, [&](Elf_Scn* scn, const GElf_Shdr&, absl::string_view full) {
        // ".debug_str", ".zdebug_str" (GNU-compressed), ".debug_str.dwo" (split DWARF).
        absl::string_view name = full;
        if (!absl::ConsumePrefix(&name, ".z") && !absl::ConsumePrefix(&name, ".")) return true;
        absl::ConsumeSuffix(&name, ".dwo");
        if (name != "debug_str" && name != "debug_line_str") return true;
        absl::string_view bytes = SectionBytes(scn);
        if (!bytes.empty() && bytes.back() != '\0') bad = std::string(full);
        return bad.empty();
      })) {
    return "the section name table";
  }
  return bad;
}

}  // namespace

GoBinary::GoBinary(std::string path, int fd, Elf* elf)
    : path_(std::move(path)), fd_(fd), elf_(elf) {}

GoBinary::~GoBinary() {
  if (dwarf_ != nullptr) dwarf_end(dwarf_);
  if (elf_ != nullptr) elf_end(elf_);
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::unique_ptr<GoBinary>> GoBinary::Open(const std::string& path) {
  static const bool kLibelfReady = elf_version(EV_CURRENT) != EV_NONE;
  if (!kLibelfReady) return absl::InternalError("libelf: version mismatch");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("open executable ", path));
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  // Owns fd and elf from here, whatever happens next.
  std::unique_ptr<GoBinary> bin(new GoBinary(path, fd, elf));
  if (elf == nullptr || elf_kind(elf) != ELF_K_ELF) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an ELF file"));
  }
  KDBG_RETURN_IF_ERROR(bin->ReadFacts());
  return bin;
}

absl::Status GoBinary::ReadFacts() {
  bool has_symtab = false;
  std::optional<BuildInfo> build_info;
  const bool named =
      ForEachNamedSection(elf_, [&](Elf_Scn* scn, const GElf_Shdr& shdr, absl::string_view name) {
        if (shdr.sh_type == SHT_SYMTAB) has_symtab = true;
        if (name == ".debug_info" || name == ".zdebug_info") facts_.has_dwarf = true;
        if (name == ".gopclntab") facts_.is_go = true;
        if (name == ".go.buildinfo") {
          facts_.is_go = true;
          if (!build_info) build_info = ParseGoBuildInfo(SectionBytes(scn));
        } else if (name == ".note.go.buildid") {
          facts_.build_id = ParseGoBuildIdNote(SectionBytes(scn));
        } else if (name == ".note.gnu.build-id") {
          facts_.gnu_build_id = ParseGnuBuildIdNote(SectionBytes(scn));
        }
        return true;
      });
  if (!named) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": no section name table (", elf_errmsg(-1), ")"));
  }
  facts_.stripped = !has_symtab;
  if (build_info) {
    facts_.go_version = build_info->go_version;
    facts_.module_path = build_info->module_path;
    facts_.build_settings = build_info->settings;
  }
  if (!facts_.is_go && has_symtab) {
    // Older or unusual Go builds without the sections: the runtime's entry point gives them away.
    facts_.is_go = FindFunction("runtime.main").ok();
  }
  // Go before 1.18 has no inline build info: the compiler's DWARF producer still names it.
  if (facts_.go_version.empty()) facts_.go_version = GoVersionFromProducer(Producer());
  if (!facts_.go_version.empty()) facts_.is_go = true;
  std::string gcflags = build_info ? build_info->Setting("-gcflags") : "";
  // `go build` records every build setting, "-compiler" always and "-gcflags" whenever given (on
  // the command line or in GOFLAGS): then the settings alone answer, without the DWARF.
  bool go_build_settings = build_info && !build_info->Setting("-compiler").empty();
  facts_.optimized = !FlagsDisableOptimization(gcflags);  // go build's default: optimised
  if (facts_.optimized && !go_build_settings) {
    if (size_t semi = Producer().find(';'); semi != std::string::npos) {
      facts_.optimized = !FlagsDisableOptimization(absl::string_view(Producer()).substr(semi));
    }
  }
  return absl::OkStatus();
}

Dwarf* GoBinary::dwarf() const {
  std::call_once(dwarf_once_, [this] {
    if (!facts_.has_dwarf) return;
    dwarf_ = dwarf_begin_elf(elf_, DWARF_C_READ, nullptr);
    if (dwarf_ == nullptr) {
      dwarf_problem_ = absl::StrCat("libdw refused it: ", dwarf_errmsg(-1));
      return;
    }
    if (std::string section = UnterminatedStringSection(elf_); !section.empty()) {
      dwarf_end(dwarf_);
      dwarf_ = nullptr;
      dwarf_problem_ = absl::StrCat(section, " does not end in a NUL byte");
    }
  });
  return dwarf_;
}

const std::string& GoBinary::dwarf_problem() const {
  (void)dwarf();
  return dwarf_problem_;
}

const std::string& GoBinary::Producer() const {
  std::call_once(producer_once_, [this] {
    if (dwarf() != nullptr) producer_ = MainProducer(dwarf());
  });
  return producer_;
}

void GoBinary::LoadFunctions() const {
  std::call_once(functions_once_, [this] {
    for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn != nullptr; scn = elf_nextscn(elf_, scn)) {
      GElf_Shdr shdr;
      if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_SYMTAB) continue;
      Elf_Data* data = elf_getdata(scn, nullptr);
      size_t n = shdr.sh_entsize ? shdr.sh_size / shdr.sh_entsize : 0;
      for (size_t i = 0; data != nullptr && i < n; ++i) {
        GElf_Sym sym;
        if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
        if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_value == 0) continue;
        const char* name = elf_strptr(elf_, shdr.sh_link, sym.st_name);
        if (name == nullptr || *name == '\0') continue;
        functions_.push_back({name, sym.st_value, sym.st_size});
      }
    }
    std::sort(functions_.begin(), functions_.end(),
              [](const FunctionSymbol& a, const FunctionSymbol& b) {
                return a.address != b.address ? a.address < b.address : a.name < b.name;
              });
  });
}

const std::vector<FunctionSymbol>& GoBinary::Functions() const {
  LoadFunctions();
  return functions_;
}

void GoBinary::ForEachFunction(absl::string_view prefix,
                               const std::function<bool(const FunctionSymbol&)>& fn) const {
  for (const FunctionSymbol& f : Functions()) {
    if (absl::StartsWith(f.name, prefix) && !fn(f)) return;
  }
}

absl::StatusOr<FunctionSymbol> GoBinary::FindFunction(absl::string_view name) const {
  for (const FunctionSymbol& f : Functions()) {
    if (f.name == name) return f;
  }
  if (facts_.stripped) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, " is stripped (no symbol table): cannot find function ", name,
                     "; rebuild without -ldflags='-s -w' (and without strip)"));
  }
  return absl::NotFoundError(absl::StrCat("no function ", name, " in ", path_));
}

absl::StatusOr<FunctionSymbol> GoBinary::FunctionAt(uint64_t pc) const {
  const std::vector<FunctionSymbol>& fs = Functions();
  auto it = std::upper_bound(fs.begin(), fs.end(), pc,
                             [](uint64_t v, const FunctionSymbol& f) { return v < f.address; });
  while (it != fs.begin()) {
    --it;
    if (pc < it->address + std::max<uint64_t>(it->size, 1)) return *it;
    if (it->size != 0) break;
  }
  return absl::NotFoundError(absl::StrCat("no function at 0x", absl::Hex(pc), " in ", path_));
}

absl::StatusOr<uint64_t> GoBinary::FileOffset(uint64_t address) const {
  size_t n = 0;
  if (elf_getphdrnum(elf_, &n) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": no program headers"));
  }
  for (size_t i = 0; i < n; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf_, static_cast<int>(i), &ph) == nullptr || ph.p_type != PT_LOAD) continue;
    if (address >= ph.p_vaddr && address < ph.p_vaddr + ph.p_filesz) {
      return address - ph.p_vaddr + ph.p_offset;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("address 0x", absl::Hex(address), " is in no loaded segment of ", path_));
}

absl::StatusOr<uint64_t> GoBinary::CodeFileOffset(uint64_t address) const {
  size_t n = 0;
  if (elf_getphdrnum(elf_, &n) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": no program headers"));
  }
  for (size_t i = 0; i < n; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf_, static_cast<int>(i), &ph) == nullptr) continue;
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    if (address >= ph.p_vaddr && address < ph.p_vaddr + ph.p_filesz) {
      return address - ph.p_vaddr + ph.p_offset;
    }
  }
  return absl::OutOfRangeError(
      absl::StrCat("0x", absl::Hex(address), " is not in executable code of ", path_));
}

absl::StatusOr<std::string> GoBinary::CodeBytes(uint64_t address, size_t n) const {
  KDBG_ASSIGN_OR_RETURN(uint64_t off, CodeFileOffset(address));
  size_t size = 0;
  const char* raw = elf_rawfile(elf_, &size);
  if (raw == nullptr || off > size) {
    return absl::InternalError(absl::StrCat("read ", path_, ": ", elf_errmsg(-1)));
  }
  return std::string(raw + off, std::min(n, static_cast<size_t>(size - off)));
}

bool GoBinary::IsPie() const {
  GElf_Ehdr eh;
  return gelf_getehdr(elf_, &eh) != nullptr && eh.e_type == ET_DYN;
}

uint64_t GoBinary::EntryAddress() const {
  GElf_Ehdr eh;
  return gelf_getehdr(elf_, &eh) != nullptr ? eh.e_entry : 0;
}

std::vector<FunctionSymbol> GoBinary::DataSymbols(absl::string_view prefix) const {
  std::vector<FunctionSymbol> out;
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn != nullptr; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_SYMTAB) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    size_t n = shdr.sh_entsize ? shdr.sh_size / shdr.sh_entsize : 0;
    for (size_t i = 0; data != nullptr && i < n; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
      if (GELF_ST_TYPE(sym.st_info) == STT_FUNC) continue;
      const char* name = elf_strptr(elf_, shdr.sh_link, sym.st_name);
      if (name == nullptr || !absl::StartsWith(name, prefix)) continue;
      out.push_back({name, sym.st_value, sym.st_size});
    }
  }
  return out;
}

absl::StatusOr<GoBinaryFacts> InspectGoBinary(const std::string& path) {
  KDBG_ASSIGN_OR_RETURN(std::unique_ptr<GoBinary> bin, GoBinary::Open(path));
  return bin->facts();
}

namespace {
class ElfInspector final : public Inspector {
 public:
  absl::StatusOr<GoBinaryFacts> Inspect(const std::string& path) override {
    return InspectGoBinary(path);
  }
};
}  // namespace

std::unique_ptr<Inspector> NewElfInspector() { return std::make_unique<ElfInspector>(); }

}  // namespace kdbg::gobinary
