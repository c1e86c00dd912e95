#include "agent/delve/rpc_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/delve/testing/fake_delve.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::delve {
namespace {

using nlohmann::json;
using testing::FakeDelve;
using ::testing::HasSubstr;

TEST(BreakpointToJsonTest, TracepointFlagUsesDelvesContinueKey) {
  BreakpointRequest bp;
  bp.name = "handleSlash";
  bp.addrs = {0x6a1b2c, 0x6a1b40};
  bp.file = "/src/main.go";
  bp.line = 10;
  bp.variables = {"r.RemoteAddr"};
  bp.stacktrace = 5;
  bp.cond = "r.Method == \"GET\"";
  bp.hit_cond = "> 2";
  json j = BreakpointToJson(bp);
  EXPECT_EQ(j["continue"], true);
  EXPECT_FALSE(j.contains("Tracepoint"));  // silently ignored by Delve: would make a stopping bp
  EXPECT_EQ(j["name"], "handleSlash");
  EXPECT_EQ(j["addrs"], json({0x6a1b2c, 0x6a1b40}));
  // Delve would prefer a file:line (or a function name) to the addresses: neither is sent.
  EXPECT_FALSE(j.contains("file"));
  EXPECT_FALSE(j.contains("line"));
  EXPECT_FALSE(j.contains("functionName"));
  EXPECT_EQ(j["variables"], json({"r.RemoteAddr"}));
  EXPECT_EQ(j["stacktrace"], 5);
  EXPECT_EQ(j["Cond"], "r.Method == \"GET\"");
  EXPECT_EQ(j["HitCond"], "> 2");
  EXPECT_TRUE(j["LoadArgs"].is_object());
}

TEST(DelveClientTest, FindLocationAndCreateBreakpoint) {
  FakeDelve delve;
  delve.On("RPCServer.FindLocation", [](const json& p) -> absl::StatusOr<json> {
    if (p["Loc"] != "main.go:10") return absl::UnknownError("location \"x\" not found");
    EXPECT_EQ(p["Scope"]["GoroutineID"], -1);
    return json::parse(R"({"Locations":[{"pc":100,"file":"/src/hello/main.go","line":10,
        "function":{"name":"main.handleSlash"},"pcs":[100,200]}]})");
  });
  delve.On("RPCServer.CreateBreakpoint", [](const json& p) -> absl::StatusOr<json> {
    json bp = p["Breakpoint"];
    bp["id"] = 1;
    return json{{"Breakpoint", bp}};
  });
  DelveClient client(*delve.Dial("fake"));
  auto locs = client.FindLocation("main.go:10", absl::Seconds(1));
  ASSERT_TRUE(locs.ok()) << locs.status();
  ASSERT_EQ(locs->size(), 1u);
  EXPECT_EQ((*locs)[0].function, "main.handleSlash");
  EXPECT_EQ((*locs)[0].file, "/src/hello/main.go");
  EXPECT_EQ((*locs)[0].pcs, (std::vector<uint64_t>{100, 200}));

  auto missing = client.FindLocation("nope", absl::Seconds(1));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(missing.status().message(), "location \"x\" not found");

  BreakpointRequest req;
  req.name = "a";
  req.addrs = (*locs)[0].pcs;
  auto bp = client.CreateBreakpoint(req, absl::Seconds(1));
  ASSERT_TRUE(bp.ok()) << bp.status();
  EXPECT_EQ((*bp)["id"], 1);
  EXPECT_EQ(delve.calls().back().second["Breakpoint"]["continue"], true);
}

TEST(DelveClientTest, PendingContinueIsInterruptibleAndAnsweredByAHaltElsewhere) {
  FakeDelve delve;
  DelveClient main(*delve.Dial("fake")), side(*delve.Dial("fake"));
  ASSERT_TRUE(main.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  EXPECT_TRUE(main.pending());
  main.Interrupt();
  EXPECT_EQ(main.Receive(absl::Seconds(1)).status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(main.pending());
  EXPECT_EQ(main.Receive(absl::Milliseconds(1)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(
      side.Call("RPCServer.Command", DelveClient::CommandParams("halt"), absl::Seconds(1)).ok());
  auto stop = main.Receive(absl::Seconds(1));
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_EQ((*stop)["State"]["Running"], false);
  EXPECT_FALSE(main.pending());
}

// A newer (or broken) Delve: fields of other types, unknown fields, missing objects. No call may
// throw; each either ignores what it does not know or fails with a status.
TEST(DelveClientTest, HostileRepliesNeverThrow) {
  FakeDelve delve;
  delve.On("RPCServer.FindLocation", [](const json& p) -> absl::StatusOr<json> {
    if (p["Loc"] == "obj") return json{{"Locations", {{"a", 1}}}};  // an object, not an array
    if (p["Loc"] == "nopcs") {
      return json::parse(R"({"Locations":[{"pc":"x","pcs":["a",-1,null],"line":"ten",
          "file":7,"function":"main.f"}]})");
    }
    // Unknown fields everywhere, numbers as floats: what matters is still read.
    return json::parse(R"({"Locations":[{"pc":100,"pcs":[100.0,200],"line":10.0,
        "file":"/src/main.go","function":{"name":"main.f","newField":[1,2]},"future":{"x":1}}],
        "SubstitutePathWarning":"", "extra":true})");
  });
  delve.On("RPCServer.CreateBreakpoint", [](const json&) -> absl::StatusOr<json> {
    return json{{"Breakpoint", json::array({1, 2})}};
  });
  delve.On("RPCServer.ListBreakpoints", [](const json&) -> absl::StatusOr<json> {
    return json{{"Breakpoints", "none"}};
  });
  delve.On("RPCServer.State", [](const json&) -> absl::StatusOr<json> {
    return json{{"State", "running"}};
  });
  DelveClient client(*delve.Dial("fake"));
  auto obj = client.FindLocation("obj", absl::Seconds(1));
  EXPECT_EQ(obj.status().code(), absl::StatusCode::kNotFound);
  auto nopcs = client.FindLocation("nopcs", absl::Seconds(1));
  EXPECT_EQ(nopcs.status().code(), absl::StatusCode::kNotFound);  // nothing to break on
  auto ok = client.FindLocation("main.f", absl::Seconds(1));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)[0].pcs, (std::vector<uint64_t>{200}));  // 100.0 is not a PC Delve would send
  EXPECT_EQ((*ok)[0].line, 10);
  EXPECT_EQ((*ok)[0].function, "main.f");
  BreakpointRequest req;
  req.name = "a";
  req.addrs = {200};
  auto bp = client.CreateBreakpoint(req, absl::Seconds(1));
  EXPECT_EQ(bp.status().code(), absl::StatusCode::kInternal);
  auto list = client.ListBreakpoints(absl::Seconds(1));
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->is_array());
  EXPECT_TRUE(list->empty());
  auto st = client.State(/*non_blocking=*/true, absl::Seconds(1));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kInternal);
  // A method this Delve does not have: its error, as a status.
  auto unknown = client.Call("RPCServer.NoSuchMethod", json::object(), absl::Seconds(1));
  EXPECT_FALSE(unknown.ok());
}

// ParseReply's result without the State's copies and its threads not at a breakpoint, as
// ParseStopReply must give it.
json AsStopParsed(json reply) {
  if (reply.contains("State") && reply["State"].is_object()) {
    json& state = reply["State"];
    state.erase("currentThread");
    state.erase("currentGoroutine");
    if (state.contains("Threads") && state["Threads"].is_array()) {
      json kept = json::array();
      for (const json& th : state["Threads"]) {
        if (DelveClient::AtBreakpoint(th)) kept.push_back(th);
      }
      state["Threads"] = kept;
    }
  }
  return reply;
}

TEST(DelveClientTest, StopReplyKeepsOnlyTheThreadsAtABreakpoint) {
  // A real stop (Delve 1.27.2, the optimized sample service at main.go:10): four threads, one at
  // the breakpoint; only that one is parsed, and it is the same as in the full parse.
  std::ifstream in(kdbg::testing::SourceDir() + "/fuzz/corpus/delve_reply/delve-1.27-stop.jsonl");
  std::string real;
  std::getline(in, real);
  ASSERT_FALSE(real.empty());
  auto whole = DelveClient::ParseReply(real);
  auto stop = DelveClient::ParseStopReply(real);
  ASSERT_TRUE(whole.ok() && stop.ok());
  ASSERT_EQ((*whole)["State"]["Threads"].size(), 4u);
  ASSERT_EQ((*stop)["State"]["Threads"].size(), 1u);
  EXPECT_EQ((*stop)["State"]["Threads"][0], (*whole)["State"]["Threads"][2]);
  EXPECT_EQ(*stop, AsStopParsed(*whole));
  // Kept: a thread whose last "breakPoint" is an object. Left out: none, null, a number, an
  // earlier object overridden by null, elements that are not objects.
  const std::string r =
      R"({"id":3,"result":{"State":{"Threads":[{"id":1},{"id":2,"breakPoint":null},)"
      R"({"id":3,"breakPoint":{"id":1},"x":"\"breakPoint\":{"},{"id":4,"breakPoint":7},)"
      R"({"id":5,"breakPoint":{"id":1},"breakPoint":null},{"id":6,"breakPoint":null,)"
      R"("breakPoint":{"id":2}},5,"s",[{"breakPoint":{}}],{}],"exited":false}},"error":null})";
  auto a = DelveClient::ParseReply(r), b = DelveClient::ParseStopReply(r);
  ASSERT_TRUE(a.ok() && b.ok()) << r;
  EXPECT_EQ(*b, AsStopParsed(*a));
  ASSERT_EQ((*b)["State"]["Threads"].size(), 2u);
  EXPECT_EQ((*b)["State"]["Threads"][0]["id"], 3);
  EXPECT_EQ((*b)["State"]["Threads"][1]["id"], 6);
  // Every thread at a breakpoint, or none in an empty array: nothing to cut.
  for (const std::string& kept :
       {std::string(R"({"id":3,"result":{"State":{"Threads":[{"breakPoint":{}}]}},"error":null})"),
        std::string(R"({"id":3,"result":{"State":{"Threads":[]}},"error":null})")}) {
    EXPECT_FALSE(DelveClient::WithoutStateMembers(kept, {}, true)) << kept;
  }
  // A key written with an escape ("\u0062reakPoint" is "breakPoint" once decoded): the raw scan
  // cannot tell, so the reply is parsed whole, and that thread is still there.
  const std::string escaped =
      R"({"id":3,"result":{"State":{"Threads":[{"id":1},{"\u0062reakPoint":{"id":1}}]}},"error":null})";
  EXPECT_FALSE(DelveClient::WithoutStateMembers(escaped, {}, true));
  auto e = DelveClient::ParseStopReply(escaped);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)["State"]["Threads"].size(), 2u);
}

TEST(DelveClientTest, StopReplyIsParsedWithoutTheStatesCopiesOfAThread) {
  // The layout Delve 1.27 writes, with strings that hold quotes, backslashes, brackets and the
  // members' own names: only the State's own members may go.
  const std::string real =
      R"({"id":12,"result":{"State":{"Pid":5,"Running":false,)"
      R"("currentThread":{"id":7,"pc":1,"breakPoint":{"id":1,"name":"tp}\"]"},)"
      R"("breakPointInfo":{"variables":[{"name":"s","value":"\\\"currentThread\\\":{[\\"}]}},)"
      R"("currentGoroutine":{"id":9,"userCurrentLoc":{"file":"/src/x{.go","line":10}},)"
      R"("Threads":[{"id":7,"breakPoint":{"id":1,"name":"tp}\"]"},"breakPointInfo":{)"
      R"("variables":[{"name":"s","value":"\"currentGoroutine\":{\\"}]}},{"id":8}],)"
      R"("NextInProgress":false,"WatchOutOfScope":null,"exited":false,"exitStatus":0,)"
      R"("When":""}},"error":null})";
  auto cut = DelveClient::WithoutStateMembers(real, {"currentThread", "currentGoroutine"});
  ASSERT_TRUE(cut.has_value());
  EXPECT_THAT(*cut, ::testing::Not(HasSubstr("\"currentThread\":{\"id\":7")));
  EXPECT_LT(cut->size(), real.size() - 150);
  auto whole = DelveClient::ParseReply(real);
  auto stop = DelveClient::ParseStopReply(real);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_EQ(*stop, AsStopParsed(*whole));
  EXPECT_EQ((*stop)["State"]["Threads"][0]["breakPointInfo"]["variables"][0]["value"],
            "\"currentGoroutine\":{\\");
  // The members cut first, last, or as the only ones; spaces where Go writes none.
  for (
      const std::string& r : {
          std::string(
              R"({"id":1,"result":{"State":{"currentThread":{"a":[1,{"b":"}"}]},"x":1}},"error":null})"),
          std::string(
              R"({"id":1,"result":{"State":{"x":[],"currentThread":null,"currentGoroutine":{}}},"error":null})"),
          std::string(
              R"({"id":1,"result":{"State":{ "currentGoroutine" : {"id":2} , "currentThread":true }},"error":null})"),
      }) {
    auto a = DelveClient::ParseReply(r), b = DelveClient::ParseStopReply(r);
    ASSERT_TRUE(a.ok() && b.ok()) << r;
    EXPECT_EQ(*b, AsStopParsed(*a)) << r;
    EXPECT_TRUE(DelveClient::WithoutStateMembers(r, {"currentThread", "currentGoroutine"}));
  }
  // Other layouts, and text that breaks JSON's grammar before the State's end, are parsed whole:
  // the same result, or the same error, as ParseReply.
  for (const std::string& r : {
           std::string(R"({"id":1,"result":{"Breakpoint":{"id":1}},"error":null})"),
           std::string(R"({"result":{"State":{"currentThread":{}}},"id":1})"),
           std::string(R"({"id":1,"result":{"State":{}},"error":null})"),
           std::string(
               R"({"id":1,"result":{"State":{"currentThread":{"a":"unterminated}}},"error":null})"),
           std::string(
               R"({"id":1,"result":{"State":{"currentThread":{"a":[1}]},"x":1}},"error":null})"),
           std::string(R"({"id":1,"result":{"State":{"currentThread" {"a":1}}},"error":null})"),
           std::string(R"({"id":1,"result":{"State":{"currentThread":{"a":1})"),
       }) {
    EXPECT_FALSE(DelveClient::WithoutStateMembers(r, {"currentThread", "currentGoroutine"})) << r;
    auto a = DelveClient::ParseReply(r), b = DelveClient::ParseStopReply(r);
    EXPECT_EQ(a.ok(), b.ok()) << r;
    if (a.ok() && b.ok()) {
      EXPECT_EQ(*a, *b) << r;
    } else if (!a.ok() && !b.ok()) {
      EXPECT_EQ(a.status(), b.status()) << r;
    }
  }
}

// The real TCP connection: framing across partial reads and several messages per read.
TEST(SocketRpcConnectionTest, SplitsTheStreamIntoMessages) {
  int port = 0;
  int lfd = kdbg::testing::ListenLoopback(&port);
  ASSERT_GE(lfd, 0);
  std::string big(9000, 'x');
  std::thread server([&] {
    int c = ::accept(lfd, nullptr, nullptr);
    char buf[256];
    ssize_t n = ::read(c, buf, sizeof(buf));  // the request
    std::string req(buf, n > 0 ? static_cast<size_t>(n) : 0);
    EXPECT_EQ(req.back(), '\n');
    std::string r1 = absl::StrCat(R"({"id":1,"result":{"v":")", big, R"("},"error":null})", "\n");
    ssize_t w = ::write(c, r1.data(), 100);
    ::usleep(2000);
    w = ::write(c, r1.data() + 100, r1.size() - 100);
    std::string two =
        "{\"id\":9,\"result\":{},\"error\":null}\n{\"id\":2,\"result\":null,\"error\":\"boom\"}\n";
    w = ::write(c, two.data(), two.size());
    // Hostile: an id of another type (skipped as stale), then an error that is an object.
    std::string odd =
        "{\"id\":\"3\",\"result\":{}}\n{\"id\":3,\"result\":{},\"error\":{\"code\":-32601}}\n";
    w = ::write(c, odd.data(), odd.size());
    (void)w;
    ::usleep(20000);
    ::close(c);
  });
  auto conn = SocketRpcDialer().Dial(absl::StrCat("127.0.0.1:", port));
  ASSERT_TRUE(conn.ok()) << conn.status();
  DelveClient client(std::move(*conn));
  auto r = client.Call("RPCServer.State", json::object(), absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["v"].get<std::string>().size(), big.size());
  // id 9 is a stale reply and is skipped; id 2 carries Delve's error.
  auto e = client.Call("RPCServer.State", json::object(), absl::Seconds(5));
  EXPECT_EQ(e.status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(e.status().message(), "boom");
  auto odd = client.Call("RPCServer.State", json::object(), absl::Seconds(5));
  EXPECT_EQ(odd.status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(odd.status().message(), "{\"code\":-32601}");
  auto gone = client.Call("RPCServer.State", json::object(), absl::Seconds(5));
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kUnavailable);
  server.join();
  ::close(lfd);
}

// The continue loop's order: a stop is received unparsed (late replies skipped by the id Go's
// codec writes first), the next continue is sent, then the stop is parsed from the same view.
TEST(SocketRpcConnectionTest, AStopStaysReadableAfterTheNextContinueIsSent) {
  int port = 0;
  int lfd = kdbg::testing::ListenLoopback(&port);
  ASSERT_GE(lfd, 0);
  const std::string stop =
      R"({"id":1,"result":{"State":{"Running":false,"Threads":[{"pid":7,"goroutineID":5,)"
      R"("breakPoint":{"id":1}}],"exited":false}},"error":null})";
  std::string second_request;
  std::thread server([&] {
    int c = ::accept(lfd, nullptr, nullptr);
    char buf[256];
    ssize_t n = ::read(c, buf, sizeof(buf));  // the first continue
    std::string replies = absl::StrCat(R"({"id":12,"result":{},"error":null})", "\n", stop, "\n");
    ssize_t w = ::write(c, replies.data(), replies.size());
    (void)w;
    n = ::read(c, buf, sizeof(buf));  // the second continue
    second_request.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
    ::close(c);
  });
  auto conn = SocketRpcDialer().Dial(absl::StrCat("127.0.0.1:", port));
  ASSERT_TRUE(conn.ok()) << conn.status();
  DelveClient client(std::move(*conn));
  ASSERT_TRUE(client.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  auto text = client.ReceiveUnparsed(absl::Seconds(5));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, stop);  // id 12 skipped, the stop as Delve wrote it
  EXPECT_FALSE(client.pending());
  ASSERT_TRUE(client.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok());
  auto parsed = DelveClient::ParseReply(*text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)["State"]["Threads"][0]["breakPoint"]["id"], 1);
  EXPECT_EQ((*parsed)["State"]["exited"], false);
  server.join();
  EXPECT_EQ(second_request,
            "{\"id\":2,\"method\":\"RPCServer.Command\",\"params\":[{\"Name\":\"continue\"}]}\n");
  ::close(lfd);
}

// A Delve that accepts but never reads: Send gives up after the dialer's send timeout instead of
// blocking the session's thread forever once the socket buffers are full.
TEST(SocketRpcConnectionTest, SendToAPeerThatNeverReadsTimesOut) {
  int port = 0;
  int lfd = kdbg::testing::ListenLoopback(&port);  // accepted by the kernel, never read
  ASSERT_GE(lfd, 0);
  auto conn = SocketRpcDialer(absl::Milliseconds(200)).Dial(absl::StrCat("127.0.0.1:", port));
  ASSERT_TRUE(conn.ok()) << conn.status();
  std::string big(64 << 20, 'x');  // far more than loopback's socket buffers
  absl::Time start = kdbg::MonotonicNow();
  absl::Status s = (*conn)->Send(big);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_LT(kdbg::MonotonicNow() - start, absl::Seconds(5));
  ::close(lfd);
}

}  // namespace
}  // namespace kdbg::delve
