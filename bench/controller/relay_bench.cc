// Relays `--streams` (default 1000) concurrent Trace streams through one controller and prints one
// JSON object:
//   {"streams":1000,"events_per_stream":20,"completed":true,"events":20000,
//    "rss_kb_before":..,"rss_kb_peak":..,"threads_before":..,"threads_peak":..,
//    "direct_p50_us":..,"direct_p99_us":..,"relay_p50_us":..,"relay_p99_us":..,
//    "added_p50_us":..,"added_p99_us":..,"relay_wall_s":..}
// Latency: each HitEvent carries the fake agent's send time (time_unix_nanos); the client takes
// receive time minus that. "direct" runs the same streams straight to the fake agent (same mutual
// TLS), "relay" through the controller; added = relay - direct. The CLI side, the controller and
// the agents all share this process and the machine's cores, so the figures are upper bounds.
//
// Each agent stream sends one HitEvent every --interval-ms (default 100: 10,000 events/s in all for
// 1,000 streams); --interval-ms 0 sends them in one burst.
//
//   build-controller/bench/controller/kdbg_controller_relay_bench --streams 1000 --events 20
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "tests/integration/controller/controller_fixture.h"

using kdbg::controller::testing::ControllerFixture;
namespace v1 = kdbg::v1;

namespace {

long StatusField(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key));
  }
  return 0;
}

class Collector {
 public:
  void Add(int64_t us) {
    absl::MutexLock lock(&mu_);
    lat_.push_back(us);
  }
  void Done(bool ok) {
    absl::MutexLock lock(&mu_);
    ++done_;
    if (!ok) ++failed_;
  }
  bool WaitDone(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    target_ = n;
    return mu_.AwaitWithTimeout(absl::Condition(this, &Collector::Reached), timeout);
  }
  std::vector<int64_t> Take() {
    absl::MutexLock lock(&mu_);
    return lat_;
  }
  int failed() {
    absl::MutexLock lock(&mu_);
    return failed_;
  }

 private:
  bool Reached() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ >= target_; }
  absl::Mutex mu_;
  std::vector<int64_t> lat_ ABSL_GUARDED_BY(mu_);
  int done_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_ ABSL_GUARDED_BY(mu_) = 0;
  int target_ ABSL_GUARDED_BY(mu_) = 0;
};

// One stream read with the callback API (no thread per stream).
template <typename Req>
class Reader : public grpc::ClientReadReactor<v1::Event> {
 public:
  explicit Reader(Collector* c) : c_(c) {}
  grpc::ClientContext ctx;
  Req req;
  void Go() {
    StartRead(&e_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (e_.has_hit()) c_->Add((absl::GetCurrentTimeNanos() - e_.time_unix_nanos()) / 1000);
    StartRead(&e_);
  }
  void OnDone(const grpc::Status& s) override {
    if (!s.ok()) std::fprintf(stderr, "stream failed: %s\n", s.error_message().c_str());
    c_->Done(s.ok());
  }

 private:
  Collector* c_;
  v1::Event e_;
};

int64_t Pct(std::vector<int64_t> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::atomic<long> peak_threads{0}, peak_rss{0};
void Sample(std::atomic<bool>* stop) {
  while (!stop->load()) {
    peak_threads = std::max(peak_threads.load(), StatusField("Threads:"));
    peak_rss = std::max(peak_rss.load(), StatusField("VmRSS:"));
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  int streams = 1000, events = 20, interval_ms = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--streams") streams = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--events") events = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--interval-ms") interval_ms = std::atoi(argv[i + 1]);
  }
  kdbg::controller::testing::ControllerFixtureOptions opts;
  opts.policy.max_sessions = streams + 10;
  opts.policy.max_sessions_per_user = streams + 10;
  auto f = ControllerFixture::Start(opts);
  if (!f.ok()) {
    std::fprintf(stderr, "fixture: %s\n", std::string(f.status().message()).c_str());
    return 1;
  }
  kdbg::controller::testing::AgentScript script;
  script.hits = events;
  script.hit_interval_ms = interval_ms;
  (*f)->agent_a().set_script(script);

  // Baseline: straight to the agent.
  Collector direct;
  {
    auto agent = (*f)->DirectAgentStub("node-a");
    std::vector<std::unique_ptr<Reader<v1::TraceRequest>>> readers;
    for (int i = 0; i < streams; ++i) {
      auto r = std::make_unique<Reader<v1::TraceRequest>>(&direct);
      r->req.set_session_id("direct-" + std::to_string(i));
      agent->async()->Trace(&r->ctx, &r->req, r.get());
      r->Go();
      readers.push_back(std::move(r));
    }
    if (!direct.WaitDone(streams, absl::Seconds(300))) {
      std::fprintf(stderr, "direct streams did not finish\n");
      return 1;
    }
  }

  long rss_before = StatusField("VmRSS:");
  long threads_before = StatusField("Threads:");
  std::atomic<bool> stop{false};
  std::thread sampler(Sample, &stop);
  auto stub = (*f)->NewStub();
  Collector relay;
  std::vector<std::unique_ptr<Reader<v1::ControllerTraceRequest>>> readers;
  absl::Time t0 = kdbg::MonotonicNow();
  for (int i = 0; i < streams; ++i) {
    auto r = std::make_unique<Reader<v1::ControllerTraceRequest>>(&relay);
    r->ctx.AddMetadata("authorization", "Bearer t-alice");
    r->req.mutable_target()->set_namespace_("default");
    r->req.mutable_target()->set_pod("web-a");
    r->req.mutable_options()->set_script(
        "trace handleSlash main.go:10\n");  // parsed by the controller
    stub->async()->Trace(&r->ctx, &r->req, r.get());
    r->Go();
    readers.push_back(std::move(r));
  }
  bool all = relay.WaitDone(streams, absl::Seconds(300));
  double wall = absl::ToDoubleSeconds(kdbg::MonotonicNow() - t0);
  stop = true;
  sampler.join();
  auto d = direct.Take();
  auto r = relay.Take();
  std::printf(
      "{\"streams\":%d,\"events_per_stream\":%d,\"interval_ms\":%d,\"completed\":%s,\"failed\":%d,"
      "\"events\":%zu,"
      "\"rss_kb_before\":%ld,\"rss_kb_peak\":%ld,\"threads_before\":%ld,\"threads_peak\":%ld,"
      "\"direct_p50_us\":%ld,\"direct_p99_us\":%ld,\"relay_p50_us\":%ld,\"relay_p99_us\":%ld,"
      "\"added_p50_us\":%ld,\"added_p99_us\":%ld,\"relay_wall_s\":%.2f}\n",
      streams, events, interval_ms, all ? "true" : "false", relay.failed(), r.size(), rss_before,
      peak_rss.load(), threads_before, peak_threads.load(), (long)Pct(d, 0.5), (long)Pct(d, 0.99),
      (long)Pct(r, 0.5), (long)Pct(r, 0.99), (long)(Pct(r, 0.5) - Pct(d, 0.5)),
      (long)(Pct(r, 0.99) - Pct(d, 0.99)), wall);
  return all && relay.failed() == 0 ? 0 : 1;
}
