#include "agent/ebpf/hand_off_pacer.h"

#include "gtest/gtest.h"

namespace kdbg::ebpf {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

// Hand-offs of `hits` every `every` from `*now` for `span`; `*now` ends after the last.
void Feed(HandOffPacer* p, absl::Time* now, size_t hits, absl::Duration every,
          absl::Duration span) {
  for (absl::Time end = *now + span; *now < end; *now += every) p->HandedOn(*now, hits);
}

TEST(HandOffPacerTest, BaseUntilTheRateExceedsAThousandHitsASecond) {
  HandOffPacer p(absl::Milliseconds(10), absl::Milliseconds(50));
  absl::Time now = kStart;
  EXPECT_EQ(p.Interval(now), absl::Milliseconds(10)) << "nothing handed on yet";
  // 10 hits every 10 ms: 1,000 hits/s, not above it.
  Feed(&p, &now, 10, absl::Milliseconds(10), absl::Seconds(1));
  EXPECT_EQ(p.Interval(now), absl::Milliseconds(10));
}

TEST(HandOffPacerTest, GrowsInProportionToTheRate) {
  HandOffPacer p(absl::Milliseconds(10), absl::Milliseconds(50));
  absl::Time now = kStart;
  // 75 hits every 25 ms: 3,000 hits/s.
  Feed(&p, &now, 75, absl::Milliseconds(25), absl::Seconds(1));
  EXPECT_EQ(p.Interval(now - absl::Milliseconds(25)), absl::Milliseconds(30));
}

TEST(HandOffPacerTest, NeverAboveTheMaximum) {
  HandOffPacer p(absl::Milliseconds(10), absl::Milliseconds(50));
  absl::Time now = kStart;
  Feed(&p, &now, 1000, absl::Milliseconds(10), absl::Seconds(1));  // 100,000 hits/s
  EXPECT_EQ(p.Interval(now - absl::Milliseconds(10)), absl::Milliseconds(50));
}

TEST(HandOffPacerTest, BackToBaseOnceTheBurstIsOutOfTheWindow) {
  HandOffPacer p(absl::Milliseconds(10), absl::Milliseconds(50));
  absl::Time now = kStart;
  Feed(&p, &now, 1000, absl::Milliseconds(10), absl::Milliseconds(500));
  const absl::Time last = now - absl::Milliseconds(10);
  EXPECT_EQ(p.Interval(last + HandOffPacer::kRateWindow - absl::Milliseconds(1)),
            absl::Milliseconds(40))
      << "only the last hand-off (1,000 hits) is still within the window: 4,000 hits/s";
  EXPECT_EQ(p.Interval(last + HandOffPacer::kRateWindow), absl::Milliseconds(10));
  // A lone hit after the burst does not bring it back.
  p.HandedOn(last + absl::Seconds(1), 1);
  EXPECT_EQ(p.Interval(last + absl::Seconds(1)), absl::Milliseconds(10));
}

TEST(HandOffPacerTest, AMaximumBelowTheBaseIsTheBase) {
  HandOffPacer p(absl::Milliseconds(200), absl::Milliseconds(50));
  absl::Time now = kStart;
  EXPECT_EQ(p.Interval(now), absl::Milliseconds(200));
  Feed(&p, &now, 1000, absl::Milliseconds(10), absl::Seconds(1));
  EXPECT_EQ(p.Interval(now - absl::Milliseconds(10)), absl::Milliseconds(200));
}

}  // namespace
}  // namespace kdbg::ebpf
