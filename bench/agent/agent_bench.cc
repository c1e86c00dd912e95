// bench/agent: the agent service's own costs, with the fake engine (no Delve), in one process over
// real mutual TLS on loopback.
//   1. events per second one trace session delivers to its client (the engine emits hits as fast as
//      it can; the bounded queue drops what the client cannot take, and we count both);
//   2. memory (VmRSS) and threads of 100 concurrent trace sessions, each with its open stream.
// Prints a Markdown table and one JSON object. Usage: kdbg_agent_bench [--seconds N] [--sessions N]
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/service/agent_service.h"
#include "agent/service/testing/fake_debug_session.h"
#include "agent/service/testing/fake_resolver.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/tls.h"
#include "tests/support/certs/test_certs.h"

namespace {

using namespace kdbg;
using namespace kdbg::agent;

long StatusField(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int sessions = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if ((std::string(argv[i]) == "--seconds" && !absl::SimpleAtod(argv[i + 1], &seconds)) ||
        (std::string(argv[i]) == "--sessions" && !absl::SimpleAtoi(argv[i + 1], &sessions))) {
      std::fprintf(stderr, "%s takes a number, not \"%s\"\n", argv[i], argv[i + 1]);
      return 2;
    }
  }
  log::Configure(log::Level::kError, log::Format::kText);
  auto pki = kdbg::testing::TestPki::Create("bench-ca");
  if (!pki.ok()) return std::fprintf(stderr, "%s\n", pki.status().ToString().c_str()), 1;
  auto server_cert = (*pki)->Issue({"kdbg-agent", {"localhost"}, {"127.0.0.1"}});
  auto client_cert = (*pki)->Issue({"kdbg-controller"});

  agent::testing::FakeResolver resolver;
  for (int i = 0; i <= sessions; ++i) resolver.Add(absl::StrCat("c", i), 1000 + i);
  agent::testing::FakeDebugSessionFactory factory;
  AgentMetrics metrics;
  SessionManager::Options mo;
  mo.node_name = "bench";
  mo.max_sessions = sessions + 10;
  SessionManager manager(mo, &resolver, &factory, RealClock::Get(), &metrics);
  AgentService::Options so;
  AgentService service(so, &manager, &resolver, &metrics);
  auto creds = tls::MakeServerCredentials(
      {server_cert->cert_path, server_cert->key_path, (*pki)->ca().cert_path}, {"kdbg-controller"});
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort("127.0.0.1:0", *creds, &port);
  b.RegisterService(&service);
  auto server = b.BuildAndStart();
  auto channel = tls::MakeSecureChannel(
      absl::StrCat("127.0.0.1:", port),
      {(*pki)->ca().cert_path, client_cert->cert_path, client_cert->key_path}, "localhost");
  auto stub = kdbg::v1::Agent::NewStub(*channel);
  auto request = [](const std::string& container, const std::string& id) {
    kdbg::v1::TraceRequest r;
    r.mutable_target()->set_container_id(container);
    r.mutable_options()->set_script("trace handleSlash\n");
    r.set_session_id(id);
    return r;
  };

  // 1. Events per second from one session.
  agent::testing::FakeDebugSessionFactory::Options fo;
  fo.endless_hits = true;
  factory.set_options(fo);
  double events_per_s = 0, emitted_per_s = 0;
  {
    grpc::ClientContext ctx;
    auto reader = stub->Trace(&ctx, request("c0", "rate"));
    kdbg::v1::Event e;
    reader->Read(&e);  // armed
    int64_t received = 0;
    absl::Time start = kdbg::MonotonicNow(), end = start + absl::Seconds(seconds);
    while (kdbg::MonotonicNow() < end && reader->Read(&e)) {
      if (e.has_hit()) ++received;
    }
    double elapsed = absl::ToDoubleSeconds(kdbg::MonotonicNow() - start);
    events_per_s = static_cast<double>(received) / elapsed;
    emitted_per_s = static_cast<double>(metrics.hits()) / elapsed;
    ctx.TryCancel();
    while (reader->Read(&e)) {
    }
    reader->Finish();
  }
  while (manager.size() > 0) absl::SleepFor(absl::Milliseconds(10));

  // 2. Many concurrent sessions, idle (armed, no hits).
  factory.set_options({});
  long rss0 = StatusField("VmRSS:"), threads0 = StatusField("Threads:");
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
  std::vector<std::unique_ptr<grpc::ClientReader<kdbg::v1::Event>>> readers;
  absl::Time t0 = kdbg::MonotonicNow();
  for (int i = 1; i <= sessions; ++i) {
    ctxs.push_back(std::make_unique<grpc::ClientContext>());
    readers.push_back(
        stub->Trace(ctxs.back().get(), request(absl::StrCat("c", i), absl::StrCat("s", i))));
  }
  int armed = 0;
  for (auto& r : readers) {
    kdbg::v1::Event e;
    if (r->Read(&e) && e.has_armed()) ++armed;
  }
  double start_all_ms = absl::ToDoubleMilliseconds(kdbg::MonotonicNow() - t0);
  long rss1 = StatusField("VmRSS:"), threads1 = StatusField("Threads:");
  for (auto& c : ctxs) c->TryCancel();
  for (auto& r : readers) {
    kdbg::v1::Event e;
    while (r->Read(&e)) {
    }
    r->Finish();
  }
  absl::Time t1 = kdbg::MonotonicNow();
  while (manager.size() > 0) absl::SleepFor(absl::Milliseconds(5));
  double end_all_ms = absl::ToDoubleMilliseconds(kdbg::MonotonicNow() - t1);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));

  std::printf("| metric | value | unit |\n|---|---|---|\n");
  std::printf("| events delivered by one session | %.0f | events/s |\n", events_per_s);
  std::printf("| hits emitted by the fake engine meanwhile | %.0f | events/s |\n", emitted_per_s);
  std::printf("| sessions armed | %d of %d | |\n", armed, sessions);
  std::printf("| time to arm all (fake engine) | %.0f | ms |\n", start_all_ms);
  std::printf("| time for all to end after cancel | %.0f | ms |\n", end_all_ms);
  std::printf("| RSS growth for %d sessions | %ld | KiB (%.1f per session) |\n", sessions,
              rss1 - rss0, static_cast<double>(rss1 - rss0) / sessions);
  std::printf("| threads for %d sessions | %ld (from %ld) | threads |\n", sessions, threads1,
              threads0);
  std::printf(
      "{\"agent_events_per_s\":%.0f,\"agent_sessions\":%d,\"agent_rss_kib_per_session\":%.1f,"
      "\"agent_threads_per_session\":%.2f}\n",
      events_per_s, sessions, static_cast<double>(rss1 - rss0) / sessions,
      static_cast<double>(threads1 - threads0) / sessions);
  return armed == sessions ? 0 : 1;
}
