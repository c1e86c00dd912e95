#include "tests/support/test_env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_split.h"

namespace kdbg::testing {
namespace {
std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : fallback;
}
}  // namespace

#ifndef KDBG_DEFAULT_SOURCE_DIR
#define KDBG_DEFAULT_SOURCE_DIR "."
#endif
#ifndef KDBG_DEFAULT_BINARY_DIR
#define KDBG_DEFAULT_BINARY_DIR "."
#endif

std::string BinaryDir() { return Env("KDBG_BINARY_DIR", KDBG_DEFAULT_BINARY_DIR); }
std::string SourceDir() { return Env("KDBG_SOURCE_DIR", KDBG_DEFAULT_SOURCE_DIR); }
std::string TestdataDir(const std::string& component) {
  return SourceDir() + "/" + component + "/testdata";
}
std::string TargetPath(const std::string& name) { return BinaryDir() + "/targets/" + name; }
#ifndef KDBG_BUNDLED_DELVE_VERSIONS
#define KDBG_BUNDLED_DELVE_VERSIONS ""
#endif
#ifndef KDBG_DEFAULT_CACHE_DIR
#define KDBG_DEFAULT_CACHE_DIR "/var/cache/kdbg"
#endif

std::vector<std::string> BundledDelveVersions() {
  return absl::StrSplit(KDBG_BUNDLED_DELVE_VERSIONS, ',', absl::SkipEmpty());
}
std::string BundledDelvePath(const std::string& version) {
  std::string v = version;
  if (v.empty()) {
    std::vector<std::string> all = BundledDelveVersions();
    v = all.empty() ? "none" : all.back();
  }
  return Env("KDBG_CACHE_DIR", KDBG_DEFAULT_CACHE_DIR) + "/delve/" + v + "/dlv";
}
std::vector<std::string> BundledDelvePaths() {
  std::vector<std::string> out;
  for (const std::string& v : BundledDelveVersions()) out.push_back(BundledDelvePath(v));
  return out;
}
bool HaveBundledDelve() {
  std::vector<std::string> paths = BundledDelvePaths();
  if (paths.empty()) return false;
  for (const std::string& p : paths) {
    if (::access(p.c_str(), X_OK) != 0) return false;
  }
  return true;
}
bool InCi() { return !Env("CI", "").empty(); }

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

int ListenLoopback(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd, 4) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    *port = 0;
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = Env("TMPDIR", "/tmp") + "/" + prefix + "XXXXXX";
  char* dir = ::mkdtemp(tmpl.data());
  return dir != nullptr ? std::string(dir) : std::string();
}

}  // namespace kdbg::testing
