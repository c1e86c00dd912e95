// Fuzz target: the ELF/DWARF/Go-binary inspector (agent/gobinary) on a malformed executable. The
// target's binary comes from a container image, so every byte of it is the image author's. The
// input is written to a memfd and opened by path (/proc/self/fd/N), as the resolver opens
// /proc/PID/exe; then everything the resolver and the eBPF engine ask of a binary is asked. The
// section parsers (build_info.h) also see the raw bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "agent/gobinary/build_info.h"
#include "agent/gobinary/dwarf.h"
#include "agent/gobinary/go_binary.h"

namespace {

bool WriteAll(int fd, absl::string_view bytes) {
  if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) return false;
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void AskDwarf(const std::string& path) {
  auto reader = kdbg::gobinary::DwarfReader::Open(path);
  if (!reader.ok()) return;
  kdbg::gobinary::DwarfReader& r = **reader;
  (void)r.GoidOffset();
  (void)r.IsPie();
  (void)r.TypeByName("*main.Order");
  (void)r.TypeByName("string");
  (void)r.ItabsFor("main.Describer");
  for (const char* name : {"main.main", "main.handleSlash", "runtime.main"}) {
    auto fn = r.FindFunction(name);
    if (!fn.ok()) continue;
    (void)r.FileOffset(fn->entry);
    (void)r.CodeBytes(fn->entry, 32);
    (void)r.AfterPrologue(*fn);
    (void)r.LineAt(fn->entry);
    (void)r.CfaFromRsp(fn->entry);
    for (const auto& p : fn->params) {
      (void)r.ParameterAt(*fn, p.name, fn->entry);
      if (auto t = r.Type(p.type); t.ok()) {
        for (const auto& m : t->members) (void)r.Type(m.type);
        if (t->elem != 0) (void)r.Type(t->elem);
      }
    }
  }
  for (const char* name : {"main.handleSlash", "errors.New"}) {
    for (const auto& call : r.InlinedCalls(name)) {
      (void)r.CfaFromRsp(call.callee.entry);
      for (const auto& p : call.callee.params) {
        (void)r.ParameterAt(call.callee, p.name, call.callee.entry);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = ::memfd_create("kdbg-fuzz-elf", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)kdbg::gobinary::ParseGoBuildInfo(bytes);
  (void)kdbg::gobinary::ParseGoBuildIdNote(bytes);
  (void)kdbg::gobinary::ParseGnuBuildIdNote(bytes);
  (void)kdbg::gobinary::GoVersionFromProducer(bytes);
  (void)kdbg::gobinary::ParseGoVersion(bytes);
  if (!WriteAll(fd, bytes)) std::abort();
  const std::string path = absl::StrCat("/proc/self/fd/", fd);
  auto bin = kdbg::gobinary::GoBinary::Open(path);
  if (!bin.ok()) return 0;
  const kdbg::gobinary::GoBinary& b = **bin;
  const auto& fns = b.Functions();
  (void)b.FindFunction("main.main");
  int n = 0;
  b.ForEachFunction("main.", [&](const kdbg::gobinary::FunctionSymbol&) { return ++n < 100; });
  if (!fns.empty()) {
    (void)b.FunctionAt(fns.front().address);
    (void)b.FileOffset(fns.front().address);
    (void)b.FindFunction(fns.back().name);
  }
  (void)b.dwarf();
  (void)b.Producer();  // every compile unit's name and producer
  AskDwarf(path);
  return 0;
}
