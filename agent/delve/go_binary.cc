#include "agent/delve/go_binary.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "common/status.h"

namespace kdbg::delve {

absl::StatusOr<GoBinaryFacts> InspectGoBinary(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoToStatus(errno, absl::StrCat("open ", path));
  if (elf_version(EV_CURRENT) == EV_NONE) return absl::InternalError("libelf: version mismatch");
  Elf* elf = elf_begin(fd.get(), ELF_C_READ, nullptr);
  if (elf == nullptr || elf_kind(elf) != ELF_K_ELF) {
    if (elf != nullptr) elf_end(elf);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an ELF executable"));
  }
  GoBinaryFacts facts;
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) == 0) {
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
      GElf_Shdr shdr;
      if (gelf_getshdr(scn, &shdr) == nullptr) continue;
      const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
      if (name == nullptr) continue;
      if (std::strcmp(name, ".go.buildinfo") == 0 || std::strcmp(name, ".gopclntab") == 0) {
        facts.is_go = true;
      } else if (std::strcmp(name, ".debug_info") == 0 || std::strcmp(name, ".zdebug_info") == 0) {
        facts.has_debug_info = true;
      } else if (!facts.is_go && shdr.sh_type == SHT_SYMTAB) {
        Elf_Data* data = elf_getdata(scn, nullptr);
        size_t n = shdr.sh_entsize ? shdr.sh_size / shdr.sh_entsize : 0;
        for (size_t i = 0; data != nullptr && i < n; ++i) {
          GElf_Sym sym;
          if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
          const char* s = elf_strptr(elf, shdr.sh_link, sym.st_name);
          if (s != nullptr && std::strcmp(s, "runtime.main") == 0) {
            facts.is_go = true;
            break;
          }
        }
      }
    }
  }
  elf_end(elf);
  return facts;
}

}  // namespace kdbg::delve
