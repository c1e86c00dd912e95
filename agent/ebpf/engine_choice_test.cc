#include "agent/ebpf/engine_choice.h"

#include "agent/ebpf/plan.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::ebpf {
namespace {

using ::testing::HasSubstr;

class FakeSession : public agent::DebugSession {
 public:
  const std::string& id() const override { return id_; }
  pid_t target_pid() const override { return 1; }
  std::string delve_address() const override { return ""; }
  int64_t hits() const override { return 0; }
  void RequestEnd(kdbg::v1::EndReason) override {}
  absl::StatusOr<kdbg::v1::EndedEvent> Wait(absl::Duration) override {
    return kdbg::v1::EndedEvent();
  }
  bool Ended() const override { return true; }
  bool NoteClientActivity(std::function<void()> /*ready*/) override { return true; }
  void NoteClientConnections(int /*open*/) override {}
  void TellUser(kdbg::v1::NoticeKind /*kind*/, const std::string& /*message*/) override {}

 private:
  std::string id_ = "fake";
};

// A factory that records what it was asked and answers with `result`; a started session emits an
// ArmedEvent through the callback, as the real engines do.
class FakeFactory : public agent::DebugSessionFactory {
 public:
  explicit FakeFactory(absl::Status result) : result_(std::move(result)) {}
  absl::StatusOr<std::unique_ptr<agent::DebugSession>> StartTrace(
      const agent::TraceSpec& spec, agent::EventCallback cb) override {
    ++traces;
    if (!result_.ok()) return result_;
    // As the eBPF engine asks once its plan is compiled.
    if (spec.before_probing) {
      if (absl::Status s = spec.before_probing(); !s.ok()) return s;
    }
    kdbg::v1::Event e;
    e.mutable_armed()->set_host_pid(1);
    if (cb) cb(e);
    last_cb = cb;
    return std::unique_ptr<agent::DebugSession>(std::make_unique<FakeSession>());
  }
  absl::StatusOr<std::unique_ptr<agent::DebugSession>> StartAttach(const agent::AttachSpec&,
                                                                   agent::EventCallback) override {
    ++attaches;
    if (!attach_result.ok()) return attach_result;
    return std::unique_ptr<agent::DebugSession>(std::make_unique<FakeSession>());
  }
  absl::Status attach_result = absl::UnavailableError("fake");
  agent::EventCallback last_cb;  // the last started trace's, as the engine was given it
  int traces = 0;
  int attaches = 0;

 private:
  absl::Status result_;
};

struct ChoiceRun {
  std::shared_ptr<FakeFactory> delve, ebpf;
  std::vector<kdbg::v1::Event> events;
  absl::Status status;
};

ChoiceRun Start(const std::string& engine, absl::Status ebpf_result,
                const std::string& script = "trace h main.f\n",
                absl::Status delve_result = absl::OkStatus()) {
  ChoiceRun r;
  r.delve = std::make_shared<FakeFactory>(std::move(delve_result));
  r.ebpf = std::make_shared<FakeFactory>(std::move(ebpf_result));
  auto f = NewEngineChoosingFactory(r.delve, r.ebpf);
  agent::TraceSpec spec;
  spec.engine = engine;
  spec.script = script;
  spec.script_name = "t.dlv";
  r.status =
      f->StartTrace(spec, [&r](const kdbg::v1::Event& e) { r.events.push_back(e); }).status();
  return r;
}

TEST(EngineChoiceTest, AutoUsesEbpfWhenItStarts) {
  ChoiceRun r = Start("auto", absl::OkStatus());
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.ebpf->traces, 1);
  EXPECT_EQ(r.delve->traces, 0);
}

TEST(EngineChoiceTest, AutoFallsBackToDelveWithTheReason) {
  ChoiceRun r =
      Start("", absl::UnimplementedError("t.dlv:2: `r.Header[\"Accept\"]` is not a parameter, a "
                                         "field chain (a.b.c, a.b[2].c) or len() of one"));
  EXPECT_EQ(r.ebpf->traces, 1);
  EXPECT_EQ(r.delve->traces, 1);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].armed().engine(), "delve");
  EXPECT_THAT(r.events[0].armed().engine_note(), HasSubstr("t.dlv:2: `r.Header"));
  ChoiceRun node = Start("auto", absl::UnavailableError("this kernel has no uprobe PMU"));
  EXPECT_EQ(node.delve->traces, 1);
}

// A Go version outside the bundled Delve's range refuses Delve only: auto on a script eBPF
// cannot run gives both reasons.
TEST(EngineChoiceTest, AutoWhenNeitherEngineRunsGivesBothReasons) {
  ChoiceRun r = Start("auto", absl::UnimplementedError("t.dlv:1: location main.go:1 ..."),
                      "trace h main.go:1\n",
                      absl::FailedPreconditionError("built with go1.19.8, outside Go 1.24-1.27"));
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status)) << r.status;
  EXPECT_EQ(r.status.message(),
            "built with go1.19.8, outside Go 1.24-1.27 (eBPF engine not used: t.dlv:1: location "
            "main.go:1 ...)");
  EXPECT_EQ(r.ebpf->traces, 1);
  EXPECT_EQ(r.delve->traces, 1);
}

// A field no value of its type can have (plan.h, IsScriptMistake) is refused on either engine
// choice that compiles the script, and never run on Delve (an error at every hit, each a stop).
TEST(EngineChoiceTest, AMistakeOfTheScriptIsRefusedNotRunOnDelve) {
  const absl::Status mistake = ScriptMistake(absl::InvalidArgumentError(
      "t.dlv:2: r.RemoteAdr: r is net/http.Request, which has no field RemoteAdr (did you mean "
      "RemoteAddr?)"));
  for (const char* engine : {"auto", "", "ebpf"}) {
    ChoiceRun r = Start(engine, mistake);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status)) << r.status;
    EXPECT_EQ(r.status.message(),
              "t.dlv:2: r.RemoteAdr: r is net/http.Request, which has no field RemoteAdr (did you "
              "mean RemoteAddr?); fix the script: no engine could evaluate it at any hit");
    EXPECT_EQ(r.ebpf->traces, 1);
    EXPECT_EQ(r.delve->traces, 0) << engine;
    EXPECT_TRUE(r.events.empty());
  }
  // The same words unmarked (a field through an interface) still run on Delve.
  ChoiceRun unmarked = Start("auto", absl::InvalidArgumentError("t.dlv:2: d.X: no type has X"));
  EXPECT_TRUE(unmarked.status.ok()) << unmarked.status;
  EXPECT_EQ(unmarked.delve->traces, 1);
}

TEST(EngineChoiceTest, AutoRefusesWhatDelveWouldRefuseToo) {
  ChoiceRun missing = Start("auto", absl::NotFoundError("t.dlv:1: location \"nope\" not found"));
  EXPECT_TRUE(absl::IsNotFound(missing.status));
  EXPECT_EQ(missing.delve->traces, 0);
  ChoiceRun bad = Start("auto", absl::OkStatus(), "call main.f()\n");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status));
  EXPECT_EQ(bad.ebpf->traces + bad.delve->traces, 0);
}

TEST(EngineChoiceTest, ExplicitEngines) {
  ChoiceRun e = Start("ebpf", absl::UnimplementedError("t.dlv:1: location main.go:1 ..."));
  EXPECT_TRUE(absl::IsUnimplemented(e.status));
  EXPECT_EQ(e.delve->traces, 0);
  ChoiceRun d = Start("delve", absl::OkStatus());
  EXPECT_EQ(d.ebpf->traces, 0);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].armed().engine(), "delve");
  EXPECT_TRUE(d.events[0].armed().engine_note().empty());
  ChoiceRun x = Start("bpftrace", absl::OkStatus());
  EXPECT_TRUE(absl::IsInvalidArgument(x.status));
  EXPECT_THAT(std::string(x.status.message()), HasSubstr("use auto, ebpf or delve"));
}

// A trace of pid `pid` (session "s<pid>", pod "ns/p<pid>") of a binary with Go build ID `build`.
agent::TraceSpec SpecFor(const std::string& engine, pid_t pid, const std::string& build) {
  agent::TraceSpec s;
  s.engine = engine;
  s.script = "trace h main.f\n";
  s.script_name = "t.dlv";
  s.session_id = absl::StrCat("s", pid);
  s.pid = pid;
  s.pod = absl::StrCat("ns/p", pid);
  s.binary.set_build_id(build);
  return s;
}

// Delve's breakpoints and uprobes never meet in processes of one build (build_claims.h): each
// engine is refused while the other holds the build, saying which session and how to go on; auto
// takes Delve then; an ended (destroyed) session or a start that failed frees the build.
TEST(EngineChoiceTest, DelveAndUprobesNeverShareABuild) {
  auto delve = std::make_shared<FakeFactory>(absl::OkStatus());
  auto ebpf = std::make_shared<FakeFactory>(absl::OkStatus());
  delve->attach_result = absl::OkStatus();
  auto f = NewEngineChoosingFactory(delve, ebpf);
  std::vector<kdbg::v1::Event> events;
  auto cb = [&events](const kdbg::v1::Event& e) { events.push_back(e); };
  auto traced = f->StartTrace(SpecFor("ebpf", 11, "B1"), cb);
  ASSERT_TRUE(traced.ok()) << traced.status();

  auto d = f->StartTrace(SpecFor("delve", 12, "B1"), cb);
  EXPECT_TRUE(absl::IsFailedPrecondition(d.status())) << d.status();
  EXPECT_EQ(
      d.status().message(),
      "pod ns/p11 (pid 11) runs the same build as pod ns/p12 (pid 12) (Go build ID B1) and is "
      "traced with the eBPF engine by session s11: the kernel would take Delve's breakpoints in "
      "pid 12 for that session's "
      "uprobes wherever both stop (an inlined call, or any breakpoint you set) and drop "
      "those hits without a word. Stop session s11 first (kdbg stop s11), or trace it with "
      "--engine ebpf too");
  agent::AttachSpec attach;
  attach.session_id = "s13";
  attach.pid = 13;
  attach.pod = "ns/p13";
  attach.binary.set_build_id("B1");
  auto a = f->StartAttach(attach, cb);
  EXPECT_TRUE(absl::IsFailedPrecondition(a.status())) << a.status();
  EXPECT_THAT(std::string(a.status().message()),
              ::testing::EndsWith("Stop session s11 first (kdbg stop s11)"));
  // Another eBPF session on the build, a Delve one on another build: both run.
  EXPECT_TRUE(f->StartTrace(SpecFor("auto", 14, "B1"), cb).ok());
  EXPECT_TRUE(f->StartTrace(SpecFor("delve", 15, "B2"), cb).ok());
  EXPECT_EQ(delve->traces, 1);
  EXPECT_EQ(delve->attaches, 0);

  // The eBPF session gone, the build is Delve's to take; then uprobes are refused there, and auto
  // runs on Delve saying why.
  traced->reset();
  auto held = f->StartTrace(SpecFor("delve", 16, "B1"), cb);
  ASSERT_TRUE(held.ok()) << held.status();
  auto e = f->StartTrace(SpecFor("ebpf", 17, "B1"), cb);
  EXPECT_TRUE(absl::IsFailedPrecondition(e.status())) << e.status();
  EXPECT_EQ(
      e.status().message(),
      "pod ns/p16 (pid 16) runs the same build as pod ns/p17 (pid 17) (Go build ID B1) and is "
      "debugged with Delve by session s16: this session's uprobes would make the kernel take that "
      "session's breakpoints "
      "wherever both stop (an inlined call, or any breakpoint set there) and drop its hits "
      "without a word. Stop session s16 first (kdbg stop s16), or use --engine delve");
  events.clear();
  auto automatic = f->StartTrace(SpecFor("auto", 18, "B1"), cb);
  ASSERT_TRUE(automatic.ok()) << automatic.status();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].armed().engine(), "delve");
  EXPECT_THAT(events[0].armed().engine_note(),
              HasSubstr("eBPF engine not used: pod ns/p16 (pid 16) runs the same build as pod "
                        "ns/p18 (pid 18)"));
  // A build ID-less binary is not tracked.
  EXPECT_TRUE(f->StartTrace(SpecFor("delve", 19, ""), cb).ok());
  EXPECT_TRUE(f->StartTrace(SpecFor("ebpf", 20, ""), cb).ok());
}

// A session's claim goes as its EndedEvent goes out (its safe end is done; the CLI exits on that
// event and its user may debug the build with the other engine at once), while the session object
// may still be alive; one whose end left the target traced keeps it until it is gone.
TEST(EngineChoiceTest, AnEndedSessionFreesTheBuildAsItsEndIsReported) {
  auto delve = std::make_shared<FakeFactory>(absl::OkStatus());
  auto ebpf = std::make_shared<FakeFactory>(absl::OkStatus());
  auto f = NewEngineChoosingFactory(delve, ebpf);
  std::vector<kdbg::v1::Event> events;
  auto cb = [&events](const kdbg::v1::Event& e) { events.push_back(e); };
  auto traced = f->StartTrace(SpecFor("ebpf", 1, "B1"), cb);
  ASSERT_TRUE(traced.ok()) << traced.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(f->StartTrace(SpecFor("delve", 2, "B1"), cb).status()));
  kdbg::v1::Event ended;
  ended.mutable_ended()->set_target_alive(true);
  ebpf->last_cb(ended);
  ASSERT_TRUE(events.back().has_ended()) << "the end is passed on";
  auto d = f->StartTrace(SpecFor("delve", 3, "B1"), cb);
  ASSERT_TRUE(d.ok()) << d.status();

  kdbg::v1::Event stuck;
  stuck.mutable_ended()->set_target_alive(true);
  stuck.mutable_ended()->set_target_traced(true);
  delve->last_cb(stuck);
  EXPECT_TRUE(absl::IsFailedPrecondition(f->StartTrace(SpecFor("ebpf", 4, "B1"), cb).status()));
  d->reset();
  EXPECT_TRUE(f->StartTrace(SpecFor("ebpf", 5, "B1"), cb).ok());
}

TEST(EngineChoiceTest, AStartThatFailedFreesTheBuild) {
  auto delve = std::make_shared<FakeFactory>(absl::UnavailableError("dlv did not start"));
  auto ebpf = std::make_shared<FakeFactory>(absl::OkStatus());
  auto f = NewEngineChoosingFactory(delve, ebpf);
  EXPECT_TRUE(absl::IsUnavailable(f->StartTrace(SpecFor("delve", 1, "B1"), nullptr).status()));
  EXPECT_TRUE(f->StartTrace(SpecFor("ebpf", 2, "B1"), nullptr).ok());
}

}  // namespace
}  // namespace kdbg::ebpf
