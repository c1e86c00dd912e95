// Where the build put things, and how tests that need real parts behave when those are missing.
#pragma once

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kdbg::testing {

// $KDBG_BINARY_DIR / $KDBG_SOURCE_DIR, else the build's own directories (compiled in).
std::string BinaryDir();
std::string SourceDir();
// Real-world samples of a component's formats, kept beside its tests with their SOURCES.md:
// TestdataDir("kube") is SourceDir()/kube/testdata. Nothing a test reads lives outside the
// repository.
std::string TestdataDir(const std::string& component);
// Path of a built debug target: BinaryDir()/targets/<name>.
std::string TargetPath(const std::string& name);
// The Delve builds kdbg bundles, oldest first, as scripts/delve builds them from
// tools/delve/vX.Y.Z:
// {"v1.26.2", "v1.27.2"}.
std::vector<std::string> BundledDelveVersions();
// ${KDBG_CACHE_DIR:-/var/cache/kdbg}/delve/<version>/dlv; "" means the newest bundled version.
// Tests and benchmarks use these, never a Delve from the system.
std::string BundledDelvePath(const std::string& version = "");
// Every bundled Delve's path, oldest first (the agent's --dlv list, comma-joined by the caller).
std::vector<std::string> BundledDelvePaths();
// True when every bundled Delve is built and executable (scripts/delve builds them).
bool HaveBundledDelve();
// True when running in CI ($CI non-empty): real parts must be present there.
bool InCi();
// A free TCP port on 127.0.0.1 (bound then released; small race accepted in tests).
int FreePort();
// A socket listening on 127.0.0.1 at a kernel-chosen port (backlog 4), close-on-exec: the fd, and
// the port in *port; -1 (and port 0) when loopback cannot listen.
int ListenLoopback(int* port);
// A fresh directory under $TMPDIR, removed by the caller (or left for post-mortem on failure).
std::string MakeTempDir(const std::string& prefix);

}  // namespace kdbg::testing

// Skips the test when `cond` is false outside CI; fails it in CI, where real parts (root, Delve,
// containerd) must be present: such tests never silently skip there.
#define KDBG_REQUIRE_REAL(cond, what)                       \
  do {                                                      \
    if (!(cond)) {                                          \
      if (::kdbg::testing::InCi()) {                        \
        FAIL() << "required in CI but missing: " << (what); \
      } else {                                              \
        GTEST_SKIP() << "needs " << (what);                 \
      }                                                     \
    }                                                       \
  } while (false)
