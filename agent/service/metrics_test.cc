#include "agent/service/metrics.h"

#include "gtest/gtest.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::agent {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(MetricsTest, RendersPrometheusText) {
  AgentMetrics m;
  m.SessionStarted();
  m.SessionStarted();
  m.SessionEnded("trace", OutcomeName(kdbg::v1::END_REASON_CLIENT_GONE), true);
  m.SessionRefused("trace");
  m.Hit();
  m.Hit();
  m.Hit();
  m.DelveFailure();
  m.ObserveResolve(absl::Milliseconds(3));
  m.ObserveResolve(absl::Milliseconds(30));
  m.ObserveAttach(absl::Milliseconds(120));
  std::string t = m.RenderPrometheus();
  EXPECT_TRUE(Has(t, "# TYPE kdbg_agent_sessions_active gauge")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_sessions_active 1")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_sessions_total{mode=\"trace\",outcome=\"client_gone\"} 1")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_sessions_total{mode=\"trace\",outcome=\"refused\"} 1")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_hits_total 3")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_delve_failures_total 1")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_resolve_seconds_bucket{le=\"0.0025\"} 0")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_resolve_seconds_bucket{le=\"0.005\"} 1")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_resolve_seconds_bucket{le=\"0.05\"} 2")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_resolve_seconds_bucket{le=\"+Inf\"} 2")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_resolve_seconds_count 2")) << t;
  EXPECT_TRUE(Has(t, "kdbg_agent_attach_seconds_bucket{le=\"0.25\"} 1")) << t;
}

TEST(MetricsTest, OutcomeNames) {
  EXPECT_EQ(OutcomeName(kdbg::v1::END_REASON_LEASE_EXPIRED), "lease_expired");
  EXPECT_EQ(OutcomeName(kdbg::v1::END_REASON_AGENT_SHUTDOWN), "agent_shutdown");
}

}  // namespace
}  // namespace kdbg::agent
