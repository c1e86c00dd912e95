#include "cli/output.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace kdbg::cli {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

kdbg::v1::Event HitEvent() {
  kdbg::v1::Event e;
  e.set_session_id("s-1");
  e.set_time_unix_nanos(1795000000123456789);
  auto* h = e.mutable_hit();
  h->set_tracepoint("handleSlash");
  h->set_goroutine(19);
  h->set_function("main.handleSlash");
  h->set_file("/src/hello/main.go");
  h->set_line(10);
  h->set_hit_count(2);
  auto* w = h->add_args();
  w->set_name("w");
  w->set_value("net/http.ResponseWriter(*net/http.response) 0xc000132000");
  auto* r = h->add_args();
  r->set_name("r");
  r->set_value("*net/http.Request {Method: \"GET\", ...}");
  auto* v = h->add_vars();
  v->set_name("r.RemoteAddr");
  v->set_value("\"127.0.0.1:53422\"");
  return e;
}

TEST(OutputTest, HitTextLooksLikeDlvTrace) {
  EXPECT_EQ(HitText(HitEvent().hit()),
            "> goroutine(19): main.handleSlash(w, r) main.go:10\n"
            "\tr.RemoteAddr: \"127.0.0.1:53422\"\n");
  Rendered r = RenderEvent(HitEvent(), OutputFormat::kText);
  EXPECT_EQ(r.out, HitText(HitEvent().hit()));
  EXPECT_EQ(r.err, "");
}

// Without print expressions the arguments' values show, one per line; a collected stack follows,
// one frame per line (text) or as "stack" (JSON).
TEST(OutputTest, HitWithoutPrintsShowsItsArgumentsAndItsStack) {
  kdbg::v1::Event e = HitEvent();
  e.mutable_hit()->clear_vars();
  auto* f0 = e.mutable_hit()->add_stack();
  f0->set_function("main.handleSlash");
  f0->set_file("/src/hello/main.go");
  f0->set_line(10);
  auto* f1 = e.mutable_hit()->add_stack();
  f1->set_function("net/http.HandlerFunc.ServeHTTP");
  f1->set_file("/usr/local/go/src/net/http/server.go");
  f1->set_line(2294);
  EXPECT_EQ(HitText(e.hit()),
            "> goroutine(19): main.handleSlash(w, r) main.go:10\n"
            "\tw: net/http.ResponseWriter(*net/http.response) 0xc000132000\n"
            "\tr: *net/http.Request {Method: \"GET\", ...}\n"
            "\tstack:\n"
            "\t   0  main.handleSlash /src/hello/main.go:10\n"
            "\t   1  net/http.HandlerFunc.ServeHTTP /usr/local/go/src/net/http/server.go:2294\n");
  json j = json::parse(RenderEvent(e, OutputFormat::kJson).out);
  ASSERT_EQ(j["stack"].size(), 2u);
  EXPECT_EQ(j["stack"][1]["function"], "net/http.HandlerFunc.ServeHTTP");
  EXPECT_EQ(j["stack"][1]["line"], 2294);
  EXPECT_FALSE(json::parse(RenderEvent(HitEvent(), OutputFormat::kJson).out).contains("stack"));
}

TEST(OutputTest, HitJsonFieldByField) {
  Rendered r = RenderEvent(HitEvent(), OutputFormat::kJson);
  ASSERT_EQ(r.out.back(), '\n');
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one object per line";
  json j = json::parse(r.out);
  EXPECT_EQ(j["type"], "hit");
  EXPECT_EQ(j["session"], "s-1");
  EXPECT_EQ(j["tracepoint"], "handleSlash");
  EXPECT_EQ(j["goroutine"], 19);
  EXPECT_EQ(j["function"], "main.handleSlash");
  EXPECT_EQ(j["file"], "/src/hello/main.go");
  EXPECT_EQ(j["line"], 10);
  EXPECT_EQ(j["hit_count"], 2);
  EXPECT_EQ(j["args"]["r"], "*net/http.Request {Method: \"GET\", ...}");
  EXPECT_EQ(j["args"].size(), 2u);
  EXPECT_EQ(j["vars"]["r.RemoteAddr"], "\"127.0.0.1:53422\"");
  EXPECT_EQ(j["time"], "2026-11-18T11:06:40.123456789Z");
}

TEST(OutputTest, InvalidUtf8InValuesStillGivesJson) {
  kdbg::v1::Event e = HitEvent();
  e.mutable_hit()->mutable_vars(0)->set_value("\"\xff\xfe\"");
  json j = json::parse(EventJson(e));
  EXPECT_EQ(j["type"], "hit");
}

// The hit's JSON line is written directly (the hot path); it must be byte for byte what
// nlohmann::ordered_json prints for the same object (the generic path, replace on bad UTF-8).
TEST(OutputTest, HitJsonIsByteForByteWhatNlohmannPrints) {
  using OJson = nlohmann::ordered_json;
  auto generic = [](const kdbg::v1::Event& e, const std::string& time) {
    const auto& h = e.hit();
    OJson j;
    j["type"] = "hit";
    j["session"] = e.session_id();
    if (!time.empty()) j["time"] = time;
    if (!e.unsupported_go().empty()) j["unsupported_go"] = e.unsupported_go();
    j["tracepoint"] = h.tracepoint();
    j["goroutine"] = h.goroutine();
    j["function"] = h.function();
    j["file"] = h.file();
    j["line"] = h.line();
    j["hit_count"] = h.hit_count();
    j["args"] = OJson::object();
    for (const auto& v : h.args()) j["args"][v.name()] = v.value();
    j["vars"] = OJson::object();
    for (const auto& v : h.vars()) j["vars"][v.name()] = v.value();
    if (h.returned()) {
      j["returned"] = true;
      j["results"] = OJson::object();
      for (const auto& v : h.results()) j["results"][v.name()] = v.value();
    }
    return j.dump(-1, ' ', false, OJson::error_handler_t::replace);
  };
  const std::vector<std::string> values = {"\"127.0.0.1:53422\"",
                                           "tab\there \"q\" back\\slash",
                                           std::string("nul\0x\x01\x1f\x7f\0", 9),
                                           "\b\f\n\r",
                                           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                                           "bad \xff\xfe end",
                                           "trunc \xe2\x82",
                                           "overlong \xc0\xaf",
                                           "surrogate \xed\xa0\x80",
                                           ""};
  // Each byte a JSON string escapes or checks (and its plain neighbours), at every place of the
  // first three words of a longer string and its tail.
  std::vector<std::string> all = values;
  for (char special : {'"', '\\', '\x01', '\x1f', '\x7f', ' ', '!', '#', '[', ']', '\xc3'}) {
    for (size_t at = 0; at < 27; ++at) {
      std::string s(27, 'a');
      s[at] = special;
      if (special == '\xc3') s.insert(at + 1, "\xa9");  // é, whole
      all.push_back(s);
      if (special == '\xc3') all.push_back(std::string(27, 'a').replace(at, 1, "\xc3"));  // cut
    }
  }
  for (const std::string& value : all) {
    kdbg::v1::Event e = HitEvent();
    e.mutable_hit()->mutable_vars(0)->set_value(value);
    e.mutable_hit()->mutable_args(0)->set_name(value);
    EXPECT_EQ(EventJson(e), generic(e, "2026-11-18T11:06:40.123456789Z")) << value;
  }
  kdbg::v1::Event e = HitEvent();
  e.set_unsupported_go("go1.30 outside 1.24-1.27");
  EXPECT_EQ(EventJson(e), generic(e, "2026-11-18T11:06:40.123456789Z"));
  // Times: trailing zeros of the fraction dropped, none when whole, before 1970.
  for (auto [nanos, text] : std::vector<std::pair<int64_t, std::string>>{
           {1795000000000000000, "2026-11-18T11:06:40Z"},
           {1795000000100000000, "2026-11-18T11:06:40.1Z"},
           {1795000001000000001, "2026-11-18T11:06:41.000000001Z"},
           {-1, "1969-12-31T23:59:59.999999999Z"}}) {
    kdbg::v1::Event t = HitEvent();
    t.set_time_unix_nanos(nanos);
    EXPECT_EQ(EventJson(t), generic(t, text)) << nanos;
  }
  // A return: `returned` and the results after vars.
  kdbg::v1::Event ret = HitEvent();
  ret.mutable_hit()->clear_args();
  ret.mutable_hit()->clear_vars();
  ret.mutable_hit()->set_returned(true);
  auto* r0 = ret.mutable_hit()->add_results();
  r0->set_name("~r0");
  r0->set_value("\"first!\"");
  auto* r1 = ret.mutable_hit()->add_results();
  r1->set_name("~r1");
  r1->set_value("4");
  EXPECT_EQ(EventJson(ret), generic(ret, "2026-11-18T11:06:40.123456789Z"));
  EXPECT_EQ(HitText(ret.hit()), ">> goroutine(19): main.handleSlash => (\"first!\",4)\n");
  // A repeated variable name: first place, last value (the generic path).
  kdbg::v1::Event d = HitEvent();
  auto* again = d.mutable_hit()->add_vars();
  again->set_name("r.RemoteAddr");
  again->set_value("\"second\"");
  EXPECT_EQ(EventJson(d), generic(d, "2026-11-18T11:06:40.123456789Z"));
}

TEST(OutputTest, ArmedTextAndJson) {
  kdbg::v1::Event e;
  e.set_session_id("s-1");
  auto* a = e.mutable_armed();
  a->set_host_pid(4242);
  a->set_attach_ms(80);
  a->set_arm_ms(3);
  auto* tp = a->add_tracepoints();
  tp->set_name("handleSlash");
  tp->set_location("main.go:10");
  tp->set_function("main.handleSlash");
  tp->set_file("/src/hello/main.go");
  tp->set_line(10);
  tp->add_print("r.RemoteAddr");
  Rendered text = RenderEvent(e, OutputFormat::kText);
  EXPECT_EQ(text.out, "");
  EXPECT_EQ(text.err,
            "kdbg: armed 1 tracepoint on PID 4242 (attach 80 ms, arm 3 ms)\n"
            "kdbg:   handleSlash -> main.handleSlash /src/hello/main.go:10 print r.RemoteAddr\n");
  json j = json::parse(RenderEvent(e, OutputFormat::kJson).out);
  EXPECT_EQ(j["type"], "armed");
  EXPECT_EQ(j["pid"], 4242);
  EXPECT_EQ(j["attach_ms"], 80);
  EXPECT_EQ(j["arm_ms"], 3);
  ASSERT_EQ(j["tracepoints"].size(), 1u);
  EXPECT_EQ(j["tracepoints"][0]["function"], "main.handleSlash");
  EXPECT_EQ(j["tracepoints"][0]["file"], "/src/hello/main.go");
  EXPECT_EQ(j["tracepoints"][0]["line"], 10);
  EXPECT_EQ(j["tracepoints"][0]["location"], "main.go:10");

  // Each engine's line, with its note: why Delve (auto), what eBPF does not report.
  a->set_engine("ebpf");
  a->set_engine_note("returns not reported for t.dlv:2 main.f (...)");
  EXPECT_THAT(RenderEvent(e, OutputFormat::kText).err,
              HasSubstr("\nkdbg: engine ebpf (uprobes; the target is never stopped); returns not "
                        "reported for t.dlv:2 main.f (...)\nkdbg:   handleSlash"));
  a->set_engine("delve");
  a->set_engine_note(
      "t.dlv:3: `r.Header[\"Accept\"]` is not a parameter, a field chain (a.b.c, a.b[2].c) or "
      "len() of one");
  EXPECT_THAT(RenderEvent(e, OutputFormat::kText).err,
              HasSubstr("\nkdbg: engine delve (every hit stops the target for about 1 ms); "
                        "t.dlv:3: `r.Header[\"Accept\"]` is not a parameter, a field chain (a.b.c, "
                        "a.b[2].c) or len() of one\n"));
  EXPECT_EQ(json::parse(RenderEvent(e, OutputFormat::kJson).out)["engine_note"],
            "t.dlv:3: `r.Header[\"Accept\"]` is not a parameter, a field chain (a.b.c, a.b[2].c) "
            "or len() of one");
}

TEST(OutputTest, EndedTextAndJsonAndCleanness) {
  kdbg::v1::Event e;
  auto* x = e.mutable_ended();
  x->set_reason(kdbg::v1::END_REASON_MAX_HITS);
  x->set_hits(3);
  x->set_message("target running, detached cleanly");
  x->set_target_alive(true);
  EXPECT_EQ(EndedText(*x),
            "kdbg: ended: max hits reached; 3 hits; target running, detached cleanly\n");
  Rendered r = RenderEvent(e, OutputFormat::kJson);
  json j = json::parse(r.out);
  EXPECT_EQ(j["type"], "ended");
  EXPECT_EQ(j["reason"], "max_hits");
  EXPECT_EQ(j["hits"], 3);
  EXPECT_EQ(j["target_alive"], true);
  EXPECT_EQ(j["target_traced"], false);
  EXPECT_EQ(r.err, EndedText(*x)) << "people watching JSON still see why it ended";
  EXPECT_TRUE(CleanEnd(*x));
  x->set_reason(kdbg::v1::END_REASON_TARGET_EXITED);
  x->set_target_exit_status(2);
  EXPECT_FALSE(CleanEnd(*x));
  EXPECT_NE(
      EndedText(*x).find("target exited; 3 hits; target running, detached cleanly (exit status 2)"),
      std::string::npos);
  x->set_reason(kdbg::v1::END_REASON_DURATION);
  x->set_target_traced(true);
  EXPECT_FALSE(CleanEnd(*x)) << "a target left traced is never a clean end";
  EXPECT_EQ(EndReasonName(kdbg::v1::END_REASON_LEASE_EXPIRED), "lease_expired");
}

TEST(OutputTest, ErrorAndNotice) {
  kdbg::v1::Event e;
  e.mutable_error()->set_code("NOT_FOUND");
  e.mutable_error()->set_message("location \"x\" not found");
  json j = json::parse(RenderEvent(e, OutputFormat::kJson).out);
  EXPECT_EQ(j["type"], "error");
  EXPECT_EQ(j["code"], "NOT_FOUND");
  EXPECT_EQ(j["message"], "location \"x\" not found");
  EXPECT_EQ(RenderEvent(e, OutputFormat::kText).err,
            "kdbg: error: location \"x\" not found (NOT_FOUND)\n");
  // With -o json the one-line reason still goes to stderr, beside the error object on stdout.
  EXPECT_EQ(RenderEvent(e, OutputFormat::kJson).err,
            "kdbg: error: location \"x\" not found (NOT_FOUND)\n");

  kdbg::v1::Event n;
  n.mutable_notice()->set_kind(kdbg::v1::NOTICE_KIND_PROGRESS);
  n.mutable_notice()->set_message("pod default/hello-world on node node-a");
  for (auto f : {OutputFormat::kText, OutputFormat::kJson}) {
    Rendered r = RenderEvent(n, f);
    EXPECT_EQ(r.out, "") << "notices never reach stdout";
    EXPECT_EQ(r.err, "kdbg: pod default/hello-world on node node-a\n");
  }
  n.mutable_notice()->set_kind(kdbg::v1::NOTICE_KIND_RATE_LIMITED);
  n.mutable_notice()->set_message("bp1 cleared");
  EXPECT_EQ(NoticeText(n.notice()), "kdbg: rate-limited: bp1 cleared\n");
  EXPECT_EQ(json::parse(ErrorJson("UNAVAILABLE", "x"))["code"], "UNAVAILABLE");
  EXPECT_EQ(CodeName(absl::StatusCode::kPermissionDenied), "PERMISSION_DENIED");
  EXPECT_EQ(CodeName(absl::StatusCode::kNotFound), "NOT_FOUND");
}

TEST(OutputTest, ParseOutputFormat) {
  OutputFormat f;
  EXPECT_TRUE(ParseOutputFormat("json", &f).ok());
  EXPECT_EQ(f, OutputFormat::kJson);
  EXPECT_TRUE(ParseOutputFormat("text", &f).ok());
  EXPECT_EQ(f, OutputFormat::kText);
  EXPECT_EQ(ParseOutputFormat("yaml", &f).code(), absl::StatusCode::kInvalidArgument);
}

TEST(OutputTest, ResolveTextAndJson) {
  kdbg::v1::ControllerResolveResponse r;
  r.set_node_name("node-a");
  r.set_container("app");
  r.set_agent("kdbg-agent-x");
  auto* t = r.mutable_target();
  t->set_host_pid(4242);
  t->set_container_id("abc");
  t->set_runtime("containerd");
  t->set_debuggable(false);
  t->set_problem("built with optimizations");
  t->mutable_binary()->set_go_version("go1.19.8");
  t->mutable_binary()->set_has_dwarf(true);
  t->mutable_binary()->set_optimized(true);
  t->add_evidence("cgroup: /kubepods/x -> pids 4242");
  r.mutable_stop_budget()->set_probe("httpGet :8080/ every 2s, timeout 1s, failure threshold 3");
  r.mutable_stop_budget()->set_max_stop_ms(2500);
  r.mutable_stop_budget()->set_summary("liveness probe httpGet :8080/ ...");
  kdbg::v1::PodTarget p;
  p.set_namespace_("default");
  p.set_pod("hello-world");
  std::string text = ResolveText(r, p);
  EXPECT_NE(text.find("liveness:   liveness probe httpGet :8080/ ...\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("pod:        default/hello-world\n"), std::string::npos) << text;
  EXPECT_NE(text.find("node:       node-a (agent kdbg-agent-x)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("process:    PID 4242 on the node\n"), std::string::npos) << text;
  EXPECT_NE(text.find("debuggable: no: built with optimizations\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  cgroup: /kubepods/x -> pids 4242\n"), std::string::npos) << text;
  json j = json::parse(ResolveJson(r, p));
  EXPECT_EQ(j["pod"], "hello-world");
  EXPECT_EQ(j["container"], "app");
  EXPECT_EQ(j["host_pid"], 4242);
  EXPECT_EQ(j["debuggable"], false);
  EXPECT_EQ(j["binary"]["go_version"], "go1.19.8");
  EXPECT_EQ(j["binary"]["optimized"], true);
  EXPECT_EQ(j["evidence"][0], "cgroup: /kubepods/x -> pids 4242");
  EXPECT_EQ(j["liveness"]["max_stop_ms"], 2500);
  EXPECT_EQ(j["liveness"]["probe"], "httpGet :8080/ every 2s, timeout 1s, failure threshold 3");
}

TEST(OutputTest, SessionsJson) {
  kdbg::v1::ControllerListSessionsResponse resp;
  EXPECT_EQ(SessionsJson(resp), "");
  auto* s = resp.add_sessions();
  s->mutable_info()->set_id("s-1");
  s->mutable_info()->set_mode(kdbg::v1::SESSION_MODE_TRACE);
  s->mutable_info()->set_host_pid(4242);
  s->mutable_info()->set_user("alice");
  s->mutable_info()->set_state(kdbg::v1::SESSION_STATE_TRACING);
  s->mutable_info()->set_hits(7);
  s->mutable_info()->set_start_unix_nanos(1000000000);
  s->mutable_target()->set_namespace_("default");
  s->mutable_target()->set_pod("hello-world");
  s->mutable_target()->set_container("app");
  s->set_node_name("node-a");
  json j = json::parse(SessionsJson(resp));
  EXPECT_EQ(j["id"], "s-1");
  EXPECT_EQ(j["mode"], "trace");
  EXPECT_EQ(j["node"], "node-a");
  EXPECT_EQ(j["hits"], 7);
  EXPECT_EQ(j["user"], "alice");
}

TEST(OutputTest, VersionText) {
  kdbg::v1::ControllerVersionResponse v;
  v.mutable_controller()->set_version("0.1.0");
  auto* a = v.add_agents();
  a->set_version("0.1.0");
  a->set_node_name("node-a");
  a->set_delve_version("1.20.2");
  EXPECT_EQ(VersionText("0.1.0", &v),
            "kdbg 0.1.0\nkdbg-controller 0.1.0\nkdbg-agent 0.1.0 on node-a (delve 1.20.2)\n");
  auto* b = v.add_agents();
  b->set_version("0.1.0");
  b->set_node_name("node-b");
  b->set_pod_name("kdbg-agent-x");
  b->set_cannot_debug("Delve not found or not executable at /nope (--dlv)");
  a->set_ebpf_unavailable("no uprobe PMU");
  EXPECT_EQ(VersionText("0.1.0", &v),
            "kdbg 0.1.0\nkdbg-controller 0.1.0\n"
            "kdbg-agent 0.1.0 on node-a (delve 1.20.2); eBPF engine unavailable: no uprobe PMU\n"
            "kdbg-agent 0.1.0 on node-b (delve unknown) pod kdbg-agent-x: CANNOT DEBUG: Delve not "
            "found or not executable at /nope (--dlv)\n");
  EXPECT_EQ(VersionText("0.1.0", nullptr), "kdbg 0.1.0\n");
}

}  // namespace
}  // namespace kdbg::cli

namespace kdbg::cli {
namespace {

TEST(OutputTest, PartsOfSeveralPodsNameTheirPod) {
  kdbg::v1::Event hit = HitEvent();
  hit.set_pod("web-1");
  Rendered r = RenderEvent(hit, OutputFormat::kText);
  EXPECT_EQ(r.out,
            "pod/web-1 > goroutine(19): main.handleSlash(w, r) main.go:10\n"
            "pod/web-1 \tr.RemoteAddr: \"127.0.0.1:53422\"\n");
  json j = json::parse(RenderEvent(hit, OutputFormat::kJson).out);
  EXPECT_EQ(j["pod"], "web-1");
  EXPECT_EQ(j["type"], "hit");

  kdbg::v1::Event armed;
  armed.set_pod("web-1");
  armed.mutable_armed()->set_host_pid(42);
  EXPECT_EQ(RenderEvent(armed, OutputFormat::kText).err.rfind("kdbg: pod/web-1: armed 0 ", 0), 0u);

  kdbg::v1::Event failed;
  failed.set_pod("web-2");
  failed.mutable_error()->set_code("FAILED_PRECONDITION");
  failed.mutable_error()->set_message("/app (PID 9) is not a Go program");
  failed.mutable_error()->set_failure("not-go");
  Rendered f = RenderEvent(failed, OutputFormat::kText);
  EXPECT_EQ(f.err,
            "kdbg: pod/web-2: failed (not-go): /app (PID 9) is not a Go program "
            "(FAILED_PRECONDITION); the other pods go on\n");
  json fj = json::parse(RenderEvent(failed, OutputFormat::kJson).out);
  EXPECT_EQ(fj["type"], "failed");
  EXPECT_EQ(fj["pod"], "web-2");
  EXPECT_EQ(fj["failure"], "not-go");
}

TEST(OutputTest, ClosingSummarySaysPerPodHowItEnded) {
  kdbg::v1::Event e;
  e.set_session_id("s");
  auto* s = e.mutable_ended();
  s->set_reason(kdbg::v1::END_REASON_CLIENT_STOP);
  s->set_hits(3);
  s->set_message("2 pods: 1 ended, 1 failed; every target running, detached");
  s->set_target_alive(true);
  auto* a = s->add_pods();
  a->set_pod("web-1");
  a->set_node("node-a");
  a->set_outcome("ended");
  a->set_reason(kdbg::v1::END_REASON_CLIENT_STOP);
  a->set_hits(3);
  a->set_target_alive(true);
  a->set_message("target running, detached cleanly");
  auto* b = s->add_pods();
  b->set_pod("web-2");
  b->set_outcome("failed");
  b->set_failure("denied");
  b->set_message("RBAC: no");
  EXPECT_EQ(RenderEvent(e, OutputFormat::kText).err,
            "kdbg: ended: stopped; 3 hits; 2 pods: 1 ended, 1 failed; every target running, "
            "detached\n"
            "kdbg:   pod/web-1 (node-a): stopped, 3 hits; target running, detached cleanly\n"
            "kdbg:   pod/web-2: failed (denied), 0 hits; RBAC: no\n");
  json j = json::parse(RenderEvent(e, OutputFormat::kJson).out);
  ASSERT_EQ(j["pods"].size(), 2u);
  EXPECT_EQ(j["pods"][0]["reason"], "client_stop");
  EXPECT_EQ(j["pods"][0]["hits"], 3);
  EXPECT_EQ(j["pods"][1]["outcome"], "failed");
  EXPECT_EQ(j["pods"][1]["failure"], "denied");
  EXPECT_FALSE(j.contains("pod"));
}

// --rate-limit-total: the notice on stderr (both formats), the counts in the summary (text: the
// controller's message and each pod's line; JSON: "hits_over_total_rate").
TEST(OutputTest, HitsOverTheTotalRateAreSaidAndCounted) {
  kdbg::v1::Event n;
  n.set_session_id("s");
  n.mutable_notice()->set_kind(kdbg::v1::NOTICE_KIND_TOTAL_RATE_LIMITED);
  n.mutable_notice()->set_message("12 hits not relayed: over the session's total rate of 5 hits/s");
  for (OutputFormat f : {OutputFormat::kText, OutputFormat::kJson}) {
    Rendered r = RenderEvent(n, f);
    EXPECT_EQ(r.err,
              "kdbg: total-rate-limited: 12 hits not relayed: over the session's total rate of 5 "
              "hits/s\n");
    EXPECT_EQ(r.out, "");
  }
  kdbg::v1::Event e;
  e.set_session_id("s");
  auto* s = e.mutable_ended();
  s->set_reason(kdbg::v1::END_REASON_CLIENT_STOP);
  s->set_hits(10);
  s->set_hits_over_total_rate(50);
  s->set_message("2 pods: 2 ended; 50 hits not relayed: over the total rate of 5 hits/s");
  auto* a = s->add_pods();
  a->set_pod("web-1");
  a->set_outcome("ended");
  a->set_reason(kdbg::v1::END_REASON_CLIENT_STOP);
  a->set_hits(6);
  a->set_hits_over_total_rate(50);
  auto* b = s->add_pods();
  b->set_pod("web-2");
  b->set_outcome("ended");
  b->set_reason(kdbg::v1::END_REASON_CLIENT_STOP);
  b->set_hits(4);
  EXPECT_EQ(RenderEvent(e, OutputFormat::kText).err,
            "kdbg: ended: stopped; 10 hits; 2 pods: 2 ended; 50 hits not relayed: over the total "
            "rate of 5 hits/s\n"
            "kdbg:   pod/web-1: stopped, 6 hits (50 more over the total rate)\n"
            "kdbg:   pod/web-2: stopped, 4 hits\n");
  json j = json::parse(RenderEvent(e, OutputFormat::kJson).out);
  EXPECT_EQ(j["hits"], 10);
  EXPECT_EQ(j["hits_over_total_rate"], 50);
  EXPECT_EQ(j["pods"][0]["hits_over_total_rate"], 50);
  EXPECT_FALSE(j["pods"][1].contains("hits_over_total_rate"));
}

}  // namespace
}  // namespace kdbg::cli
