#include "common/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/clock.h"
#include "common/pidfd.h"
#include "common/status.h"

extern char** environ;

namespace kdbg {
namespace {

int OpenForChild(const std::string& path, bool write, bool append = false) {
  const char* p = path.empty() ? "/dev/null" : path.c_str();
  int flags = write ? (O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)) : O_RDONLY;
  return ::open(p, flags | O_CLOEXEC, 0600);
}

// Only async-signal-safe calls between fork and exec: the parent may be multi-threaded.
[[noreturn]] void ChildExec(const SpawnOptions& o, char* const* argv, char* const* envp, int in_fd,
                            int out_fd, int err_fd, int err_pipe) {
  auto fail = [&](int err) {
    ssize_t ignored = ::write(err_pipe, &err, sizeof(err));
    (void)ignored;
    ::_exit(127);
  };
  if (o.new_session && ::setsid() < 0) fail(errno);
  for (const std::string& procs : o.join_cgroup_procs) {
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail(errno);
    if (::write(fd, "0", 1) != 1) fail(errno);
    ::close(fd);
  }
  if (o.parent_death_signal != 0 && ::prctl(PR_SET_PDEATHSIG, o.parent_death_signal) < 0)
    fail(errno);
  // Reset signal dispositions and mask the parent may have changed (e.g. SIGPIPE ignored).
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) fail(errno);
  if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) < 0) fail(errno);
  ::execvpe(argv[0], argv, envp);
  fail(errno);
  ::_exit(127);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(const SpawnOptions& o) {
  if (o.argv.empty()) return absl::InvalidArgumentError("spawn: empty argv");

  // Everything the child needs is prepared before fork: no allocation after it.
  std::vector<std::string> env_strings;
  if (o.env) {
    env_strings = *o.env;
  } else {
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  }
  // An extra entry replaces an inherited one of the same name: with both, Go programs (Delve)
  // read the first and C's getenv the first too, so appending alone would not override.
  for (const std::string& kv : o.extra_env) {
    std::string prefix = kv.substr(0, kv.find('=') + 1);
    env_strings.erase(std::remove_if(env_strings.begin(), env_strings.end(),
                                     [&](const std::string& e) {
                                       return !prefix.empty() &&
                                              e.compare(0, prefix.size(), prefix) == 0;
                                     }),
                      env_strings.end());
  }
  env_strings.insert(env_strings.end(), o.extra_env.begin(), o.extra_env.end());
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = o.argv;
  std::vector<char*> argv;
  argv.reserve(argv_strings.size() + 1);
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  UniqueFd in_fd(OpenForChild(o.stdin_path, false));
  if (!in_fd.valid()) return ErrnoToStatus(errno, absl::StrCat("open ", o.stdin_path));
  UniqueFd out_read, out_write;
  if (o.capture_stdout) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return ErrnoToStatus(errno, "pipe2");
    out_read.Reset(p[0]);
    out_write.Reset(p[1]);
  } else {
    out_write.Reset(OpenForChild(o.stdout_path, true, o.append_output));
    if (!out_write.valid()) return ErrnoToStatus(errno, absl::StrCat("open ", o.stdout_path));
  }
  UniqueFd err_write;
  if (o.stderr_to_stdout) {
    err_write.Reset(::dup(out_write.get()));
    ::fcntl(err_write.get(), F_SETFD, FD_CLOEXEC);
  } else {
    err_write.Reset(OpenForChild(o.stderr_path, true, o.append_output));
  }
  if (!err_write.valid()) return ErrnoToStatus(errno, absl::StrCat("open ", o.stderr_path));

  int ep[2];
  if (::pipe2(ep, O_CLOEXEC) < 0) return ErrnoToStatus(errno, "pipe2");
  UniqueFd err_pipe_read(ep[0]), err_pipe_write(ep[1]);

  pid_t pid = ::fork();
  if (pid < 0) return ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    ChildExec(o, argv.data(), envp.data(), in_fd.get(), out_write.get(), err_write.get(),
              err_pipe_write.get());
  }
  err_pipe_write.Reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_pipe_read.get(), &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  if (n == sizeof(child_errno)) {
    int status;
    ::waitpid(pid, &status, 0);
    return ErrnoToStatus(child_errno, absl::StrCat("cannot run ", o.argv[0]));
  }
  // No pidfd (kernel < 5.3): Wait() polls instead.
  UniqueFd pidfd = PidfdOpen(pid).value_or(UniqueFd());
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(pid, std::move(pidfd), std::move(out_read), o));
}

ChildProcess::ChildProcess(pid_t pid, UniqueFd pidfd, UniqueFd stdout_fd, const SpawnOptions& o)
    : pid_(pid),
      pidfd_(std::move(pidfd)),
      stdout_(std::move(stdout_fd)),
      destroy_grace_(o.destroy_grace),
      sigkill_on_destroy_(o.sigkill_on_destroy) {}

ChildProcess::~ChildProcess() {
  if (released_ || wait_status_) return;
  if (TryReap()) return;
  auto status = Terminate(destroy_grace_, sigkill_on_destroy_);
  (void)status;
}

bool ChildProcess::TryReap() {
  if (wait_status_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    wait_status_ = status;
    return true;
  }
  if (r < 0 && errno == ECHILD) {  // reaped elsewhere (SIGCHLD ignored); treat as gone
    wait_status_ = 0;
    return true;
  }
  return false;
}

bool ChildProcess::Running() { return !TryReap(); }

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  absl::Time deadline = MonotonicNow() + timeout;
  while (!TryReap()) {
    absl::Duration left = deadline - MonotonicNow();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("process ", pid_, " still running"));
    }
    if (pidfd_.valid()) {
      PidfdWaitExit(pidfd_.get(), left + absl::Milliseconds(1));
    } else {
      ::usleep(2000);  // kernels without pidfd_open (< 5.3)
    }
  }
  return *wait_status_;
}

absl::Status ChildProcess::Signal(int sig) {
  if (wait_status_) return absl::OkStatus();
  if (::kill(pid_, sig) < 0 && errno != ESRCH) return ErrnoToStatus(errno, "kill");
  return absl::OkStatus();
}

absl::StatusOr<int> ChildProcess::Terminate(absl::Duration grace, bool kill_after_grace) {
  if (TryReap()) return *wait_status_;
  KDBG_RETURN_IF_ERROR(Signal(SIGTERM));
  auto status = Wait(grace);
  if (status.ok() || !kill_after_grace) return status;
  KDBG_RETURN_IF_ERROR(Signal(SIGKILL));
  return Wait(absl::Seconds(10));
}

absl::StatusOr<std::string> ChildProcess::ReadAllStdout(absl::Duration timeout) {
  if (!stdout_.valid()) return absl::FailedPreconditionError("stdout was not captured");
  std::string out;
  absl::Time deadline = MonotonicNow() + timeout;
  char buf[4096];
  while (true) {
    absl::Duration left = deadline - MonotonicNow();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("reading child output");
    struct pollfd pfd = {stdout_.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(stdout_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string ChildProcess::DescribeWaitStatus(int s) {
  if (WIFEXITED(s)) return absl::StrCat("exit status ", WEXITSTATUS(s));
  if (WIFSIGNALED(s)) {
    return absl::StrCat("killed by signal ", WTERMSIG(s), " (", ::strsignal(WTERMSIG(s)), ")");
  }
  return absl::StrCat("wait status ", s);
}

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv, absl::Duration timeout,
                                       bool merge_stderr,
                                       const std::vector<std::string>& extra_env) {
  SpawnOptions o;
  o.argv = argv;
  o.extra_env = extra_env;
  o.capture_stdout = true;
  o.stderr_to_stdout = merge_stderr;
  KDBG_ASSIGN_OR_RETURN(auto child, ChildProcess::Spawn(o));
  KDBG_ASSIGN_OR_RETURN(std::string out, child->ReadAllStdout(timeout));
  KDBG_ASSIGN_OR_RETURN(int status, child->Wait(timeout));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    absl::string_view last = absl::StripTrailingAsciiWhitespace(out);
    size_t nl = last.rfind('\n');
    if (nl != absl::string_view::npos) last = last.substr(nl + 1);
    return absl::InternalError(
        absl::StrCat(argv[0], " failed (", ChildProcess::DescribeWaitStatus(status), "): ", last));
  }
  return out;
}

}  // namespace kdbg
