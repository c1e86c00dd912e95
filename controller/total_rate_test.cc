#include "controller/total_rate.h"

#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"

namespace kdbg::controller {
namespace {

int AdmitN(TotalHitRate& r, int n) {
  int passed = 0;
  for (int i = 0; i < n; ++i) passed += r.Admit() ? 1 : 0;
  return passed;
}

TEST(TotalHitRateTest, OneSecondsWorthAtOnceThenTheRate) {
  kdbg::testing::FakeClock clock;
  TotalHitRate r(&clock, 5);
  EXPECT_EQ(AdmitN(r, 8), 5);  // a full bucket: five at once, three over
  EXPECT_EQ(r.over(), 3);
  clock.Advance(absl::Milliseconds(200));  // one token
  EXPECT_EQ(AdmitN(r, 3), 1);
  clock.Advance(absl::Milliseconds(100));  // half a token: none yet
  EXPECT_FALSE(r.Admit());
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(r.Admit());
  // A long pause refills one second's worth, not more.
  clock.Advance(absl::Seconds(10));
  EXPECT_EQ(AdmitN(r, 20), 5);
  EXPECT_EQ(r.over(), 3 + 2 + 1 + 15);
}

// The bucket refills with time served: the wall clock set back an hour does not stop the refill
// (every hit would be dropped for that hour), set on an hour it gives no extra burst.
TEST(TotalHitRateTest, TheWallClockSetBackOrOnChangesNothing) {
  kdbg::testing::FakeClock clock;
  TotalHitRate r(&clock, 5);
  EXPECT_EQ(AdmitN(r, 5), 5);
  clock.StepWall(-absl::Hours(1));
  clock.Advance(absl::Milliseconds(400));
  EXPECT_EQ(AdmitN(r, 3), 2);
  clock.StepWall(absl::Hours(2));
  EXPECT_EQ(AdmitN(r, 3), 0);
}

TEST(TotalHitRateTest, SteadyOverloadPassesTheRateOverTime) {
  kdbg::testing::FakeClock clock;
  TotalHitRate r(&clock, 20);
  int passed = 0;
  // 100 hits/s offered for 10 s: 20 at once, then 20 per second.
  for (int i = 0; i < 1000; ++i) {
    passed += r.Admit() ? 1 : 0;
    clock.Advance(absl::Milliseconds(10));
  }
  EXPECT_GE(passed, 200);
  EXPECT_LE(passed, 20 * (10 + 1));
  EXPECT_EQ(r.over(), 1000 - passed);
}

TEST(TotalHitRateTest, NoticesAtMostOncePerSecondWithTheCountSinceTheLast) {
  kdbg::testing::FakeClock clock;
  TotalHitRate r(&clock, 2);
  EXPECT_FALSE(r.Notice().has_value());  // nothing dropped
  AdmitN(r, 3);                          // one over
  EXPECT_EQ(r.Notice().value_or(""),
            "1 hit not relayed: over the session's total rate of 2 hits/s (--rate-limit-total; "
            "each pod's own --rate-limit still applies)");
  EXPECT_FALSE(r.Notice().has_value());  // reported
  AdmitN(r, 4);                          // four more over, within the second
  EXPECT_FALSE(r.Notice().has_value());
  clock.Advance(absl::Milliseconds(999));
  EXPECT_FALSE(r.Notice().has_value());
  clock.Advance(absl::Milliseconds(1));
  // The second refilled two tokens: two of these four pass, so 4 + 2 since the last notice.
  AdmitN(r, 4);
  std::string n = r.Notice().value_or("");
  EXPECT_EQ(n.substr(0, n.find(':')), "6 hits not relayed");
  AdmitN(r, 5);
  EXPECT_FALSE(r.Notice().has_value());
  // At the end, what is left whatever the time; then nothing.
  n = r.Notice(/*flush=*/true).value_or("");
  EXPECT_EQ(n.substr(0, n.find(':')), "5 hits not relayed");
  EXPECT_FALSE(r.Notice(/*flush=*/true).has_value());
  EXPECT_EQ(r.over(), 1 + 6 + 5);
}

TEST(TotalHitRateTest, ZeroIsNoLimit) {
  kdbg::testing::FakeClock clock;
  TotalHitRate r(&clock, 0);
  EXPECT_FALSE(r.enabled());
  EXPECT_EQ(AdmitN(r, 100000), 100000);
  EXPECT_EQ(r.over(), 0);
  EXPECT_FALSE(r.Notice(true).has_value());
}

}  // namespace
}  // namespace kdbg::controller
