#include "tests/support/go_target.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status.h"
#include "tests/support/http_probe.h"
#include "tests/support/test_env.h"

namespace kdbg::testing {

absl::StatusOr<std::unique_ptr<GoTarget>> GoTarget::Start(const std::string& name) {
  return StartCopy(name, false);
}

absl::StatusOr<std::unique_ptr<GoTarget>> GoTarget::StartInPidNamespace(const std::string& name) {
  return StartCopy(name, true);
}

absl::StatusOr<std::unique_ptr<GoTarget>> GoTarget::StartBinary(const std::string& path) {
  return StartWith(path, "", false);
}

GoTarget::~GoTarget() {
  process_.reset();  // killed and reaped before its executable goes
  if (!copy_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(copy_dir_, ec);
  }
}

absl::StatusOr<std::unique_ptr<GoTarget>> GoTarget::StartCopy(const std::string& name,
                                                              bool pid_namespace) {
  std::string dir = MakeTempDir("go-target");
  std::string copy = absl::StrCat(dir, "/", name);
  std::error_code ec;
  std::filesystem::copy_file(TargetPath(name), copy, ec);
  if (ec) {
    std::filesystem::remove_all(dir, ec);
    return absl::InternalError(absl::StrCat("cannot copy ", TargetPath(name), ": ", ec.message()));
  }
  // copy_file keeps the mode bits (0755).
  absl::StatusOr<std::unique_ptr<GoTarget>> t = StartWith(copy, dir, pid_namespace);
  if (!t.ok()) std::filesystem::remove_all(dir, ec);
  return t;
}

absl::StatusOr<std::unique_ptr<GoTarget>> GoTarget::StartWith(const std::string& binary,
                                                              const std::string& copy_dir,
                                                              bool pid_namespace) {
  const std::string name = std::filesystem::path(binary).filename().string();
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    // A port picked in advance can be taken before the target binds it: the target then exits at
    // once (and whatever answers on the port is not it). Then try another port.
    int port = FreePort();
    SpawnOptions o;
    o.argv = {binary};
    if (pid_namespace) {
      o.argv.insert(o.argv.begin(), {"unshare", "--fork", "--pid", "--kill-child=KILL"});
    }
    o.extra_env = {absl::StrCat("HELLO_ADDR=127.0.0.1:", port)};
    o.destroy_grace = absl::Seconds(2);
    KDBG_ASSIGN_OR_RETURN(auto child, ChildProcess::Spawn(o));
    absl::Time deadline = kdbg::MonotonicNow() + absl::Seconds(10);
    last = absl::DeadlineExceededError(absl::StrCat(name, " never answered on port ", port));
    while (kdbg::MonotonicNow() < deadline && child->Running()) {
      auto r = HttpGet("127.0.0.1", port, "/", absl::Seconds(1));
      if (r.ok() && r->status == 200 && child->Running()) {
        std::unique_ptr<GoTarget> t(new GoTarget(std::move(child), port));
        t->binary_ = binary;
        t->copy_dir_ = copy_dir;
        if (pid_namespace) {
          // unshare's only child: /proc/<unshare>/task/<unshare>/children.
          std::ifstream f(absl::StrCat("/proc/", t->process_->pid(), "/task/", t->process_->pid(),
                                       "/children"));
          if (!(f >> t->target_pid_) || t->target_pid_ <= 0) {
            return absl::InternalError(absl::StrCat("no child of unshare ", t->process_->pid()));
          }
        }
        return t;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (!child->Running()) {
      auto status = child->Wait(absl::ZeroDuration());
      last = absl::UnavailableError(absl::StrCat(
          name, " exited at start (", status.ok() ? ChildProcess::DescribeWaitStatus(*status) : "",
          "; port ", port, " taken?)"));
    }
  }
  return last;
}

}  // namespace kdbg::testing
