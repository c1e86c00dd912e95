#include "agent/resolver/runtime_state.h"

#include <dirent.h>
#include <sys/stat.h>

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/proc_reader.h"
#include "nlohmann/json.hpp"

namespace kdbg::agent {
namespace {

std::vector<std::string> SubDirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    out.push_back(n);
  }
  ::closedir(d);
  return out;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A JSON integer in [0, max]; 0 for anything else (a float, a negative or too large number: a
// float or out-of-range conversion would be undefined behaviour).
uint64_t JsonUint(const nlohmann::json& j, const char* key, uint64_t max) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    return v <= max ? v : 0;
  }
  if (it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    return v >= 0 && static_cast<uint64_t>(v) <= max ? static_cast<uint64_t>(v) : 0;
  }
  return 0;
}

constexpr uint64_t kMaxPid = std::numeric_limits<pid_t>::max();
constexpr uint64_t kMaxTicks = std::numeric_limits<uint64_t>::max();

StateFileValues ReadStateFile(StateFileKind kind, const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text.ok()) return {};
  return ParseStateFile(kind, *text);
}

}  // namespace

StateFileValues ParseStateFile(StateFileKind kind, absl::string_view text) {
  StateFileValues out;
  if (kind == StateFileKind::kPidFile) {
    int pid = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) && pid > 0) out.pid = pid;
    return out;
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  switch (kind) {
    case StateFileKind::kRuncState:
      out.pid = static_cast<pid_t>(JsonUint(j, "init_process_pid", kMaxPid));
      out.start_ticks = JsonUint(j, "init_process_start", kMaxTicks);
      break;
    case StateFileKind::kCrunStatus:
      out.pid = static_cast<pid_t>(JsonUint(j, "pid", kMaxPid));
      out.start_ticks = JsonUint(j, "process-start-time", kMaxTicks);
      break;
    case StateFileKind::kDockerConfig:
      if (j.is_object()) {
        if (auto st = j.find("State"); st != j.end()) {
          out.pid = static_cast<pid_t>(JsonUint(*st, "Pid", kMaxPid));
        }
      }
      break;
    case StateFileKind::kPidFile:
      break;
  }
  return out;
}

RuntimeStateReader::RuntimeStateReader(std::string host_root, std::vector<std::string> extra)
    : host_root_(std::move(host_root)), extra_state_dirs_(std::move(extra)) {
  while (host_root_.size() > 1 && host_root_.back() == '/') host_root_.pop_back();
  if (host_root_ == "/") host_root_.clear();
}

std::string RuntimeStateReader::Abs(const std::string& rel) const {
  return absl::StrCat(host_root_, "/", rel);
}

std::vector<StateFact> RuntimeStateReader::Lookup(const std::string& id) const {
  std::vector<StateFact> facts;
  auto add_pidfile = [&](const std::string& abs, const std::string& shown, const char* runtime,
                         bool monitor) {
    if (pid_t pid = ReadStateFile(StateFileKind::kPidFile, abs).pid; pid > 0) {
      StateFact f{shown, runtime, pid, 0, monitor, ""};
      facts.push_back(f);
    }
  };
  // containerd task dirs: <state>/<task dir>/<ns>/<id>/init.pid
  std::vector<std::pair<std::string, std::string>> task_dirs;  // (absolute, shown)
  for (const char* rel : {"run/containerd/io.containerd.runtime.v2.task",
                          "run/containerd/io.containerd.runtime.v1.linux",
                          "run/docker/containerd/daemon/io.containerd.runtime.v2.task"}) {
    task_dirs.emplace_back(Abs(rel), rel);
  }
  for (const std::string& dir : extra_state_dirs_) {
    for (const char* sub : {"io.containerd.runtime.v2.task", "io.containerd.runtime.v1.linux"}) {
      std::string p = absl::StrCat(dir, "/", sub);
      task_dirs.emplace_back(p, p);
    }
  }
  for (const auto& [abs, shown] : task_dirs) {
    for (const std::string& ns : SubDirs(abs)) {
      add_pidfile(absl::StrCat(abs, "/", ns, "/", id, "/init.pid"),
                  absl::StrCat(shown, "/", ns, "/", id, "/init.pid"), "containerd", false);
    }
  }
  // runc state.json files.
  std::vector<std::string> runc_files;
  for (const std::string& ns : SubDirs(Abs("run/containerd/runc"))) {
    runc_files.push_back(absl::StrCat("run/containerd/runc/", ns, "/", id, "/state.json"));
  }
  runc_files.push_back(absl::StrCat("run/runc/", id, "/state.json"));
  runc_files.push_back(absl::StrCat("run/docker/runtime-runc/moby/", id, "/state.json"));
  for (const std::string& rel : runc_files) {
    StateFileValues v = ReadStateFile(StateFileKind::kRuncState, Abs(rel));
    if (v.pid > 0) facts.push_back({rel, "runc", v.pid, v.start_ticks, false, ""});
  }
  {
    std::string rel = absl::StrCat("run/crun/", id, "/status");
    StateFileValues v = ReadStateFile(StateFileKind::kCrunStatus, Abs(rel));
    if (v.pid > 0) facts.push_back({rel, "crun", v.pid, v.start_ticks, false, ""});
  }
  for (const char* base : {"run/containers/storage/overlay-containers/",
                           "var/lib/containers/storage/overlay-containers/"}) {
    std::string dir = absl::StrCat(base, id, "/userdata/");
    add_pidfile(Abs(dir + "pidfile"), dir + "pidfile", "cri-o", false);
    add_pidfile(Abs(dir + "conmon.pid"), dir + "conmon.pid", "cri-o", true);
  }
  {
    std::string rel = absl::StrCat("var/lib/docker/containers/", id, "/config.v2.json");
    StateFileValues v = ReadStateFile(StateFileKind::kDockerConfig, Abs(rel));
    if (v.pid > 0) facts.push_back({rel, "docker", v.pid, 0, false, ""});
  }
  for (const std::string& ns : SubDirs(Abs("run/containerd/runsc"))) {
    std::string rel = absl::StrCat("run/containerd/runsc/", ns, "/", id);
    if (Exists(Abs(rel))) facts.push_back({rel, "containerd", 0, 0, false, "gvisor"});
  }
  for (const std::string& rel :
       {absl::StrCat("run/kata-containers/", id), absl::StrCat("run/vc/sbs/", id)}) {
    if (Exists(Abs(rel))) facts.push_back({rel, "containerd", 0, 0, false, "kata"});
  }
  return facts;
}

}  // namespace kdbg::agent
