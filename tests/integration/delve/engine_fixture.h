// The engine integration tests' shared fixture: real bundled Delve, a factory on a temporary work
// directory and a clock whose wall time a test may step, an event collector, and the checks that a
// target was released unharmed.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "agent/delve/delve_engine.h"
#include "common/testing/stepping_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/go_target.h"
#include "tests/support/http_probe.h"
#include "tests/support/proc_probe.h"
#include "tests/support/resolved_target.h"
#include "tests/support/session_events.h"
#include "tests/support/test_env.h"

namespace kdbg::delve {

using kdbg::testing::GoTarget;
using ::testing::HasSubstr;

inline bool HaveDelve() { return kdbg::testing::HaveBundledDelve() && ::geteuid() == 0; }

// Every bundled Delve, probed as the agent does (delve_versions.h).
inline std::vector<DelveBinary> BundledDelves() {
  std::vector<DelveBinary> out;
  for (const std::string& p : kdbg::testing::BundledDelvePaths()) {
    auto d = ProbeDelve(p);
    EXPECT_TRUE(d.ok()) << d.status();
    if (d.ok()) out.push_back(*d);
  }
  return out;
}

using Events = kdbg::testing::SessionEvents;

class DelveEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KDBG_REQUIRE_REAL(HaveDelve(), "root and the bundled Delve (scripts/delve)");
    work_dir_ = kdbg::testing::MakeTempDir("kdbg-delve-test");
    DelveOptions o;
    o.delves = BundledDelves();
    o.work_dir = work_dir_;
    o.clock = &clock_;
    factory_ = NewDelveSessionFactory(o);
  }

  void TearDown() override {
    // Delve's output stays for post-mortems when a test failed.
    if (!work_dir_.empty() && !HasFailure()) std::filesystem::remove_all(work_dir_);
  }

  absl::StatusOr<std::unique_ptr<agent::DebugSession>> Trace(pid_t pid, const std::string& script,
                                                             Events* events,
                                                             agent::TraceSpec spec = {}) {
    spec.session_id = spec.session_id.empty() ? "t1" : spec.session_id;
    // As the agent does: the resolver finds, checks and verifies the target; the engine takes it.
    if (absl::Status s = kdbg::testing::ResolveInto(pid, &spec); !s.ok()) return s;
    spec.script = script;
    spec.script_name = "trace.dlv";
    return factory_->StartTrace(spec, events->Callback());
  }

  // The target survived: it answers, is untraced and no dlv is attached to it.
  static void ExpectReleased(GoTarget& target) {
    auto st = kdbg::testing::WaitUntilReleased(target.pid(), 5000);
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_EQ(st->tracer_pid, 0);
    EXPECT_NE(st->state, 't');
    EXPECT_NE(st->state, 'T');
    EXPECT_EQ(st->shd_pnd & 0x10, 0u);
    auto r = kdbg::testing::HttpGet("127.0.0.1", target.port());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(kdbg::testing::DlvProcessesFor(target.pid()).empty());
    EXPECT_TRUE(target.process().Running());
  }

  static void ExpectCleanEnd(const v1::EndedEvent& ended) {
    EXPECT_TRUE(ended.target_alive()) << ended.message();
    EXPECT_FALSE(ended.target_traced()) << ended.message();
    EXPECT_THAT(ended.message(), HasSubstr("detached cleanly"));
  }

  // Ends `session` for `reason` and expects a clean end that released `target`.
  static void EndCleanly(agent::DebugSession& session, GoTarget& target, v1::EndReason reason) {
    session.RequestEnd(reason);
    auto ended = session.Wait(absl::Seconds(30));
    ASSERT_TRUE(ended.ok()) << ended.status();
    ExpectCleanEnd(*ended);
    ExpectReleased(target);
  }

  std::string work_dir_;
  kdbg::testing::SteppingClock clock_;  // real time; a test may step its wall clock
  std::unique_ptr<DelveSessionFactory> factory_;
};

}  // namespace kdbg::delve
