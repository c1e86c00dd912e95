#include "tests/support/containerd/containerd_fixture.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/status.h"
#include "tests/support/test_env.h"

namespace kdbg::testing {
namespace {

std::string RandomHex(size_t n) {
  static std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kHex[rng() % 16];
  return s;
}

bool OnPath(const char* prog) {
  for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/local/bin/"}) {
    if (::access(absl::StrCat(dir, prog).c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string ReadCmdline(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::replace(s.begin(), s.end(), '\0', ' ');
  return s;
}

}  // namespace

bool ContainerdFixture::Available() {
  return ::geteuid() == 0 && OnPath("containerd") && OnPath("ctr") && OnPath("runc");
}

std::string ContainerdFixture::NewContainerId() { return RandomHex(64); }
std::string ContainerdFixture::NewPodUid() {
  std::string h = RandomHex(32);
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-",
                      h.substr(16, 4), "-", h.substr(20));
}

absl::StatusOr<std::unique_ptr<ContainerdFixture>> ContainerdFixture::Start() {
  std::string dir = MakeTempDir("kdbg-containerd-");
  if (dir.empty()) return absl::InternalError("mkdtemp failed for the containerd fixture");
  std::unique_ptr<ContainerdFixture> f(new ContainerdFixture(dir));
  {
    std::ofstream cfg(dir + "/config.toml");
    cfg << "version = 2\nroot = \"" << dir << "/root\"\nstate = \"" << dir << "/state\"\n"
        << "[grpc]\n  address = \"" << dir << "/containerd.sock\"\n";
  }
  SpawnOptions o;
  o.argv = {"containerd", "--config", dir + "/config.toml"};
  o.stdout_path = dir + "/containerd.log";
  o.stderr_to_stdout = true;
  o.destroy_grace = absl::Seconds(10);
  KDBG_ASSIGN_OR_RETURN(f->containerd_, ChildProcess::Spawn(o));
  absl::Time deadline = kdbg::MonotonicNow() + absl::Seconds(20);
  absl::Status last;
  while (kdbg::MonotonicNow() < deadline) {
    if (!f->containerd_->Running()) {
      return absl::UnavailableError(
          absl::StrCat("containerd exited at start; see ", dir, "/containerd.log"));
    }
    auto v = f->Ctr({"version"});
    if (v.ok()) return f;
    last = v.status();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "containerd did not answer within 20s (", last.message(), "); see ", dir, "/containerd.log"));
}

absl::StatusOr<std::string> ContainerdFixture::Ctr(std::vector<std::string> args) {
  std::vector<std::string> argv = {"ctr", "--address", socket(), "-n", "k8s.io"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, absl::Seconds(60));
}

absl::StatusOr<pid_t> ContainerdFixture::Run(const ContainerSpec& spec) {
  std::string rootfs = absl::StrCat(dir_, "/rootfs-", spec.id.substr(0, 12));
  std::error_code ec;
  std::filesystem::create_directories(rootfs, ec);
  for (const auto& [src, dst] : spec.files) {
    std::filesystem::path to = rootfs + dst;
    std::filesystem::create_directories(to.parent_path(), ec);
    if (!std::filesystem::copy_file(src, to, std::filesystem::copy_options::overwrite_existing,
                                    ec)) {
      return absl::InternalError(absl::StrCat("copy ", src, " into the rootfs: ", ec.message()));
    }
    ::chmod(to.c_str(), 0755);
  }
  std::vector<std::string> args = {
      "run", "-d", "--net-host", "--cgroup",
      absl::StrCat("/kubepods/besteffort/pod", spec.pod_uid, "/", spec.id)};
  for (const std::string& e : spec.env) {
    args.push_back("--env");
    args.push_back(e);
  }
  // --rootfs is a switch: the first positional argument is then the rootfs directory.
  args.push_back("--rootfs");
  args.push_back(rootfs);
  args.push_back(spec.id);
  args.insert(args.end(), spec.args.begin(), spec.args.end());
  containers_.push_back(spec.id);
  if (std::find(pod_uids_.begin(), pod_uids_.end(), spec.pod_uid) == pod_uids_.end())
    pod_uids_.push_back(spec.pod_uid);
  KDBG_RETURN_IF_ERROR(Ctr(args).status());
  std::string pidfile =
      absl::StrCat(state_dir(), "/io.containerd.runtime.v2.task/k8s.io/", spec.id, "/init.pid");
  std::ifstream in(pidfile);
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0)
    return absl::InternalError(absl::StrCat("no init.pid at ", pidfile));
  return pid;
}

absl::Status ContainerdFixture::Remove(const std::string& id) {
  (void)Ctr({"task", "kill", "-s", "SIGKILL", id});
  (void)Ctr({"task", "rm", "-f", id});
  (void)Ctr({"container", "rm", id});
  containers_.erase(std::remove(containers_.begin(), containers_.end(), id), containers_.end());
  return absl::OkStatus();
}

ContainerdFixture::~ContainerdFixture() {
  if (containerd_ && containerd_->Running()) {
    for (const std::string& id : std::vector<std::string>(containers_)) (void)Remove(id);
  }
  if (containerd_) (void)containerd_->Terminate(absl::Seconds(10));
  // Shims serving our socket that outlived containerd: ours to stop, by PID.
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      pid_t pid = std::atoi(e->d_name);
      if (pid <= 0) continue;
      std::string cmd = ReadCmdline(pid);
      if (absl::StrContains(cmd, "containerd-shim") && absl::StrContains(cmd, socket()))
        ::kill(pid, SIGKILL);
    }
    ::closedir(d);
  }
  // Pod cgroups (runc removed the containers' own).
  for (const std::string& uid : pod_uids_) {
    if (DIR* d = ::opendir("/sys/fs/cgroup")) {
      while (dirent* e = ::readdir(d)) {
        std::string base =
            absl::StrCat("/sys/fs/cgroup/", e->d_name, "/kubepods/besteffort/pod", uid);
        ::rmdir(base.c_str());
      }
      ::closedir(d);
    }
    ::rmdir(absl::StrCat("/sys/fs/cgroup/kubepods/besteffort/pod", uid).c_str());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace kdbg::testing
