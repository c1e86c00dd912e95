// The end-to-end suite: the real CLI against the sandbox (controller, two agents, Delve, Go
// services in containerd containers). Every session end is checked against the real target
// afterwards.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/child_process.h"
#include "common/clock.h"
#include "common/grpc_limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/support/http_probe.h"
#include "tests/support/proc_probe.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/test_env.h"

namespace kdbg::e2e {
namespace {

using ::kdbg::testing::TcpProxy;

constexpr absl::Duration kArmTimeout = absl::Seconds(30);

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sb = Sandbox::Load();
    ASSERT_TRUE(sb.ok()) << sb.status();
    sb_ = *sb;
    // A previous test may have killed a daemon or the doomed pod: bring back what is missing.
    ASSERT_TRUE(sb_.Up().ok());
  }

  std::string Script(const std::string& name, const std::string& text) {
    std::string path = ScratchPath(name);
    std::ofstream(path) << text;
    return path;
  }

  std::string TraceScript() { return testing::SourceDir() + "/examples/trace.dlv"; }

  // Requests `url` every 100 ms (at most 100) while `p` runs; `p`'s exit code (Wait, 40 s).
  static int WaitRequesting(KdbgProcess& p, const std::string& url) {
    std::thread load([&] {
      for (int i = 0; i < 100; ++i) {
        (void)testing::HttpGet("127.0.0.1", Sandbox::PortOf(url), "/", absl::Seconds(2));
        if (::kill(p.pid(), 0) != 0) break;
        absl::SleepFor(absl::Milliseconds(100));
      }
    });
    const int exit_code = p.Wait(absl::Seconds(40));
    load.join();
    return exit_code;
  }

  // Sends `n` requests to `url`; returns the client ports used.
  std::set<int> SendRequests(const std::string& url, int n) {
    std::set<int> ports;
    for (int i = 0; i < n; ++i) {
      auto r = testing::HttpGet("127.0.0.1", Sandbox::PortOf(url), "/", absl::Seconds(10));
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) {
        EXPECT_EQ(r->status, 200);
        ports.insert(r->local_port);
      }
    }
    return ports;
  }

  // Starts `kdbg trace pod/NAME --init SCRIPT -o json` and waits for "armed".
  // `kdbg attach pod/POD --headless --listen 127.0.0.1:PORT`, once it listens; nullptr (the
  // failure recorded) if it does not.
  std::unique_ptr<KdbgProcess> StartHeadlessAttach(const std::string& pod, int port) {
    auto p = KdbgProcess::Start(
        sb_, {"attach", "pod/" + pod, "--headless", "--listen", absl::StrCat("127.0.0.1:", port)},
        sb_.CliEnv());
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    if (!WaitUntilListening(port, absl::Seconds(20))) {
      ADD_FAILURE() << "kdbg attach does not listen on " << port << "; stderr: " << (*p)->Stderr();
      (*p)->Signal(SIGINT);
      (*p)->Wait(absl::Seconds(20));
      return nullptr;
    }
    return std::move(*p);
  }

  std::unique_ptr<KdbgProcess> StartTrace(const std::string& pod, const std::string& script,
                                          std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"trace", "pod/" + pod, "--init", script, "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = KdbgProcess::Start(sb_, args, sb_.CliEnv());
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    auto armed = (*p)->WaitFor("armed", kArmTimeout);
    EXPECT_TRUE(armed.has_value()) << "no armed event; stderr: " << (*p)->Stderr();
    if (!armed) {
      (*p)->Signal(SIGINT);
      (*p)->Wait(absl::Seconds(20));
      return nullptr;
    }
    last_armed_ = *armed;
    EXPECT_FALSE(LastSession().empty()) << armed->dump();
    return std::move(*p);
  }

  // Collects hits until `n` arrived; returns the printed r.RemoteAddr client ports. `line` 0: any
  // line (the eBPF engine reports the first statement after the prologue).
  std::set<int> CollectHitPorts(KdbgProcess& p, size_t n, int line = 10) {
    std::set<int> ports;
    for (size_t i = 0; i < n; ++i) {
      auto hit = p.WaitFor("hit", absl::Seconds(20));
      if (!hit) break;
      EXPECT_EQ((*hit)["function"], "main.handleSlash");
      if (line != 0) {
        EXPECT_EQ((*hit)["line"], line);
      }
      EXPECT_TRUE(absl::EndsWith((*hit)["file"].get<std::string>(), "main.go"));
      std::string addr = (*hit)["vars"]["r.RemoteAddr"].get<std::string>();
      absl::string_view v = addr;
      absl::ConsumePrefix(&v, "\"");
      absl::ConsumeSuffix(&v, "\"");
      size_t colon = v.rfind(':');
      int port = 0;
      EXPECT_TRUE(colon != absl::string_view::npos && absl::SimpleAtoi(v.substr(colon + 1), &port))
          << addr;
      ports.insert(port);
    }
    return ports;
  }

  // The session an attach names on its progress line "kdbg: agent NAME at ADDR, session ID";
  // empty (which ExpectAuditedEnd refuses) if `err` has none.
  static std::string AttachSession(const std::string& err) {
    const std::string mark = ", session ";
    const size_t at = err.find(mark);
    if (at == std::string::npos) return "";
    const size_t from = at + mark.size();
    return err.substr(from, err.find('\n', from) - from);
  }

  void ExpectReleased(const std::string& ns, const std::string& pod, const std::string& url) {
    auto pid = sb_.ContainerPid(ns, pod);
    ASSERT_TRUE(pid.ok()) << pid.status();
    EXPECT_EQ(TargetReleased(*pid, url), "");
  }

  // The audit log has a session-end line for session `session` (of `pod`) whose end_reason mentions
  // `reason_word` (END_REASON_STOP_REQUESTED, ...). Matching the session keeps earlier tests' lines
  // for the same pod from satisfying this one.
  void ExpectAuditedEnd(const std::string& session, const std::string& pod,
                        const std::string& reason_word) {
    ASSERT_FALSE(session.empty());
    std::string seen = "(no session-end line)";
    for (int i = 0; i < 50; ++i) {
      for (const auto& line : AuditLines(sb_, session)) {
        if (line.value("kind", "") != "session-end" || line.value("session", "") != session)
          continue;
        EXPECT_EQ(line.value("pod", ""), pod);
        seen = line.value("end_reason", "");
        if (absl::StrContains(absl::AsciiStrToLower(seen), absl::AsciiStrToLower(reason_word))) {
          return;
        }
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "no audit session-end line for session " << session << " with reason ~"
                  << reason_word << "; end_reason seen: " << seen;
  }

  Sandbox sb_;
  nlohmann::json last_armed_;  // the armed line of the last StartTrace that armed
  std::string LastSession() const { return last_armed_.value("session", ""); }
};

TEST_F(E2eTest, TraceHitsCarryTheClientPorts) {
  auto p = StartTrace("hello-world", TraceScript(), {"--engine", "delve"});
  ASSERT_NE(p, nullptr);
  std::set<int> sent = SendRequests(sb_.Get("HELLO_URL"), 3);
  std::set<int> printed = CollectHitPorts(*p, 3);
  EXPECT_EQ(printed, sent);
  p->Signal(SIGINT);
  auto ended = p->WaitFor("ended", absl::Seconds(20));
  ASSERT_TRUE(ended.has_value()) << p->Stderr();
  EXPECT_EQ((*ended)["hits"], 3);
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0) << p->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectAuditedEnd(LastSession(), "hello-world", "END_REASON_STOP_REQUESTED");
}

// The README's command, `kdbg trace pod/hello-world --init examples/trace.dlv`, prints what `dlv
// trace` prints, on either engine: by default (`auto`) on eBPF, as the script's `main.go:10` is
// handleSlash's first line, its entry; with `--engine delve` on Delve.
TEST_F(E2eTest, TextOutputLooksLikeDlvTrace) {
  for (const char* engine : {"auto", "delve"}) {
    SCOPED_TRACE(engine);
    auto p = KdbgProcess::Start(sb_,
                                {"trace", "pod/hello-world", "--init", TraceScript(), "--engine",
                                 engine, "--max-hits", "1"},
                                sb_.CliEnv());
    ASSERT_TRUE(p.ok());
    // Requests until one lands after the tracepoints are armed (text mode has no armed line).
    const int exit_code = WaitRequesting(**p, sb_.Get("HELLO_URL"));
    EXPECT_EQ(exit_code, 0) << (*p)->Stderr();
    const std::string& printed = (*p)->raw_stdout();
    EXPECT_THAT(printed, ::testing::ContainsRegex(
                             "> goroutine\\([0-9]+\\): main.handleSlash\\(w, r\\) main.go:10\n"
                             "\tr.RemoteAddr: \"127.0.0.1:[0-9]+\"\n"))
        << printed;
    EXPECT_TRUE(absl::StrContains(
        (*p)->Stderr(), std::string(engine) == "auto" ? "kdbg: engine ebpf" : "kdbg: engine delve"))
        << (*p)->Stderr();
    ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  }
}

TEST_F(E2eTest, PodOnNodeBIsServedByNodeBAgent) {
  auto p = StartTrace("hello-node-b", TraceScript(), {"--engine", "delve"});
  ASSERT_NE(p, nullptr);
  auto sessions = RunKdbg(sb_, {"sessions", "-o", "json"}, sb_.CliEnv());
  EXPECT_EQ(sessions.exit_code, 0) << sessions.err;
  EXPECT_TRUE(absl::StrContains(sessions.out, "node-b")) << sessions.out;
  EXPECT_FALSE(absl::StrContains(sessions.out, "node-a")) << sessions.out;
  std::set<int> sent = SendRequests(sb_.Get("HELLO_NODE_B_URL"), 2);
  EXPECT_EQ(CollectHitPorts(*p, 2), sent);
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0) << p->Stderr();
  ExpectReleased("default", "hello-node-b", sb_.Get("HELLO_NODE_B_URL"));
}

TEST_F(E2eTest, ContainerFlagPicksTheNamedContainer) {
  std::string script = Script("sidecar.dlv", "trace handleStatus main.handleStatus\ncontinue\n");
  // The sidecar has main.handleStatus; the default container (web, by annotation) does not.
  auto p = StartTrace("two-containers", script, {"-c", "sidecar"});
  ASSERT_NE(p, nullptr);
  SendRequests(sb_.Get("TWO_CONTAINERS_SIDECAR_URL"), 1);
  auto hit = p->WaitFor("hit", absl::Seconds(20));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ((*hit)["function"], "main.handleStatus");
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0);

  auto web =
      RunKdbg(sb_, {"trace", "pod/two-containers", "--init", script, "-o", "json"}, sb_.CliEnv());
  EXPECT_NE(web.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(web.err, "handleStatus")) << web.err;
  auto pid = sb_.ContainerPid("default", "two-containers", "sidecar");
  ASSERT_TRUE(pid.ok());
  EXPECT_EQ(TargetReleased(*pid, sb_.Get("TWO_CONTAINERS_SIDECAR_URL")), "");
  ExpectReleased("default", "two-containers", sb_.Get("TWO_CONTAINERS_WEB_URL"));
}

TEST_F(E2eTest, DeniedUserGetsPermissionErrorAndNoSession) {
  auto r = RunKdbg(sb_, {"trace", "pod/hello-world", "--init", TraceScript(), "-o", "json"},
                   sb_.CliEnv(/*denied_user=*/true));
  EXPECT_NE(r.exit_code, 0);
  std::string err = absl::AsciiStrToLower(r.err);
  EXPECT_TRUE(absl::StrContains(err, "denied") || absl::StrContains(err, "forbidden") ||
              absl::StrContains(err, "permission"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "\"type\":\"error\"") ||
              absl::StrContains(r.out, "\"type\": \"error\""))
      << r.out;
  auto sessions = RunKdbg(sb_, {"sessions", "-A", "-o", "json"}, sb_.CliEnv());
  EXPECT_EQ(sessions.exit_code, 0) << sessions.err;
  EXPECT_FALSE(absl::StrContains(sessions.out, "hello-world")) << sessions.out;
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
}

TEST_F(E2eTest, ResolveNamesTheContainersProcessAndItsBinary) {
  auto r = RunKdbg(sb_, {"resolve", "pod/hello-node-b", "-o", "json"}, sb_.CliEnv());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  auto pid = sb_.ContainerPid("default", "hello-node-b");
  ASSERT_TRUE(pid.ok());
  EXPECT_EQ(j["type"], "resolved");
  EXPECT_EQ(j["host_pid"], *pid);
  EXPECT_EQ(j["node"], "node-b");
  EXPECT_EQ(j["agent"], "kdbg-agent-node-b");
  EXPECT_EQ(j["runtime"], "containerd");
  EXPECT_EQ(j["debuggable"], true) << j["problem"];
  EXPECT_TRUE(absl::StartsWith(j["binary"]["go_version"].get<std::string>(), "go1.26")) << r.out;
  EXPECT_EQ(j["binary"]["has_dwarf"], true);
  EXPECT_EQ(j["binary"]["optimized"], true);  // built as production builds it
  // The target's Go version beside the bundled Delves' range, and the Delve that would attach.
  EXPECT_EQ(j["go_supported"], true);
  EXPECT_EQ(j["delve_version"], "1.27.2");
  EXPECT_EQ(j["supported_go"],
            "Go 1.24-1.27 (Delve 1.26.2: Go 1.24-1.26, Delve 1.27.2: Go 1.25-1.27)");
  EXPECT_FALSE(j["evidence"].empty());

  auto stripped = RunKdbg(sb_, {"resolve", "pod/stripped", "-o", "json"}, sb_.CliEnv());
  auto s = nlohmann::json::parse(stripped.out, nullptr, false);
  ASSERT_FALSE(s.is_discarded()) << stripped.out << stripped.err;
  EXPECT_EQ(s["debuggable"], false);
  EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(s["problem"].get<std::string>()), "debug"))
      << s["problem"];

  // An old service: its Go version is shown outside the range, with what to do.
  auto old = RunKdbg(sb_, {"resolve", "pod/old-go"}, sb_.CliEnv());
  EXPECT_NE(old.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(old.out, "go:         go1.19")) << old.out;
  EXPECT_TRUE(absl::StrContains(old.out,
                                "delve:      1.26.2; bundled Delve supports Go 1.24-1.27 "
                                "(Delve 1.26.2: Go 1.24-1.26, Delve 1.27.2: Go 1.25-1.27); "
                                "go1.19"))
      << old.out;
  EXPECT_TRUE(absl::StrContains(old.out, "is NOT supported")) << old.out;
  EXPECT_TRUE(absl::StrContains(old.err, "--allow-unsupported-go")) << old.err;
}

// --allow-unsupported-go on the Go 1.19 service: traced with the nearest Delve, and every line of
// output says it is outside the supported range, in text and in JSON.
TEST_F(E2eTest, UnsupportedGoWithTheOverrideMarksEveryLine) {
  for (const char* format : {"text", "json"}) {
    SCOPED_TRACE(format);
    auto p =
        KdbgProcess::Start(sb_,
                           {"trace", "pod/old-go", "--init", TraceScript(), "--engine", "delve",
                            "--max-hits", "1", "--allow-unsupported-go", "-o", format},
                           sb_.CliEnv());
    ASSERT_TRUE(p.ok());
    const int exit_code = WaitRequesting(**p, sb_.Get("OLD_GO_URL"));
    EXPECT_EQ(exit_code, 0) << (*p)->Stderr();
    std::string out = (*p)->raw_stdout();
    std::string err = (*p)->Stderr();
    ASSERT_FALSE(out.empty()) << err;
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      if (std::string(format) == "text") {
        EXPECT_TRUE(absl::StartsWith(line, "[unsupported Go] ")) << line;
      } else {
        auto j = nlohmann::json::parse(line, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << line;
        EXPECT_TRUE(absl::StartsWith(j.value("unsupported_go", ""), "UNSUPPORTED: go1.19")) << line;
      }
    }
    EXPECT_TRUE(absl::StrContains(out, "r.RemoteAddr")) << out;
    // stderr: every kdbg line of the session is marked too.
    for (absl::string_view line : absl::StrSplit(err, '\n', absl::SkipEmpty())) {
      if (absl::StrContains(line, "armed") || absl::StrContains(line, "ended")) {
        EXPECT_TRUE(absl::StartsWith(line, "[unsupported Go] ")) << line;
      }
    }
    ExpectReleased("default", "old-go", sb_.Get("OLD_GO_URL"));
  }
}

TEST_F(E2eTest, AttachTunnelsARealDlvConnect) {
  int port = testing::FreePort();
  std::unique_ptr<KdbgProcess> attach = StartHeadlessAttach("hello-world", port);
  ASSERT_NE(attach, nullptr);
  // Another user of this machine is refused, as Delve's own loopback listener refuses one: the
  // connection closes at once (`cat` sees EOF; a tunnelled one would wait for Delve), the CLI says
  // why, and the session goes on for its owner.
  auto other = RunCommand({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash",
                           "-c", absl::StrCat("exec 3<>/dev/tcp/127.0.0.1/", port, "; cat <&3")},
                          absl::Seconds(10));
  ASSERT_TRUE(other.ok()) << other.status() << "\n" << attach->Stderr();
  EXPECT_EQ(*other, "");
  const std::string refused =
      "kdbg: refused a debugger connection: it came from UID 65534; only your own (UID 0) may "
      "debug through this session";
  EXPECT_TRUE(attach->AwaitStderr(refused, absl::Seconds(5))) << attach->Stderr();
  // A remote debugging session as a person would type it: break in the handler, see one request,
  // clear, and quit leaving the process running.
  std::string commands = Script(
      "dlv-commands", "break main.handleSlash\ncontinue\nprint r.RemoteAddr\nclearall\nquit -c\n");
  std::set<int> sent;
  std::thread request([&] {
    absl::SleepFor(absl::Seconds(2));
    sent = SendRequests(sb_.Get("HELLO_URL"), 1);
  });
  DlvConnectRun dlv = RunDlvConnect(port, commands);
  request.join();
  ASSERT_EQ(dlv.ended, "exit status 0") << dlv.out;
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(absl::StrContains(dlv.out, absl::StrCat("\"127.0.0.1:", *sent.begin(), "\"")))
      << "dlv printed: " << dlv.out;
  // The CLI says when the debugger comes and goes (headless, the session outlives it).
  const std::string gone = "kdbg: debugger connected\nkdbg: debugger disconnected\n";
  EXPECT_TRUE(attach->AwaitStderr(gone, absl::Seconds(5))) << attach->Stderr();
  attach->Signal(SIGINT);
  EXPECT_EQ(attach->Wait(absl::Seconds(20)), 0) << attach->Stderr();
  EXPECT_TRUE(absl::StrContains(attach->Stderr(), "detached cleanly")) << attach->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectAuditedEnd(AttachSession(attach->Stderr()), "hello-world", "stop");
}

// Delve 1.27's `quit` offers to kill the pod's process by default ("kill the headless instance?
// [Y/n]", then "kill the process? [Y/n]"). Through kdbg, Enter twice leaves it serving: dlv prints
// kdbg's refusal and exits, kdbg attach says what was refused, and the session goes on. "y" then
// "n" (the way out Delve offers that keeps the process) ends the session as Ctrl-C would: the CLI
// says so and exits 0, the target released, the audit trail naming the debugger client's leaving.
TEST_F(E2eTest, DlvQuitNeverKillsThePodsProcessAndItsDetachEndsTheSession) {
  int port = testing::FreePort();
  std::unique_ptr<KdbgProcess> attach = StartHeadlessAttach("hello-world", port);
  ASSERT_NE(attach, nullptr);
  // The pod's process as the host sees it: the same one must serve after the refused kill.
  auto pid = sb_.ContainerPid("default", "hello-world");
  ASSERT_TRUE(pid.ok()) << pid.status();
  // With a breakpoint set: Delve's kill detaches without removing it, then sends SIGINT (which the
  // Go runtime of the container's PID 1 turns into an exit, and after which a process ignoring it
  // dies of SIGTRAP at its next request).
  DlvConnectRun dlv =
      RunDlvConnect(port, Script("dlv-quit-yes-yes", "break main.handleSlash\nquit\ny\ny\n"));
  EXPECT_TRUE(absl::StrContains(dlv.out, "Breakpoint 1 set at")) << dlv.out;
  EXPECT_TRUE(absl::StrContains(dlv.out, "kill the process?")) << dlv.out;
  EXPECT_TRUE(absl::StrContains(dlv.out, "kdbg: refused to kill the target")) << dlv.out;
  ASSERT_EQ(SendRequests(sb_.Get("HELLO_URL"), 3).size(), 3u)
      << "the pod's process no longer serves\n"
      << dlv.out << "\n"
      << attach->Stderr();
  // The breakpoint dlv left is disabled while nobody is connected (the agent resumed the halt
  // dlv connect made), and the CLI names it.
  const std::string disabled =
      "kdbg: breakpoints-disabled: no debugger client is connected: kdbg disabled the breakpoint "
      "the clients left (1 at main.handleSlash (main.go:10))";
  EXPECT_TRUE(attach->AwaitStderr(disabled, absl::Seconds(5))) << attach->Stderr();
  auto alive = testing::ReadProcStatus(*pid);
  ASSERT_TRUE(alive.ok()) << "the pod's process " << *pid << " is gone: " << alive.status();
  EXPECT_NE(alive->state, 'Z') << "the pod's process " << *pid << " died";
  auto now = sb_.ContainerPid("default", "hello-world");
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(*now, *pid) << "the pod's process was replaced";

  dlv = RunDlvConnect(port, Script("dlv-quit-yes-no", "quit\ny\nn\n"));
  EXPECT_EQ(dlv.ended, "exit status 0") << dlv.out;
  EXPECT_EQ(attach->Wait(absl::Seconds(30)), 0) << attach->Stderr();
  // The second client's first request found the breakpoint enabled again.
  EXPECT_TRUE(absl::StrContains(attach->Stderr(),
                                "kdbg: breakpoints-enabled: a debugger client "
                                "is back: kdbg enabled again the breakpoint"))
      << attach->Stderr();
  EXPECT_TRUE(absl::StrContains(attach->Stderr(), "kdbg: ended: debugger client disconnected"))
      << attach->Stderr();
  EXPECT_TRUE(absl::StrContains(
      attach->Stderr(),
      "kdbg: kill-refused: a debugger client (dlv: quit, then y to \"kill the process?\") asked "
      "Delve to kill the target; refused: the target runs on"))
      << attach->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  const std::string session = AttachSession(attach->Stderr());
  ExpectAuditedEnd(session, "hello-world", "remote_client_left");
}

// ---- the fault matrix: every way a session can end leaves the target running, untraced ----------

// File descriptors of `pid` that hold a BPF program, map or link, or a perf event (a uprobe of
// the eBPF engine is a perf event with a BPF program attached): the agent holds none outside an
// eBPF session, and the kernel removes a uprobe when its last descriptor closes.
int BpfDescriptors(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"), ec)) {
    std::error_code lec;
    std::string target = std::filesystem::read_symlink(e.path(), lec).string();
    if (absl::StartsWith(target, "anon_inode:[perf_event]") ||
        absl::StartsWith(target, "anon_inode:bpf")) {
      ++n;
    }
  }
  return n;
}

constexpr char kFunctionScript[] =
    "trace handleSlash main.handleSlash\non handleSlash print r.RemoteAddr\n";

// `--engine auto` (the default) on a script of function entries: the CLI says the eBPF engine
// runs, hits stream with their values, the target is never ptraced, and Ctrl-C leaves no uprobe
// (no BPF or perf-event descriptor left in the agent, none in tracefs) and the target serving.
TEST_F(E2eTest, EngineAutoRunsEbpfOnAFunctionScriptAndCtrlCLeavesNoUprobe) {
  auto agent = sb_.DaemonPid("agent-node-a");
  ASSERT_TRUE(agent.ok()) << agent.status();
  ASSERT_EQ(BpfDescriptors(*agent), 0);
  auto target = sb_.ContainerPid("default", "hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  std::string script = Script("function.dlv", kFunctionScript);
  auto p = KdbgProcess::Start(
      sb_, {"trace", "pod/hello-world", "--init", script, "--engine", "auto"}, sb_.CliEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->AwaitStderr("kdbg: engine ebpf (uprobes; the target is never stopped)",
                                absl::Seconds(30)))
      << (*p)->Stderr();
  EXPECT_GT(BpfDescriptors(*agent), 0) << "the uprobe is not held by the agent";
  std::set<int> sent = SendRequests(sb_.Get("HELLO_URL"), 3);
  auto status = testing::ReadProcStatus(*target);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->tracer_pid, 0) << "the eBPF engine never ptraces the target";
  absl::SleepFor(absl::Seconds(1));  // the hits reach the CLI
  (*p)->Signal(SIGINT);
  EXPECT_EQ((*p)->Wait(absl::Seconds(20)), 0) << (*p)->Stderr();
  const std::string& out = (*p)->raw_stdout();
  EXPECT_TRUE(absl::StrContains(out, "main.handleSlash(")) << out;
  for (int port : sent) {
    EXPECT_TRUE(absl::StrContains(out, absl::StrCat("\tr.RemoteAddr: \"127.0.0.1:", port, "\"\n")))
        << port << " not in:\n"
        << out;
  }
  EXPECT_TRUE(absl::StrContains((*p)->Stderr(), "uprobes detached")) << (*p)->Stderr();
  for (int i = 0; i < 100 && BpfDescriptors(*agent) != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(BpfDescriptors(*agent), 0) << "a uprobe is still attached";
  std::ifstream legacy_file("/sys/kernel/tracing/uprobe_events");
  std::string legacy(std::istreambuf_iterator<char>(legacy_file), {});
  EXPECT_FALSE(absl::StrContains(legacy, absl::StrCat("/proc/", *target))) << legacy;
  EXPECT_EQ(SendRequests(sb_.Get("HELLO_URL"), 3).size(), 3u);
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
}

// A line of handleSlash's body (its first line, main.go:10, is its entry).
constexpr char kBodyLineScript[] =
    "trace handleSlash main.go:11\non handleSlash print r.RemoteAddr\n";

// `--engine auto` on a line inside a function: the eBPF engine runs it where Delve would break
// (the line's first statement), reads the parameter there, never stops the target, and the hits
// name the line.
TEST_F(E2eTest, EngineAutoRunsABodyLineOnEbpf) {
  auto target = sb_.ContainerPid("default", "hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  auto p = StartTrace("hello-world", Script("body.dlv", kBodyLineScript), {"--engine", "auto"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(last_armed_.value("engine", ""), "ebpf") << last_armed_.dump();
  EXPECT_EQ(last_armed_.value("engine_note", ""), "") << last_armed_.dump();
  std::set<int> sent = SendRequests(sb_.Get("HELLO_URL"), 2);
  EXPECT_EQ(CollectHitPorts(*p, 2, 11), sent);
  auto status = testing::ReadProcStatus(*target);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->tracer_pid, 0) << "the eBPF engine never ptraces the target";
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0) << p->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
}

// A script only Delve runs: a print of a map's entry.
constexpr char kMapScript[] =
    "trace handleSlash main.handleSlash\non handleSlash print r.RemoteAddr\n"
    "on handleSlash print r.Header[\"Accept\"]\n";
constexpr char kMapScriptNote[] =
    "map.dlv:3: `r.Header[\"Accept\"]` is not a parameter, a field chain (a.b.c, a.b[2].c) or "
    "len() of one";

// `--engine auto` on a script the eBPF engine cannot run: Delve runs, and the CLI names the line
// that kept eBPF out (`engine`/`engine_note` in the JSON armed line; the text form is the same
// note, CliTest).
TEST_F(E2eTest, EngineAutoOnAScriptOnlyDelveRunsNamesTheLine) {
  auto p = StartTrace("hello-world", Script("map.dlv", kMapScript), {"--engine", "auto"});
  ASSERT_NE(p, nullptr);
  const nlohmann::json* armed = &last_armed_;
  EXPECT_EQ(armed->value("engine", ""), "delve") << armed->dump();
  const std::string note = armed->value("engine_note", "");
  EXPECT_TRUE(absl::StartsWith(note, "eBPF engine not used: ")) << armed->dump();
  EXPECT_TRUE(absl::StrContains(note, kMapScriptNote)) << armed->dump();
  std::set<int> sent = SendRequests(sb_.Get("HELLO_URL"), 1);
  EXPECT_EQ(CollectHitPorts(*p, 1, 10), sent);
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0) << p->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
}

// `--engine ebpf` on a script the eBPF engine cannot run: refused with the line and the reason,
// no session, nothing attached.
TEST_F(E2eTest, EngineEbpfRefusesANonQualifyingScriptWithTheReason) {
  auto agent = sb_.DaemonPid("agent-node-a");
  ASSERT_TRUE(agent.ok()) << agent.status();
  auto r = RunKdbg(
      sb_,
      {"trace", "pod/hello-world", "--init", Script("map.dlv", kMapScript), "--engine", "ebpf"},
      sb_.CliEnv());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.err, kMapScriptNote)) << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, "armed")) << r.err;
  EXPECT_EQ(BpfDescriptors(*agent), 0);
  auto sessions = RunKdbg(sb_, {"sessions", "-o", "json"}, sb_.CliEnv());
  EXPECT_EQ(sessions.exit_code, 0) << sessions.err;
  EXPECT_FALSE(absl::StrContains(sessions.out, "hello-world")) << sessions.out;
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
}

// One engine per build on a node (agent/ebpf/build_claims.h: the kernel would take Delve's
// breakpoints for the uprobes of another process of the same file): while pod/hello-world is
// traced with the eBPF engine, a Delve trace of another pod of the same image on node-a
// (two-containers' web) fails with one line naming the session to stop, and leaves that target
// untouched; the eBPF session goes on.
TEST_F(E2eTest, DelveOnAnotherPodOfABuildTracedWithEbpfIsRefused) {
  std::string script = Script("function.dlv", kFunctionScript);
  auto p = KdbgProcess::Start(
      sb_, {"trace", "pod/hello-world", "--init", script, "--engine", "ebpf", "-o", "json"},
      sb_.CliEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  auto armed = (*p)->WaitFor("armed", kArmTimeout);
  ASSERT_TRUE(armed.has_value()) << (*p)->Stderr();
  const std::string id = armed->value("session", "");
  ASSERT_FALSE(id.empty()) << armed->dump();
  auto r = RunKdbg(
      sb_,
      {"trace", "pod/two-containers", "-c", "web", "--init", TraceScript(), "--engine", "delve"},
      sb_.CliEnv());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "kdbg: error: pod default/hello-world (pid ")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, absl::StrCat("runs the same build as pod "
                                                    "default/two-containers (pid ")))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, absl::StrCat("is traced with the eBPF engine by session ",
                                                    id, ": the kernel would take Delve's")))
      << r.err;
  EXPECT_TRUE(absl::StrContains(
      r.err, absl::StrCat("kdbg stop ", id, "), or trace it with --engine ebpf too")))
      << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, "armed")) << r.err;
  auto web = sb_.ContainerPid("default", "two-containers", "web");
  ASSERT_TRUE(web.ok()) << web.status();
  auto status = testing::ReadProcStatus(*web);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->tracer_pid, 0) << "Delve attached to the refused target";
  std::set<int> sent = SendRequests(sb_.Get("HELLO_URL"), 2);
  EXPECT_EQ(CollectHitPorts(**p, 2, 0), sent);
  (*p)->Signal(SIGINT);
  EXPECT_EQ((*p)->Wait(absl::Seconds(20)), 0) << (*p)->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectReleased("default", "two-containers", sb_.Get("TWO_CONTAINERS_WEB_URL"));
}

// The other way round: while another pod of the image is debugged with Delve on node-a, `--engine
// auto` on a script the eBPF engine could run takes Delve instead and says why on the armed
// line; hits flow as on Delve.
TEST_F(E2eTest, AutoRunsOnDelveWhereAnotherPodOfTheBuildIsDebuggedWithDelve) {
  auto held = StartTrace("two-containers", TraceScript(), {"-c", "web", "--engine", "delve"});
  ASSERT_NE(held, nullptr);
  const std::string holder = LastSession();
  std::string script = Script("function.dlv", kFunctionScript);
  auto p = StartTrace("hello-world", script, {"--engine", "auto"});
  ASSERT_NE(p, nullptr);
  const nlohmann::json* armed = &last_armed_;
  EXPECT_EQ(armed->value("engine", ""), "delve") << armed->dump();
  const std::string note = armed->value("engine_note", "");
  EXPECT_TRUE(absl::StartsWith(note, "eBPF engine not used: pod default/two-containers (pid "))
      << note;
  EXPECT_TRUE(absl::StrContains(
      note, absl::StrCat("is debugged with Delve by session ", holder,
                         ": this session's uprobes would make the kernel take that session's")))
      << note;
  std::set<int> sent = SendRequests(sb_.Get("HELLO_URL"), 1);
  EXPECT_EQ(CollectHitPorts(*p, 1, 0), sent);
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0) << p->Stderr();
  held->Signal(SIGINT);
  EXPECT_EQ(held->Wait(absl::Seconds(20)), 0) << held->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectReleased("default", "two-containers", sb_.Get("TWO_CONTAINERS_WEB_URL"));
}

// The bundled Delve's Go range gates the Delve engine only: the Go 1.19 service (outside every
// bundled Delve's range, with the register ABI the eBPF engine needs) is traced on eBPF without
// --allow-unsupported-go, and refused on Delve with what to do.
TEST_F(E2eTest, GoOutsideDelvesRangeIsTracedOnEbpf) {
  std::string script = Script("old-function.dlv", kFunctionScript);
  auto p = StartTrace("old-go", script);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->seen().back().value("engine", ""), "ebpf") << p->seen().back().dump();
  std::set<int> sent = SendRequests(sb_.Get("OLD_GO_URL"), 1);
  auto hit = p->WaitFor("hit", absl::Seconds(20));
  ASSERT_TRUE(hit.has_value()) << p->Stderr();
  EXPECT_EQ((*hit)["vars"]["r.RemoteAddr"],
            absl::StrCat("\"127.0.0.1:", sent.empty() ? 0 : *sent.begin(), "\""));
  EXPECT_FALSE(hit->contains("unsupported_go")) << hit->dump();
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0) << p->Stderr();
  ExpectReleased("default", "old-go", sb_.Get("OLD_GO_URL"));

  auto delve =
      RunKdbg(sb_, {"trace", "pod/old-go", "--init", script, "--engine", "delve"}, sb_.CliEnv());
  EXPECT_NE(delve.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(delve.err, "go1.19")) << delve.err;
  EXPECT_TRUE(absl::StrContains(delve.err, "--allow-unsupported-go")) << delve.err;
  ExpectReleased("default", "old-go", sb_.Get("OLD_GO_URL"));
}

// `cond` through the whole product: an exact condition runs in the BPF program (eBPF engine, only
// matching hits reach the CLI); one the BPF program cannot evaluate exactly sends the script to
// Delve with the line and the reason printed.
TEST_F(E2eTest, EngineAutoRunsExactConditionsInBpfAndOthersOnDelve) {
  std::string exact = Script("cond-exact.dlv",
                             "trace handleSlash main.handleSlash\n"
                             "on handleSlash print r.RemoteAddr\n"
                             "cond handleSlash r.Method == \"GET\"\n");
  auto p = StartTrace("hello-world", exact);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->seen().back().value("engine", ""), "ebpf") << p->seen().back().dump();
  std::set<int> sent = SendRequests(sb_.Get("HELLO_URL"), 2);
  EXPECT_EQ(CollectHitPorts(*p, 2, /*line=*/0), sent);
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0) << p->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));

  std::string other = Script("cond-other.dlv",
                             "trace handleSlash main.handleSlash\n"
                             "on handleSlash print r.RemoteAddr\n"
                             "cond handleSlash r.Method == \"GET\" || r.ContentLength > 0\n");
  auto d = StartTrace("hello-world", other);
  ASSERT_NE(d, nullptr);
  const nlohmann::json& armed = d->seen().back();
  EXPECT_EQ(armed.value("engine", ""), "delve") << armed.dump();
  EXPECT_TRUE(absl::StrContains(armed.value("engine_note", ""),
                                "cond-other.dlv:3: condition `r.Method == \"GET\" || "
                                "r.ContentLength > 0`"))
      << armed.dump();
  sent = SendRequests(sb_.Get("HELLO_URL"), 1);
  EXPECT_EQ(CollectHitPorts(*d, 1, /*line=*/0), sent);
  d->Signal(SIGINT);
  EXPECT_EQ(d->Wait(absl::Seconds(20)), 0) << d->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
}

TEST_F(E2eTest, CtrlCEndsSafely) {
  auto p = StartTrace("hello-world", TraceScript(), {"--engine", "delve"});
  ASSERT_NE(p, nullptr);
  SendRequests(sb_.Get("HELLO_URL"), 1);
  ASSERT_TRUE(p->WaitFor("hit", absl::Seconds(20)).has_value());
  p->Signal(SIGINT);
  auto ended = p->WaitFor("ended", absl::Seconds(20));
  ASSERT_TRUE(ended.has_value()) << p->Stderr();
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0);
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  // Ctrl-C asks the controller to stop the session (the stream is server-to-client only).
  ExpectAuditedEnd(LastSession(), "hello-world", "stop");
}

TEST_F(E2eTest, SigkillOfCliEndsSafely) {
  auto p = StartTrace("hello-world", TraceScript(), {"--engine", "delve"});
  ASSERT_NE(p, nullptr);
  p->Signal(SIGKILL);
  p->Wait(absl::Seconds(5));
  // Requests keep flowing while the agent notices the client is gone and lets go.
  SendRequests(sb_.Get("HELLO_URL"), 2);
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectAuditedEnd(LastSession(), "hello-world", "gone");
}

// A network cut between the CLI and the controller mid-trace (the link goes silent: no FIN, no RST;
// a laptop's VPN dropped): both ends' keepalive PINGs go unanswered. The controller ends the
// session (the agent lets the real target go, audited as the client gone) and the CLI says it lost
// the controller, each within kKeepaliveTime + kKeepaliveTimeout, long before the lease's end.
TEST_F(E2eTest, NetworkCutBetweenCliAndControllerEndsSafely) {
  const std::string controller = sb_.Get("KDBG_CONTROLLER");
  int controller_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(controller.substr(controller.rfind(':') + 1), &controller_port))
      << controller;
  TcpProxy proxy(controller_port);
  auto p =
      StartTrace("hello-world", TraceScript(),
                 {"--engine", "delve", "--controller", absl::StrCat("127.0.0.1:", proxy.port())});
  ASSERT_NE(p, nullptr);
  SendRequests(sb_.Get("HELLO_URL"), 1);
  ASSERT_TRUE(p->WaitFor("hit", absl::Seconds(20)).has_value()) << p->Stderr();
  const absl::Time cut = kdbg::MonotonicNow();
  proxy.Freeze();
  SendRequests(sb_.Get("HELLO_URL"), 2);  // hits the CLI will never see
  EXPECT_NE(p->Wait(absl::Seconds(60)), 0) << "the CLI must say it lost the controller";
  const absl::Duration took = kdbg::MonotonicNow() - cut;
  std::printf("the CLI gave up %.1f s after the cut: %s\n", absl::ToDoubleSeconds(took),
              p->Stderr().c_str());
  EXPECT_LE(took, kKeepaliveTime * 2 + kKeepaliveTimeout + absl::Seconds(10));
  EXPECT_TRUE(absl::StrContains(
      p->Stderr(), absl::StrCat("trace: lost the controller at 127.0.0.1:", proxy.port(),
                                " during session ", LastSession())))
      << p->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectAuditedEnd(LastSession(), "hello-world", "gone");
}

TEST_F(E2eTest, StopFromSecondTerminalEndsSafely) {
  auto p = StartTrace("hello-world", TraceScript(), {"--engine", "delve"});
  ASSERT_NE(p, nullptr);
  auto sessions = RunKdbg(sb_, {"sessions", "-o", "json"}, sb_.CliEnv());
  ASSERT_EQ(sessions.exit_code, 0) << sessions.err;
  std::string id;
  for (absl::string_view line : absl::StrSplit(sessions.out, '\n')) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    if (j.contains("id")) id = j["id"].get<std::string>();
    if (j.contains("session_id")) id = j["session_id"].get<std::string>();
  }
  ASSERT_FALSE(id.empty()) << sessions.out;
  auto stop = RunKdbg(sb_, {"stop", id}, sb_.CliEnv());
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  auto ended = p->WaitFor("ended", absl::Seconds(20));
  ASSERT_TRUE(ended.has_value()) << p->Stderr();
  EXPECT_TRUE(
      absl::StrContains(absl::AsciiStrToLower((*ended)["reason"].get<std::string>()), "stop"))
      << ended->dump();
  p->Wait(absl::Seconds(20));
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectAuditedEnd(LastSession(), "hello-world", "stop");
}

TEST_F(E2eTest, LeaseExpiryEndsSafely) {
  auto p = StartTrace("hello-world", TraceScript(), {"--engine", "delve", "--lease", "3s"});
  ASSERT_NE(p, nullptr);
  auto ended = p->WaitFor("ended", absl::Seconds(20));
  ASSERT_TRUE(ended.has_value()) << p->Stderr();
  EXPECT_TRUE(
      absl::StrContains(absl::AsciiStrToLower((*ended)["reason"].get<std::string>()), "lease"))
      << ended->dump();
  p->Wait(absl::Seconds(20));
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectAuditedEnd(LastSession(), "hello-world", "lease");
}

TEST_F(E2eTest, ControllerKilledEndsSafely) {
  auto p = StartTrace("hello-world", TraceScript(), {"--engine", "delve"});
  ASSERT_NE(p, nullptr);
  auto pid = sb_.DaemonPid("controller");
  ASSERT_TRUE(pid.ok());
  ASSERT_EQ(::kill(*pid, SIGKILL), 0);
  EXPECT_NE(p->Wait(absl::Seconds(20)), 0) << "the CLI must report the lost controller";
  SendRequests(sb_.Get("HELLO_URL"), 2);
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ASSERT_TRUE(sb_.Up().ok());
}

TEST_F(E2eTest, AgentSigtermEndsSafely) {
  auto p = StartTrace("hello-world", TraceScript(), {"--engine", "delve"});
  ASSERT_NE(p, nullptr);
  auto pid = sb_.DaemonPid("agent-node-a");
  ASSERT_TRUE(pid.ok());
  ASSERT_EQ(::kill(*pid, SIGTERM), 0);
  auto ended = p->WaitFor("ended", absl::Seconds(30));
  EXPECT_TRUE(ended.has_value()) << p->Stderr();
  p->Wait(absl::Seconds(20));
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ASSERT_TRUE(sb_.Up().ok());
}

TEST_F(E2eTest, AgentSigkillThenRestartEndsSafely) {
  auto p = StartTrace("hello-world", TraceScript(), {"--engine", "delve"});
  ASSERT_NE(p, nullptr);
  auto pid = sb_.DaemonPid("agent-node-a");
  ASSERT_TRUE(pid.ok());
  ASSERT_EQ(::kill(*pid, SIGKILL), 0);
  // The agent's guardian ends the orphaned Delve session at once: requests keep being served and
  // the target is released before any new agent exists.
  SendRequests(sb_.Get("HELLO_URL"), 2);
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ASSERT_TRUE(sb_.Up().ok());  // the restarted agent serves again
  // The controller, whose stream from the agent broke, asks the restarted agent how the session
  // ended: the guardian's recorded end reaches the CLI and the audit.
  auto ended = p->WaitFor("ended", absl::Seconds(40));
  ASSERT_TRUE(ended.has_value()) << p->Stderr();
  EXPECT_EQ((*ended)["reason"], "recovered") << ended->dump();
  EXPECT_EQ((*ended)["target_traced"], false) << ended->dump();
  EXPECT_TRUE(
      absl::StrContains((*ended)["message"].get<std::string>(), "the agent's guardian recovered"))
      << ended->dump();
  EXPECT_NE(p->Wait(absl::Seconds(20)), 0) << "a killed agent is not a clean end";
  ExpectAuditedEnd(LastSession(), "hello-world", "recovered");
  auto again = StartTrace("hello-world", TraceScript(), {"--engine", "delve"});
  ASSERT_NE(again, nullptr);
  again->Signal(SIGINT);
  EXPECT_EQ(again->Wait(absl::Seconds(20)), 0);
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
}

TEST_F(E2eTest, TargetExitingMidTraceEndsTheSession) {
  auto p = StartTrace("doomed", TraceScript(), {"--engine", "delve"});
  ASSERT_NE(p, nullptr);
  auto pid = sb_.ContainerPid("default", "doomed");
  ASSERT_TRUE(pid.ok());
  ASSERT_EQ(::kill(*pid, SIGTERM), 0);
  auto ended = p->WaitFor("ended", absl::Seconds(30));
  ASSERT_TRUE(ended.has_value()) << p->Stderr();
  EXPECT_TRUE(
      absl::StrContains(absl::AsciiStrToLower((*ended)["reason"].get<std::string>()), "exit"))
      << ended->dump();
  p->Wait(absl::Seconds(20));
  EXPECT_TRUE(testing::DlvProcessesFor(*pid).empty());
  ExpectAuditedEnd(LastSession(), "doomed", "exit");
}

// ---- bad input: one clear line, non-zero exit, nothing left behind
// -------------------------------

// --debug-binary: pod/stripped runs hello-world-stripped, `objcopy --strip-all` of
// hello-world-optimized (one build, so one Go build ID).
// ---- Sessions over several pods: deploy/hello selects hello-world (node-a) and hello-node-b
// (node-b); -l may add the not-Go pod.

TEST_F(E2eTest, TraceDeployReachesEveryReplicaOnBothNodesInOneStream) {
  auto p = KdbgProcess::Start(
      sb_, {"trace", "deploy/hello", "--init", TraceScript(), "--engine", "delve", "-o", "json"},
      sb_.CliEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  std::set<std::string> armed;
  for (int i = 0; i < 2; ++i) {
    auto a = (*p)->WaitFor("armed", kArmTimeout);
    ASSERT_TRUE(a.has_value()) << (*p)->Stderr();
    armed.insert(a->value("pod", ""));
  }
  EXPECT_EQ(armed, (std::set<std::string>{"hello-world", "hello-node-b"}));
  std::set<int> sent_a = SendRequests(sb_.Get("HELLO_URL"), 2);
  std::set<int> sent_b = SendRequests(sb_.Get("HELLO_NODE_B_URL"), 2);
  std::map<std::string, std::set<int>> printed;
  for (int i = 0; i < 4; ++i) {
    auto hit = (*p)->WaitFor("hit", absl::Seconds(20));
    ASSERT_TRUE(hit.has_value()) << (*p)->Stderr();
    std::string addr = (*hit)["vars"]["r.RemoteAddr"].get<std::string>();
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(
        addr.substr(addr.rfind(':') + 1, addr.size() - addr.rfind(':') - 2), &port))
        << addr;
    printed[hit->value("pod", "")].insert(port);
  }
  EXPECT_EQ(printed["hello-world"], sent_a);
  EXPECT_EQ(printed["hello-node-b"], sent_b);
  (*p)->Signal(SIGINT);  // Ctrl-C: kdbg stop of the session, which stops every part
  std::optional<nlohmann::json> summary;
  for (int i = 0; i < 4 && !summary; ++i) {
    auto ended = (*p)->WaitFor("ended", absl::Seconds(20));
    ASSERT_TRUE(ended.has_value()) << (*p)->Stderr();
    if (!ended->contains("pod")) summary = ended;  // the per-pod ended lines carry their pod
  }
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ((*summary)["hits"], 4);
  ASSERT_EQ((*summary)["pods"].size(), 2u) << summary->dump();
  for (const auto& pod : (*summary)["pods"]) {
    EXPECT_EQ(pod["outcome"], "ended") << pod.dump();
    EXPECT_EQ(pod["hits"], 2) << pod.dump();
    EXPECT_EQ(pod["target_traced"], false);
  }
  EXPECT_EQ((*p)->Wait(absl::Seconds(20)), 0) << (*p)->Stderr();
  EXPECT_TRUE(absl::StrContains((*p)->Stderr(), "deployment/hello in namespace default: 2 running"))
      << (*p)->Stderr();
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectReleased("default", "hello-node-b", sb_.Get("HELLO_NODE_B_URL"));
  std::string id = summary->value("session", "");
  ExpectAuditedEnd(id + "-1", "hello-node-b", "stop");  // parts in name order
  ExpectAuditedEnd(id + "-2", "hello-world", "stop");
}

// --rate-limit-total over both replicas, real agents: the two pods' hits together exceed it; the
// stream shows at most the total's worth for the time the session ran, and the rest is counted:
// the notices on stderr add up to the summary's count, and every request is either shown or
// counted.
TEST_F(E2eTest, TotalRateOverBothReplicasShowsAtMostItAndCountsTheRest) {
  constexpr int kRate = 3;
  constexpr int kPerPod = 12;
  auto p = KdbgProcess::Start(sb_,
                              {"trace", "deploy/hello", "--init", TraceScript(), "--engine",
                               "delve", "-o", "json", "--rate-limit-total", absl::StrCat(kRate)},
                              sb_.CliEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE((*p)->WaitFor("armed", kArmTimeout).has_value()) << (*p)->Stderr();
  }
  const absl::Time start = kdbg::MonotonicNow();
  // 50 requests/s per pod: well under each pod's own --rate-limit (which would clear the
  // tracepoint), far over the total.
  auto send = [&](const std::string& url) {
    for (int i = 0; i < kPerPod; ++i) {
      SendRequests(url, 1);
      absl::SleepFor(absl::Milliseconds(20));
    }
  };
  std::thread b([&] { send(sb_.Get("HELLO_NODE_B_URL")); });
  send(sb_.Get("HELLO_URL"));
  b.join();
  absl::SleepFor(absl::Seconds(1));  // the last hits reach the controller
  (*p)->Signal(SIGINT);
  std::optional<nlohmann::json> summary;
  for (int i = 0; i < 4 && !summary; ++i) {
    auto ended = (*p)->WaitFor("ended", absl::Seconds(20));
    ASSERT_TRUE(ended.has_value()) << (*p)->Stderr();
    if (!ended->contains("pods")) continue;
    summary = ended;
  }
  ASSERT_TRUE(summary.has_value());
  const double seconds = absl::ToDoubleSeconds(kdbg::MonotonicNow() - start);
  EXPECT_EQ((*p)->Wait(absl::Seconds(20)), 0) << (*p)->Stderr();
  int shown = 0;
  for (const auto& j : (*p)->seen()) shown += j.value("type", "") == "hit" ? 1 : 0;
  const int64_t over = summary->value("hits_over_total_rate", int64_t{0});
  EXPECT_EQ((*summary)["hits"], shown);
  EXPECT_EQ(shown + over, 2 * kPerPod) << summary->dump();  // every request shown or counted
  EXPECT_GE(shown, kRate);                                  // the first second's worth
  EXPECT_LE(shown, kRate * (seconds + 1)) << seconds << " s";
  EXPECT_GT(over, 0) << "the requests came faster than " << kRate << "/s";
  int64_t per_pod = 0;
  for (const auto& pod : (*summary)["pods"]) per_pod += pod.value("hits_over_total_rate", 0);
  EXPECT_EQ(per_pod, over);
  // The notices (stderr, both formats) add up to the summary's count.
  int64_t noticed = 0;
  const std::string marker = "kdbg: total-rate-limited: ";
  const std::string err = (*p)->Stderr();
  for (size_t at = err.find(marker); at != std::string::npos; at = err.find(marker, at + 1)) {
    int64_t n = 0;
    const size_t from = at + marker.size();
    ASSERT_TRUE(absl::SimpleAtoi(err.substr(from, err.find(' ', from) - from), &n)) << err;
    noticed += n;
  }
  EXPECT_EQ(noticed, over) << err;
  EXPECT_TRUE(absl::StrContains(
      err, absl::StrCat("not relayed: over the total rate of ", kRate, " hits/s")))
      << err;
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectReleased("default", "hello-node-b", sb_.Get("HELLO_NODE_B_URL"));
}

TEST_F(E2eTest, SelectorWithANonGoPodTracesTheOthersAndSaysWhy) {
  auto p =
      KdbgProcess::Start(sb_,
                         {"trace", "-l", "app in (hello-world, not-go)", "--init", TraceScript(),
                          "--engine", "delve", "--duration", "8s", "-o", "json"},
                         sb_.CliEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  auto failed = (*p)->WaitFor("failed", kArmTimeout);
  ASSERT_TRUE(failed.has_value()) << (*p)->Stderr();
  EXPECT_EQ((*failed)["pod"], "not-go");
  EXPECT_EQ((*failed)["failure"], "not-go") << failed->dump();
  bool armed = false;
  for (const auto& j : (*p)->seen()) armed = armed || j.value("type", "") == "armed";
  if (!armed) armed = (*p)->WaitFor("armed", kArmTimeout).has_value();
  ASSERT_TRUE(armed) << (*p)->Stderr();
  SendRequests(sb_.Get("HELLO_URL"), 1);
  auto hit = (*p)->WaitFor("hit", absl::Seconds(20));
  ASSERT_TRUE(hit.has_value()) << (*p)->Stderr();
  EXPECT_EQ((*hit)["pod"], "hello-world");
  std::optional<nlohmann::json> summary;
  for (int i = 0; i < 3 && !summary; ++i) {
    auto ended = (*p)->WaitFor("ended", absl::Seconds(30));
    ASSERT_TRUE(ended.has_value()) << (*p)->Stderr();
    if (!ended->contains("pod")) summary = ended;
  }
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ((*summary)["reason"], "duration");
  ASSERT_EQ((*summary)["pods"].size(), 2u);
  EXPECT_EQ((*summary)["pods"][0]["pod"], "hello-world");
  EXPECT_EQ((*summary)["pods"][0]["outcome"], "ended");
  EXPECT_EQ((*summary)["pods"][1]["pod"], "not-go");
  EXPECT_EQ((*summary)["pods"][1]["failure"], "not-go");
  EXPECT_EQ((*p)->Wait(absl::Seconds(20)), 1) << "a pod failed: exit 1";
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
}

TEST_F(E2eTest, CliKilledEndsEveryPartSafely) {
  auto p = KdbgProcess::Start(
      sb_, {"trace", "deploy/hello", "--init", TraceScript(), "--engine", "delve", "-o", "json"},
      sb_.CliEnv());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->WaitFor("armed", kArmTimeout).has_value()) << (*p)->Stderr();
  ASSERT_TRUE((*p)->WaitFor("armed", kArmTimeout).has_value()) << (*p)->Stderr();
  (*p)->Signal(SIGKILL);
  (*p)->Wait(absl::Seconds(5));
  SendRequests(sb_.Get("HELLO_URL"), 2);
  SendRequests(sb_.Get("HELLO_NODE_B_URL"), 2);
  ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  ExpectReleased("default", "hello-node-b", sb_.Get("HELLO_NODE_B_URL"));
}

TEST_F(E2eTest, AttachAndResolveOfAWorkloadNameThePodsToChooseFrom) {
  for (const char* cmd : {"attach", "resolve"}) {
    auto r = RunKdbg(sb_, {cmd, "deploy/hello"}, sb_.CliEnv());
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(absl::StrContains(
        r.err, absl::StrCat("kdbg ", cmd,
                            " works on one pod; deployment/hello has 2 running pods: "
                            "pod/hello-node-b (node node-b), pod/hello-world (node "
                            "node-a)")))
        << r.err;
  }
  auto missing = RunKdbg(sb_, {"trace", "deploy/nope", "--init", TraceScript()}, sb_.CliEnv());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(missing.err, "deployments.apps \"nope\" not found")) << missing.err;
}

class E2eDebugBinaryTest : public E2eTest {
 protected:
  std::string UploadDir(const std::string& node) const {
    return absl::StrCat(sb_.dir(), "/agent-", node, "/debug-binaries");
  }
  std::vector<std::string> UploadsLeft() const {
    std::vector<std::string> out;
    for (const char* node : {"node-a", "node-b"}) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(UploadDir(node), ec)) {
        out.push_back(e.path().string());
      }
    }
    return out;
  }
  // Uploads go within moments of the end (the session's thread deletes the file after Delve exits).
  void ExpectNoUploadLeft() {
    for (int i = 0; i < 100 && !UploadsLeft().empty(); ++i) absl::SleepFor(absl::Milliseconds(50));
    EXPECT_TRUE(UploadsLeft().empty()) << absl::StrJoin(UploadsLeft(), ", ");
  }
  void ExpectNoSession() {
    auto sessions = RunKdbg(sb_, {"sessions", "-A", "-o", "json"}, sb_.CliEnv());
    EXPECT_FALSE(absl::StrContains(sessions.out, "stripped")) << sessions.out;
    ExpectReleased("default", "stripped", sb_.Get("STRIPPED_URL"));
  }
  std::string StrippedScript() {
    return Script("stripped.dlv",
                  "trace handleSlash main.handleSlash\non handleSlash print r.RemoteAddr\n");
  }
  // A sparse file of `bytes` (no disk used): the header announces its size.
  std::string SparseFile(const std::string& name, int64_t bytes) {
    std::string path = ScratchPath(name);
    std::ofstream(path).close();
    std::filesystem::resize_file(path, static_cast<uintmax_t>(bytes));
    return path;
  }
};

TEST_F(E2eDebugBinaryTest, ResolveNamesTheBuildIdAndTheOption) {
  auto r = RunKdbg(sb_, {"resolve", "pod/stripped"}, sb_.CliEnv());
  EXPECT_NE(r.exit_code, 0);
  auto id = RunCommand(
      {"/usr/local/go/bin/go", "tool", "buildid", testing::TargetPath("hello-world-optimized")},
      absl::Seconds(30));
  ASSERT_TRUE(id.ok()) << id.status();
  std::string build_id(absl::StripAsciiWhitespace(*id));
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrCat("build id:   ", build_id))) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "--debug-binary FILE")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, absl::StrCat("its Go build ID is ", build_id))) << r.err;
  auto j = RunKdbg(sb_, {"resolve", "pod/stripped", "-o", "json"}, sb_.CliEnv());
  auto parsed = nlohmann::json::parse(j.out, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << j.out;
  EXPECT_EQ(parsed["needs_debug_binary"], true);
  EXPECT_EQ(parsed["binary"]["build_id"], build_id);
  EXPECT_EQ(parsed["binary"]["stripped"], true);
}

TEST_F(E2eDebugBinaryTest, StrippedPodTracedWithItsUnstrippedBuildPrintsRealValues) {
  auto p = StartTrace("stripped", StrippedScript(),
                      {"--debug-binary", testing::TargetPath("hello-world-optimized")});
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(absl::StrContains(p->Stderr(), "kdbg: debug binary accepted: build ID "))
      << p->Stderr();
  // In use by the session: the upload, and beside it Delve's config home for it (FILE.dlv/).
  std::vector<std::string> in_use = UploadsLeft();
  EXPECT_EQ(std::count_if(in_use.begin(), in_use.end(),
                          [](const std::string& f) { return !absl::EndsWith(f, ".dlv"); }),
            1)
      << absl::StrJoin(in_use, ", ");
  std::set<int> sent = SendRequests(sb_.Get("STRIPPED_URL"), 3);
  std::set<int> printed;
  for (int i = 0; i < 3; ++i) {
    auto hit = p->WaitFor("hit", absl::Seconds(20));
    ASSERT_TRUE(hit.has_value()) << p->Stderr();
    EXPECT_EQ((*hit)["function"], "main.handleSlash");
    std::string addr = (*hit)["vars"]["r.RemoteAddr"].get<std::string>();
    int port = 0;
    size_t colon = addr.rfind(':');
    ASSERT_NE(colon, std::string::npos) << addr;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripSuffix(addr.substr(colon + 1), "\""), &port)) << addr;
    printed.insert(port);
  }
  EXPECT_EQ(printed, sent);
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(absl::Seconds(30)), 0) << p->Stderr();
  ExpectReleased("default", "stripped", sb_.Get("STRIPPED_URL"));
  ExpectNoUploadLeft();
}

TEST_F(E2eDebugBinaryTest, AttachWithTheUnstrippedBuildLetsDlvConnectBreakByFunctionName) {
  // The stripped pod has no symbols of its own: a remote `dlv connect` finds main.handleSlash, sets
  // a breakpoint by that name, stops a real request there and prints its r.RemoteAddr only
  // because the agent's Delve reads the uploaded unstripped build.
  int port = testing::FreePort();
  auto attach = KdbgProcess::Start(
      sb_,
      {"attach", "pod/stripped", "--headless", "--listen", absl::StrCat("127.0.0.1:", port),
       "--debug-binary", testing::TargetPath("hello-world-optimized")},
      sb_.CliEnv());
  ASSERT_TRUE(attach.ok());
  ASSERT_TRUE(WaitUntilListening(port, absl::Seconds(20))) << (*attach)->Stderr();
  // The CLI listens at once; the upload and the build-ID check finish meanwhile.
  EXPECT_TRUE((*attach)->AwaitStderr("kdbg: debug binary accepted: build ID ", absl::Seconds(30)))
      << (*attach)->Stderr();
  // In use while the session runs: the upload and Delve's config home beside it.
  EXPECT_FALSE(UploadsLeft().empty());
  std::string commands = Script("dlv-stripped-commands",
                                "funcs ^main\\.handleSlash$\nbreak main.handleSlash\ncontinue\n"
                                "print r.RemoteAddr\nclearall\nquit -c\n");
  std::set<int> sent;
  std::thread request([&] {
    absl::SleepFor(absl::Seconds(2));
    sent = SendRequests(sb_.Get("STRIPPED_URL"), 1);
  });
  DlvConnectRun dlv = RunDlvConnect(
      port, commands,
      {"XDG_CONFIG_HOME=" + ScratchPath("dlv-client-config")});  // the client's history
  request.join();
  ASSERT_EQ(dlv.ended, "exit status 0") << dlv.out;
  EXPECT_TRUE(absl::StrContains(dlv.out, "Breakpoint 1 set at ")) << dlv.out;
  EXPECT_TRUE(absl::StrContains(dlv.out, "main.handleSlash() ")) << dlv.out;
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(absl::StrContains(dlv.out, absl::StrCat("\"127.0.0.1:", *sent.begin(), "\"")))
      << "dlv printed: " << dlv.out;
  (*attach)->Signal(SIGINT);
  EXPECT_EQ((*attach)->Wait(absl::Seconds(20)), 0) << (*attach)->Stderr();
  EXPECT_TRUE(absl::StrContains((*attach)->Stderr(), "detached cleanly")) << (*attach)->Stderr();
  ExpectReleased("default", "stripped", sb_.Get("STRIPPED_URL"));
  ExpectNoUploadLeft();  // the upload and its config home are deleted at the session's end
}

TEST_F(E2eDebugBinaryTest, BadDebugBinariesFailWithOneClearLineAndLeaveNothing) {
  struct Case {
    std::string name, file, expect;
  } cases[] = {
      {"another build", testing::TargetPath("hello-world-nol"), "has go build id "},
      {"not go", testing::TargetPath("not-go"), "is not a go program"},
      {"not elf", Script("notes.txt", "just text\n"), "is not an elf executable"},
      {"stripped too", testing::TargetPath("hello-world-stripped"), "no debug info (dwarf) either"},
      {"over the cap", SparseFile("huge.debug", (int64_t{512} << 20) + 1),
       "larger than the kdbg policy's cap of 512 mib (maxdebugbinarysize)"},
      {"missing", "/nonexistent/app.debug", "--debug-binary: cannot read the file"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = RunKdbg(
        sb_, {"trace", "pod/stripped", "--init", StrippedScript(), "--debug-binary", c.file},
        sb_.CliEnv());
    EXPECT_EQ(r.exit_code, 1);
    std::string err = absl::AsciiStrToLower(r.err);
    EXPECT_TRUE(absl::StrContains(err, c.expect)) << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "kdbg: error: ")) << r.err;
    ExpectNoUploadLeft();
  }
  ExpectNoSession();
}

TEST_F(E2eDebugBinaryTest, CliKilledMidUploadLeavesNothing) {
  // Large enough (a sparse 400 MiB of zeros, under the cap) to be mid-upload when killed.
  std::string big = SparseFile("big.debug", int64_t{400} << 20);
  auto p = KdbgProcess::Start(
      sb_, {"trace", "pod/stripped", "--init", StrippedScript(), "--debug-binary", big},
      sb_.CliEnv());
  ASSERT_TRUE(p.ok());
  bool partial_seen = false;
  for (int i = 0; i < 400 && !partial_seen; ++i) {
    for (const std::string& f : UploadsLeft()) partial_seen |= absl::EndsWith(f, ".partial");
    if (!partial_seen) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(partial_seen) << "the upload never started: " << (*p)->Stderr();
  (*p)->Signal(SIGKILL);
  EXPECT_EQ((*p)->Wait(absl::Seconds(10)), 128 + SIGKILL);
  ExpectNoUploadLeft();
  ExpectNoSession();
}

TEST_F(E2eDebugBinaryTest, CtrlCMidUploadCancelsItAndLeavesNothing) {
  std::string big = SparseFile("big2.debug", int64_t{400} << 20);
  auto p = KdbgProcess::Start(
      sb_, {"trace", "pod/stripped", "--init", StrippedScript(), "--debug-binary", big},
      sb_.CliEnv());
  ASSERT_TRUE(p.ok());
  bool partial_seen = false;
  for (int i = 0; i < 400 && !partial_seen; ++i) {
    for (const std::string& f : UploadsLeft()) partial_seen |= absl::EndsWith(f, ".partial");
    if (!partial_seen) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(partial_seen) << "the upload never started: " << (*p)->Stderr();
  (*p)->Signal(SIGINT);
  int code = (*p)->Wait(absl::Seconds(20));
  EXPECT_EQ(code, 1) << (*p)->Stderr();
  // Interrupted mid-upload, or (on a fast machine) the agent refused the complete zeros first.
  EXPECT_TRUE(absl::StrContains((*p)->Stderr(), "interrupted while sending the debug binary") ||
              absl::StrContains((*p)->Stderr(), "is not an ELF executable"))
      << (*p)->Stderr();
  ExpectNoUploadLeft();
  ExpectNoSession();
}

struct BadInput {
  std::string name;
  std::string pod;
  std::string script;
  std::string expect;  // a word the one-line error must contain (case-insensitive)
  std::string ns = "default";
};

void PrintTo(const BadInput& c, std::ostream* os) { *os << c.name; }

class E2eBadInputTest : public E2eTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(E2eBadInputTest, FailsWithOneClearLine) {
  const BadInput& c = GetParam();
  std::string script = Script("bad.dlv", c.script);
  auto r = RunKdbg(sb_, {"trace", "pod/" + c.pod, "-n", c.ns, "--init", script}, sb_.CliEnv());
  EXPECT_NE(r.exit_code, 0);
  std::string err(absl::StripAsciiWhitespace(r.err));
  EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(err), c.expect)) << err;
  auto sessions = RunKdbg(sb_, {"sessions", "-A", "-o", "json"}, sb_.CliEnv());
  EXPECT_FALSE(absl::StrContains(sessions.out, c.pod)) << sessions.out;
  if (c.pod == "hello-world") ExpectReleased("default", "hello-world", sb_.Get("HELLO_URL"));
  if (c.pod == "old-go") ExpectReleased("default", "old-go", sb_.Get("OLD_GO_URL"));
}

INSTANTIATE_TEST_SUITE_P(
    E2e, E2eBadInputTest,
    ::testing::Values(BadInput{"MalformedScript", "hello-world",
                               "trace handleSlash main.go:10\ncall os.Exit(1)\n", "bad.dlv:2"},
                      BadInput{"UnknownFunction", "hello-world",
                               "trace main.noSuchFunction\ncontinue\n", "nosuchfunction"},
                      BadInput{"AFunctionNameTypo", "hello-world", "trace main.handelSlash\n",
                               "location \"main.handelslash\" not found (did you mean "
                               "main.handleslash?)"},
                      // A field net/http.Request cannot have: refused with the nearest one,
                      // not run on Delve with an error (and a stop) at every hit.
                      BadInput{"AFieldTheTypeLacks", "hello-world",
                               "trace main.handleSlash\non 1 print r.RemoteAdr\n",
                               "bad.dlv:2: r.remoteadr: r is net/http.request, which has no field "
                               "remoteadr (did you mean remoteaddr?); fix the script"},
                      BadInput{"UnknownPod", "no-such-pod", "trace main.main\n", "not found"},
                      BadInput{"StrippedTarget", "stripped", "trace main.handleSlash\n",
                               "--debug-binary file"},
                      BadInput{"NonGoTarget", "not-go", "trace main.main\n", "not a go program"},
                      // A map's entry is printed only by Delve (the eBPF engine has no such
                      // range: GoOutsideDelvesRangeIsTracedOnEbpf).
                      BadInput{"GoVersionOutsideTheRange", "old-go",
                               "trace h main.handleSlash\non h print r.Header[\"Accept\"]\n",
                               "outside the bundled delve's supported range go 1.24-1.27"},
                      BadInput{"ProtectedNamespaceIsRefused", "system-hello",
                               "trace main.handleSlash\n", "kube-system", "kube-system"}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return info.param.name; });

}  // namespace
}  // namespace kdbg::e2e
