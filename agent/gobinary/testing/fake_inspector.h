// An Inspector that describes binaries without reading them, for tests of the resolver and the
// layers above. Keyed by what the path names: the target of a symlink (a recorded /proc tree's
// <pid>/exe -> "/hello-world"), else the path itself. An unknown path is an ELF program that is
// not Go; a missing link is NotFound, like a vanished /proc/PID/exe.
#pragma once

#include <unistd.h>

#include <map>
#include <mutex>
#include <string>

#include "agent/gobinary/go_binary.h"

namespace kdbg::gobinary::testing {

// Facts of a Go program as `go build` makes them by default.
inline GoBinaryFacts GoFacts(bool dwarf = true, const std::string& version = "go1.19.8") {
  GoBinaryFacts f;
  f.is_go = true;
  f.go_version = version;
  f.has_dwarf = dwarf;
  f.module_path = "example.com/hello";
  return f;
}

class FakeInspector : public Inspector {
 public:
  // Facts returned for a path (or link target); set before use or under no concurrent Inspect.
  void Set(const std::string& name, GoBinaryFacts facts) {
    std::lock_guard<std::mutex> lock(mu_);
    by_name_[name] = std::move(facts);
  }

  absl::StatusOr<GoBinaryFacts> Inspect(const std::string& path) override {
    std::string name = path;
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
    if (n > 0) {
      name.assign(buf, static_cast<size_t>(n));
    } else if (::access(path.c_str(), F_OK) != 0) {
      return absl::NotFoundError("open executable " + path + ": no such file");
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return GoBinaryFacts();  // some ELF program, not Go
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<std::string, GoBinaryFacts> by_name_;
};

}  // namespace kdbg::gobinary::testing
