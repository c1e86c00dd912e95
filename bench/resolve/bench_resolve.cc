// bench_resolve: the time of one container-ID resolution on a host with at least 5,000 processes,
// against the floor of reading every /proc/*/cgroup once, both measured in this run.
//
// Sets up: a private containerd running targets/hello-world in a kubepods cgroup, and enough
// static busybox `sleep` processes to reach --min-procs (all killed and reaped at exit). Prints
//   {"resolve_ms": {"value": X, "unit": "ms", "baseline": Y}}
// (medians of --rounds alternating runs). Needs root, containerd, runc, /bin/busybox.
// Usage: bench_resolve [--build-dir DIR] [--min-procs N] [--rounds N]
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/resolver/new_resolver.h"
#include "tests/support/containerd/containerd_fixture.h"
#include "tests/support/test_env.h"

extern char** environ;

namespace {

// The sleepers: killed and reaped on every exit path.
class Sleepers {
 public:
  ~Sleepers() {
    for (pid_t p : pids_) ::kill(p, SIGKILL);
    for (pid_t p : pids_) ::waitpid(p, nullptr, 0);
  }
  bool Spawn(int n) {
    char arg0[] = "sleep", arg1[] = "3600";
    char* argv[] = {arg0, arg1, nullptr};
    for (int i = 0; i < n; ++i) {
      pid_t pid;
      if (posix_spawn(&pid, "/bin/busybox", nullptr, nullptr, argv, environ) != 0) return false;
      pids_.push_back(pid);
    }
    return true;
  }
  size_t size() const { return pids_.size(); }

 private:
  std::vector<pid_t> pids_;
};

int CountProcesses() {
  int n = 0;
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) n += (e->d_name[0] >= '0' && e->d_name[0] <= '9');
  ::closedir(d);
  return n;
}

// The floor: open, read and close every /proc/PID/cgroup once.
size_t ReadAllCgroups() {
  size_t bytes = 0;
  char buf[8192];
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char path[300];
    std::snprintf(path, sizeof(path), "/proc/%s/cgroup", e->d_name);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t r;
    while ((r = ::read(fd, buf, sizeof(buf))) > 0) bytes += r;
    ::close(fd);
  }
  ::closedir(d);
  return bytes;
}

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string build_dir = kdbg::testing::BinaryDir();
  int min_procs = 5000, rounds = 9;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--build-dir") build_dir = argv[i + 1];
    if (a == "--min-procs") min_procs = std::atoi(argv[i + 1]);
    if (a == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  ::setenv("KDBG_BINARY_DIR", build_dir.c_str(), 1);
  auto fixture = kdbg::testing::ContainerdFixture::Start();
  if (!fixture.ok()) {
    std::fprintf(stderr, "bench_resolve: %s\n", std::string(fixture.status().message()).c_str());
    return 1;
  }
  kdbg::testing::ContainerSpec spec;
  spec.id = kdbg::testing::ContainerdFixture::NewContainerId();
  spec.pod_uid = kdbg::testing::ContainerdFixture::NewPodUid();
  spec.files = {{kdbg::testing::TargetPath("hello-world"), "/hello-world"}};
  spec.args = {"/hello-world"};
  spec.env = {absl::StrCat("HELLO_ADDR=127.0.0.1:", kdbg::testing::FreePort())};
  auto init = (*fixture)->Run(spec);
  if (!init.ok()) {
    std::fprintf(stderr, "bench_resolve: %s\n", std::string(init.status().message()).c_str());
    return 1;
  }
  Sleepers sleepers;
  int have = CountProcesses();
  if (have < min_procs && !sleepers.Spawn(min_procs - have + 50)) {
    std::fprintf(stderr, "bench_resolve: could not spawn sleepers\n");
    return 1;
  }
  int procs = CountProcesses();

  kdbg::agent::ResolverOptions opts;
  opts.containerd_state_dirs = {(*fixture)->state_dir()};
  auto resolver = kdbg::agent::NewResolver(opts);
  kdbg::v1::TargetRef ref;
  ref.set_container_id("containerd://" + spec.id);

  std::vector<double> base, resolve;
  ReadAllCgroups();  // warm-up, both paths
  (void)resolver->Resolve(ref);
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ReadAllCgroups();
    auto t1 = std::chrono::steady_clock::now();
    auto got = resolver->Resolve(ref);
    auto t2 = std::chrono::steady_clock::now();
    if (!got.ok() || got->host_pid() != *init) {
      std::fprintf(stderr, "bench_resolve: resolution failed: %s\n",
                   got.ok() ? "wrong pid" : std::string(got.status().message()).c_str());
      return 1;
    }
    base.push_back(Ms(t1 - t0));
    resolve.push_back(Ms(t2 - t1));
  }
  std::fprintf(stderr, "bench_resolve: %d processes, %d rounds\n", procs, rounds);
  std::printf(
      "{\"resolve_ms\": {\"value\": %.3f, \"unit\": \"ms\", \"baseline\": %.3f, \"processes\": "
      "%d}}\n",
      Median(resolve), Median(base), procs);
  return 0;
}
