// The Delve engine against real Delve and real Go targets. Every test ends by checking that the
// target still answers HTTP, is not traced, and has no `dlv` left attached to it.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "agent/delve/delve_engine.h"
#include "agent/delve/rpc_client.h"
#include "common/child_process.h"
#include "common/clock.h"
#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/delve/engine_fixture.h"
#include "tests/support/go_target.h"
#include "tests/support/http_probe.h"
#include "tests/support/proc_probe.h"
#include "tests/support/resolved_target.h"
#include "tests/support/test_env.h"

namespace kdbg::delve {
namespace {

using kdbg::testing::GoTarget;
using ::testing::HasSubstr;

constexpr char kScript[] =
    "trace handleSlash main.go:10\n"
    "on handleSlash print r.RemoteAddr\n"
    "continue\n";

TEST_F(DelveEngineTest, HitsPrintTheClientPortsOfTheRequests) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  auto session = Trace((*target)->pid(), kScript, &events);
  ASSERT_TRUE(session.ok()) << session.status();

  auto all = events.All();
  ASSERT_FALSE(all.empty());
  ASSERT_TRUE(all[0].has_armed());
  ASSERT_EQ(all[0].armed().tracepoints_size(), 1);
  const v1::Tracepoint& tp = all[0].armed().tracepoints(0);
  EXPECT_EQ(tp.name(), "handleSlash");
  EXPECT_EQ(tp.function(), "main.handleSlash");
  EXPECT_TRUE(absl::EndsWith(tp.file(), "/main.go")) << tp.file();
  EXPECT_EQ(tp.line(), 10);

  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    ports.push_back(r->local_port);
  }
  ASSERT_TRUE(events.WaitHits(3));
  auto hits = events.Hits();
  ASSERT_EQ(hits.size(), 3u);
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_EQ(hits[i].tracepoint(), "handleSlash");
    EXPECT_EQ(hits[i].function(), "main.handleSlash");
    EXPECT_EQ(hits[i].line(), 10);
    EXPECT_GT(hits[i].goroutine(), 0);
    EXPECT_EQ(hits[i].hit_count(), static_cast<int64_t>(i + 1));
    ASSERT_EQ(hits[i].vars_size(), 1);
    EXPECT_EQ(hits[i].vars(0).name(), "r.RemoteAddr");
    EXPECT_EQ(hits[i].vars(0).value(), absl::StrCat("\"127.0.0.1:", ports[i], "\""));
    EXPECT_GE(hits[i].args_size(), 2);  // w, r
  }
  EXPECT_EQ((*session)->hits(), 3);
  (*session)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*session)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->reason(), v1::END_REASON_CLIENT_STOP);
  EXPECT_EQ(ended->hits(), 3);
  ExpectCleanEnd(*ended);
  EXPECT_TRUE(events.All().back().has_ended());
  ExpectReleased(**target);
}

// Every file under `dir`, relative ("" when `dir` is empty or missing).
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    out.push_back(std::filesystem::relative(it->path(), dir).string());
  }
  return out;
}

// Processes whose command line contains `text` (Go telemetry's crash monitor is
// `dlv "** telemetry **"`).
std::vector<pid_t> ProcessesWith(const std::string& text) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e.path().filename().string(), &pid)) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (absl::StrContains(cmdline, text)) out.push_back(pid);
  }
  return out;
}

// Sets an environment variable for one test (unset when `value` is null), restoring it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST_F(DelveEngineTest, DelveWritesNothingOutsideTheSessionsFiles) {
  // Delve 1.27.2 starts Go telemetry (counter files under $HOME/.config/go/telemetry, a
  // `dlv "** telemetry **"` crash-monitor process) and writes a default
  // $HOME/.config/dlv/config.yml unless its config home says otherwise. The control run shows this
  // HOME would catch that.
  std::string home = kdbg::testing::MakeTempDir("kdbg-delve-home");
  std::string control_home = kdbg::testing::MakeTempDir("kdbg-delve-home-control");
  const std::vector<pid_t> monitors_at_start = ProcessesWith("** telemetry **");
  struct Cleanup {
    std::vector<std::string> dirs;
    std::vector<pid_t> monitors;
    ~Cleanup() {
      // The control's crash monitor may still write into its HOME for a moment after `dlv
      // version` returned: wait (bounded) until it is gone, then remove both directories.
      for (int i = 0; i < 100 && ProcessesWith("** telemetry **") != monitors; ++i) {
        absl::SleepFor(absl::Milliseconds(50));
      }
      std::error_code ec;
      for (const std::string& d : dirs) std::filesystem::remove_all(d, ec);
    }
  } cleanup{{home, control_home}, monitors_at_start};
  ScopedEnv home_env("HOME", home.c_str());
  ScopedEnv xdg_env("XDG_CONFIG_HOME", nullptr);
  {
    // Its own HOME: its crash monitor may still write there after `dlv version` returned.
    auto control = RunCommand({kdbg::testing::BundledDelvePath(), "version"}, absl::Seconds(30),
                              true, {"HOME=" + control_home});
    ASSERT_TRUE(control.ok()) << control.status();
    EXPECT_THAT(FilesUnder(control_home), ::testing::Contains(".config/go/telemetry/local"));
  }
  // The agent's start-up probe of each bundled Delve writes nothing either.
  ASSERT_FALSE(BundledDelves().empty());
  EXPECT_THAT(FilesUnder(home), ::testing::IsEmpty());

  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  std::vector<pid_t> monitors_before = ProcessesWith("** telemetry **");
  Events events;
  auto session = Trace((*target)->pid(), kScript, &events);
  ASSERT_TRUE(session.ok()) << session.status();
  // While Delve runs: its config home is the session's, with telemetry off.
  const std::string session_home = work_dir_ + "/t1.home";
  std::ifstream mode(session_home + "/go/telemetry/mode");
  std::string mode_text((std::istreambuf_iterator<char>(mode)), std::istreambuf_iterator<char>());
  EXPECT_EQ(mode_text, "off\n");
  std::vector<pid_t> dlv = kdbg::testing::DlvProcessesFor((*target)->pid());
  ASSERT_EQ(dlv.size(), 1u);
  std::ifstream environ(absl::StrCat("/proc/", dlv[0], "/environ"));
  std::string env((std::istreambuf_iterator<char>(environ)), std::istreambuf_iterator<char>());
  EXPECT_THAT(env, HasSubstr(absl::StrCat("XDG_CONFIG_HOME=", session_home, std::string(1, '\0'))));
  EXPECT_THAT(env, HasSubstr("GOTELEMETRY=off"));
  // No crash monitor started: only monitors that existed before may be seen (the control's may
  // exit on its own meanwhile, so the sets are not compared for equality).
  std::vector<pid_t> started;
  for (pid_t pid : ProcessesWith("** telemetry **")) {
    if (std::find(monitors_before.begin(), monitors_before.end(), pid) == monitors_before.end()) {
      started.push_back(pid);
    }
  }
  EXPECT_THAT(started, ::testing::IsEmpty());

  auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(events.WaitHits(1));
  (*session)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*session)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ended.ok()) << ended.status();
  ExpectCleanEnd(*ended);
  ExpectReleased(**target);
  EXPECT_THAT(FilesUnder(home), ::testing::IsEmpty());
  // The session's files are gone too (its Delve log is deleted after a clean end).
  EXPECT_THAT(FilesUnder(work_dir_), ::testing::IsEmpty());
}

// --duration ends the session once its time has been served, whatever the wall clock does: set an
// hour on (NTP's step, a VM resumed) it does not end the session early, set back it does not keep
// the session past its duration.
TEST_F(DelveEngineTest, DurationEndsTheSessionAfterTimeServed) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  agent::TraceSpec spec;
  // Long enough for a slow attach to leave time for the request below.
  spec.duration = absl::Seconds(6);
  const absl::Time t0 = kdbg::MonotonicNow();
  auto session = Trace((*target)->pid(), kScript, &events, spec);
  ASSERT_TRUE(session.ok()) << session.status();
  clock_.StepWall(absl::Hours(1));
  absl::SleepFor(absl::Milliseconds(200));
  auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(events.WaitHits(1));
  clock_.StepWall(-absl::Hours(2));
  auto ended = (*session)->Wait(absl::Seconds(30));
  ASSERT_TRUE(ended.ok()) << ended.status();
  const absl::Duration took = kdbg::MonotonicNow() - t0;
  EXPECT_EQ(ended->reason(), v1::END_REASON_DURATION);
  EXPECT_EQ(ended->hits(), 1);
  EXPECT_GE(took, absl::Seconds(6));
  EXPECT_LT(took, absl::Seconds(20));
  ExpectCleanEnd(*ended);
  ExpectReleased(**target);
}

TEST_F(DelveEngineTest, MaxHitsEndsTheSession) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  agent::TraceSpec spec;
  spec.max_hits = 2;
  auto session = Trace((*target)->pid(), kScript, &events, spec);
  ASSERT_TRUE(session.ok()) << session.status();
  for (int i = 0; i < 3; ++i) {
    auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port());
    ASSERT_TRUE(r.ok()) << r.status();
  }
  auto ended = (*session)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->reason(), v1::END_REASON_MAX_HITS);
  EXPECT_EQ(ended->hits(), 2);
  EXPECT_EQ(events.Hits().size(), 2u);
  ExpectCleanEnd(*ended);
  ExpectReleased(**target);
}

// The loop only receives, decides and continues: reporting a stop (parse, count, events) happens
// on another thread, so a slow reader of the events never keeps the target stopped. Here the
// first hit's event is held: the requests after it are still answered, and every hit arrives,
// in order, once it is let go.
TEST_F(DelveEngineTest, TheTargetRunsOnWhileAHitIsStillBeingReported) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  absl::Notification let_go;
  std::atomic<int> held{0};
  auto record = events.Callback();
  agent::EventCallback cb = [&](v1::Event e) {
    if (e.has_hit() && held.fetch_add(1) == 0) {
      (void)let_go.WaitForNotificationWithTimeout(absl::Seconds(30));
    }
    record(std::move(e));
  };
  agent::TraceSpec spec;
  spec.session_id = "t1";
  ASSERT_TRUE(kdbg::testing::ResolveInto((*target)->pid(), &spec).ok());
  spec.script = kScript;
  spec.script_name = "trace.dlv";
  auto session = factory_->StartTrace(spec, cb);
  ASSERT_TRUE(session.ok()) << session.status();
  for (int i = 0; i < 4; ++i) {
    // Before the worker, the second request stayed stopped at the tracepoint until the first
    // hit's event was taken.
    auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/", absl::Seconds(5));
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.status();
  }
  EXPECT_TRUE(events.Hits().empty());  // the first is still held, the rest queued behind it
  let_go.Notify();
  for (int i = 0; i < 100 && events.Hits().size() < 4; ++i) absl::SleepFor(absl::Milliseconds(50));
  std::vector<v1::HitEvent> hits = events.Hits();
  ASSERT_EQ(hits.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(hits[i].hit_count(), i + 1);
  (*session)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*session)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->hits(), 4);
  ExpectCleanEnd(*ended);
  ExpectReleased(**target);
}

TEST_F(DelveEngineTest, RateLimitClearsTheTracepointAndTheTargetKeepsServing) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  agent::TraceSpec spec;
  spec.max_hits_per_second = 5;
  auto session = Trace((*target)->pid(), kScript, &events, spec);
  ASSERT_TRUE(session.ok()) << session.status();
  for (int i = 0; i < 20; ++i) {
    auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port());
    ASSERT_TRUE(r.ok()) << r.status();
  }
  bool limited = false;
  for (const auto& n : events.Notices()) {
    if (n.kind() == kdbg::v1::NOTICE_KIND_RATE_LIMITED) {
      limited = true;
      EXPECT_THAT(n.message(), HasSubstr("handleSlash"));
    }
  }
  EXPECT_TRUE(limited);
  EXPECT_LE(events.Hits().size(), 5u);
  EXPECT_GE(events.Hits().size(), 1u);
  EXPECT_FALSE((*session)->Ended());
  (*session)->RequestEnd(v1::END_REASON_STOP_REQUESTED);
  auto ended = (*session)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->reason(), v1::END_REASON_STOP_REQUESTED);
  ExpectCleanEnd(*ended);
  ExpectReleased(**target);
}

TEST_F(DelveEngineTest, TargetExitingMidSessionEndsIt) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  auto session = Trace((*target)->pid(), kScript, &events);
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_EQ(::kill((*target)->pid(), SIGTERM), 0);
  auto ended = (*session)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->reason(), v1::END_REASON_TARGET_EXITED) << ended->message();
  EXPECT_FALSE(ended->target_alive());
  EXPECT_THAT(ended->message(), HasSubstr("target exited"));
  EXPECT_TRUE(kdbg::testing::DlvProcessesFor((*target)->pid()).empty());
  // As without kdbg: Go's default SIGTERM handling kills the process by the signal (143 for a
  // container runtime), not exit status 2.
  absl::StatusOr<int> status = (*target)->process().Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM)
      << ChildProcess::DescribeWaitStatus(*status);
}

// SIGTERM (the kubelet stopping the pod) while the target is traced under request load, so it
// arrives while Delve holds a tracepoint stop: the target still dies by SIGTERM, as Go's default
// handling does without a debugger, and the session ends TARGET_EXITED. Three targets.
TEST_F(DelveEngineTest, SigtermUnderLoadKillsTheTargetByTheSignal) {
  for (int round = 0; round < 3; ++round) {
    auto target = GoTarget::Start("hello-world");
    ASSERT_TRUE(target.ok()) << target.status();
    Events events;
    agent::TraceSpec spec;
    spec.session_id = absl::StrCat("sigterm", round);
    spec.max_hits_per_second = 1000;
    auto session = Trace((*target)->pid(), kScript, &events, spec);
    ASSERT_TRUE(session.ok()) << session.status();
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    clients.reserve(4);
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&] {
        while (!stop.load()) {
          (void)kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/", absl::Seconds(2));
        }
      });
    }
    ASSERT_TRUE(events.WaitHits(10));
    ASSERT_EQ(::kill((*target)->pid(), SIGTERM), 0);
    auto ended = (*session)->Wait(absl::Seconds(20));
    absl::StatusOr<int> status = (*target)->process().Wait(absl::Seconds(10));
    stop = true;
    for (auto& t : clients) t.join();
    ASSERT_TRUE(ended.ok()) << ended.status();
    EXPECT_EQ(ended->reason(), v1::END_REASON_TARGET_EXITED) << ended->message();
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM)
        << "round " << round << ": " << ChildProcess::DescribeWaitStatus(*status) << "; "
        << ended->message();
    EXPECT_TRUE(kdbg::testing::DlvProcessesFor((*target)->pid()).empty());
  }
}

// In a container the target is PID 1 of its PID namespace, and the kernel drops a signal sent to
// a namespace's init while its disposition is SIG_DFL. Go's runtime, dying of SIGTERM, restores
// SIG_DFL and re-raises it (dropped), then falls back to exit(2): a Go service stopped by the
// kubelet exits with status 2 with or without kdbg (measured: `unshare -fp hello-world`, SIGTERM:
// exit 2; the same binary outside a namespace: killed by SIGTERM, 143). So the status 2 seen on the
// cluster is not kdbg's: this test shows a traced PID 1 under load ends exactly as an untraced one.
TEST_F(DelveEngineTest, SigtermToAContainersPidOneEndsAsWithoutADebugger) {
  auto baseline = GoTarget::StartInPidNamespace("hello-world");
  KDBG_REQUIRE_REAL(baseline.ok(),
                    std::string("unshare --pid (root): ") +
                        std::string(baseline.ok() ? "" : baseline.status().message()));
  ASSERT_EQ(::kill((*baseline)->pid(), SIGTERM), 0);
  absl::StatusOr<int> untraced = (*baseline)->process().Wait(absl::Seconds(10));
  ASSERT_TRUE(untraced.ok()) << untraced.status();

  auto target = GoTarget::StartInPidNamespace("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  agent::TraceSpec spec;
  spec.session_id = "sigterm-pid1";
  spec.max_hits_per_second = 1000;
  auto session = Trace((*target)->pid(), kScript, &events, spec);
  ASSERT_TRUE(session.ok()) << session.status();
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  clients.reserve(4);
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        (void)kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/", absl::Seconds(2));
      }
    });
  }
  ASSERT_TRUE(events.WaitHits(10));
  ASSERT_EQ(::kill((*target)->pid(), SIGTERM), 0);
  auto ended = (*session)->Wait(absl::Seconds(20));
  absl::StatusOr<int> traced = (*target)->process().Wait(absl::Seconds(10));
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->reason(), v1::END_REASON_TARGET_EXITED) << ended->message();
  ASSERT_TRUE(traced.ok()) << traced.status();
  EXPECT_EQ(*traced, *untraced) << "traced: " << ChildProcess::DescribeWaitStatus(*traced)
                                << ", untraced: " << ChildProcess::DescribeWaitStatus(*untraced);
  EXPECT_TRUE(kdbg::testing::DlvProcessesFor((*target)->pid()).empty());
}

TEST_F(DelveEngineTest, EndsSafelyUnderConcurrentLoad) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  for (int round = 0; round < 3; ++round) {
    Events events;
    agent::TraceSpec spec;
    spec.session_id = absl::StrCat("load", round);
    spec.max_hits_per_second = 1000;
    auto session = Trace((*target)->pid(), kScript, &events, spec);
    ASSERT_TRUE(session.ok()) << session.status();
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    clients.reserve(4);
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&] {
        while (!stop.load()) {
          auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/", absl::Seconds(10));
          if (r.ok() && r->status == 200) ok.fetch_add(1);
        }
      });
    }
    ASSERT_TRUE(events.WaitHits(20));
    (*session)->RequestEnd(v1::END_REASON_CLIENT_GONE);
    auto ended = (*session)->Wait(absl::Seconds(30));
    absl::SleepFor(absl::Milliseconds(200));  // load keeps running across the detach
    stop = true;
    for (auto& t : clients) t.join();
    ASSERT_TRUE(ended.ok()) << ended.status();
    EXPECT_EQ(ended->reason(), v1::END_REASON_CLIENT_GONE);
    ExpectCleanEnd(*ended);
    EXPECT_GT(ok.load(), 20);
    ExpectReleased(**target);
  }
}

TEST_F(DelveEngineTest, AgentKilledThenRecoveredByANewFactory) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  SpawnOptions o;
  o.argv = {kdbg::testing::BinaryDir() + "/tests/integration/delve/kdbg_delve_test_agent",
            "--pid",
            absl::StrCat((*target)->pid()),
            "--work-dir",
            work_dir_,
            "--dlv",
            kdbg::testing::BundledDelvePath()};
  o.capture_stdout = true;
  auto agent = ChildProcess::Spawn(o);
  ASSERT_TRUE(agent.ok()) << agent.status();
  std::string line;
  char c;
  while (::read((*agent)->stdout_fd(), &c, 1) == 1 && c != '\n') line.push_back(c);
  ASSERT_EQ(line, "armed");

  DelveOptions opts;
  opts.delves = BundledDelves();
  opts.work_dir = work_dir_;
  // While its agent lives, the session is not an orphan: recovery (a guardian's, or a second
  // agent's on the same work dir) must leave it alone.
  EXPECT_TRUE(NewDelveSessionFactory(opts)->RecoverOrphans().empty());
  ASSERT_EQ(kdbg::testing::DlvProcessesFor((*target)->pid()).size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(work_dir_ + "/orphan1.home"));     // a live session's home
  EXPECT_TRUE(std::filesystem::is_socket(work_dir_ + "/orphan1.sock"));  // and its Delve's socket

  ASSERT_EQ(::kill((*agent)->pid(), SIGKILL), 0);
  ASSERT_TRUE((*agent)->Wait(absl::Seconds(5)).ok());

  // Delve outlives the agent, holding the tracepoint: the next request freezes at it.
  ASSERT_EQ(kdbg::testing::DlvProcessesFor((*target)->pid()).size(), 1u);
  auto frozen = std::async(std::launch::async, [&] {
    return kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/", absl::Seconds(30));
  });
  EXPECT_EQ(frozen.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);

  // A socket a killed Delve could not remove (no Delve of that session runs) is swept.
  std::ofstream(work_dir_ + "/ghost.sock") << "";
  auto recovered = NewDelveSessionFactory(opts)->RecoverOrphans();
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(recovered[0].session_id, "orphan1");
  EXPECT_EQ(recovered[0].target_pid, (*target)->pid());
  EXPECT_EQ(recovered[0].ended.reason(), v1::END_REASON_RECOVERED);
  EXPECT_TRUE(recovered[0].ended.target_alive()) << recovered[0].ended.message();
  EXPECT_FALSE(recovered[0].ended.target_traced()) << recovered[0].ended.message();
  auto r = frozen.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  ExpectReleased(**target);
  // Nothing left for a second recovery, nor of the orphan's config home (delve_home.h) and
  // socket, nor the stale socket. Recovery reached the orphan's Delve through its socket.
  EXPECT_FALSE(std::filesystem::exists(work_dir_ + "/orphan1.home"));
  EXPECT_FALSE(std::filesystem::exists(work_dir_ + "/orphan1.sock"));
  EXPECT_FALSE(std::filesystem::exists(work_dir_ + "/ghost.sock"));
  EXPECT_TRUE(NewDelveSessionFactory(opts)->RecoverOrphans().empty());
}

TEST_F(DelveEngineTest, AttachModeExposesDelveAndClearsTheRemoteClientsBreakpoints) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  agent::AttachSpec spec;
  spec.session_id = "a1";
  ASSERT_TRUE(kdbg::testing::ResolveInto((*target)->pid(), &spec).ok());
  auto session = factory_->StartAttach(spec, events.Callback());
  ASSERT_TRUE(session.ok()) << session.status();
  // Delve serves on a Unix socket in the engine's work directory (mode 0700), never on TCP: a
  // `kubectl port-forward` into the agent's pod reaches TCP ports only (delve_engine.h).
  std::string addr = (*session)->delve_address();
  const std::string socket_path = work_dir_ + "/a1.sock";
  ASSERT_EQ(addr, "unix:" + socket_path);
  EXPECT_TRUE(std::filesystem::is_socket(socket_path));
  std::vector<pid_t> dlv = kdbg::testing::DlvProcessesFor((*target)->pid());
  ASSERT_EQ(dlv.size(), 1u);
  EXPECT_THAT(kdbg::testing::TcpListenersOf(dlv[0]), ::testing::IsEmpty());
  ASSERT_FALSE(events.Notices().empty());
  EXPECT_EQ(events.Notices()[0].kind(), v1::NOTICE_KIND_READY);
  // The target runs while nobody drives it.
  auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port());
  ASSERT_TRUE(r.ok()) << r.status();

  // A remote client halts, sets a stopping breakpoint and continues, then goes away.
  {
    auto conn = SocketRpcDialer().Dial(addr);
    ASSERT_TRUE(conn.ok()) << conn.status();
    DelveClient remote(std::move(*conn));
    ASSERT_TRUE(
        remote.Call("RPCServer.Command", DelveClient::CommandParams("halt"), absl::Seconds(10))
            .ok());
    auto locs = remote.FindLocation("main.handleSlash", absl::Seconds(10));
    ASSERT_TRUE(locs.ok()) << locs.status();
    BreakpointRequest bp;
    bp.name = "user1";
    bp.addrs = locs->front().pcs;
    bp.tracepoint = false;
    ASSERT_TRUE(remote.CreateBreakpoint(bp, absl::Seconds(10)).ok());
    ASSERT_TRUE(remote.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  }
  (*session)->RequestEnd(v1::END_REASON_REMOTE_CLIENT_LEFT);
  auto ended = (*session)->Wait(absl::Seconds(30));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->reason(), v1::END_REASON_REMOTE_CLIENT_LEFT);
  ExpectCleanEnd(*ended);
  ExpectReleased(**target);
  EXPECT_FALSE(std::filesystem::exists(socket_path));
}

// As the tunnel notes each request of a remote client before it goes to Delve: waits while the
// engine holds it (the breakpoints disabled while no client was connected, enabled again first).
// Returns whether it may go (within 10 s); `held`, when given: whether the engine held it.
bool NoteRequest(agent::DebugSession& session, bool* held = nullptr) {
  auto ready = std::make_shared<absl::Notification>();
  const bool now = session.NoteClientActivity([ready] { ready->Notify(); });
  if (held != nullptr) *held = !now;
  return now || ready->WaitForNotificationWithTimeout(absl::Seconds(10));
}

// An attach session with a 1 s stop limit (a tight liveness probe's budget, kube/probes.h) on
// hello-world-nol, and a debugger client connected to its Delve. Not movable: the session's
// callback holds `events`.
struct StopLimitedAttach {
  std::unique_ptr<GoTarget> target;
  Events events;
  std::unique_ptr<agent::DebugSession> session;
  std::unique_ptr<DelveClient> remote;

  // The stop-limit notices so far.
  int StopLimits() {
    int n = 0;
    for (const auto& notice : events.Notices()) n += notice.kind() == v1::NOTICE_KIND_STOP_LIMIT;
    return n;
  }
};

void StartStopLimitedAttach(DelveSessionFactory& factory, const std::string& id,
                            StopLimitedAttach* a) {
  auto target = GoTarget::Start("hello-world-nol");
  ASSERT_TRUE(target.ok()) << target.status();
  a->target = std::move(*target);
  agent::AttachSpec spec;
  spec.session_id = id;
  spec.max_stop = absl::Seconds(1);
  ASSERT_TRUE(kdbg::testing::ResolveInto(a->target->pid(), &spec).ok());
  auto session = factory.StartAttach(spec, a->events.Callback());
  ASSERT_TRUE(session.ok()) << session.status();
  a->session = std::move(*session);
  auto conn = SocketRpcDialer().Dial(a->session->delve_address());
  ASSERT_TRUE(conn.ok()) << conn.status();
  a->remote = std::make_unique<DelveClient>(std::move(*conn));
}

// The stop limit (a tight liveness probe's budget, kube/probes.h): a remote client stops the
// target at its breakpoint and holds it. The engine resumes it after max_stop, says so, keeps the
// client's breakpoint, continues the stops nobody is at while the client is away, and halts the
// target for the client's next request.
TEST_F(DelveEngineTest, AttachStopLimitResumesAHeldStopAndKeepsTheBreakpoints) {
  StopLimitedAttach a;
  ASSERT_NO_FATAL_FAILURE(StartStopLimitedAttach(*factory_, "limit1", &a));
  DelveClient& remote = *a.remote;
  auto stop_limits = [&] { return a.StopLimits(); };
  // Each request of the client is noted first, as the tunnel notes every frame it forwards. On a
  // loaded machine the setup below can itself outlast the 1 s limit; the engine then resumes the
  // client's halt and halts again for its next request, so notices are counted from the continue.
  ASSERT_TRUE(NoteRequest(*a.session));
  ASSERT_TRUE(
      remote.Call("RPCServer.Command", DelveClient::CommandParams("halt"), absl::Seconds(10)).ok());
  ASSERT_TRUE(NoteRequest(*a.session));
  auto locs = remote.FindLocation("main.handleSlash", absl::Seconds(10));
  ASSERT_TRUE(locs.ok()) << locs.status();
  BreakpointRequest bp;
  bp.name = "user1";
  bp.addrs = locs->front().pcs;
  bp.tracepoint = false;
  ASSERT_TRUE(NoteRequest(*a.session));
  ASSERT_TRUE(remote.CreateBreakpoint(bp, absl::Seconds(10)).ok());
  ASSERT_TRUE(NoteRequest(*a.session));
  const int limits_before = stop_limits();
  ASSERT_TRUE(remote.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  // A request stops at the breakpoint; the client holds the stop. The engine resumes it after
  // about a second, so the request is answered although nobody continued.
  absl::Time t0 = kdbg::MonotonicNow();
  auto held = kdbg::testing::HttpGet("127.0.0.1", a.target->port(), "/", absl::Seconds(15));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->status, 200);
  absl::Duration took = kdbg::MonotonicNow() - t0;
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(5));
  auto stopped_reply = remote.Receive(absl::Seconds(5));  // the client's continue ended there
  ASSERT_TRUE(stopped_reply.ok()) << stopped_reply.status();
  // The engine resumes first and then tells (DelveSession: the target's wait is the one that
  // matters), so the request's answer may come before the notice.
  for (int i = 0; i < 500 && stop_limits() < limits_before + 1; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(stop_limits(), limits_before + 1);
  EXPECT_THAT(a.events.Notices().back().message(), HasSubstr("every breakpoint is kept"));
  // While the client is away the breakpoint's stops are continued at once: requests are answered
  // quickly, and no further notice is needed.
  for (int i = 0; i < 5; ++i) {
    absl::Time t = kdbg::MonotonicNow();
    auto r = kdbg::testing::HttpGet("127.0.0.1", a.target->port(), "/", absl::Seconds(5));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_LT(kdbg::MonotonicNow() - t, absl::Milliseconds(800));
  }
  // The client is back (a request through its tunnel): the engine halts the target for it; its
  // breakpoint is still there; the stop it now holds is resumed again after the limit.
  ASSERT_TRUE(NoteRequest(*a.session));
  bool stopped = false;
  for (int i = 0; i < 300 && !stopped; ++i) {
    auto st = kdbg::testing::ReadProcStatus(a.target->pid());
    stopped = st.ok() && st->state == 't';
    if (!stopped) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(stopped) << "the target was not halted for the returning client";
  auto list = remote.ListBreakpoints(absl::Seconds(10));
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_THAT(list->dump(), HasSubstr("\"user1\""));
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_EQ(stop_limits(), limits_before + 2);
  auto r = kdbg::testing::HttpGet("127.0.0.1", a.target->port(), "/", absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();

  EndCleanly(*a.session, *a.target, v1::END_REASON_CLIENT_STOP);
}

// The stop limit is time served: a client halts the target, the wall clock is set back an hour
// while the stop is held, and the engine still resumes it after the limit (on the wall clock it
// would have held the target an hour: the kubelet restarts a container long before).
TEST_F(DelveEngineTest, AttachStopLimitResumesAHeldStopWhenTheWallClockIsSetBack) {
  StopLimitedAttach a;
  ASSERT_NO_FATAL_FAILURE(StartStopLimitedAttach(*factory_, "limit-step", &a));
  const int limits_before = a.StopLimits();
  ASSERT_TRUE(NoteRequest(*a.session));
  ASSERT_TRUE(
      a.remote->Call("RPCServer.Command", DelveClient::CommandParams("halt"), absl::Seconds(10))
          .ok());
  // The engine's 100 ms tick has seen the stop before the step.
  absl::SleepFor(absl::Milliseconds(400));
  clock_.StepWall(-absl::Hours(1));
  const absl::Time stepped = kdbg::MonotonicNow();
  while (a.StopLimits() == limits_before && kdbg::MonotonicNow() - stepped < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(a.StopLimits(), limits_before + 1) << "the halted target was not resumed";
  EXPECT_LT(kdbg::MonotonicNow() - stepped, absl::Seconds(5));
  auto r = kdbg::testing::HttpGet("127.0.0.1", a.target->port(), "/", absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EndCleanly(*a.session, *a.target, v1::END_REASON_CLIENT_STOP);
}

// A request the client sent just before the stop limit resumed its halt, which reaches Delve
// only after the resume (the tunnel notes a frame before its pump writes it; CI's c35 saw a
// FindLocation wait 10 s for a stop nobody made): the engine halts the target for it, and Delve
// answers it. Each round notes one request 800 ms into a held halt, sends it once the resume
// has happened, and judges only a round where the note fell 150-450 ms before the resume (before
// the engine's last 100 ms tick, within its 500 ms window); such a request is otherwise never
// answered. A round this machine times otherwise brings the client back and is not counted.
TEST_F(DelveEngineTest, AttachStopLimitHaltsForARequestNotedJustBeforeTheResume) {
  StopLimitedAttach a;
  ASSERT_NO_FATAL_FAILURE(StartStopLimitedAttach(*factory_, "limit2", &a));
  DelveClient& remote = *a.remote;
  auto stop_limits = [&] { return a.StopLimits(); };
  auto await_stop_limits = [&](int n) {
    for (int i = 0; i < 1000 && stop_limits() < n; ++i) absl::SleepFor(absl::Milliseconds(5));
    return stop_limits() >= n;
  };
  const nlohmann::json find_params = {
      {"Scope", {{"GoroutineID", -1}, {"Frame", 0}, {"DeferredCall", 0}}},
      {"Loc", "main.handleSlash"},
      {"IncludeNonExecutableLines", false}};
  int judged = 0;
  for (int round = 0; round < 6 && judged < 2; ++round) {
    // The client halts the target and holds it (no request while it holds it).
    ASSERT_TRUE(NoteRequest(*a.session));
    ASSERT_TRUE(
        remote.Call("RPCServer.Command", DelveClient::CommandParams("halt"), absl::Seconds(10))
            .ok());
    const int before = stop_limits();
    // The engine resumes 1.0-1.1 s after the halt (its 100 ms ticks): the note falls ~200-300 ms
    // before.
    absl::SleepFor(absl::Milliseconds(800));
    const absl::Time noted = kdbg::MonotonicNow();
    ASSERT_TRUE(NoteRequest(*a.session));
    ASSERT_TRUE(await_stop_limits(before + 1)) << "the stop limit did not resume the halt";
    const absl::Duration gap = kdbg::MonotonicNow() - noted;
    // The request the note was for, reaching Delve after the resume.
    ASSERT_TRUE(remote.Send("RPCServer.FindLocation", find_params).ok());
    auto found = remote.Receive(absl::Seconds(3));
    if (gap >= absl::Milliseconds(150) && gap <= absl::Milliseconds(450)) {
      ++judged;
      ASSERT_TRUE(found.ok()) << "round " << round << ", the request noted " << gap
                              << " before the resume: " << found.status();
    } else if (!found.ok()) {
      // Outside the window: the client's next request brings it back (the engine halts for it).
      ASSERT_TRUE(NoteRequest(*a.session));
      found = remote.Receive(absl::Seconds(10));
      ASSERT_TRUE(found.ok()) << found.status();
    }
    EXPECT_THAT(found->dump(), HasSubstr("main.handleSlash"));
    // The stop the engine made for the request is the client's, and the limit resumes it too.
    ASSERT_TRUE(await_stop_limits(before + 2)) << "the stop held for the request was not resumed";
  }
  EXPECT_GE(judged, 1) << "no round noted its request 150-450 ms before the resume";
  auto r = kdbg::testing::HttpGet("127.0.0.1", a.target->port(), "/", absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EndCleanly(*a.session, *a.target, v1::END_REASON_CLIENT_STOP);
}

// No stop limit (no liveness probe), and the remote client leaves the target stopped at its
// breakpoint: while the client is connected the stop is its own and lasts; once the last client
// has disconnected (the tunnels tell the session), the engine resumes the target after
// DelveOptions::no_client_grace (2 s), says so, keeps the breakpoint but disables it (later
// requests never stop there: its hit count stays), and for a client that comes back halts the
// target and enables it again before that client's first request goes to Delve.
TEST_F(DelveEngineTest, AttachResumesATargetTheLastClientLeftStopped) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  agent::AttachSpec spec;
  spec.session_id = "noclient1";
  ASSERT_TRUE(kdbg::testing::ResolveInto((*target)->pid(), &spec).ok());
  auto started = factory_->StartAttach(spec, events.Callback());
  ASSERT_TRUE(started.ok()) << started.status();
  agent::DebugSession& session = **started;
  auto notices_of = [&](v1::NoticeKind kind) {
    std::vector<std::string> out;
    for (const auto& notice : events.Notices()) {
      if (notice.kind() == kind) out.push_back(notice.message());
    }
    return out;
  };
  auto resumes = [&] { return notices_of(v1::NOTICE_KIND_STOP_LIMIT).size(); };
  auto target_stopped = [&] {
    auto st = kdbg::testing::ReadProcStatus((*target)->pid());
    return st.ok() && st->state == 't';
  };
  // A client connects (its tunnel opens), sets a stopping breakpoint and continues.
  session.NoteClientConnections(1);
  auto conn = SocketRpcDialer().Dial(session.delve_address());
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto remote = std::make_unique<DelveClient>(std::move(*conn));
  ASSERT_TRUE(NoteRequest(session));
  ASSERT_TRUE(
      remote->Call("RPCServer.Command", DelveClient::CommandParams("halt"), absl::Seconds(10))
          .ok());
  auto locs = remote->FindLocation("main.handleSlash", absl::Seconds(10));
  ASSERT_TRUE(locs.ok()) << locs.status();
  BreakpointRequest bp;
  bp.name = "user1";
  bp.addrs = locs->front().pcs;
  bp.tracepoint = false;
  ASSERT_TRUE(remote->CreateBreakpoint(bp, absl::Seconds(10)).ok());
  ASSERT_TRUE(remote->Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  // A request stops at the breakpoint, and the connected client holds the stop past the grace:
  // nothing resumes it.
  std::atomic<bool> answered{false};
  absl::Time sent_at = kdbg::MonotonicNow();
  std::atomic<int64_t> answered_after_ms{-1};
  std::thread request([&] {
    auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/", absl::Seconds(30));
    answered_after_ms = absl::ToInt64Milliseconds(kdbg::MonotonicNow() - sent_at);
    answered = r.ok() && r->status == 200;
  });
  absl::Cleanup join_request = [&] {
    if (request.joinable()) request.join();
  };
  auto at_breakpoint = remote->Receive(absl::Seconds(10));  // the client's continue ends there
  ASSERT_TRUE(at_breakpoint.ok()) << at_breakpoint.status();
  absl::SleepFor(absl::Milliseconds(3500));
  EXPECT_EQ(answered_after_ms.load(), -1) << "a stop the connected client holds was resumed";
  EXPECT_TRUE(target_stopped());
  EXPECT_EQ(resumes(), 0u);
  // The client goes away without continuing (dlv's `quit` answered "no"): its tunnel closes.
  remote.reset();
  const absl::Time left_at = kdbg::MonotonicNow();
  session.NoteClientConnections(0);
  request.join();
  EXPECT_TRUE(answered.load());
  const absl::Duration resumed_after = kdbg::MonotonicNow() - left_at;
  EXPECT_GE(resumed_after, absl::Milliseconds(1800));
  EXPECT_LT(resumed_after, absl::Seconds(8));
  // The engine says so right after its continue, which may answer the request first.
  for (int i = 0; i < 100 && resumes() == 0; ++i) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_EQ(resumes(), 1u);
  auto resumed = notices_of(v1::NOTICE_KIND_STOP_LIMIT);
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_THAT(resumed[0], HasSubstr("no debugger client is connected"));
  EXPECT_THAT(resumed[0], HasSubstr("every breakpoint is kept"));
  auto disabled = notices_of(v1::NOTICE_KIND_BREAKPOINTS_DISABLED);
  ASSERT_EQ(disabled.size(), 1u);
  EXPECT_THAT(disabled[0], HasSubstr("disabled the breakpoint the clients left (1 \"user1\" at "
                                     "main.handleSlash (main.go:10))"));
  // While nobody is connected the breakpoint does not stop the target.
  for (int i = 0; i < 5; ++i) {
    absl::Time t = kdbg::MonotonicNow();
    auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/", absl::Seconds(5));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_LT(kdbg::MonotonicNow() - t, absl::Milliseconds(800));
  }
  EXPECT_EQ(resumes(), 1u);
  // A client comes back: its first request waits until the engine has halted the target and
  // enabled the breakpoint again.
  session.NoteClientConnections(1);
  auto conn2 = SocketRpcDialer().Dial(session.delve_address());
  ASSERT_TRUE(conn2.ok()) << conn2.status();
  DelveClient back(std::move(*conn2));
  bool held = false;
  ASSERT_TRUE(NoteRequest(session, &held)) << "the returning client's request was held for good";
  EXPECT_TRUE(held) << "the returning client's request went to Delve before the breakpoint was "
                       "enabled again";
  EXPECT_TRUE(target_stopped()) << "the target was not halted for the returning client";
  EXPECT_EQ(notices_of(v1::NOTICE_KIND_BREAKPOINTS_ENABLED).size(), 1u);
  auto list = back.ListLogicalBreakpoints(absl::Seconds(10));
  ASSERT_TRUE(list.ok()) << list.status();
  bool found = false;
  for (const auto& bp : *list) {
    if (bp.value("name", "") != "user1") continue;
    found = true;
    EXPECT_FALSE(bp.value("disabled", true));
    // The one hit the client stopped at; none of the five requests while it was disabled.
    EXPECT_EQ(bp.value("totalHitCount", 0), 1) << bp.dump();
  }
  EXPECT_TRUE(found) << list->dump();
  // Enabled: the next request stops there again.
  ASSERT_TRUE(NoteRequest(session));
  ASSERT_TRUE(back.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  std::thread again([&] {
    (void)kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/", absl::Seconds(30));
  });
  auto stop = back.Receive(absl::Seconds(10));
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_THAT(stop->dump(), HasSubstr("user1"));
  ASSERT_TRUE(NoteRequest(session));
  ASSERT_TRUE(back.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  again.join();
  EndCleanly(session, **target, v1::END_REASON_CLIENT_STOP);
}

// The stop limit in trace mode: a limit shorter than the agent's own handling of one hit (1 us)
// ends the session at the first hit, safely, with END_REASON_STOP_LIMIT and why.
TEST_F(DelveEngineTest, TraceStopLimitEndsTheSession) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  agent::TraceSpec spec;
  spec.max_stop = absl::Microseconds(1);
  auto session = Trace((*target)->pid(), "trace main.handleSlash\n", &events, spec);
  ASSERT_TRUE(session.ok()) << session.status();
  auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port());
  ASSERT_TRUE(r.ok()) << r.status();
  auto ended = (*session)->Wait(absl::Seconds(30));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->reason(), v1::END_REASON_STOP_LIMIT) << ended->message();
  EXPECT_THAT(ended->message(), HasSubstr("more than its liveness probe safely allows"));
  EXPECT_TRUE(ended->target_alive());
  EXPECT_FALSE(ended->target_traced());
  ExpectReleased(**target);
}

TEST_F(DelveEngineTest, ScriptFeaturesStackHitCountAndBreak) {
  // Inside the function (main.go:11) optimized code keeps no `r` (values_test.cc checks that it
  // prints <optimized out>): this test of the script features uses the -N -l build.
  auto target = GoTarget::Start("hello-world-nol");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  auto session = Trace((*target)->pid(),
                       "trace h main.handleSlash\n"
                       "on h stack 3\n"
                       "cond -hitcount h > 1\n"
                       "break b2 main.go:11\n"
                       "on b2 print r.Method\n"
                       "on b2 print r.URL.Path\n",
                       &events);
  ASSERT_TRUE(session.ok()) << session.status();
  for (int i = 0; i < 3; ++i) {
    auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/x");
    ASSERT_TRUE(r.ok()) << r.status();
  }
  ASSERT_TRUE(events.WaitHits(5));
  int h = 0, b2 = 0;
  for (const auto& hit : events.Hits()) {
    if (hit.tracepoint() == "h") {
      ++h;
      ASSERT_GE(hit.stack_size(), 1);
      EXPECT_LE(hit.stack_size(), 4);
      EXPECT_EQ(hit.stack(0).function(), "main.handleSlash");
    } else {
      ++b2;
      EXPECT_EQ(hit.tracepoint(), "b2");
      ASSERT_EQ(hit.vars_size(), 2);
      EXPECT_EQ(hit.vars(0).value(), "\"GET\"");
      EXPECT_EQ(hit.vars(1).value(), "\"/x\"");
    }
  }
  EXPECT_EQ(h, 2);  // the first hit fails `> 1`
  EXPECT_EQ(b2, 3);
  bool continued = false;
  for (const auto& n : events.Notices())
    continued |= n.kind() == kdbg::v1::NOTICE_KIND_BREAKPOINT_CONTINUED;
  EXPECT_TRUE(continued);
  (*session)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*session)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ended.ok());
  ExpectCleanEnd(*ended);
  ExpectReleased(**target);
}

TEST_F(DelveEngineTest, AGoroutinePerRequestRenewsTheBreakpointAndEveryCallIsReportedOnce) {
  // Each HttpGet is a new connection, which net/http serves on a new goroutine: every request adds
  // an entry to Delve's per-goroutine hit map of the breakpoint (DelveOptions::
  // renew_after_goroutines). With a limit of 4 the plain tracepoint is renewed every few requests;
  // `h`, whose hit condition reads Delve's count, never is. Every request is still reported exactly
  // once, in order, with its own value, and the counts go on where they were.
  // Every bundled Delve that takes this Go 1.26 target (1.26.x and 1.27.x): the stepping the
  // renewal relies on is Delve's own, so each is checked.
  auto renewal = [&](const DelveBinary& delve) {
    DelveOptions o = factory_->options();
    o.renew_after_goroutines = 4;
    // Every stop also checks that each breakpoint's int3 is in place: renewals included, none is
    // ever found missing (a false "breakpoint-lost" would be one here).
    o.int3_check_interval = absl::ZeroDuration();
    o.delves = {delve};
    factory_ = NewDelveSessionFactory(o);
    const std::string log_path = work_dir_ + "/agent-" + delve.version + ".log";
    const int log_fd = ::open(log_path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(log_fd, 0);
    log::Configure(log::Level::kDebug, log::Format::kJson, log_fd);
    struct RestoreLog {
      int fd;
      ~RestoreLog() {
        log::Configure(log::Level::kInfo, log::Format::kText, 2);
        ::close(fd);
      }
    } restore{log_fd};

    auto target = GoTarget::Start("hello-world");
    ASSERT_TRUE(target.ok()) << target.status();
    Events events;
    auto session = Trace((*target)->pid(),
                         "trace handleSlash main.go:10\n"
                         "on handleSlash print r.RemoteAddr\n"
                         "trace h main.go:11\n"
                         "cond -hitcount h > 1\n",
                         &events);
    ASSERT_TRUE(session.ok()) << session.status();
    constexpr int kRequests = 24;
    std::vector<int> ports;
    for (int i = 0; i < kRequests; ++i) {
      auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port());
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->status, 200);
      ports.push_back(r->local_port);
    }
    ASSERT_TRUE(events.WaitHits(2 * kRequests - 1));
    absl::SleepFor(absl::Milliseconds(300));  // a repeated call would arrive by now
    std::vector<v1::HitEvent> slash, h;
    for (const auto& hit : events.Hits()) (hit.tracepoint() == "h" ? h : slash).push_back(hit);
    ASSERT_EQ(slash.size(), static_cast<size_t>(kRequests));
    for (int i = 0; i < kRequests; ++i) {
      EXPECT_EQ(slash[i].hit_count(), i + 1);
      ASSERT_EQ(slash[i].vars_size(), 1);
      EXPECT_EQ(slash[i].vars(0).value(), absl::StrCat("\"127.0.0.1:", ports[i], "\""));
    }
    EXPECT_EQ(h.size(), static_cast<size_t>(kRequests - 1));  // the first fails `> 1`, never again
    for (const v1::NoticeEvent& n : events.Notices()) {
      EXPECT_NE(n.kind(), v1::NOTICE_KIND_BREAKPOINT_LOST) << n.message();
    }
    (*session)->RequestEnd(v1::END_REASON_CLIENT_STOP);
    auto ended = (*session)->Wait(absl::Seconds(20));
    ASSERT_TRUE(ended.ok()) << ended.status();
    EXPECT_EQ(ended->hits(), 2 * kRequests - 1);
    ExpectCleanEnd(*ended);
    ExpectReleased(**target);

    // Renewed: handleSlash only, each time its map passed 4 goroutines: every 5th request at best.
    // The stop worker, which reads the map, may parse a stop after the loop has continued the
    // next ones, so under load a renewal comes a request or more late (a -j4 run here: 3 in 24).
    std::ifstream in(log_path);
    int renewed = 0;
    long long reported = -1;
    for (std::string line; std::getline(in, line);) {
      if (absl::StrContains(line, "renewed a tracepoint's breakpoint")) {
        ++renewed;
        EXPECT_THAT(line, HasSubstr("\"tracepoint\":\"handleSlash\""));
      }
      if (absl::StrContains(line, "delve session ended")) {
        auto at = line.find("\"breakpoints_renewed\":");
        ASSERT_NE(at, std::string::npos) << line;
        reported = std::atoll(line.c_str() + at + std::strlen("\"breakpoints_renewed\":"));
      }
    }
    EXPECT_GE(renewed, kRequests / 12);
    EXPECT_EQ(reported, renewed);
  };
  int checked = 0;
  for (const DelveBinary& delve : BundledDelves()) {
    if (!delve.go.Contains(26)) continue;
    SCOPED_TRACE(delve.version);
    ++checked;
    renewal(delve);
    if (HasFatalFailure()) return;
  }
  EXPECT_GE(checked, 2);
}

// ---- bad inputs and failures: each a clear error, the target untouched ----

TEST_F(DelveEngineTest, MalformedScriptIsRefusedWithItsLine) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  auto session =
      Trace((*target)->pid(), "trace handleSlash main.go:10\ncall os.Exit(1)\n", &events);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(session.status().message(), HasSubstr("trace.dlv:2:"));
  EXPECT_THAT(session.status().message(), HasSubstr("\"call\""));
  EXPECT_TRUE(events.All().empty());
  ExpectReleased(**target);
}

TEST_F(DelveEngineTest, UnknownLocationIsReportedWithTheScriptLine) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  auto session =
      Trace((*target)->pid(), "# probe\ntrace handleSlash main.go:10\ntrace nope main.nosuchfunc\n",
            &events);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kNotFound) << session.status();
  EXPECT_THAT(session.status().message(), HasSubstr("trace.dlv:3: "));
  EXPECT_THAT(session.status().message(), HasSubstr("main.nosuchfunc"));
  EXPECT_TRUE(events.All().empty());
  ExpectReleased(**target);
}

TEST_F(DelveEngineTest, BadConditionIsRefusedAndLeavesNothingBehind) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  auto session = Trace((*target)->pid(),
                       "trace handleSlash main.go:10\ncond handleSlash r.RemoteAddr ==\n", &events);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kInvalidArgument) << session.status();
  EXPECT_THAT(session.status().message(), HasSubstr("trace.dlv:1: "));
  EXPECT_THAT(session.status().message(), HasSubstr("condition set on line 2"));
  ExpectReleased(**target);
  // The phantom breakpoint a bad Cond leaves in Delve went with Delve: requests are not held.
  for (int i = 0; i < 3; ++i) {
    auto r = kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/", absl::Seconds(2));
    ASSERT_TRUE(r.ok()) << r.status();
  }
}

TEST_F(DelveEngineTest, NonGoTargetIsRefusedBeforeStartingDelve) {
  SpawnOptions o;
  o.argv = {kdbg::testing::TargetPath("not-go")};
  auto child = ChildProcess::Spawn(o);
  ASSERT_TRUE(child.ok()) << child.status();
  Events events;
  auto session = Trace((*child)->pid(), kScript, &events);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(session.status().message(), HasSubstr("not a Go program"));
  // The engine refuses the resolver's facts on its own too (no Go version: not Go).
  agent::TraceSpec direct;
  direct.pid = (*child)->pid();
  direct.script = kScript;
  auto refused = factory_->StartTrace(direct, events.Callback());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("not a Go program"));
  EXPECT_TRUE(kdbg::testing::DlvProcessesFor((*child)->pid()).empty());
  auto st = kdbg::testing::ReadProcStatus((*child)->pid());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->tracer_pid, 0);
}

// The work directory holds Delve's sockets, whose only guard is its mode: the engine makes it the
// agent's alone, also when it existed wider before (an older agent's, or made by hand).
TEST_F(DelveEngineTest, TheWorkDirIsMadeTheAgentsAlone) {
  namespace fs = std::filesystem;
  const std::string wide = work_dir_ + "/wide";
  ASSERT_EQ(::mkdir(wide.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(wide.c_str(), 0755), 0);  // whatever the umask
  ASSERT_EQ(fs::status(wide).permissions(), fs::perms::owner_all | fs::perms::group_read |
                                                fs::perms::group_exec | fs::perms::others_read |
                                                fs::perms::others_exec);
  DelveOptions o;
  o.delves = BundledDelves();
  o.work_dir = wide;
  auto factory = NewDelveSessionFactory(o);
  EXPECT_EQ(fs::status(wide).permissions(), fs::perms::owner_all);
  const std::string fresh = work_dir_ + "/fresh";
  o.work_dir = fresh;
  factory = NewDelveSessionFactory(o);
  EXPECT_EQ(fs::status(fresh).permissions(), fs::perms::owner_all);
}

// Delve's socket path (<work_dir>/<session>.sock) must fit a socket address: a work directory too
// long for it is refused before Delve starts, naming the agent's flag, and leaves nothing behind.
TEST_F(DelveEngineTest, AWorkDirTooLongForDelvesSocketIsRefusedBeforeDelveStarts) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  std::string long_dir = work_dir_ + "/" + std::string(120 - work_dir_.size(), 'd');
  DelveOptions o;
  o.delves = BundledDelves();
  o.work_dir = long_dir;
  auto factory = NewDelveSessionFactory(o);
  agent::TraceSpec spec;
  spec.session_id = "t1";
  ASSERT_TRUE(kdbg::testing::ResolveInto((*target)->pid(), &spec).ok());
  spec.script = kScript;
  Events events;
  auto session = factory->StartTrace(spec, events.Callback());
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(session.status().message(),
              HasSubstr("over the 107 a socket address holds; start the agent with a shorter "
                        "--state-dir"));
  EXPECT_TRUE(kdbg::testing::DlvProcessesFor((*target)->pid()).empty());
  EXPECT_THAT(FilesUnder(long_dir), ::testing::IsEmpty());
  ExpectReleased(**target);
}

TEST_F(DelveEngineTest, StrippedBinaryIsRefusedWithDelvesReason) {
  auto target = GoTarget::Start("hello-world-stripped");
  ASSERT_TRUE(target.ok()) << target.status();
  Events events;
  auto session = Trace((*target)->pid(), kScript, &events);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(session.status().message(), HasSubstr("no debug info"));
  EXPECT_THAT(session.status().message(), HasSubstr("-ldflags='-s -w'"));
  ExpectReleased(**target);
}

TEST_F(DelveEngineTest, AlreadyTracedTargetNamesTheTracer) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  Events first_events, events;
  auto first = Trace((*target)->pid(), kScript, &first_events);
  ASSERT_TRUE(first.ok()) << first.status();
  auto dlvs = kdbg::testing::DlvProcessesFor((*target)->pid());
  ASSERT_EQ(dlvs.size(), 1u);
  agent::TraceSpec spec;
  spec.session_id = "t2";
  auto second = Trace((*target)->pid(), kScript, &events, spec);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr(absl::StrCat("already traced by ", dlvs[0])));
  (*first)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*first)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ended.ok());
  ExpectCleanEnd(*ended);
  ExpectReleased(**target);
}

TEST_F(DelveEngineTest, VanishedTargetIsNotFound) {
  Events events;
  auto session = Trace(999999, kScript, &events);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kdbg::delve
