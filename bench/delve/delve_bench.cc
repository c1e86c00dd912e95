// kdbg-delve-bench: what the Delve engine adds to raw Delve.
//   time_to_armed_ms  StartTrace() until it returns armed, vs `dlv attach` + State, FindLocation,
//                     CreateBreakpoint, continue by a minimal client (the baseline)
//   traced_rps        requests/s the target serves with a tracepoint on its handler printing
//                     r.RemoteAddr: kdbg's continue loop vs a minimal raw continue loop
//   untraced_rps      the same target with no debugger
// Usage: kdbg-delve-bench [--dlv PATH] [--target PATH] [--runs N] [--seconds S] [--connections C]
// Prints one JSON object: {"metric": {"value", "unit", "baseline", "ratio"}, ...}.
// Baselines only, against a target already running (bench/run uses this on the sandbox's pod):
//   kdbg-delve-bench --pid PID --port PORT [--runs N] [--seconds S] [--latency-requests M]
//                    [--armed-only 1 | --traced-only 1 | --untraced-only 1]
//                    [--keep-alive 0|1] [--segments K]
// measures, in this order, untraced_rps, raw_time_to_armed_ms, raw_traced_rps and
// raw_hit_latency_p50_ms / _p99_ms (a request on a fresh connection until the minimal client reads
// the breakpoint stop), and prints {"metric": {"value", "unit", "runs"}, ...}. --armed-only: only
// raw_time_to_armed_ms; --traced-only: only raw_traced_rps and the hit latency; --untraced-only:
// only untraced_rps (bench/run interleaves the first two with kdbg's, round by round).
// --keep-alive 0: the traced loads open a connection per request (a new goroutine per request in
// the target); --segments K: each traced run is K loads of --seconds in one Delve session, and
// raw_traced_rps.segments_rps holds each segment's median (how a long session's rate changes).
// Hits are counted as the agent counts them: one per thread stopped at the tracepoint in a stop
// (one stop can carry several); raw_traced_rps.stops counts the stops.
// The raw client arms every location FindLocation returns (as the agent does):
// raw_traced_rps.locations and .pcs say how many.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "agent/delve/delve_engine.h"
#include "agent/delve/delve_home.h"
#include "agent/delve/rpc_client.h"
#include "agent/delve/safe_end.h"
#include "bench/delve/cpu_split.h"
#include "bench/delve/load_gen.h"
#include "common/child_process.h"
#include "common/clock.h"
#include "common/proc_reader.h"
#include "nlohmann/json.hpp"
#include "tests/support/resolved_target.h"
#include "tests/support/test_env.h"

namespace kdbg::bench {
namespace {

using kdbg::testing::FreePort;
using nlohmann::json;

constexpr char kScript[] =
    "trace handleSlash main.go:10\non handleSlash print r.RemoteAddr\ncontinue\n";

struct Flags {
  std::string dlv = kdbg::testing::BundledDelvePath();  // the newest bundled Delve
  std::string target = std::string(KDBG_BENCH_TARGETS_DIR) + "/hello-world";
  int runs = 5;
  int seconds = 3;
  int connections = 2;
  // Raw Delve's --listen: [::1] (its same-user check then reads the small /proc/net/tcp6; IPv4's
  // fails on a host with >10,000 sockets). kdbg's engine serves Delve on a Unix socket.
  bool listen_ipv6 = true;
  pid_t pid = 0;  // > 0: raw baselines only, against this running target
  int port = 0;   // its HTTP port on 127.0.0.1
  int latency_requests = 50;
  bool keep_alive = true;  // --keep-alive 0: traced loads open a connection per request
  // --segments K (with --pid --traced-only): each traced run is K loads of --seconds back to back
  // in one Delve session; raw_traced_rps.segments_rps holds each segment's median req/s.
  int segments = 1;
  bool armed_only = false;     // --armed-only 1: with --pid, raw_time_to_armed_ms only
  bool traced_only = false;    // --traced-only 1: with --pid, raw_traced_rps and latency only
  bool untraced_only = false;  // --untraced-only 1: with --pid, untraced_rps only
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The raw Delve's config home (removed when the program ends).
constexpr char kRawDelveHome[] = "/tmp/kdbg-delve-bench-raw-home";

// The baseline client: the fewest calls that arm the tracepoint, as a hand-written script would.
struct RawDelve {
  std::unique_ptr<ChildProcess> dlv;
  std::unique_ptr<delve::RpcConnection> conn;
  std::string address;
  double attach_ms = 0;   // spawned until State answered (what kdbg's ArmedEvent.attach_ms counts)
  double arm_ms = 0;      // then FindLocation, CreateBreakpoint, continue sent (arm_ms)
  int64_t locations = 0;  // FindLocation's locations, all armed
  int64_t pcs = 0;        // their addresses
};

absl::StatusOr<RawDelve> RawAttachAndArm(const Flags& f, pid_t pid) {
  RawDelve r;
  absl::Time spawned = kdbg::MonotonicNow();
  r.address = absl::StrCat(f.listen_ipv6 ? "[::1]:" : "127.0.0.1:", FreePort());
  SpawnOptions o;
  o.argv = {f.dlv,
            "attach",
            absl::StrCat(pid),
            "--headless",
            "--accept-multiclient",
            "--api-version=2",
            absl::StrCat("--listen=", r.address)};
  o.new_session = true;
  o.sigkill_on_destroy = false;
  // The same Delve configured as the agent configures it (delve_home.h): Go telemetry off, so the
  // baseline does not pay for a crash-monitor process kdbg's Delve does not start.
  if (absl::Status h = delve::PrepareDelveHome(kRawDelveHome, "", ""); !h.ok()) return h;
  o.extra_env = delve::DelveHomeEnv(kRawDelveHome);
  auto child = ChildProcess::Spawn(o);
  if (!child.ok()) return child.status();
  r.dlv = std::move(*child);
  delve::SocketRpcDialer dialer;
  while (true) {
    auto c = dialer.Dial(r.address);
    if (c.ok()) {
      r.conn = std::move(*c);
      break;
    }
    if (!r.dlv->Running()) return absl::UnavailableError("dlv exited");
    (void)r.dlv->Wait(absl::Milliseconds(2));
  }
  auto call = [&](const std::string& req) -> absl::StatusOr<json> {
    if (auto s = r.conn->Send(req); !s.ok()) return s;
    auto m = r.conn->ReadMessage(absl::Seconds(30));
    if (!m.ok()) return m.status();
    return json::parse(m->begin(), m->end());
  };
  auto st = call(R"({"method":"RPCServer.State","params":[{"NonBlocking":true}],"id":1})");
  if (!st.ok()) return st.status();
  absl::Time attached = kdbg::MonotonicNow();
  r.attach_ms = absl::ToDoubleMilliseconds(attached - spawned);
  auto loc = call(
      R"({"method":"RPCServer.FindLocation","params":[{"Scope":{"GoroutineID":-1},"Loc":"main.go:10"}],"id":2})");
  if (!loc.ok()) return loc.status();
  // The same breakpoint settings as kdbg's, so both sides ask Delve for the same work per hit:
  // every address of every location (agent/delve/delve_session.cc arms them all).
  delve::BreakpointRequest req;
  req.name = "handleSlash";
  for (const json& l : (*loc)["result"]["Locations"]) {
    auto pcs = l["pcs"].get<std::vector<uint64_t>>();
    req.addrs.insert(req.addrs.end(), pcs.begin(), pcs.end());
    ++r.locations;
  }
  r.pcs = static_cast<int64_t>(req.addrs.size());
  if (req.addrs.empty()) return absl::NotFoundError("main.go:10: no address");
  req.variables = {"r.RemoteAddr"};
  json brk = delve::BreakpointToJson(req);
  json bp = json::object();
  bp["method"] = "RPCServer.CreateBreakpoint";
  bp["params"] = json::array({json{{"Breakpoint", brk}}});
  bp["id"] = 3;
  auto created = call(bp.dump());
  if (!created.ok()) return created.status();
  if (auto s =
          r.conn->Send(R"({"method":"RPCServer.Command","params":[{"Name":"continue"}],"id":4})");
      !s.ok()) {
    return s;
  }
  r.arm_ms = absl::ToDoubleMilliseconds(kdbg::MonotonicNow() - attached);
  return r;
}

// Ends a raw session safely (not measured): fresh connections, the engine's safe-end sequence.
void RawEnd(RawDelve& r, pid_t pid) {
  r.conn.reset();  // a continue may still be pending on it; Delve keeps running it
  delve::SocketRpcDialer dialer;
  auto a = dialer.Dial(r.address);
  auto b = dialer.Dial(r.address);
  if (a.ok() && b.ok()) {
    delve::DelveClient main(std::move(*a)), side(std::move(*b));
    std::unique_ptr<ProcReader> proc = NewProcReader();
    (void)delve::RunSafeEnd(main, side, pid, *proc, *RealClock::Get(), delve::SafeEndTimeouts{});
  }
  (void)r.dlv->Wait(absl::Seconds(10));
}

// Hits in one stop, counted as the agent counts them (DelveSession::HandleStop): the threads of
// State.Threads stopped at a breakpoint. Delve writes `"currentThread"` (a copy of one of them)
// before `"Threads":[`, and inside a JSON string every '"' is escaped, so `"breakPoint":{` after
// it can only be a thread's key. (The raw side has one breakpoint, so every such thread is ours.)
int64_t HitsInStop(absl::string_view reply) {
  constexpr absl::string_view kThreads = "\"Threads\":[";
  constexpr absl::string_view kAtBreakpoint = "\"breakPoint\":{";
  size_t p = reply.find(kThreads);
  if (p == absl::string_view::npos) return 0;
  // memmem, as the agent's count (string_view::find stops at every '"' of the 6-10 KB).
  const char* end = reply.data() + reply.size();
  int64_t hits = 0;
  for (const char* at = reply.data() + p; at < end; ++hits) {
    const void* found =
        ::memmem(at, static_cast<size_t>(end - at), kAtBreakpoint.data(), kAtBreakpoint.size());
    if (found == nullptr) break;
    at = static_cast<const char*>(found) + kAtBreakpoint.size();
  }
  return hits;
}

// Runs a minimal "stop, continue" loop on an armed raw session until `stop`. It continues first,
// then counts the stop's hits (HitsInStop: a substring count, no parse) while the target runs.
std::thread RawContinueLoop(RawDelve& raw, std::atomic<bool>& stop, std::atomic<int64_t>& hits,
                            std::atomic<int64_t>& stops) {
  return std::thread([&] {
    for (int id = 5; !stop.load(); ++id) {
      auto m = raw.conn->ReadMessage(absl::InfiniteDuration());
      if (!m.ok()) return;
      ++stops;
      if (stop.load()) {
        hits += HitsInStop(*m);
        return;
      }
      bool sent =
          raw.conn
              ->Send(absl::StrCat(
                  R"({"method":"RPCServer.Command","params":[{"Name":"continue"}],"id":)", id, "}"))
              .ok();
      hits += HitsInStop(*m);  // valid until the next ReadMessage
      if (!sent) return;
    }
  });
}

json Metric(double value, const char* unit, double baseline) {
  return {{"value", value},
          {"unit", unit},
          {"baseline", baseline},
          {"ratio", baseline > 0 ? value / baseline : 0}};
}

int Main(const Flags& f) {
  int port = FreePort();
  SpawnOptions o;
  o.argv = {f.target};
  o.extra_env = {absl::StrCat("HELLO_ADDR=127.0.0.1:", port)};
  o.destroy_grace = absl::Seconds(2);
  auto target = ChildProcess::Spawn(o);
  if (!target.ok()) {
    std::fprintf(stderr, "cannot start %s: %s\n", f.target.c_str(),
                 std::string(target.status().message()).c_str());
    return 1;
  }
  pid_t pid = (*target)->pid();
  // Wait until it serves.
  for (int i = 0; i < 500 && RunLoad("127.0.0.1", port, 1, absl::Milliseconds(1)).requests == 0;
       ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::Duration load = absl::Seconds(f.seconds);

  delve::DelveOptions opts;
  opts.dlv_path = f.dlv;
  opts.work_dir = "/tmp/kdbg-delve-bench";
  opts.max_hits_per_second = 1000000;
  auto factory = delve::NewDelveSessionFactory(opts);
  agent::TraceSpec spec;
  // The resolver's facts, as the agent hands them to the engine (not timed: the agent resolves
  // before it starts Delve, and time_to_armed measures the engine).
  if (absl::Status s = kdbg::testing::ResolveInto(pid, &spec); !s.ok()) {
    std::fprintf(stderr, "resolve: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  spec.script = kScript;
  spec.max_hits_per_second = 1000000;

  // --- time to armed ---
  std::vector<double> kdbg_ms, raw_ms;
  for (int i = 0; i < f.runs; ++i) {
    spec.session_id = absl::StrCat("bench", i);
    absl::Time t0 = kdbg::MonotonicNow();
    auto s = factory->StartTrace(spec, [](const v1::Event&) {});
    absl::Time t1 = kdbg::MonotonicNow();
    if (!s.ok()) {
      std::fprintf(stderr, "StartTrace: %s\n", std::string(s.status().message()).c_str());
      return 1;
    }
    kdbg_ms.push_back(absl::ToDoubleMilliseconds(t1 - t0));
    (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
    (void)(*s)->Wait(absl::Seconds(30));

    t0 = kdbg::MonotonicNow();
    auto raw = RawAttachAndArm(f, pid);
    t1 = kdbg::MonotonicNow();
    if (!raw.ok()) {
      std::fprintf(stderr, "raw: %s\n", std::string(raw.status().message()).c_str());
      return 1;
    }
    raw_ms.push_back(absl::ToDoubleMilliseconds(t1 - t0));
    RawEnd(*raw, pid);
  }

  // --- throughput: alternate kdbg / raw / none in short rounds, so that load from other work on
  // the machine hits all three alike; report medians ---
  std::vector<double> kdbg_rps, raw_rps, none_rps;
  std::atomic<int64_t> events{0};
  std::atomic<int64_t> raw_hits{0}, raw_stops{0};
  int64_t load_errors = 0;
  std::string kdbg_end;
  for (int round = 0; round < f.runs; ++round) {
    LoadResult none = RunLoad("127.0.0.1", port, f.connections, load);
    none_rps.push_back(none.rps());

    spec.session_id = absl::StrCat("bench-rps", round);
    auto s = factory->StartTrace(spec, [&](const v1::Event& e) { events += e.has_hit(); });
    if (!s.ok()) return 1;
    LoadResult traced = RunLoad("127.0.0.1", port, f.connections, load);
    kdbg_rps.push_back(traced.rps());
    (*s)->RequestEnd(v1::END_REASON_CLIENT_STOP);
    auto ended = (*s)->Wait(absl::Seconds(30));
    kdbg_end = ended.ok() ? ended->message() : std::string(ended.status().message());

    auto raw = RawAttachAndArm(f, pid);
    if (!raw.ok()) return 1;
    std::atomic<bool> stop{false};
    std::thread loop = RawContinueLoop(*raw, stop, raw_hits, raw_stops);
    LoadResult raw_traced = RunLoad("127.0.0.1", port, f.connections, load);
    raw_rps.push_back(raw_traced.rps());
    stop = true;
    raw->conn->Interrupt();
    loop.join();
    RawEnd(*raw, pid);
    load_errors += none.errors + traced.errors + raw_traced.errors;
  }

  json out = {
      {"time_to_armed_ms", Metric(Median(kdbg_ms), "ms", Median(raw_ms))},
      {"traced_rps", Metric(Median(kdbg_rps), "req/s", Median(raw_rps))},
      {"untraced_rps",
       {{"value", Median(none_rps)}, {"unit", "req/s"}, {"baseline", nullptr}, {"ratio", nullptr}}},
      {"details",
       {{"time_to_armed_kdbg_ms_runs", kdbg_ms},
        {"time_to_armed_raw_ms_runs", raw_ms},
        {"kdbg_hits_emitted", events.load()},
        {"kdbg_end", kdbg_end},
        {"traced_rps_kdbg_runs", kdbg_rps},
        {"traced_rps_raw_runs", raw_rps},
        {"untraced_rps_runs", none_rps},
        {"raw_hits", raw_hits.load()},
        {"raw_stops", raw_stops.load()},
        {"load_errors", load_errors},
        {"connections", f.connections},
        {"seconds", f.seconds}}}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// One GET with Connection: close on a fresh loopback connection; returns the fd (-1 on failure).
int SendOneRequest(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  static const std::string req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int RawOnlyMain(const Flags& f) {
  const pid_t pid = f.pid;
  absl::Duration load = absl::Seconds(f.seconds);
  // Which parts run (at most one of the --*-only flags; none: all, in this order).
  const bool untraced = !f.armed_only && !f.traced_only;
  const bool armed = !f.traced_only && !f.untraced_only;
  const bool traced = !f.armed_only && !f.untraced_only;
  std::vector<double> none_rps, raw_ms, raw_rps, lat, raw_attach_ms, raw_arm_ms;
  int64_t load_errors = 0, locations = 0, pcs = 0;
  std::atomic<int64_t> raw_hits{0}, raw_stops{0};
  json out = json::object();

  for (int i = 0; i < f.runs && untraced; ++i) {
    LoadResult none = RunLoad("127.0.0.1", f.port, f.connections, load);
    none_rps.push_back(none.rps());
    load_errors += none.errors;
  }
  if (untraced) {
    out["untraced_rps"] = {{"value", Median(none_rps)}, {"unit", "req/s"}, {"runs", none_rps}};
  }

  for (int i = 0; i < f.runs && armed; ++i) {
    absl::Time t0 = kdbg::MonotonicNow();
    auto raw = RawAttachAndArm(f, pid);
    absl::Time t1 = kdbg::MonotonicNow();
    if (!raw.ok()) {
      std::fprintf(stderr, "raw: %s\n", std::string(raw.status().message()).c_str());
      return 1;
    }
    raw_ms.push_back(absl::ToDoubleMilliseconds(t1 - t0));
    raw_attach_ms.push_back(raw->attach_ms);
    raw_arm_ms.push_back(raw->arm_ms);
    RawEnd(*raw, pid);
  }
  if (armed) {
    out["raw_time_to_armed_ms"] = {
        {"value", Median(raw_ms)},
        {"unit", "ms"},
        {"runs", raw_ms},
        {"breakdown",
         {{"5_delve_attach", Median(raw_attach_ms)}, {"6_arm_and_continue", Median(raw_arm_ms)}}},
        {"breakdown_runs",
         {{"5_delve_attach", raw_attach_ms}, {"6_arm_and_continue", raw_arm_ms}}}};
  }
  if (!traced) {
    if (untraced) out["load_errors"] = load_errors;
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }

  // The same split as kdbg-e2e-bench's: "bench" is the load generator and the raw continue loop.
  CpuTotals cpu;
  SegmentedLoad segmented(f.segments);
  for (int i = 0; i < f.runs; ++i) {
    auto raw = RawAttachAndArm(f, pid);
    if (!raw.ok()) {
      std::fprintf(stderr, "raw: %s\n", std::string(raw.status().message()).c_str());
      return 1;
    }
    locations = raw->locations;
    pcs = raw->pcs;
    std::atomic<bool> stop{false};
    std::thread loop = RawContinueLoop(*raw, stop, raw_hits, raw_stops);
    const std::map<std::string, pid_t> trees = {{"target", pid}, {"dlv", raw->dlv->pid()}};
    CpuSample before = SampleCpu(trees);
    LoadResult r = segmented.Run("127.0.0.1", f.port, f.connections, load, f.keep_alive);
    cpu.Add(before, SampleCpu(trees), static_cast<double>(r.requests), r.seconds);
    raw_rps.push_back(r.rps());
    load_errors += r.errors;
    stop = true;
    raw->conn->Interrupt();
    loop.join();
    RawEnd(*raw, pid);
  }

  if (f.latency_requests > 0) {
    // Request to hit: the minimal client reads the stop that `continue` returns at the breakpoint,
    // then continues; the HTTP response is read after, outside the measured interval.
    auto raw = RawAttachAndArm(f, pid);
    if (!raw.ok()) return 1;
    for (int i = 0; i < f.latency_requests; ++i) {
      absl::Time t0 = kdbg::MonotonicNow();
      int fd = SendOneRequest(f.port);
      if (fd < 0) break;
      auto m = raw->conn->ReadMessage(absl::Seconds(10));
      absl::Time t1 = kdbg::MonotonicNow();
      if (!m.ok()) {
        ::close(fd);
        break;
      }
      lat.push_back(absl::ToDoubleMilliseconds(t1 - t0));
      (void)raw->conn->Send(absl::StrCat(
          R"({"method":"RPCServer.Command","params":[{"Name":"continue"}],"id":)", 100 + i, "}"));
      char tmp[4096];
      while (::recv(fd, tmp, sizeof(tmp), 0) > 0) {
      }
      ::close(fd);
    }
    raw->conn->Interrupt();
    RawEnd(*raw, pid);
  }
  if (static_cast<int>(lat.size()) != f.latency_requests) {
    std::fprintf(stderr, "raw latency: only %zu of %d requests hit\n", lat.size(),
                 f.latency_requests);
    return 1;
  }

  out["raw_traced_rps"] = {{"value", Median(raw_rps)},
                           {"unit", "req/s"},
                           {"runs", raw_rps},
                           {"hits", raw_hits.load()},
                           {"stops", raw_stops.load()},
                           {"keep_alive", f.keep_alive},
                           {"locations", locations},
                           {"pcs", pcs},
                           {"cpu_us_per_request", cpu.MicrosPerRequest()}};
  if (segmented.segments() > 1) out["raw_traced_rps"]["segments_rps"] = segmented.Medians();
  out["raw_hit_latency_p50_ms"] = {{"value", Percentile(lat, 50)}, {"unit", "ms"}};
  out["raw_hit_latency_p99_ms"] = {{"value", Percentile(lat, 99)}, {"unit", "ms"}};
  out["raw_hit_latency_runs_ms"] = lat;
  out["load_errors"] = load_errors;
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace
}  // namespace kdbg::bench

// No exception leaves the benchmark (nlohmann::json and the standard library may throw): it
// prints what failed and exits 1.
int Main(int argc, char** argv);

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
}

int Main(int argc, char** argv) {
  kdbg::bench::Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--dlv")
      f.dlv = v;
    else if (k == "--target")
      f.target = v;
    else if (k == "--runs")
      f.runs = std::atoi(v.c_str());
    else if (k == "--seconds")
      f.seconds = std::atoi(v.c_str());
    else if (k == "--connections")
      f.connections = std::atoi(v.c_str());
    else if (k == "--listen")
      f.listen_ipv6 = v != "127.0.0.1";
    else if (k == "--pid")
      f.pid = std::atoi(v.c_str());
    else if (k == "--port")
      f.port = std::atoi(v.c_str());
    else if (k == "--latency-requests")
      f.latency_requests = std::atoi(v.c_str());
    else if (k == "--keep-alive")
      f.keep_alive = v != "0";
    else if (k == "--segments")
      f.segments = std::max(1, std::atoi(v.c_str()));
    else if (k == "--armed-only")
      f.armed_only = v == "1" || v == "true";
    else if (k == "--traced-only")
      f.traced_only = v == "1" || v == "true";
    else if (k == "--untraced-only")
      f.untraced_only = v == "1" || v == "true";
  }
  if ((f.armed_only ? 1 : 0) + (f.traced_only ? 1 : 0) + (f.untraced_only ? 1 : 0) > 1) {
    std::fprintf(stderr, "at most one of --armed-only, --traced-only, --untraced-only\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  int rc = f.pid > 0 ? (f.port > 0 ? kdbg::bench::RawOnlyMain(f) : 2) : kdbg::bench::Main(f);
  kdbg::delve::RemoveDelveHome(kdbg::bench::kRawDelveHome);  // the raw Delve's config home
  return rc;
}
