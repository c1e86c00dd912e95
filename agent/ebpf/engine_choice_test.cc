#include "agent/ebpf/engine_choice.h"

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

 private:
  std::string id_ = "fake";
};

// A factory that records what it was asked and answers with `result`; a started session emits an
// ArmedEvent through the callback, as the real engines do.
class FakeFactory : public agent::DebugSessionFactory {
 public:
  explicit FakeFactory(absl::Status result) : result_(std::move(result)) {}
  absl::StatusOr<std::unique_ptr<agent::DebugSession>> StartTrace(
      const agent::TraceSpec&, agent::EventCallback cb) override {
    ++traces;
    if (!result_.ok()) return result_;
    kdbg::v1::Event e;
    e.mutable_armed()->set_host_pid(1);
    if (cb) cb(e);
    return std::unique_ptr<agent::DebugSession>(std::make_unique<FakeSession>());
  }
  absl::StatusOr<std::unique_ptr<agent::DebugSession>> StartAttach(const agent::AttachSpec&,
                                                                   agent::EventCallback) override {
    ++attaches;
    return absl::UnavailableError("fake");
  }
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
  ChoiceRun r = Start("", absl::UnimplementedError("t.dlv:2: stacks (`on .. stack`) run on Delve"));
  EXPECT_EQ(r.ebpf->traces, 1);
  EXPECT_EQ(r.delve->traces, 1);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].armed().engine(), "delve");
  EXPECT_THAT(r.events[0].armed().engine_note(), HasSubstr("t.dlv:2: stacks"));
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

}  // namespace
}  // namespace kdbg::ebpf
