// The tunnel's framing (debug_protocol.h) over real conversations captured from Delve 1.27.2
// (testdata/debug_protocol/capture.py): `dlv connect` (JSON-RPC v2) and a DAP client doing VS
// Code's remote attach.
#include "agent/service/debug_protocol.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace kdbg::agent {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string Capture(const std::string& name) {
  std::ifstream in(kdbg::testing::SourceDir() + "/agent/service/testdata/debug_protocol/" + name,
                   std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The messages of a whole stream, by a fresh scanner: each as its bytes (JSON: from its '{').
std::vector<std::string> Messages(DebugProtocol p, const std::string& stream) {
  MessageScanner scanner(p);
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t end : scanner.Boundaries(stream)) {
    std::string m = stream.substr(start, end - start);
    if (p == DebugProtocol::kJsonRpc) m.erase(0, m.find('{'));
    out.push_back(m);
    start = end;
  }
  EXPECT_FALSE(scanner.failed());
  return out;
}

// A DAP message's JSON body.
json DapBody(const std::string& message) {
  size_t at = message.find("\r\n\r\n");
  EXPECT_NE(at, std::string::npos) << message;
  return json::parse(message.substr(at + 4), nullptr, false);
}

// Boundaries found when the stream arrives in chunks of `size` bytes.
std::vector<size_t> ChunkedBoundaries(DebugProtocol p, const std::string& stream, size_t size) {
  MessageScanner scanner(p);
  std::vector<size_t> out;
  for (size_t at = 0; at < stream.size(); at += size) {
    for (size_t b : scanner.Boundaries(absl::string_view(stream).substr(at, size))) {
      out.push_back(at + b);
    }
  }
  return out;
}

TEST(MessageScannerTest, FindsEveryDapMessageOfARealConversationHoweverItIsChunked) {
  for (const char* file : {"dap-client-to-delve.bin", "dap-delve-to-client.bin"}) {
    std::string stream = Capture(file);
    ASSERT_FALSE(stream.empty()) << file;
    MessageScanner scanner(DebugProtocol::kDap);
    std::vector<size_t> ends = scanner.Boundaries(stream);
    EXPECT_TRUE(scanner.at_boundary());
    ASSERT_FALSE(ends.empty());
    EXPECT_EQ(ends.back(), stream.size()) << file;
    size_t start = 0;
    for (size_t end : ends) {
      std::string m = stream.substr(start, end - start);
      EXPECT_TRUE(absl::StartsWith(m, "Content-Length: ")) << m;
      json body = DapBody(m);
      ASSERT_FALSE(body.is_discarded()) << m;
      EXPECT_TRUE(body.contains("seq") && body.contains("type")) << m;
      start = end;
    }
    // As many messages as headers.
    size_t headers = 0;
    for (size_t at = stream.find("Content-Length"); at != std::string::npos;
         at = stream.find("Content-Length", at + 1)) {
      ++headers;
    }
    EXPECT_EQ(ends.size(), headers) << file;
    for (size_t size : {1, 2, 7, 100, 4096}) {
      EXPECT_EQ(ChunkedBoundaries(DebugProtocol::kDap, stream, size), ends)
          << file << " in chunks of " << size;
    }
  }
}

TEST(MessageScannerTest, FindsEveryJsonRpcMessageOfARealConversationHoweverItIsChunked) {
  for (const char* file : {"dlv-client-to-delve.bin", "dlv-delve-to-client.bin"}) {
    std::string stream = Capture(file);
    ASSERT_FALSE(stream.empty()) << file;
    MessageScanner scanner(DebugProtocol::kJsonRpc);
    std::vector<size_t> ends = scanner.Boundaries(stream);
    EXPECT_FALSE(scanner.failed());
    // Go's codec ends each object with a newline: one message per line, each ending at its '}'.
    size_t lines = 0;
    for (char c : stream) lines += c == '\n';
    EXPECT_EQ(ends.size(), lines) << file;
    for (size_t end : ends) {
      EXPECT_EQ(stream[end - 1], '}');
      EXPECT_EQ(stream[end], '\n');
    }
    for (const std::string& m : Messages(DebugProtocol::kJsonRpc, stream)) {
      json j = json::parse(m, nullptr, false);
      ASSERT_TRUE(j.is_object()) << m;
      EXPECT_TRUE(j.contains("id")) << m;
    }
    for (size_t size : {1, 3, 64, 1000, 65536}) {
      EXPECT_EQ(ChunkedBoundaries(DebugProtocol::kJsonRpc, stream, size), ends)
          << file << " in chunks of " << size;
    }
  }
  // Braces and quotes inside strings do not end a message.
  MessageScanner scanner(DebugProtocol::kJsonRpc);
  std::string tricky = R"({"id":1,"result":null,"error":"a } \" { ] [ \\"})";
  EXPECT_EQ(scanner.Boundaries(tricky), std::vector<size_t>{tricky.size()});
}

TEST(MessageScannerTest, FailsForGoodOnWhatItCannotParse) {
  struct Case {
    DebugProtocol p;
    std::string bytes;
  };
  for (const Case& c : std::vector<Case>{
           {DebugProtocol::kDap, "Content-Type: x\r\n\r\n{}"},            // no length
           {DebugProtocol::kDap, "Content-Length: lots\r\n\r\n{}"},       // not a number
           {DebugProtocol::kDap, "Content-Length: 99999999999\r\n\r\n"},  // over kMaxBody
           {DebugProtocol::kDap, std::string(MessageScanner::kMaxHeader + 1, 'C')},  // endless
           {DebugProtocol::kJsonRpc, "[1,2]"},                           // not an object
           {DebugProtocol::kJsonRpc, "{\"id\":1}\nGET / HTTP/1.1\r\n"},  // junk after
       }) {
    MessageScanner scanner(c.p);
    (void)scanner.Boundaries(c.bytes);
    EXPECT_TRUE(scanner.failed()) << c.bytes;
    EXPECT_FALSE(scanner.at_boundary());
    EXPECT_TRUE(scanner.Boundaries("{}\n{}").empty()) << "no boundary after a failure";
  }
}

// The DAP conversation up to and including Delve's "stopped" event, and the rest.
struct DapSplit {
  std::string client;
  std::string before;  // Delve -> client, through the stopped event
  std::string after;
};
DapSplit SplitAtStopped() {
  DapSplit s;
  s.client = Capture("dap-client-to-delve.bin");
  std::string delve = Capture("dap-delve-to-client.bin");
  size_t stopped = delve.find("\"event\":\"stopped\"");
  EXPECT_NE(stopped, std::string::npos);
  size_t end = delve.find("Content-Length", stopped);
  s.before = delve.substr(0, end);
  s.after = delve.substr(end);
  return s;
}

TEST(DebugTunnelFilterTest, DapClientIsToldAtOnceBetweenMessagesWithOutputAndContinued) {
  DapSplit s = SplitAtStopped();
  DebugTunnelFilter f;
  std::string client = s.client;
  f.FromClient(&client);
  EXPECT_EQ(f.protocol(), DebugProtocol::kDap);
  EXPECT_EQ(client, s.client) << "DAP requests pass untouched";
  std::string delve = s.before;
  f.FromDelve(&delve);
  EXPECT_EQ(delve, s.before);

  std::string told = f.Notify("kdbg: pod default/hello-world: the target was stopped for 1.5s");
  EXPECT_EQ(f.delivered(), 1);
  std::vector<std::string> msgs = Messages(DebugProtocol::kDap, told);
  ASSERT_EQ(msgs.size(), 2u) << told;
  json output = DapBody(msgs[0]);
  EXPECT_EQ(output["type"], "event");
  EXPECT_EQ(output["event"], "output");
  EXPECT_EQ(output["body"]["category"], "important");
  EXPECT_EQ(output["body"]["output"],
            "kdbg: pod default/hello-world: the target was stopped for 1.5s\n");
  json continued = DapBody(msgs[1]);
  EXPECT_EQ(continued["event"], "continued");
  EXPECT_EQ(continued["body"]["threadId"], 23) << "the stopped event's thread (the capture's)";
  EXPECT_EQ(continued["body"]["allThreadsContinued"], true);

  // Then the conversation goes on untouched, and nothing is told twice.
  delve = s.after;
  f.FromDelve(&delve);
  EXPECT_EQ(delve, s.after);
  EXPECT_EQ(f.Notify("again").empty(), false) << "a second resume is told again";
  EXPECT_EQ(f.delivered(), 2);
}

TEST(DebugTunnelFilterTest, DapNoticeWaitsForTheEndOfAMessageInFlight) {
  DapSplit s = SplitAtStopped();
  DebugTunnelFilter f;
  std::string client = s.client;
  f.FromClient(&client);
  std::string delve = s.before;
  f.FromDelve(&delve);
  // Delve is in the middle of its next message (a header, then half a body).
  const std::string& rest = s.after;
  size_t cut = rest.find("\r\n\r\n") + 10;
  std::string first = rest.substr(0, cut);
  f.FromDelve(&first);
  EXPECT_EQ(first, rest.substr(0, cut));
  EXPECT_TRUE(f.Notify("kdbg: resumed").empty()) << "not inside a message";
  EXPECT_EQ(f.delivered(), 0);
  // The rest arrives: the notice lands right after that message's end.
  std::string second = rest.substr(cut);
  f.FromDelve(&second);
  EXPECT_EQ(f.delivered(), 1);
  std::string all = s.before + first + second;
  std::vector<std::string> got = Messages(DebugProtocol::kDap, all);
  std::vector<std::string> original = Messages(DebugProtocol::kDap, s.before + rest);
  ASSERT_EQ(got.size(), original.size() + 2);
  size_t first_after = Messages(DebugProtocol::kDap, s.before).size();
  EXPECT_EQ(got[first_after], original[first_after]) << "the message in flight, whole";
  EXPECT_EQ(DapBody(got[first_after + 1])["event"], "output");
  EXPECT_EQ(DapBody(got[first_after + 2])["event"], "continued");
  for (size_t i = first_after + 1; i < original.size(); ++i) {
    EXPECT_EQ(got[i + 2], original[i]);
  }
}

// A DAP message as VS Code / Delve write one.
std::string Dap(const std::string& body) {
  return absl::StrCat("Content-Length: ", body.size(), "\r\n\r\n", body);
}

TEST(DebugTunnelFilterTest, DapPauseAfterTheNoticeGetsTheStoppedEventDelveDoesNotSend) {
  DapSplit s = SplitAtStopped();
  DebugTunnelFilter f;
  std::string client = s.client;
  f.FromClient(&client);
  std::string delve = s.before;
  f.FromDelve(&delve);
  ASSERT_FALSE(f.Notify("kdbg: resumed").empty());
  // The IDE shows the program running; the user pauses. Delve answers, and says nothing else.
  std::string pause =
      Dap(R"({"command":"pause","arguments":{"threadId":23},"type":"request","seq":12})");
  std::string sent = pause;
  f.FromClient(&sent);
  EXPECT_EQ(sent, pause);
  std::string answer =
      Dap(R"({"seq":31,"type":"response","request_seq":12,"success":true,"command":"pause"})");
  std::string got = answer;
  f.FromDelve(&got);
  std::vector<std::string> msgs = Messages(DebugProtocol::kDap, got);
  ASSERT_EQ(msgs.size(), 2u) << got;
  EXPECT_EQ(msgs[0], answer);
  json stopped = DapBody(msgs[1]);
  EXPECT_EQ(stopped["event"], "stopped");
  EXPECT_EQ(stopped["body"]["reason"], "pause");
  EXPECT_EQ(stopped["body"]["allThreadsStopped"], true);
  // Once: a later pause (Delve's own business again) passes untouched.
  sent = pause;
  f.FromClient(&sent);
  got = answer;
  f.FromDelve(&got);
  EXPECT_EQ(got, answer);

  // Without a notice, a pause is Delve's alone.
  DebugTunnelFilter g;
  client = s.client;
  g.FromClient(&client);
  delve = s.before;
  g.FromDelve(&delve);
  sent = pause;
  g.FromClient(&sent);
  got = answer;
  g.FromDelve(&got);
  EXPECT_EQ(got, answer);
}

// The JSON-RPC conversation of `dlv connect`, request by request.
std::vector<std::string> DlvRequests() {
  return Messages(DebugProtocol::kJsonRpc, Capture("dlv-client-to-delve.bin"));
}

TEST(DebugTunnelFilterTest, JsonRpcClientsNextRequestIsAnsweredWithTheNoticeAndNotForwarded) {
  std::vector<std::string> reqs = DlvRequests();
  ASSERT_GT(reqs.size(), 20u);
  DebugTunnelFilter f;
  // The first requests pass untouched (id 0..12: up to CreateBreakpoint).
  for (size_t i = 0; i <= 12; ++i) {
    std::string d = reqs[i] + "\n";
    f.FromClient(&d);
    EXPECT_EQ(d, reqs[i] + "\n");
  }
  EXPECT_EQ(f.protocol(), DebugProtocol::kJsonRpc);
  std::string delve = R"({"id":12,"result":{"Breakpoint":{"id":1}},"error":null})"
                      "\n";
  f.FromDelve(&delve);
  EXPECT_TRUE(f.Notify("kdbg: pod default/hello-world: resumed").empty()) << "no server push";
  // The next request: `continue` (Command with events) and its GetEvents, as dlv 1.27 sends them.
  ASSERT_THAT(reqs[13], HasSubstr("\"name\":\"continue\""));
  ASSERT_THAT(reqs[14], HasSubstr("RPCServer.GetEvents"));
  std::string d = reqs[13] + "\n" + reqs[14] + "\n" + reqs[15] + "\n";
  f.FromClient(&d);
  EXPECT_EQ(d, "\n\n" + reqs[15] + "\n") << "the command and its GetEvents withheld, the next sent";
  std::string replies = f.TakeReplies();
  std::vector<std::string> msgs = Messages(DebugProtocol::kJsonRpc, replies);
  ASSERT_EQ(msgs.size(), 2u) << replies;
  for (size_t i = 0; i < 2; ++i) {
    json r = json::parse(msgs[i]);
    EXPECT_EQ(r["id"], 13 + static_cast<int>(i));
    EXPECT_TRUE(r["result"].is_null());
    ASSERT_TRUE(r["error"].is_string());
    EXPECT_THAT(r["error"].get<std::string>(),
                HasSubstr("kdbg: pod default/hello-world: resumed [kdbg answered this request"));
  }
  EXPECT_EQ(f.delivered(), 1);
  // Later requests pass untouched.
  for (size_t i = 16; i < reqs.size(); ++i) {
    std::string later = reqs[i] + "\n";
    f.FromClient(&later);
    EXPECT_EQ(later, reqs[i] + "\n");
  }
}

TEST(DebugTunnelFilterTest, JsonRpcGetEventsSentBeforeItsCommandIsAnsweredWithIt) {
  std::vector<std::string> reqs = DlvRequests();
  DebugTunnelFilter f;
  std::string d = reqs[0] + "\n";
  f.FromClient(&d);
  (void)f.Notify("kdbg: resumed");
  // dlv's drainEvents goroutine may win the race: GetEvents first, then the command.
  d = reqs[14] + "\n";
  f.FromClient(&d);
  EXPECT_EQ(d, "\n") << "held until its command is seen";
  EXPECT_TRUE(f.TakeReplies().empty());
  d = reqs[13] + "\n";
  f.FromClient(&d);
  EXPECT_EQ(d, "\n");
  std::vector<std::string> msgs = Messages(DebugProtocol::kJsonRpc, f.TakeReplies());
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(json::parse(msgs[0])["id"], 13);
  EXPECT_EQ(json::parse(msgs[1])["id"], 14);
}

TEST(DebugTunnelFilterTest,
     JsonRpcRequestWithoutEventsReleasesAHeldGetEventsAndDetachDropsTheNotice) {
  DebugTunnelFilter f;
  std::string d = R"({"method":"RPCServer.IsMulticlient","params":[{}],"id":1})"
                  "\n";
  f.FromClient(&d);
  (void)f.Notify("kdbg: resumed");
  std::string get_events = R"({"method":"RPCServer.GetEvents","params":[{}],"id":2})";
  std::string eval = R"({"method":"RPCServer.Eval","params":[{"Expr":"x"}],"id":3})";
  d = get_events + "\n" + eval + "\n";
  f.FromClient(&d);
  EXPECT_EQ(d, "\n" + get_events + "\n") << "Eval answered; the GetEvents is not its own";
  std::vector<std::string> msgs = Messages(DebugProtocol::kJsonRpc, f.TakeReplies());
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(json::parse(msgs[0])["id"], 3);

  DebugTunnelFilter g;
  d = R"({"method":"RPCServer.IsMulticlient","params":[{}],"id":1})";
  g.FromClient(&d);
  (void)g.Notify("kdbg: resumed");
  std::string detach = R"({"method":"RPCServer.Detach","params":[{"Kill":false}],"id":2})";
  d = detach;
  g.FromClient(&d);
  EXPECT_EQ(d, "") << "answered here (the session ends instead)";
  EXPECT_EQ(json::parse(g.TakeReplies()), json::parse(R"({"id":2,"result":{},"error":null})"))
      << "as Delve answers it, not with the notice";
  EXPECT_EQ(g.detaches(), 1);
  std::string eval2 = R"({"method":"RPCServer.Eval","params":[{}],"id":3})";
  d = eval2;
  g.FromClient(&d);
  EXPECT_EQ(d, eval2) << "the notice went with the detach";
  EXPECT_EQ(g.delivered(), 0);
}

TEST(DebugTunnelFilterTest, JsonRpcReplyWaitsForTheEndOfAReplyInFlightAndKeepsItWhole) {
  std::string delve_stream = Capture("dlv-delve-to-client.bin");
  std::vector<std::string> replies = Messages(DebugProtocol::kJsonRpc, delve_stream);
  DebugTunnelFilter f;
  std::string d = R"({"method":"RPCServer.State","params":[{"NonBlocking":true}],"id":2})";
  f.FromClient(&d);
  // Delve is half way through a long reply when the client's next request arrives.
  const std::string& big = *std::max_element(
      replies.begin(), replies.end(),
      [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  ASSERT_GT(big.size(), 2000u);  // a State reply of several KB
  std::string half = big.substr(0, big.size() / 2);
  f.FromDelve(&half);
  (void)f.Notify("kdbg: resumed");
  d = R"({"method":"RPCServer.Stacktrace","params":[{"Id":-1}],"id":3})";
  f.FromClient(&d);
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(f.TakeReplies().empty()) << "not in the middle of Delve's reply";
  std::string rest = big.substr(big.size() / 2) + "\n";
  f.FromDelve(&rest);
  std::vector<std::string> out = Messages(DebugProtocol::kJsonRpc, half + rest);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], big);
  EXPECT_EQ(json::parse(out[1])["id"], 3);
}

TEST(DebugTunnelFilterTest, JsonRpcRequestTooLargeToHoldIsForwardedAndTheNextOneAnswered) {
  DebugTunnelFilter f;
  std::string d = R"({"method":"RPCServer.State","params":[{}],"id":1})";
  f.FromClient(&d);
  (void)f.Notify("kdbg: resumed");
  std::string big =
      absl::StrCat(R"({"method":"RPCServer.Eval","params":[{"Expr":")",
                   std::string(DebugTunnelFilter::kMaxHeldRequest + 10, 'x'), R"("}],"id":2})");
  std::string forwarded;
  for (size_t at = 0; at < big.size(); at += 4096) {
    std::string chunk = big.substr(at, 4096);
    f.FromClient(&chunk);
    forwarded += chunk;
  }
  EXPECT_EQ(forwarded, big) << "every byte, in order";
  d = R"({"method":"RPCServer.State","params":[{}],"id":3})";
  f.FromClient(&d);
  EXPECT_TRUE(d.empty());
  std::string answer = f.TakeReplies();
  EXPECT_EQ(json::parse(answer)["id"], 3);
}

TEST(DebugTunnelFilterTest, AnythingElsePassesThroughUntouchedAndIsNeverToldAnything) {
  // Not a debugger protocol at all.
  DebugTunnelFilter f;
  std::string d = "GET / HTTP/1.1\r\n\r\n";
  f.FromClient(&d);
  EXPECT_EQ(f.protocol(), DebugProtocol::kPassThrough);
  EXPECT_EQ(d, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(f.Notify("kdbg: resumed").empty());
  std::string back = "HTTP/1.1 400\r\n\r\n";
  f.FromDelve(&back);
  EXPECT_EQ(back, "HTTP/1.1 400\r\n\r\n");

  // DAP that stops making sense mid-conversation: from there on, untouched, and a notice held
  // for the next boundary is dropped rather than inserted anywhere.
  DebugTunnelFilter g;
  d = Capture("dap-client-to-delve.bin");
  g.FromClient(&d);
  std::string half = "Content-Length: 8\r\n\r\n{\"seq\":1}Content-Le";
  g.FromDelve(&half);
  EXPECT_TRUE(g.Notify("kdbg: resumed").empty()) << "inside a header";
  std::string junk = "ngth: no header here at all, and no end\r\n";
  junk += std::string(MessageScanner::kMaxHeader + 10, 'y');
  std::string copy = junk;
  g.FromDelve(&copy);
  EXPECT_EQ(copy, junk);
  EXPECT_EQ(g.protocol(), DebugProtocol::kPassThrough);
  EXPECT_EQ(g.delivered(), 0);

  // A client that has not spoken holds no stop: nothing is kept for it.
  DebugTunnelFilter quiet;
  EXPECT_TRUE(quiet.Notify("kdbg: resumed").empty());
  std::string dap_client = Capture("dap-client-to-delve.bin");
  quiet.FromClient(&dap_client);
  std::string dap_delve = Capture("dap-delve-to-client.bin");
  std::string copy_back = dap_delve;
  quiet.FromDelve(&copy_back);
  EXPECT_EQ(copy_back, dap_delve);
  EXPECT_EQ(quiet.delivered(), 0);

  // Delve speaking first: nothing to frame by.
  DebugTunnelFilter h;
  std::string hello = "Content-Length: 2\r\n\r\n{}";
  h.FromDelve(&hello);
  EXPECT_EQ(h.protocol(), DebugProtocol::kPassThrough);
}

// Whole real conversations, client to Delve, in chunks of any size: every byte goes on, in order
// (each message once it has ended), with nothing answered here.
TEST(DebugTunnelFilterTest, RealClientConversationsReachDelveWholeHoweverChunked) {
  for (const char* name : {"dap-client-to-delve.bin", "dlv-client-to-delve.bin"}) {
    const std::string stream = Capture(name);
    ASSERT_GT(stream.size(), 500u) << name;
    for (size_t size : {size_t{1}, size_t{7}, size_t{100}, stream.size()}) {
      DebugTunnelFilter f;
      std::string forwarded;
      for (size_t at = 0; at < stream.size(); at += size) {
        std::string chunk = stream.substr(at, size);
        f.FromClient(&chunk);
        forwarded += chunk;
        forwarded += f.TakeForDelve();
      }
      EXPECT_EQ(forwarded, stream) << name << " in chunks of " << size;
      EXPECT_TRUE(f.TakeReplies().empty());
      EXPECT_EQ(f.refused_kills(), 0);
    }
  }
}

// Delve 1.27's `quit` asks "Would you like to kill the process? [Y/n]"; its default sends this
// Detach. It never reaches Delve: the client gets an error saying why and what to do instead.
TEST(DebugTunnelFilterTest, JsonRpcDetachThatWouldKillTheTargetIsAnsweredHereAndNotForwarded) {
  std::vector<std::string> reqs = DlvRequests();
  for (const char* params : {R"({"Kill":true})", R"({"kill":true})"}) {
    DebugTunnelFilter f;
    std::string d = reqs[0] + "\n";
    f.FromClient(&d);
    ASSERT_EQ(d, reqs[0] + "\n");
    const std::string detach =
        absl::StrCat(R"({"method":"RPCServer.Detach","params":[)", params, R"(],"id":21})");
    // Split mid-request: nothing of it goes on, even before its end.
    std::string first = detach.substr(0, 20);
    f.FromClient(&first);
    EXPECT_EQ(first, "");
    std::string rest = detach.substr(20) + "\n";
    f.FromClient(&rest);
    EXPECT_EQ(rest, "\n") << params;
    std::vector<std::string> msgs = Messages(DebugProtocol::kJsonRpc, f.TakeReplies());
    ASSERT_EQ(msgs.size(), 1u) << params;
    json r = json::parse(msgs[0]);
    EXPECT_EQ(r["id"], 21);
    EXPECT_TRUE(r["result"].is_null());
    ASSERT_TRUE(r["error"].is_string());
    EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("kdbg: refused to kill the target"));
    EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("quit -c"));
    EXPECT_EQ(f.refused_kills(), 1);
    // The client stays whole: its next request goes on.
    std::string state = R"({"method":"RPCServer.State","params":[{"NonBlocking":true}],"id":22})";
    d = state;
    f.FromClient(&d);
    EXPECT_EQ(d, state);
  }
  // Whitespace first (Go's JSON decoder skips it, so Delve serves JSON-RPC) changes nothing.
  {
    DebugTunnelFilter w;
    std::string space = " \n";
    w.FromClient(&space);
    EXPECT_EQ(space, " \n");
    EXPECT_EQ(w.protocol(), DebugProtocol::kUndecided);
    std::string kill =
        "\t" +
        absl::StrCat(R"({"method":"RPCServer.Detach","params":[{"Kill":true}],)", R"("id":5})");
    w.FromClient(&kill);
    EXPECT_EQ(w.protocol(), DebugProtocol::kJsonRpc);
    EXPECT_EQ(kill, "\t");
    EXPECT_EQ(w.refused_kills(), 1);
    EXPECT_EQ(json::parse(w.TakeReplies())["id"], 5);
  }
  // Leaving without killing ("yes" to "kill the headless instance?", "no" to "kill the
  // process?"): answered as Delve answers it, counted for the tunnel to end the session, and not
  // sent (Delve would detach and exit under the session).
  DebugTunnelFilter g;
  std::string d = R"({"method":"RPCServer.Detach","params":[{"Kill":false}],"id":3})"
                  "\n";
  g.FromClient(&d);
  EXPECT_EQ(d, "\n");
  EXPECT_EQ(json::parse(g.TakeReplies()), json::parse(R"({"id":3,"result":{},"error":null})"));
  EXPECT_EQ(g.refused_kills(), 0);
  EXPECT_EQ(g.detaches(), 1);
}

// VS Code's Stop on an attach configuration sends disconnect {terminateDebuggee: true}, which
// Delve honours by killing the target. It goes on without the terminate: Delve closes that
// client's session only. The IDE is told in its debug console.
TEST(DebugTunnelFilterTest, DapDisconnectThatWouldTerminateTheTargetGoesOnWithoutTerminating) {
  const std::string conversation = Capture("dap-client-to-delve.bin");
  std::vector<std::string> msgs = Messages(DebugProtocol::kDap, conversation);
  ASSERT_GT(msgs.size(), 5u);
  const std::string body =
      R"({"command":"disconnect","arguments":{"restart":false,"terminateDebuggee":true},)"
      R"("type":"request","seq":14})";
  const std::string disconnect = absl::StrCat("Content-Length: ", body.size(), "\r\n\r\n", body);
  DebugTunnelFilter f;
  std::string d = msgs[0] + msgs[1];
  f.FromClient(&d);
  ASSERT_EQ(d, msgs[0] + msgs[1]);
  std::string forwarded;
  for (size_t at = 0; at < disconnect.size(); at += 9) {
    std::string chunk = disconnect.substr(at, 9);
    f.FromClient(&chunk);
    forwarded += chunk;
  }
  std::vector<std::string> out = Messages(DebugProtocol::kDap, forwarded);
  ASSERT_EQ(out.size(), 1u) << forwarded;
  json sent = DapBody(out[0]);
  EXPECT_EQ(sent["command"], "disconnect");
  EXPECT_EQ(sent["seq"], 14);
  EXPECT_EQ(sent["arguments"]["restart"], false);
  EXPECT_EQ(sent["arguments"]["terminateDebuggee"], false);
  EXPECT_EQ(f.refused_kills(), 1);
  std::vector<std::string> told = Messages(DebugProtocol::kDap, f.TakeReplies());
  ASSERT_EQ(told.size(), 1u);
  json output = DapBody(told[0]);
  EXPECT_EQ(output["event"], "output");
  EXPECT_THAT(output["body"]["output"].get<std::string>(),
              HasSubstr("disconnected without terminating the target"));

  // Delve half way through a message: the event waits for its end.
  DebugTunnelFilter g;
  d = msgs[0];
  g.FromClient(&d);
  std::string half = "Content-Length: 15\r\n\r\n{\"seq\":1,";
  g.FromDelve(&half);
  d = disconnect;
  g.FromClient(&d);
  EXPECT_TRUE(g.TakeReplies().empty()) << "not inside Delve's message";
  std::string end = "\"a\":1}";
  g.FromDelve(&end);
  EXPECT_THAT(end, HasSubstr("disconnected without terminating the target"));
  EXPECT_TRUE(absl::StartsWith(end, "\"a\":1}Content-Length: ")) << end;
}

TEST(DebugTunnelFilterTest, NoticeTextIsQuotedSafely) {
  std::string reply = DebugTunnelFilter::JsonRpcError("7", "a \"quoted\"\nline \xff");
  json r = json::parse(reply, nullptr, false);
  ASSERT_FALSE(r.is_discarded()) << reply;
  EXPECT_EQ(r["id"], 7);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("a \"quoted\"\nline"));
  std::vector<std::string> m =
      Messages(DebugProtocol::kDap, DebugTunnelFilter::DapNotice("\xff\xfe", 5));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_FALSE(DapBody(m[0]).is_discarded());
}

}  // namespace
}  // namespace kdbg::agent
