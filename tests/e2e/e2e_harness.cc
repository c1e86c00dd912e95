#include "tests/e2e/e2e_harness.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/stream_connect.h"
#include "gtest/gtest.h"
#include "tests/support/http_probe.h"
#include "tests/support/proc_probe.h"
#include "tests/support/test_env.h"

namespace kdbg::e2e {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Owns the scratch directory of this test process and removes it at the end of the run.
class ScratchDirEnvironment : public ::testing::Environment {
 public:
  const std::string& dir() {
    if (dir_.empty()) dir_ = testing::MakeTempDir("kdbg-e2e-");
    return dir_;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

 private:
  std::string dir_;
};

ScratchDirEnvironment* Scratch() {
  // gtest owns and deletes registered environments.
  static ScratchDirEnvironment* env = static_cast<ScratchDirEnvironment*>(
      ::testing::AddGlobalTestEnvironment(new ScratchDirEnvironment));
  return env;
}
// Registered before main() runs the tests, so TearDown happens even if no test asked for a path.
[[maybe_unused]] ScratchDirEnvironment* const kScratchRegistered = Scratch();

int ExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

}  // namespace

std::string ScratchPath(const std::string& name) {
  static std::atomic<int> counter{0};
  return absl::StrCat(Scratch()->dir(), "/", counter.fetch_add(1), "-", name);
}

absl::StatusOr<Sandbox> Sandbox::Load() {
  const char* dir = std::getenv("KDBG_SANDBOX_DIR");
  Sandbox sb;
  sb.dir_ = (dir != nullptr && *dir != '\0') ? dir : KDBG_E2E_SANDBOX_DIR;
  std::string env = ReadFile(sb.dir_ + "/env");
  if (env.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("no sandbox at ", sb.dir_, " (", sb.dir_,
                                                      "/env missing): scripts/sandbox up"));
  }
  for (absl::string_view line : absl::StrSplit(env, '\n')) {
    if (!absl::ConsumePrefix(&line, "export ")) continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    sb.vars_[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return sb;
}

std::string Sandbox::Get(const std::string& key) const {
  auto it = vars_.find(key);
  return it == vars_.end() ? "" : it->second;
}

std::vector<std::string> Sandbox::CliEnv(bool denied_user) const {
  std::vector<std::string> env;
  for (const auto& [k, v] : vars_) {
    if (k == "KUBECONFIG") {
      env.push_back(absl::StrCat("KUBECONFIG=", denied_user ? Get("KUBECONFIG_DENIED") : v));
    } else {
      env.push_back(absl::StrCat(k, "=", v));
    }
  }
  return env;
}

absl::StatusOr<pid_t> Sandbox::ContainerPid(const std::string& ns, const std::string& pod,
                                            const std::string& container) const {
  std::string text = ReadFile(absl::StrCat(dir_, "/pods/", ns, ".", pod, ".json"));
  if (text.empty()) return absl::NotFoundError(absl::StrCat("no sandbox pod ", ns, "/", pod));
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::string id;
  for (const auto& cs : j["status"]["containerStatuses"]) {
    if (container.empty() || cs["name"] == container) {
      id = cs["containerID"].get<std::string>();
      break;
    }
  }
  absl::string_view bare = id;
  absl::ConsumePrefix(&bare, "containerd://");
  KDBG_ASSIGN_OR_RETURN(std::string out,
                        RunCommand({"ctr", "--address", dir_ + "/containerd/containerd.sock", "-n",
                                    "k8s.io", "task", "ls"}));
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    std::vector<absl::string_view> cols = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    pid_t pid;
    if (cols.size() >= 3 && cols[0] == bare && absl::SimpleAtoi(cols[1], &pid)) return pid;
  }
  return absl::NotFoundError(absl::StrCat("container ", bare, " of ", pod, " has no task"));
}

absl::StatusOr<pid_t> Sandbox::DaemonPid(const std::string& name) const {
  pid_t pid;
  std::string text(
      absl::StripAsciiWhitespace(ReadFile(absl::StrCat(dir_, "/pids/", name, ".pid"))));
  if (!absl::SimpleAtoi(text, &pid)) return absl::NotFoundError(absl::StrCat("no pid for ", name));
  return pid;
}

absl::Status Sandbox::Up() const {
  auto out = RunCommand({"env", absl::StrCat("KDBG_SANDBOX_DIR=", dir_),
                         absl::StrCat("KDBG_SANDBOX_PORT_BASE=", Get("KDBG_SANDBOX_PORT_BASE")),
                         absl::StrCat("KDBG_BUILD_DIR=", Get("KDBG_BUILD_DIR")),
                         testing::SourceDir() + "/scripts/sandbox", "up"},
                        absl::Seconds(120));
  return out.status();
}

int Sandbox::PortOf(const std::string& url) {
  absl::string_view v = url;
  absl::ConsumePrefix(&v, "http://");
  size_t colon = v.find(':');
  int port = 0;
  if (colon != absl::string_view::npos) {
    (void)absl::SimpleAtoi(v.substr(colon + 1, v.find('/', colon) - colon - 1), &port);
  }
  return port;
}

CommandResult RunKdbg(const Sandbox& sb, const std::vector<std::string>& args,
                      const std::vector<std::string>& env, absl::Duration timeout) {
  CommandResult r;
  std::string err_path = ScratchPath("stderr");
  SpawnOptions o;
  o.argv = {sb.Get("KDBG")};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.extra_env = env;
  o.capture_stdout = true;
  o.stderr_path = err_path;
  auto child = ChildProcess::Spawn(o);
  if (!child.ok()) {
    r.err = std::string(child.status().message());
    return r;
  }
  auto out = (*child)->ReadAllStdout(timeout);
  if (out.ok()) r.out = *out;
  auto st = (*child)->Wait(absl::Seconds(5));
  if (st.ok()) r.exit_code = ExitCode(*st);
  r.err = ReadFile(err_path);
  return r;
}

absl::StatusOr<std::unique_ptr<KdbgProcess>> KdbgProcess::Start(
    const Sandbox& sb, const std::vector<std::string>& args, const std::vector<std::string>& env) {
  auto p = std::make_unique<KdbgProcess>();
  p->stderr_path_ = ScratchPath("bg-stderr");
  SpawnOptions o;
  o.argv = {sb.Get("KDBG")};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.extra_env = env;
  o.capture_stdout = true;
  o.stderr_path = p->stderr_path_;
  o.destroy_grace = absl::Seconds(10);
  KDBG_ASSIGN_OR_RETURN(p->child_, ChildProcess::Spawn(o));
  return p;
}

std::optional<nlohmann::json> KdbgProcess::NextJson(absl::Duration timeout) {
  absl::Time deadline = kdbg::MonotonicNow() + timeout;
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) {
        ADD_FAILURE() << "kdbg printed a line that is not JSON with -o json: " << line;
        continue;
      }
      seen_.push_back(j);
      return j;
    }
    absl::Duration left = deadline - kdbg::MonotonicNow();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    pollfd pfd{child_->stdout_fd(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
    char buf[8192];
    ssize_t n = ::read(child_->stdout_fd(), buf, sizeof(buf));
    if (n <= 0) return std::nullopt;
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<nlohmann::json> KdbgProcess::WaitFor(const std::string& type,
                                                   absl::Duration timeout) {
  absl::Time deadline = kdbg::MonotonicNow() + timeout;
  while (kdbg::MonotonicNow() < deadline) {
    auto j = NextJson(deadline - kdbg::MonotonicNow());
    if (!j) return std::nullopt;
    if ((*j)["type"] == type) return j;
  }
  return std::nullopt;
}

void KdbgProcess::Signal(int sig) { (void)child_->Signal(sig); }

int KdbgProcess::Wait(absl::Duration timeout) {
  // Drains stdout (unparsed, into raw_) so a full pipe never blocks the CLI while it exits.
  raw_ += buffer_;
  buffer_.clear();
  absl::Time deadline = kdbg::MonotonicNow() + timeout;
  while (kdbg::MonotonicNow() < deadline) {
    pollfd pfd{child_->stdout_fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 20) > 0) {
      char buf[8192];
      ssize_t n = ::read(child_->stdout_fd(), buf, sizeof(buf));
      if (n > 0) {
        raw_.append(buf, static_cast<size_t>(n));
        continue;
      }
    }
    auto st = child_->Wait(absl::Milliseconds(20));
    if (st.ok()) return ExitCode(*st);
  }
  return -1;
}

std::string KdbgProcess::Stderr() const { return ReadFile(stderr_path_); }

bool KdbgProcess::AwaitStderr(absl::string_view text, absl::Duration timeout) const {
  const absl::Time deadline = kdbg::MonotonicNow() + timeout;
  while (!absl::StrContains(Stderr(), text)) {
    if (kdbg::MonotonicNow() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return true;
}

std::string TargetReleased(pid_t pid, const std::string& url) {
  auto st = testing::WaitUntilReleased(pid, 10000);
  if (!st.ok()) return absl::StrCat("target ", pid, ": ", st.status().message());
  if (st->tracer_pid != 0) return absl::StrCat("target ", pid, " still traced by ", st->tracer_pid);
  if (st->state == 'T' || st->state == 't') return absl::StrCat("target ", pid, " is stopped");
  for (int i = 0; i < 100 && !testing::DlvProcessesFor(pid).empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (!testing::DlvProcessesFor(pid).empty()) return absl::StrCat("a dlv for ", pid, " is left");
  auto r = testing::HttpGet("127.0.0.1", Sandbox::PortOf(url), "/", absl::Seconds(5));
  if (!r.ok()) return absl::StrCat("target does not answer HTTP: ", r.status().message());
  if (r->status != 200) return absl::StrCat("target answered HTTP ", r->status);
  return "";
}

std::vector<nlohmann::json> AuditLines(const Sandbox& sb, const std::string& needle) {
  std::vector<nlohmann::json> out;
  std::ifstream in(sb.Get("KDBG_AUDIT_LOG"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StrContains(line, needle)) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(j);
  }
  return out;
}

bool WaitUntilListening(int port, absl::Duration timeout) {
  for (absl::Time end = MonotonicNow() + timeout;; absl::SleepFor(absl::Milliseconds(100))) {
    // A probe's descriptor closes as the result goes out of scope.
    if (ConnectStream(absl::StrCat("127.0.0.1:", port), absl::ZeroDuration()).ok()) return true;
    if (MonotonicNow() >= end) return false;
  }
}

DlvConnectRun RunDlvConnect(int port, const std::string& commands,
                            const std::vector<std::string>& extra_env) {
  SpawnOptions o;
  o.argv = {testing::BundledDelvePath(), "connect", absl::StrCat("127.0.0.1:", port)};
  o.stdin_path = commands;
  o.capture_stdout = true;
  o.stderr_to_stdout = true;
  o.extra_env = extra_env;
  DlvConnectRun run;
  auto dlv = ChildProcess::Spawn(o);
  if (!dlv.ok()) {
    run.ended = dlv.status().ToString();
    return run;
  }
  auto out = (*dlv)->ReadAllStdout(absl::Seconds(30));
  auto st = (*dlv)->Wait(absl::Seconds(10));
  run.out = out.ok() ? *out : out.status().ToString();
  run.ended = !out.ok() ? "output not read: " + out.status().ToString()
              : st.ok() ? ChildProcess::DescribeWaitStatus(*st)
                        : st.status().ToString();
  return run;
}

}  // namespace kdbg::e2e
