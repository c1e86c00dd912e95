#include "agent/ebpf/ret_sites.h"

#include <capstone/capstone.h>

#include "absl/strings/str_cat.h"

namespace kdbg::ebpf {

absl::StatusOr<std::vector<uint64_t>> FindReturnSites(absl::string_view code, uint64_t vaddr) {
  csh handle = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) {
    return absl::InternalError("capstone: cannot open an x86-64 decoder");
  }
  cs_insn* insn = cs_malloc(handle);
  std::vector<uint64_t> sites;
  const auto* bytes = reinterpret_cast<const uint8_t*>(code.data());
  size_t left = code.size();
  uint64_t address = vaddr;
  while (left > 0) {
    if (!cs_disasm_iter(handle, &bytes, &left, &address, insn)) {
      cs_free(insn, 1);
      cs_close(&handle);
      return absl::InvalidArgumentError(
          absl::StrCat("cannot decode the instruction at 0x", absl::Hex(address)));
    }
    if (insn->id == X86_INS_RET) sites.push_back(insn->address);
  }
  cs_free(insn, 1);
  cs_close(&handle);
  return sites;
}

}  // namespace kdbg::ebpf
