// Fuzz target: kubeconfig (YAML or JSON) and a credential plugin's ExecCredential output
// (kube/rest_config.h, kube/exec_credential.h). Both parsers see every input. Relative file names
// in a kubeconfig resolve against an empty directory; inputs naming /dev, /proc or /sys are
// skipped (reading /dev/zero or /dev/stdin would hang the fuzzer, not find a bug).
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "kube/exec_credential.h"
#include "kube/rest_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Made once per process and removed when it exits (each corpus replay in ctest is a process).
  struct EmptyDir {
    std::string path;
    ~EmptyDir() {
      if (path != "/nonexistent") ::rmdir(path.c_str());
    }
  };
  static const EmptyDir empty = [] {
    char tmpl[] = "/tmp/kdbg-fuzz-kubeconfig-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    return EmptyDir{dir != nullptr ? dir : "/nonexistent"};
  }();
  const std::string* empty_dir = &empty.path;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kdbg::kube::ParseExecCredential(text, "client.authentication.k8s.io/v1");
  (void)kdbg::kube::ParseExecCredential(text, "client.authentication.k8s.io/v1beta1");
  for (absl::string_view special : {"/dev", "/proc", "/sys"}) {
    if (absl::StrContains(text, special)) return 0;
  }
  (void)kdbg::kube::ParseKubeconfig(text, *empty_dir);
  return 0;
}
