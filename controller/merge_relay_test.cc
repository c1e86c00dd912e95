#include "controller/merge_relay.h"

#include "controller/relay.h"

#include "gtest/gtest.h"

namespace kdbg::controller {
namespace {

TEST(MergeRelayTest, ClassifiesPartFailuresByTheAgentsOwnWords) {
  using absl::StatusCode;
  EXPECT_EQ(ClassifyPartFailure(StatusCode::kPermissionDenied, "RBAC: ..."), "denied");
  EXPECT_EQ(
      ClassifyPartFailure(StatusCode::kFailedPrecondition,
                          "/app (PID 4242) is not a Go program: kdbg debugs Go programs only"),
      "not-go");
  EXPECT_EQ(ClassifyPartFailure(StatusCode::kFailedPrecondition,
                                "no DWARF (stripped, -ldflags='-s -w'); ...: pass the unstripped "
                                "binary of the same build with --debug-binary FILE"),
            "stripped");
  EXPECT_EQ(ClassifyPartFailure(StatusCode::kFailedPrecondition,
                                "the program was built with go1.19.8, outside the bundled Delve's "
                                "supported range Go 1.24-1.27"),
            "unsupported-go");
  EXPECT_EQ(ClassifyPartFailure(StatusCode::kUnavailable, "no kdbg agent is ready on node node-c"),
            "no-agent");
  EXPECT_EQ(ClassifyPartFailure(StatusCode::kUnavailable,
                                LostAgentStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                             "recvmsg:Connection timed out"),
                                                "kdbg-agent-x (10.0.0.2:7443, node node-c)")
                                    .error_message()),
            "no-agent");
  EXPECT_EQ(ClassifyPartFailure(StatusCode::kNotFound, "pod default/x not found"), "not-found");
  EXPECT_EQ(ClassifyPartFailure(StatusCode::kInternal, "boom"), "error");
}

PartOutcome Ended(const std::string& pod, v1::EndReason reason, int64_t hits) {
  PartOutcome p;
  p.pod = pod;
  p.node = "node-a";
  p.hits = hits;
  p.ended_seen = true;
  p.ended.set_reason(reason);
  p.ended.set_target_alive(true);
  return p;
}

TEST(MergeRelayTest, SummaryReasonAndCounts) {
  MergeOutcome o;
  o.hits = 5;
  o.parts = {Ended("a", v1::END_REASON_DURATION, 2), Ended("b", v1::END_REASON_DURATION, 3)};
  v1::EndedEvent s = BuildSummary(o);
  EXPECT_EQ(s.reason(), v1::END_REASON_DURATION);
  EXPECT_EQ(s.hits(), 5);
  EXPECT_TRUE(s.target_alive());
  EXPECT_EQ(s.message(), "2 pods: 2 ended; every target running, detached");

  // Mixed: the part that ended last says how the session ended.
  o.parts[0].ended.set_reason(v1::END_REASON_TARGET_EXITED);
  o.parts[0].ended.set_target_alive(false);
  o.last_reason = v1::END_REASON_DURATION;
  s = BuildSummary(o);
  EXPECT_EQ(s.reason(), v1::END_REASON_DURATION);
  EXPECT_FALSE(s.target_alive());

  // The total limit wins; a traced target is reported.
  o.hit_limit_reached = true;
  o.parts[1].ended.set_target_traced(true);
  s = BuildSummary(o);
  EXPECT_EQ(s.reason(), v1::END_REASON_MAX_HITS);
  EXPECT_TRUE(s.target_traced());
  EXPECT_EQ(s.message(), "2 pods: 2 ended; a target is still traced");

  // No part armed: an error.
  MergeOutcome none;
  PartOutcome f;
  f.pod = "c";
  f.failed = true;
  f.failure = "not-go";
  none.parts = {f};
  s = BuildSummary(none);
  EXPECT_EQ(s.reason(), v1::END_REASON_ERROR);
  EXPECT_EQ(s.pods(0).outcome(), "failed");
  EXPECT_EQ(s.pods(0).failure(), "not-go");
  EXPECT_EQ(s.message(), "1 pod: 1 failed");
}

TEST(MergeRelayTest, SummaryCountsTheHitsOverTheTotalRate) {
  MergeOutcome o;
  o.hits = 10;
  o.max_hits_per_second_total = 5;
  o.hits_over_total_rate = 7;
  o.parts = {Ended("a", v1::END_REASON_DURATION, 6), Ended("b", v1::END_REASON_DURATION, 4)};
  o.parts[0].hits_over_total_rate = 7;
  v1::EndedEvent s = BuildSummary(o);
  EXPECT_EQ(s.hits(), 10);
  EXPECT_EQ(s.hits_over_total_rate(), 7);
  EXPECT_EQ(s.pods(0).hits_over_total_rate(), 7);
  EXPECT_EQ(s.pods(1).hits_over_total_rate(), 0);
  EXPECT_EQ(s.message(),
            "2 pods: 2 ended; every target running, detached; 7 hits not relayed: over the total "
            "rate of 5 hits/s (--rate-limit-total)");
  o.hits_over_total_rate = 0;  // none over: nothing said
  EXPECT_EQ(BuildSummary(o).message(), "2 pods: 2 ended; every target running, detached");
}

TEST(MergeRelayTest, APartItsAgentCouldNotStopSaysWhyAndHow) {
  EXPECT_EQ(StopCancelledMessage(v1::END_REASON_STOP_REQUESTED, "kdbg-agent-x", "deadline"),
            "stopped on request (kdbg stop); agent kdbg-agent-x could not stop the part "
            "(deadline), so its call was cancelled: the agent ends it as for a lost client "
            "(detaches, target left running; not confirmed by it)");
  EXPECT_EQ(StopCancelledMessage(v1::END_REASON_MAX_HITS, "a", "b")
                .rfind("the session's --max-hits was reached; agent a", 0),
            0u);
}

}  // namespace
}  // namespace kdbg::controller
