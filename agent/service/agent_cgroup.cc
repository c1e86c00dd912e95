#include "agent/service/agent_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/resolver/container_ref.h"

namespace kdbg::agent {
namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string ReadSmall(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string v = s.str();
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

absl::Status WriteSmall(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  if (!out) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write \"", value, "\" to ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// mkdir -p of `rel` below the hierarchy `hier`, giving each new cpuset its parent's CPUs and
// memory nodes.
absl::Status MakeCgroup(const std::string& hier, const std::string& rel) {
  std::string path = hier;
  for (absl::string_view part : absl::StrSplit(rel, '/', absl::SkipEmpty())) {
    std::string parent = path;
    absl::StrAppend(&path, "/", part);
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create cgroup ", path, ": ", std::strerror(errno),
                       " (is the host's cgroup tree mounted writable?)"));
    }
    for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
      std::string mine = absl::StrCat(path, "/", f);
      if (!IsFile(mine) || !ReadSmall(mine).empty()) continue;
      absl::Status st = WriteSmall(mine, ReadSmall(absl::StrCat(parent, "/", f)));
      if (!st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> PrepareOutsideContainerCgroup(
    const std::string& cgroup_fs, absl::string_view self_cgroup) {
  std::string pods = NodePodCgroupRoot(self_cgroup);
  if (pods.empty()) return std::vector<std::string>{};
  std::string rel = pods + "/kdbg-agent";
  std::vector<std::string> hierarchies;
  if (IsFile(cgroup_fs + "/cgroup.procs")) {
    hierarchies.push_back(cgroup_fs);  // cgroup v2
  } else {
    DIR* d = ::opendir(cgroup_fs.c_str());
    if (d == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("cannot read the host's cgroup tree ",
                                                        cgroup_fs, ": ", std::strerror(errno)));
    }
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string path = absl::StrCat(cgroup_fs, "/", name);
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;  // cpu -> cpu,cpuacct
      if (IsFile(path + "/cgroup.procs")) hierarchies.push_back(path);
    }
    ::closedir(d);
  }
  if (hierarchies.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("no cgroup hierarchy under ", cgroup_fs,
                                                      " (mount the host's /sys/fs/cgroup)"));
  }
  std::sort(hierarchies.begin(), hierarchies.end());
  std::vector<std::string> procs;
  for (const std::string& h : hierarchies) {
    // A hierarchy without the pod root (e.g. a v1 controller the kubelet does not use) still gets
    // the cgroup: the container's cgroup is left in every hierarchy.
    absl::Status st = MakeCgroup(h, rel);
    if (!st.ok()) return st;
    procs.push_back(absl::StrCat(h, rel, "/cgroup.procs"));
  }
  return procs;
}

}  // namespace kdbg::agent
