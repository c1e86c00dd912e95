// Fuzz target: the /proc parsers (common/proc_reader.h) on one file's text: /proc/PID/stat
// (ParseStat, ParseStartTicks), /proc/PID/status (ParseProcStatus), cmdline and environ
// (ParseNulSeparated). A process chooses its own comm (prctl PR_SET_NAME), so stat is partly
// written by the target. Every parser sees every input.
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "common/proc_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  kdbg::ProcessInfo info;
  if (kdbg::ParseStat(text, &info).ok()) {
    if (info.comm.size() > text.size()) std::abort();
  }
  auto ticks = kdbg::ParseStartTicks(text);
  (void)ticks;
  auto status = kdbg::ParseProcStatus(text);
  if (status.ok() && status->nspid.size() > text.size()) std::abort();
  size_t total = 0;
  for (const auto& s : kdbg::ParseNulSeparated(text)) total += s.size();
  if (total > text.size()) std::abort();
  return 0;
}
