// kdbg-e2e-bench: the real `kdbg trace` CLI, through controller and agent, against a running
// target.
//   time_to_armed_ms    CLI spawned until it prints its `armed` line (median of --runs sessions),
//                       with "breakdown": the median of each stage (ms): 1_cli_kubeconfig_get_pod
//                       (spawn until the CLI's own "pod ... on node" line), 2_controller_authn_
//                       authz_pod (until the controller's progress line), 3_agent_call_admitted
//                       (until the "agent ..., session" line), 4_agent_resolve_engine_choice
//                       (until Delve is started: armed.time - attach_ms - arm_ms), 5_delve_attach
//                       (attach_ms: Delve spawned until its first RPC answer), 6_arm_and_continue
//                       (arm_ms), 7_armed_event_to_cli (armed.time until the CLI printed it)
//   traced_rps          requests/s the target serves while a session traces its handler (median
//                       of --runs sessions of --seconds each, --connections keep-alive clients;
//                       --keep-alive 0: a connection per request; --segments K: each session
//                       K loads of --seconds back to back, each one's median in segments_rps)
//   hit_latency_p50_ms  one request sent on a fresh connection until the CLI prints the `hit`
//   hit_latency_p99_ms  whose vars["r.RemoteAddr"] is that connection's local address
//                       (--latency-requests sequential requests, one session)
// Every session is ended with SIGINT (Ctrl-C) and must print `ended` with target_alive before the
// next one starts; otherwise the program fails.
// Usage: kdbg-e2e-bench --kdbg PATH --script FILE --port P [--pod pod/hello-world] [--runs N]
//          [--seconds S] [--connections C] [--keep-alive 0|1] [--segments K]
//          [--latency-requests M]
//          [--engine auto|ebpf|delve]
//          [--rate-limit N] [--interleave-untraced 1] [--armed-only 1 | --traced-only 1]
// --armed-only: time_to_armed_ms only; --traced-only: traced_rps and the hit latency only
// (bench/run interleaves both with the raw-Delve baseline's, round by round).
// With --engine, every `armed` must name that engine; traced_rps also reports the hits the
// sessions carried per second (events_per_s) and the hits they reported dropped.
// The CLI reads KUBECONFIG, KDBG_CONTROLLER, KDBG_CONTROLLER_CA from our environment.
// Prints one JSON object: {"time_to_armed_ms": {"value", "unit", "runs"}, ...}.
//
// Sessions over several pods (--fanout-pods 1,3,10 --fanout-target deploy/bench --pod-ports
// NAME=PORT,...; --pod is the single-pod baseline, one of those pods; --controller-pid):
//   fanout_time_to_armed_ms.<n>  `kdbg trace TARGET --max-pods n` spawned until it printed n
//                       `armed` lines (median of --runs); baseline: time_to_armed of --pod, the
//                       single-pod path, in the same rounds (each round: the single pod, then
//                       each n)
//   fanout_events_per_s  hits/s the CLI printed from a session over the largest n <= 3 pods, each
//                       loaded by --connections clients for --seconds; baseline: the same from
//                       --pod alone under the same load per pod
//   fanout_controller_kib_per_part  the controller's VmRSS with the largest n's parts armed minus
//                       just before that session, per part; baseline: the same for --pod alone
// One session of each kind runs first, uncounted (warm-up). Every session must end with every
// part ended and no target traced.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/delve/cpu_split.h"
#include "bench/delve/load_gen.h"
#include "common/child_process.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"

namespace kdbg::bench {
namespace {

using nlohmann::json;

struct Flags {
  std::string kdbg;
  std::string script;
  std::string pod = "pod/hello-world";
  int port = 0;
  int runs = 5;
  int seconds = 3;
  int connections = 2;
  // --keep-alive 0: traced_rps's load opens a connection per request (bench/delve/load_gen.h)
  // instead of keeping its connections alive (the worst case for a per-request tracer).
  bool keep_alive = true;
  // --segments K: each traced session is K loads of --seconds back to back;
  // traced_rps.segments_rps holds each segment's median req/s (how a long session's rate changes).
  int segments = 1;
  int latency_requests = 50;
  std::string engine;        // --engine for the CLI (empty: the CLI's default)
  int rate_limit = 1000;     // --rate-limit for the CLI (a run it cuts short is run again)
  bool armed_only = false;   // --armed-only 1: time_to_armed_ms only (bench/run interleaves it)
  bool traced_only = false;  // --traced-only 1: traced_rps and hit latency only (the same)
  // --interleave-untraced 1: before each traced run, the same load with no session (the
  // untraced_rps baseline, measured under the same machine load as the traced runs).
  bool interleave_untraced = false;
  // Process trees whose CPU the traced runs account for (0: not accounted): --target-pid,
  // --agent-pid, --controller-pid; the CLI and this process (the load generator) always.
  pid_t target_pid = 0, agent_pid = 0, controller_pid = 0;
  // Sessions over several pods (see the header).
  std::vector<int> fanout_pods;
  std::string fanout_target;
  std::map<std::string, int> pod_ports;  // pod name -> its port
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Nearest-rank percentile.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// One `kdbg trace -o json` process and a thread reading its JSON Lines.
class Session {
 public:
  // Spawns the CLI; `started` is the time just before the spawn.
  // `target` and `extra` (CLI flags) replace f.pod when given.
  static std::unique_ptr<Session> Start(const Flags& f, const std::string& target = "",
                                        const std::vector<std::string>& extra = {}) {
    auto s = std::unique_ptr<Session>(new Session);
    SpawnOptions o;
    // --rate-limit (bench/run: 100000, with its agents' --delve-max-hits-per-second as high;
    // default 1000, the production agent's ceiling) keeps the tracepoint armed for every request,
    // as raw Delve's loop does, unless a burst passes it (RateLimited: that run is run again).
    o.argv = {f.kdbg, "trace",        target.empty() ? f.pod : target, "--init", f.script, "-o",
              "json", "--rate-limit", absl::StrCat(f.rate_limit)};
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    if (!f.engine.empty()) {
      o.argv.push_back("--engine");
      o.argv.push_back(f.engine);
    }
    o.capture_stdout = true;
    // stderr through the same pipe: its progress lines time the stages of time_to_armed (the
    // non-JSON lines are copied to /tmp/kdbg-e2e-bench.stderr).
    o.stderr_to_stdout = true;
    s->stderr_copy_ = std::fopen("/tmp/kdbg-e2e-bench.stderr", "w");
    o.destroy_grace = absl::Seconds(15);
    s->started_ = kdbg::MonotonicNow();
    s->wall_minus_monotonic_ = absl::Now() - s->started_;
    auto child = ChildProcess::Spawn(o);
    if (!child.ok()) {
      std::fprintf(stderr, "cannot run %s: %s\n", f.kdbg.c_str(),
                   std::string(child.status().message()).c_str());
      return nullptr;
    }
    s->child_ = std::move(*child);
    s->reader_ = std::thread([p = s.get()] { p->ReadLoop(); });
    return s;
  }

  ~Session() {
    if (child_ && child_->Running()) (void)child_->Signal(SIGINT);
    if (reader_.joinable()) reader_.join();
    if (stderr_copy_ != nullptr) std::fclose(stderr_copy_);
  }

  // Where time_to_armed went, in ms, from the lines the CLI printed and the `armed` event (see
  // the header); empty if a mark is missing.
  std::map<std::string, double> Breakdown() {
    std::lock_guard<std::mutex> l(mu_);
    std::map<std::string, double> b;
    if (!armed_ || !cli_pod_at_ || !controller_at_ || !agent_at_ || !armed_agent_time_) return b;
    auto ms = [](absl::Duration d) { return absl::ToDoubleMilliseconds(d); };
    absl::Time engine_start =
        *armed_agent_time_ - absl::Milliseconds(armed_attach_ms_ + armed_arm_ms_);
    b["1_cli_kubeconfig_get_pod"] = ms(*cli_pod_at_ - started_);
    b["2_controller_authn_authz_pod"] = ms(*controller_at_ - *cli_pod_at_);
    b["3_agent_call_admitted"] = ms(*agent_at_ - *controller_at_);
    b["4_agent_resolve_engine_choice"] = ms(engine_start - *agent_at_);
    b["5_delve_attach"] = static_cast<double>(armed_attach_ms_);
    b["6_arm_and_continue"] = static_cast<double>(armed_arm_ms_);
    b["7_armed_event_to_cli"] = ms(armed_at_ - *armed_agent_time_);
    return b;
  }

  std::string engine() {
    std::lock_guard<std::mutex> l(mu_);
    return engine_;
  }

  // Waits for `armed`; returns ms from spawn to it, or -1 (the CLI ended first or timed out).
  double WaitArmed(absl::Duration timeout) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, absl::ToChronoMilliseconds(timeout), [&] { return armed_ || eof_; });
    if (!armed_) return -1;
    return absl::ToDoubleMilliseconds(armed_at_ - started_);
  }

  // Waits for `n` `armed` lines (a session over n pods); returns ms from spawn to the last, or -1.
  double WaitArmedCount(size_t n, absl::Duration timeout) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, absl::ToChronoMilliseconds(timeout),
                 [&] { return armed_pods_.size() >= n || eof_; });
    if (armed_pods_.size() < n) return -1;
    return absl::ToDoubleMilliseconds(armed_at_ - started_);
  }
  std::vector<std::string> armed_pods() {
    std::lock_guard<std::mutex> l(mu_);
    return armed_pods_;
  }

  // Waits for the hit from `remote_addr`; returns when it was read, or nullopt on timeout.
  std::optional<absl::Time> WaitHit(const std::string& remote_addr, absl::Duration timeout) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, absl::ToChronoMilliseconds(timeout),
                 [&] { return hits_by_addr_.count(remote_addr) > 0 || eof_; });
    auto it = hits_by_addr_.find(remote_addr);
    if (it == hits_by_addr_.end()) return std::nullopt;
    return it->second;
  }

  // Ctrl-C, then waits for `ended` and the exit. Returns the `ended` event (empty on failure).
  json End() {
    (void)child_->Signal(SIGINT);
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::seconds(30), [&] { return eof_; });
    }
    (void)child_->Wait(absl::Seconds(10));
    if (reader_.joinable()) reader_.join();
    std::lock_guard<std::mutex> l(mu_);
    return ended_;
  }

  int64_t hits() {
    std::lock_guard<std::mutex> l(mu_);
    return hits_;
  }

  pid_t cli_pid() const { return child_->pid(); }

 private:
  Session() = default;

  void ReadLoop() {
    std::string buf;
    char tmp[65536];
    while (true) {
      ssize_t n = ::read(child_->stdout_fd(), tmp, sizeof(tmp));
      if (n <= 0) break;
      absl::Time now = kdbg::MonotonicNow();
      buf.append(tmp, static_cast<size_t>(n));
      // The lines of this read are taken in place and their bytes dropped once at the end: erasing
      // each line from the front moved the rest of a 64 KiB read once per line (~300 lines).
      size_t start = 0;
      size_t nl;
      int64_t plain_hits = 0;
      while ((nl = buf.find('\n', start)) != std::string::npos) {
        absl::string_view line(buf.data() + start, nl - start);
        start = nl + 1;
        // Counting a hit needs no parse (a value's quotes are escaped inside its JSON string): the
        // load generator shares the machine with the target, so the reader stays cheap.
        if (!track_addrs_ && absl::StrContains(line, "\"type\":\"hit\"")) {
          ++plain_hits;
          continue;
        }
        json e = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
        if (!e.is_object()) {
          NoteStderr(std::string(line), now);
          continue;
        }
        std::string type = e.value("type", "");
        std::lock_guard<std::mutex> l(mu_);
        hits_ += plain_hits;  // the hits before this line count before it
        plain_hits = 0;
        if (type == "armed") {
          armed_ = true;
          armed_at_ = now;
          armed_pods_.push_back(e.value("pod", ""));
          engine_ = e.value("engine", "");
          armed_attach_ms_ = e.value("attach_ms", int64_t{0});
          armed_arm_ms_ = e.value("arm_ms", int64_t{0});
          absl::Time t;
          std::string err;
          if (absl::ParseTime(absl::RFC3339_full, e.value("time", ""), &t, &err)) {
            armed_agent_time_ = t - wall_minus_monotonic_;  // the agent's wall clock
          }
        } else if (type == "hit") {
          ++hits_;
          if (track_addrs_) {
            auto vars = e.value("vars", json::object());
            if (vars.is_object() && vars.contains("r.RemoteAddr") &&
                vars["r.RemoteAddr"].is_string()) {
              // Printed as a Go string literal: "\"127.0.0.1:53422\"".
              std::string a = vars["r.RemoteAddr"].get<std::string>();
              if (a.size() >= 2 && a.front() == '"' && a.back() == '"')
                a = a.substr(1, a.size() - 2);
              hits_by_addr_.emplace(a, now);
            }
          }
        } else if (type == "ended" && !e.contains("pod")) {  // a part's own: not the end
          ended_ = e;
        }
        cv_.notify_all();
      }
      buf.erase(0, start);
      if (plain_hits > 0) {
        std::lock_guard<std::mutex> l(mu_);
        hits_ += plain_hits;
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    eof_ = true;
    cv_.notify_all();
  }

  // The CLI's stderr lines that mark the stages (cli/commands.cc, controller/service.cc):
  //   kdbg: pod default/hello-world container hello-world on node node-a     (CLI read the pod)
  //   kdbg: pod default/hello-world on node node-a, container hello-world    (controller: authn,
  //                                                                           authz, pod read)
  //   kdbg: agent kdbg-agent-node-a at 127.0.0.2:17443, session 5374bc6e...  (agent admitted it)
  void NoteStderr(const std::string& line, absl::Time now) {
    if (stderr_copy_ != nullptr) std::fprintf(stderr_copy_, "%s\n", line.c_str());
    std::lock_guard<std::mutex> l(mu_);
    if (line.rfind("kdbg: pod ", 0) == 0 && line.find(" on node ") != std::string::npos) {
      if (line.find(", container ") != std::string::npos) {
        if (!controller_at_) controller_at_ = now;
      } else if (!cli_pod_at_) {
        cli_pod_at_ = now;
      }
    } else if (line.rfind("kdbg: agent ", 0) == 0 && !agent_at_) {
      agent_at_ = now;
    } else if (line.rfind("kdbg: rate-limited: ", 0) == 0 ||
               line.rfind("kdbg: total-rate-limited: ", 0) == 0) {
      rate_limited_ = line;
    }
  }

 public:
  // The CLI's rate-limit notice, if any (cli/output.cc NoticeText): a tracepoint cleared for its
  // rate, so the rest of the run measured an untraced target (one traced run read 51,454 req/s
  // this way, at ~900 hits/s against the limit of 1,000, before runs were checked for it).
  std::string RateLimited() {
    std::lock_guard<std::mutex> l(mu_);
    return rate_limited_;
  }

  bool track_addrs_ = false;

 private:
  std::unique_ptr<ChildProcess> child_;
  std::thread reader_;
  absl::Time started_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  std::vector<std::string> armed_pods_;
  std::string engine_;
  bool eof_ = false;
  absl::Time armed_at_;
  std::string rate_limited_;
  int64_t hits_ = 0;
  std::map<std::string, absl::Time> hits_by_addr_;
  json ended_;
  std::FILE* stderr_copy_ = nullptr;
  // Marks on MonotonicNow()'s timeline; the armed event's wall time is brought onto it.
  std::optional<absl::Time> cli_pod_at_, controller_at_, agent_at_, armed_agent_time_;
  absl::Duration wall_minus_monotonic_;
  int64_t armed_attach_ms_ = 0, armed_arm_ms_ = 0;
};

bool EndedCleanly(const json& ended) {
  return ended.is_object() && ended.value("target_alive", false) &&
         !ended.value("target_traced", true);
}

// One GET on a fresh connection: returns its local "127.0.0.1:port" (fd stays open in *fd).
std::string ConnectAndSend(int port, int* fd) {
  *fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(*fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) return "";
  int one = 1;
  ::setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{10, 0};
  ::setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  ::getsockname(*fd, reinterpret_cast<sockaddr*>(&local), &len);
  return absl::StrCat("127.0.0.1:", ntohs(local.sin_port));
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "kdbg-e2e-bench: %s (CLI stderr: /tmp/kdbg-e2e-bench.stderr)\n",
               what.c_str());
  return 1;
}

// The controller's resident memory (VmRSS, KiB), 0 if unreadable.
int64_t RssKib(pid_t pid) {
  std::FILE* in = std::fopen(absl::StrCat("/proc/", pid, "/status").c_str(), "r");
  if (in == nullptr) return 0;
  char line[256];
  int64_t kib = 0;
  while (std::fgets(line, sizeof(line), in) != nullptr) {
    if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  }
  std::fclose(in);
  return kib;
}

// A session over several pods ended with every part ended and no target traced.
bool EveryPartEndedCleanly(const json& ended, size_t pods) {
  if (!ended.is_object() || ended.value("target_traced", true)) return false;
  const json& parts = ended.contains("pods") ? ended["pods"] : json::array();
  if (!parts.is_array() || parts.size() != pods) return false;
  for (const json& p : parts) {
    if (p.value("outcome", "") != "ended" || p.value("target_traced", true)) return false;
  }
  return true;
}

// Loads each pod's port with `connections` clients for `seconds`, in parallel.
void LoadPods(const Flags& f, const std::vector<std::string>& pods) {
  std::vector<std::thread> t;
  for (const std::string& pod : pods) {
    int port = f.pod_ports.count(pod) ? f.pod_ports.at(pod) : 0;
    if (port == 0) continue;
    t.emplace_back(
        [&f, port] { RunLoad("127.0.0.1", port, f.connections, absl::Seconds(f.seconds)); });
  }
  for (std::thread& th : t) th.join();
}

int FanoutMain(const Flags& f) {
  json out = json::object();
  const std::string single = f.pod.substr(f.pod.find('/') + 1);
  std::vector<double> base_ms, base_kib;
  std::map<int, std::vector<double>> ms_by_n, kib_by_n;
  // Warm-up, not counted: one session of each kind first (the controller's channels to both
  // agents, its allocator's arenas, the page cache of every target's binary).
  for (const auto& [target, n] : std::vector<std::pair<std::string, int>>{
           {"", 1}, {f.fanout_target, f.fanout_pods.empty() ? 1 : f.fanout_pods.back()}}) {
    auto s = target.empty() ? Session::Start(f)
                            : Session::Start(f, target, {"--max-pods", absl::StrCat(n)});
    if (!s || s->WaitArmedCount(static_cast<size_t>(n), absl::Seconds(120)) < 0) {
      return Fail("warm-up session not armed");
    }
    s->End();
  }
  for (int run = 0; run < f.runs; ++run) {
    {
      int64_t before = RssKib(f.controller_pid);
      auto s = Session::Start(f);
      if (!s) return 1;
      double ms = s->WaitArmed(absl::Seconds(30));
      if (ms < 0) return Fail("the single-pod baseline did not print `armed`");
      base_kib.push_back(static_cast<double>(RssKib(f.controller_pid) - before));
      json ended = s->End();
      if (!EndedCleanly(ended)) return Fail("session did not end cleanly: " + ended.dump());
      base_ms.push_back(ms);
    }
    for (int n : f.fanout_pods) {
      int64_t before = RssKib(f.controller_pid);
      auto s = Session::Start(f, f.fanout_target, {"--max-pods", absl::StrCat(n)});
      if (!s) return 1;
      double ms = s->WaitArmedCount(static_cast<size_t>(n), absl::Seconds(120));
      if (ms < 0) return Fail(absl::StrCat("fewer than ", n, " parts armed"));
      kib_by_n[n].push_back(static_cast<double>(RssKib(f.controller_pid) - before) / n);
      json ended = s->End();
      if (!EveryPartEndedCleanly(ended, static_cast<size_t>(n))) {
        return Fail("a part did not end cleanly: " + ended.dump());
      }
      ms_by_n[n].push_back(ms);
    }
  }
  const double base = Median(base_ms);
  json armed = json::object();
  for (const auto& [n, v] : ms_by_n) {
    armed[absl::StrCat(n)] = {{"value", Median(v)},
                              {"unit", "ms"},
                              {"runs", v},
                              {"baseline", base},
                              {"ratio", base > 0 ? Median(v) / base : 0}};
  }
  out["fanout_time_to_armed_ms"] = armed;
  out["single_pod_time_to_armed_ms"] = {{"value", base}, {"unit", "ms"}, {"runs", base_ms}};
  const int most = f.fanout_pods.empty() ? 1 : f.fanout_pods.back();
  const double base_kib_med = Median(base_kib);
  out["fanout_controller_kib_per_part"] = {{"value", Median(kib_by_n[most])},
                                           {"unit", "KiB"},
                                           {"pods", most},
                                           {"runs", kib_by_n[most]},
                                           {"baseline", base_kib_med},
                                           {"baseline_runs", base_kib}};

  // Merged events/s: the largest n <= 3, each of its pods under the same load as --pod alone.
  int merged_n = 1;
  for (int n : f.fanout_pods) {
    if (n <= 3) merged_n = std::max(merged_n, n);
  }
  std::vector<double> single_eps, merged_eps;
  for (int run = 0; run < f.runs; ++run) {
    {
      auto s = Session::Start(f);
      if (!s || s->WaitArmed(absl::Seconds(30)) < 0) return Fail("baseline not armed");
      int64_t h0 = s->hits();
      LoadPods(f, {single});
      single_eps.push_back(static_cast<double>(s->hits() - h0) / f.seconds);
      json ended = s->End();
      if (!EndedCleanly(ended)) return Fail("session did not end cleanly: " + ended.dump());
    }
    auto s = Session::Start(f, f.fanout_target, {"--max-pods", absl::StrCat(merged_n)});
    if (!s || s->WaitArmedCount(static_cast<size_t>(merged_n), absl::Seconds(60)) < 0) {
      return Fail("merged session not armed");
    }
    int64_t h0 = s->hits();
    LoadPods(f, s->armed_pods());
    merged_eps.push_back(static_cast<double>(s->hits() - h0) / f.seconds);
    json ended = s->End();
    if (!EveryPartEndedCleanly(ended, static_cast<size_t>(merged_n))) {
      return Fail("a part did not end cleanly: " + ended.dump());
    }
  }
  out["fanout_events_per_s"] = {{"value", Median(merged_eps)},
                                {"unit", "events/s"},
                                {"pods", merged_n},
                                {"runs", merged_eps},
                                {"baseline", Median(single_eps)},
                                {"baseline_runs", single_eps}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

int Main(const Flags& f) {
  if (!f.fanout_pods.empty()) return FanoutMain(f);
  const std::string req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  json out = json::object();

  // --- time to armed: one session per run, each ended before the next ---
  std::vector<double> armed_ms;
  std::map<std::string, std::vector<double>> stages;
  for (int i = 0; i < f.runs && !f.traced_only; ++i) {
    auto s = Session::Start(f);
    if (!s) return 1;
    double ms = s->WaitArmed(absl::Seconds(30));
    if (ms < 0) return Fail("the CLI did not print `armed`");
    for (const auto& [stage, v] : s->Breakdown()) stages[stage].push_back(v);
    if (!f.engine.empty() && f.engine != "auto" && s->engine() != f.engine) {
      return Fail("the session runs on engine \"" + s->engine() + "\", not " + f.engine);
    }
    json ended = s->End();
    if (!EndedCleanly(ended)) return Fail("session did not end cleanly: " + ended.dump());
    armed_ms.push_back(ms);
  }
  json breakdown = json::object(), breakdown_runs = json::object();
  for (const auto& [stage, v] : stages) {
    breakdown[stage] = Median(v);
    breakdown_runs[stage] = v;
  }
  if (!f.traced_only) {
    out["time_to_armed_ms"] = {{"value", Median(armed_ms)},
                               {"unit", "ms"},
                               {"runs", armed_ms},
                               {"breakdown", breakdown},
                               {"breakdown_runs", breakdown_runs}};
  }
  if (f.armed_only) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }

  // --- traced throughput: one session per run ---
  std::vector<double> rps, events_per_s, untraced;
  int64_t hits = 0, errors = 0, dropped = 0;
  int rate_limited_runs = 0;  // traced runs whose tracepoint the rate limit cleared: run again
  // CPU per process tree over the runs; the agent's Delve apart from the agent ("dlv").
  CpuTotals cpu_traced, cpu_untraced;
  const std::map<std::string, std::string> carve = {{"agent", "dlv"}};
  SegmentedLoad segmented(f.segments);
  for (int i = 0; i < f.runs; ++i) {
    if (f.interleave_untraced) {
      std::map<std::string, pid_t> trees = {{"target", f.target_pid}};
      CpuSample before = SampleCpu(trees);
      LoadResult u =
          RunLoad("127.0.0.1", f.port, f.connections, absl::Seconds(f.seconds), f.keep_alive);
      cpu_untraced.Add(before, SampleCpu(trees), static_cast<double>(u.requests), u.seconds);
      untraced.push_back(u.rps());
      errors += u.errors;
    }
    auto s = Session::Start(f);
    if (!s) return 1;
    if (s->WaitArmed(absl::Seconds(30)) < 0) return Fail("the CLI did not print `armed`");
    std::map<std::string, pid_t> trees = {{"target", f.target_pid},
                                          {"agent", f.agent_pid},
                                          {"controller", f.controller_pid},
                                          {"cli", s->cli_pid()}};
    CpuSample before = SampleCpu(trees, carve);
    LoadResult r =
        segmented.Run("127.0.0.1", f.port, f.connections, absl::Seconds(f.seconds), f.keep_alive);
    CpuSample after = SampleCpu(trees, carve);
    json ended = s->End();
    if (!EndedCleanly(ended)) return Fail("session did not end cleanly: " + ended.dump());
    if (std::string limited = s->RateLimited(); !limited.empty()) {
      // The Delve engine caps a tracepoint at 1,000 hits/s (DelveOptions::max_hits_per_second),
      // near what a traced handler serves here: a burst over it clears the tracepoint, and the
      // rest of the run would measure an untraced target. Such a run is not counted; it is run
      // again, at most runs times in all (a segmented run's segments cannot be taken back).
      if (segmented.segments() > 1 || ++rate_limited_runs > f.runs) {
        return Fail("the traced run's tracepoint was rate-limited (" + limited + ")");
      }
      std::fprintf(stderr, "kdbg-e2e-bench: a traced run was rate-limited, not counted: %s\n",
                   limited.c_str());
      --i;
      continue;
    }
    cpu_traced.Add(before, after, static_cast<double>(r.requests), r.seconds);
    rps.push_back(r.rps());
    hits += ended.value("hits", int64_t{0});
    events_per_s.push_back(static_cast<double>(ended.value("hits", int64_t{0})) / r.seconds);
    // The eBPF engine's end message: "...; uprobes detached (N hits dropped)".
    std::string msg = ended.value("message", "");
    size_t p = msg.find(" hits dropped)");
    if (p != std::string::npos) {
      size_t b = msg.rfind('(', p);
      if (b != std::string::npos) dropped += std::atoll(msg.substr(b + 1, p - b - 1).c_str());
    }
    errors += r.errors;
  }
  out["traced_rps"] = {{"value", Median(rps)},
                       {"unit", "req/s"},
                       {"runs", rps},
                       {"hits_reported", hits},
                       {"events_per_s", Median(events_per_s)},
                       {"dropped", dropped},
                       {"rate_limited_runs", rate_limited_runs},
                       {"load_errors", errors}};
  // Where the CPU went, in microseconds per request served: each named process tree ("dlv": the
  // agent's Delve, "agent": the rest of its tree), "bench" (this process: the load generator and
  // the CLI output reader), "others" and the machine's busy cores (CpuTotals).
  out["traced_rps"]["cpu_us_per_request"] = cpu_traced.MicrosPerRequest();
  if (segmented.segments() > 1) out["traced_rps"]["segments_rps"] = segmented.Medians();
  if (f.interleave_untraced) {
    out["untraced_rps"] = {{"value", Median(untraced)},
                           {"unit", "req/s"},
                           {"runs", untraced},
                           {"cpu_us_per_request", cpu_untraced.MicrosPerRequest()}};
  }

  // --- request-to-hit latency: sequential requests, one session ---
  std::vector<double> lat;
  if (f.latency_requests > 0) {
    auto s = Session::Start(f);
    if (!s) return 1;
    s->track_addrs_ = true;
    if (s->WaitArmed(absl::Seconds(30)) < 0) return Fail("the CLI did not print `armed`");
    for (int i = 0; i < f.latency_requests; ++i) {
      int fd = -1;
      std::string addr = ConnectAndSend(f.port, &fd);
      if (addr.empty()) {
        ::close(fd);
        return Fail("cannot connect to the target");
      }
      absl::Time t0 = kdbg::MonotonicNow();
      if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
        ::close(fd);
        return Fail("send failed");
      }
      auto hit = s->WaitHit(addr, absl::Seconds(10));
      char tmp[4096];
      while (::recv(fd, tmp, sizeof(tmp), 0) > 0) {
      }
      ::close(fd);
      if (!hit) return Fail("no hit printed for " + addr);
      lat.push_back(absl::ToDoubleMilliseconds(*hit - t0));
    }
    json ended = s->End();
    if (!EndedCleanly(ended)) return Fail("session did not end cleanly: " + ended.dump());
  }
  out["hit_latency_p50_ms"] = {{"value", Percentile(lat, 50)}, {"unit", "ms"}};
  out["hit_latency_p99_ms"] = {{"value", Percentile(lat, 99)}, {"unit", "ms"}};
  out["hit_latency_runs_ms"] = lat;
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
  ::signal(SIGPIPE, SIG_IGN);
  kdbg::bench::Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--kdbg")
      f.kdbg = v;
    else if (k == "--script")
      f.script = v;
    else if (k == "--pod")
      f.pod = v;
    else if (k == "--port")
      f.port = std::atoi(v.c_str());
    else if (k == "--runs")
      f.runs = std::atoi(v.c_str());
    else if (k == "--seconds")
      f.seconds = std::atoi(v.c_str());
    else if (k == "--connections")
      f.connections = std::atoi(v.c_str());
    else if (k == "--keep-alive")
      f.keep_alive = v != "0";
    else if (k == "--segments")
      f.segments = std::max(1, std::atoi(v.c_str()));
    else if (k == "--latency-requests")
      f.latency_requests = std::atoi(v.c_str());
    else if (k == "--interleave-untraced")
      f.interleave_untraced = v == "1";
    else if (k == "--engine")
      f.engine = v;
    else if (k == "--rate-limit")
      f.rate_limit = std::atoi(v.c_str());
    else if (k == "--target-pid")
      f.target_pid = static_cast<pid_t>(std::atoi(v.c_str()));
    else if (k == "--agent-pid")
      f.agent_pid = static_cast<pid_t>(std::atoi(v.c_str()));
    else if (k == "--controller-pid")
      f.controller_pid = static_cast<pid_t>(std::atoi(v.c_str()));
    else if (k == "--armed-only")
      f.armed_only = v == "1" || v == "true";
    else if (k == "--traced-only")
      f.traced_only = v == "1" || v == "true";
    else if (k == "--fanout-target")
      f.fanout_target = v;
    else if (k == "--fanout-pods") {
      for (const std::string& n : std::vector<std::string>(absl::StrSplit(v, ',')))
        f.fanout_pods.push_back(std::atoi(n.c_str()));
      std::sort(f.fanout_pods.begin(), f.fanout_pods.end());
    } else if (k == "--pod-ports") {
      for (const std::string& kv :
           std::vector<std::string>(absl::StrSplit(v, ',', absl::SkipEmpty()))) {
        std::pair<std::string, std::string> p = absl::StrSplit(kv, '=');
        f.pod_ports[p.first] = std::atoi(p.second.c_str());
      }
    }
  }
  if (!f.fanout_pods.empty() && (f.fanout_target.empty() || f.controller_pid == 0)) {
    std::fprintf(stderr, "--fanout-pods needs --fanout-target and --controller-pid\n");
    return 2;
  }
  if (f.armed_only && f.traced_only) {
    std::fprintf(stderr, "--armed-only and --traced-only exclude each other\n");
    return 2;
  }
  if (f.kdbg.empty() || f.script.empty() || f.port <= 0) {
    std::fprintf(stderr, "usage: kdbg-e2e-bench --kdbg PATH --script FILE --port P [--runs N]\n");
    return 2;
  }
  return kdbg::bench::Main(f);
}
