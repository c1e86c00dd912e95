#include "agent/resolver/runtime_state.h"

#include <dirent.h>
#include <sys/stat.h>

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

pid_t ReadPidFile(const std::string& path) {
  auto text = ReadSmallFile(path);
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid)) return 0;
  return pid;
}

nlohmann::json ReadJson(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text.ok()) return nlohmann::json();
  return nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
}

template <typename T>
T JsonNumber(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  return it->get<T>();
}

}  // namespace

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
    if (pid_t pid = ReadPidFile(abs); pid > 0) {
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
    nlohmann::json j = ReadJson(Abs(rel));
    pid_t pid = JsonNumber<int>(j, "init_process_pid");
    if (pid > 0)
      facts.push_back({rel, "runc", pid, JsonNumber<uint64_t>(j, "init_process_start"), false, ""});
  }
  {
    std::string rel = absl::StrCat("run/crun/", id, "/status");
    nlohmann::json j = ReadJson(Abs(rel));
    pid_t pid = JsonNumber<int>(j, "pid");
    if (pid > 0)
      facts.push_back({rel, "crun", pid, JsonNumber<uint64_t>(j, "process-start-time"), false, ""});
  }
  for (const char* base : {"run/containers/storage/overlay-containers/",
                           "var/lib/containers/storage/overlay-containers/"}) {
    std::string dir = absl::StrCat(base, id, "/userdata/");
    add_pidfile(Abs(dir + "pidfile"), dir + "pidfile", "cri-o", false);
    add_pidfile(Abs(dir + "conmon.pid"), dir + "conmon.pid", "cri-o", true);
  }
  {
    std::string rel = absl::StrCat("var/lib/docker/containers/", id, "/config.v2.json");
    nlohmann::json j = ReadJson(Abs(rel));
    if (j.is_object() && j.contains("State")) {
      pid_t pid = JsonNumber<int>(j["State"], "Pid");
      if (pid > 0) facts.push_back({rel, "docker", pid, 0, false, ""});
    }
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
