#include "agent/ebpf/ret_sites.h"

#include <capstone/capstone.h>

#include <functional>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kdbg::ebpf {

namespace {

// Calls `each` with every instruction of `code` in order until it returns false; InvalidArgument
// naming the first byte that does not decode.
absl::Status Decode(absl::string_view code, uint64_t vaddr,
                    const std::function<bool(const cs_insn&)>& each) {
  csh handle = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) {
    return absl::InternalError("capstone: cannot open an x86-64 decoder");
  }
  cs_insn* insn = cs_malloc(handle);
  const auto* bytes = reinterpret_cast<const uint8_t*>(code.data());
  size_t left = code.size();
  uint64_t address = vaddr;
  absl::Status status;
  while (left > 0) {
    if (!cs_disasm_iter(handle, &bytes, &left, &address, insn)) {
      status = absl::InvalidArgumentError(
          absl::StrCat("cannot decode the instruction at 0x", absl::Hex(address)));
      break;
    }
    if (!each(*insn)) break;
  }
  cs_free(insn, 1);
  cs_close(&handle);
  return status;
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> FindReturnSites(absl::string_view code, uint64_t vaddr) {
  std::vector<uint64_t> sites;
  KDBG_RETURN_IF_ERROR(Decode(code, vaddr, [&](const cs_insn& insn) {
    if (insn.id == X86_INS_RET) sites.push_back(insn.address);
    return true;
  }));
  return sites;
}

absl::StatusOr<bool> StartsInstruction(absl::string_view code, uint64_t vaddr, uint64_t address) {
  bool starts = false;
  KDBG_RETURN_IF_ERROR(Decode(code, vaddr, [&](const cs_insn& insn) {
    starts = insn.address == address;
    return insn.address < address;
  }));
  return starts;
}

}  // namespace kdbg::ebpf
