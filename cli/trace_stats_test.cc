// The --stats view: rates over the window, top values, the overhead estimate per engine, and the
// in-place redraw.
#include "cli/trace_stats.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::cli {
namespace {

using ::testing::HasSubstr;

kdbg::v1::HitEvent Hit(const std::string& tp, const std::string& addr) {
  kdbg::v1::HitEvent h;
  h.set_tracepoint(tp);
  h.set_function("main." + tp);
  auto* v = h.add_vars();
  v->set_name("r.RemoteAddr");
  v->set_value(addr);
  return h;
}

TEST(TraceStats, RatesTopValuesAndDelvesOverhead) {
  absl::Time t0 = absl::FromUnixSeconds(1000);
  TraceStats s(t0);
  kdbg::v1::ArmedEvent armed;
  armed.set_engine("delve");
  auto* tp = armed.add_tracepoints();
  tp->set_name("handleSlash");
  tp->set_function("main.handleSlash");
  auto* idle = armed.add_tracepoints();
  idle->set_name("idle");
  idle->set_function("main.idle");
  s.OnArmed(armed);
  // 10 s of 20 hits/s: 2 addresses, one twice as often; the rate is over the last 5 s.
  for (int sec = 0; sec < 10; ++sec) {
    for (int i = 0; i < 20; ++i) {
      s.OnHit(Hit("handleSlash", i % 3 == 0 ? "\"b\"" : "\"a\""),
              t0 + absl::Seconds(sec) + absl::Milliseconds(i * 10));
    }
  }
  std::string text = s.Render(t0 + absl::Seconds(9) + absl::Milliseconds(500));
  EXPECT_THAT(text, HasSubstr("kdbg stats: engine delve, 9s, 200 hits, target stopped ~20.0 ms/s "
                              "(est., ~1ms per hit)\n"));
  EXPECT_THAT(text, HasSubstr("TRACEPOINT    HITS/S   HITS   FUNCTION\n"));
  EXPECT_THAT(text, HasSubstr("handleSlash   20.0     200    main.handleSlash\n"));
  EXPECT_THAT(text, HasSubstr("idle          0.0      0      main.idle\n"));
  EXPECT_THAT(text, HasSubstr("  r.RemoteAddr   \"a\" 130 | \"b\" 70\n"));
}

TEST(TraceStats, EbpfOverheadAndArgumentsWhenNothingIsPrinted) {
  absl::Time t0 = absl::FromUnixSeconds(1000);
  TraceStats s(t0);
  kdbg::v1::ArmedEvent armed;
  armed.set_engine("ebpf");
  s.OnArmed(armed);
  for (int i = 0; i < 5000; ++i) {
    kdbg::v1::HitEvent h;
    h.set_tracepoint("f");
    h.set_function("main.f");
    auto* a = h.add_args();
    a->set_name("n");
    a->set_value(std::to_string(i % 5));
    s.OnHit(h, t0 + absl::Milliseconds(i));
  }
  std::string text = s.Render(t0 + absl::Seconds(5));
  // 1000 hits/s in seconds 1000..1004; at 1005 the 5 s window holds seconds 1001..1005: 800/s.
  EXPECT_THAT(text, HasSubstr("f            800.0    5000   main.f\n")) << text;
  EXPECT_THAT(text, HasSubstr("target CPU ~1.36 ms/s (est., ~1.7us per hit)")) << text;
  EXPECT_THAT(text, HasSubstr("  n   0 1000 | 1 1000 | 2 1000 | (2 more)\n")) << text;
}

TEST(TraceStats, DistinctValuesAreBounded) {
  TraceStats s(absl::FromUnixSeconds(1));
  for (size_t i = 0; i < kMaxDistinctValues + 10; ++i) {
    s.OnHit(Hit("f", std::to_string(i)), absl::FromUnixSeconds(1));
  }
  EXPECT_THAT(s.Render(absl::FromUnixSeconds(2)), HasSubstr("(997+ more)"));
}

TEST(TraceStats, RedrawGoesBackOverThePreviousBlock) {
  EXPECT_EQ(RedrawInPlace("a\nb\n", 0), "a\nb\n");
  EXPECT_EQ(RedrawInPlace("a\nb\n", 3), "\x1b[3A\x1b[Ja\nb\n");
}

}  // namespace
}  // namespace kdbg::cli
