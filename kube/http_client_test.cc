// Hermetic tests of the HTTP client against an in-process plain-HTTP server on port 0 (TLS is
// covered by tests/integration/kube against the API stub), with a FakeClock for backoff.
#include "kube/http_client.h"
#include "common/clock.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/time/clock.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/support/test_env.h"

namespace kdbg::kube {
namespace {

using ::testing::HasSubstr;

std::string Fixture(const std::string& rel) {
  std::ifstream in(kdbg::testing::TestdataDir("kube") + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(StatusFromResponseTest, RealStatusBodies) {
  auto nf = StatusFromResponse(404, Fixture("status/404-notfound-get-pod.json"));
  EXPECT_EQ(nf.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(nf.message(), "pods \"abc\" not found");
  auto fb = StatusFromResponse(403, Fixture("status/403-forbidden-patch-named-pod-2018.json"));
  EXPECT_EQ(fb.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(fb.message(), HasSubstr("pods \"pod-labeler-c7b4fd44d-mr8qh\" is forbidden"));
  auto br =
      StatusFromResponse(400, Fixture("status/400-badrequest-field-label-not-supported.json"));
  EXPECT_EQ(br.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(br.message(), "field label not supported: metadata.nam");
  EXPECT_EQ(
      StatusFromResponse(401, R"({"kind":"Status","message":"Unauthorized","code":401})").code(),
      absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(StatusFromResponse(409, R"({"reason":"AlreadyExists","message":"x"})").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusFromResponse(409, R"({"reason":"Conflict","message":"x"})").code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromResponse(410, R"({"reason":"Expired","message":"too old"})").code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(StatusFromResponse(429, "{}").code(), absl::StatusCode::kResourceExhausted);
  auto bad_gw = StatusFromResponse(502, "<html>Bad Gateway</html>");
  EXPECT_EQ(bad_gw.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(bad_gw.message(), HasSubstr("HTTP 502"));
}

TEST(UrlEncodeTest, SelectorCharacters) {
  EXPECT_EQ(UrlEncode("app=web,tier in (a,b)"), "app%3Dweb%2Ctier%20in%20%28a%2Cb%29");
  EXPECT_EQ(UrlEncode("spec.nodeName!=node-a"), "spec.nodeName%21%3Dnode-a");
}

// An httplib server on 127.0.0.1:<port 0> run on its own thread.
class LocalServer {
 public:
  LocalServer() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs, so wait for it (bounded: it starts at once).
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~LocalServer() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

class HttpClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> NewClient() {
    RestConfig rc;
    rc.server = server_.url();
    rc.bearer_token = "tok";
    rc.timeout = absl::Seconds(5);
    return NewHttpClient(rc, &clock_);
  }
  kdbg::testing::FakeClock clock_;
  // Handlers are registered before the first request in each test.
  LocalServer server_;
};

TEST_F(HttpClientTest, GetPodSendsTokenAndParses) {
  std::string auth, path;
  server_.server().Get(R"(/api/v1/namespaces/([^/]+)/pods/([^/]+))",
                       [&](const httplib::Request& req, httplib::Response& res) {
                         auth = req.get_header_value("Authorization");
                         path = req.path;
                         res.set_content(Fixture("pods/docker-minikube-simple.json"),
                                         "application/json");
                       });
  auto pod = NewClient()->GetPod("default", "myapp");
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->name, "myapp");
  EXPECT_EQ(auth, "Bearer tok");
  EXPECT_EQ(path, "/api/v1/namespaces/default/pods/myapp");
}

TEST_F(HttpClientTest, RetriesIdempotentCallsWithBackoff) {
  std::atomic<int> calls{0};
  server_.server().Get("/api/v1/pods", [&](const httplib::Request& req, httplib::Response& res) {
    if (++calls < 3) {
      res.status = 503;
      res.set_content(R"({"kind":"Status","message":"etcd leader changed","code":503})",
                      "application/json");
      return;
    }
    EXPECT_EQ(req.get_param_value("labelSelector"), "app in (a,b)");
    EXPECT_EQ(req.get_param_value("fieldSelector"), "spec.nodeName=node-a");
    res.set_content(Fixture("lists/podlist-raw-api-labelselector-rancher-2018.json"),
                    "application/json");
  });
  absl::Time t0 = clock_.Now();
  std::string rv;
  auto pods = NewClient()->ListPods("", {"app in (a,b)", "spec.nodeName=node-a"}, &rv);
  ASSERT_TRUE(pods.ok()) << pods.status();
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(rv, "6237");
  EXPECT_EQ(clock_.Now() - t0, absl::Milliseconds(300));  // 100 ms + 200 ms
}

TEST_F(HttpClientTest, GivesUpAfterThreeAttemptsKeepingTheMessage) {
  std::atomic<int> calls{0};
  server_.server().Get(
      R"(/api/v1/namespaces/default/pods/x)", [&](const httplib::Request&, httplib::Response& res) {
        ++calls;
        res.status = 429;
        res.set_header("Retry-After", "1");
        res.set_content(R"({"kind":"Status","message":"Too many requests","code":429})",
                        "application/json");
      });
  absl::Time t0 = clock_.Now();
  auto s = NewClient()->GetPod("default", "x");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.status().message(), "Too many requests");
  EXPECT_EQ(calls.load(), 3);
  // Backoff 100 + 200 ms plus Retry-After 1 s after each of the first two answers.
  EXPECT_EQ(clock_.Now() - t0, absl::Milliseconds(2300));
}

TEST_F(HttpClientTest, EventsAreNotRetried) {
  std::atomic<int> calls{0};
  std::string body;
  server_.server().Post("/api/v1/namespaces/default/events",
                        [&](const httplib::Request& req, httplib::Response& res) {
                          ++calls;
                          body = req.body;
                          res.status = 500;
                        });
  EventSpec ev;
  ev.namespace_ = "default";
  ev.involved_name = "hello";
  ev.reason = "DebugSessionStarted";
  ev.message = "alice started a trace";
  auto s = NewClient()->CreateEvent(ev);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_THAT(body, HasSubstr(R"("reason":"DebugSessionStarted")"));
  EXPECT_THAT(body, HasSubstr(R"("firstTimestamp":"2023-11-14T22:13:20Z")"));
}

TEST_F(HttpClientTest, WatchStreamsLinesAndMaps410) {
  std::string text = Fixture("watch/pods-watch-kind-containerd-added-modified-deleted.jsonl");
  server_.server().Get("/api/v1/namespaces/default/pods", [&](const httplib::Request& req,
                                                              httplib::Response& res) {
    if (req.get_param_value("resourceVersion") == "1") {
      res.status = 410;
      res.set_content(
          R"json({"kind":"Status","message":"too old resource version: 1 (744176)","reason":"Expired","code":410})json",
          "application/json");
      return;
    }
    res.set_chunked_content_provider("application/json", [text](size_t, httplib::DataSink& sink) {
      // Split mid-line to exercise reassembly.
      size_t half = text.size() / 2;
      sink.write(text.data(), half);
      sink.write(text.data() + half, text.size() - half);
      sink.done();
      return true;
    });
  });
  auto client = NewClient();
  std::vector<std::string> types;
  auto s = client->WatchPods("default", {}, "744000", [&](const WatchEvent& ev) {
    types.push_back(ev.type);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(types, ::testing::ElementsAre("ADDED", "ADDED", "MODIFIED", "MODIFIED", "MODIFIED",
                                            "DELETED"));
  types.clear();
  s = client->WatchPods("default", {}, "744000", [&](const WatchEvent& ev) {
    types.push_back(ev.type);
    return types.size() < 2;
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(types.size(), 2u);
  auto gone = client->WatchPods("default", {}, "1", [](const WatchEvent&) { return true; });
  EXPECT_EQ(gone.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(gone.message(), HasSubstr("too old resource version"));
}

TEST_F(HttpClientTest, WatchErrorEventIsOutOfRange) {
  server_.server().Get("/api/v1/pods", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        R"json({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (900)","reason":"Expired","code":410}})json"
        "\n",
        "application/json");
  });
  auto s = NewClient()->WatchPods("", {}, "5", [](const WatchEvent&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
}

// A hostile API server on 127.0.0.1:<port 0>: it accepts one connection, reads the request, then
// writes `head` at once and `trickle` one byte every 100 ms (each byte resets httplib's per-read
// timeout), until the client closes or 15 s have passed.
class TricklingServer {
 public:
  TricklingServer(std::string head, std::string trickle)
      : head_(std::move(head)), trickle_(std::move(trickle)) {
    listen_fd_ = ::kdbg::testing::ListenLoopback(&port_);
    if (listen_fd_ < 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~TricklingServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int bytes_trickled() const { return trickled_.load(); }

 private:
  void Run() {
    const absl::Time end = kdbg::MonotonicNow() + absl::Seconds(15);
    pollfd p{listen_fd_, POLLIN, 0};
    while (!stop_ && kdbg::MonotonicNow() < end && ::poll(&p, 1, 100) <= 0) {
    }
    if (stop_ || kdbg::MonotonicNow() >= end) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    std::string request;
    char buf[4096];
    pollfd c{fd, POLLIN, 0};
    while (request.find("\r\n\r\n") == std::string::npos && kdbg::MonotonicNow() < end && !stop_) {
      if (::poll(&c, 1, 100) <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    bool open =
        ::send(fd, head_.data(), head_.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head_.size());
    for (size_t i = 0; open && i < trickle_.size() && !stop_ && kdbg::MonotonicNow() < end; ++i) {
      open = ::send(fd, &trickle_[i], 1, MSG_NOSIGNAL) == 1;
      if (open) ++trickled_;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ::close(fd);
  }

  const std::string head_;
  const std::string trickle_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> trickled_{0};
  std::thread thread_;
};

// Issue 18: the API call's deadline (here 1 s) bounds the whole call although every read gets a
// byte within 100 ms, in the headers and in the body; without it the call lasted until the server
// gave up (15 s).
TEST(HttpClientDeadlineTest, ServerTricklingHeadersOrBodyIsCutAtTheWholeCallDeadline) {
  const std::string body = Fixture("pods/docker-minikube-simple.json");
  struct Case {
    const char* name;
    std::string head;
    std::string trickle;
  };
  std::vector<Case> cases = {
      {"headers", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: ",
       std::string(140, 'a') + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body},
      {"body",
       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n",
       body},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TricklingServer server(c.head, c.trickle);
    kdbg::testing::FakeClock clock;
    RestConfig rc;
    rc.server = server.url();
    rc.bearer_token = "tok";
    rc.timeout = absl::Seconds(1);
    auto client = NewHttpClient(rc, &clock);
    absl::Time t0 = kdbg::MonotonicNow();
    auto pod = client->GetPod("default", "myapp");
    absl::Duration took = kdbg::MonotonicNow() - t0;
    EXPECT_EQ(pod.status().code(), absl::StatusCode::kDeadlineExceeded) << pod.status();
    EXPECT_THAT(pod.status().message(), HasSubstr("did not answer within 1s"));
    EXPECT_GE(took, absl::Milliseconds(950));
    EXPECT_LT(took, absl::Milliseconds(2500)) << "the whole-call deadline was not enforced";
    // The server was still sending when it was cut: the call was not just slow, it was stopped.
    EXPECT_GE(server.bytes_trickled(), 3);
    EXPECT_LT(static_cast<size_t>(server.bytes_trickled()), c.trickle.size());
  }
}

TEST(HttpClientConfigTest, BadServerAndUnreachable) {
  kdbg::testing::FakeClock clock;
  RestConfig rc;
  rc.server = "ftp://x";
  EXPECT_EQ(NewHttpClientOrError(rc, &clock).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewHttpClient(rc, &clock)->GetPod("a", "b").status().code(),
            absl::StatusCode::kInvalidArgument);
  rc.server = "https://127.0.0.1:6443";
  rc.ca_pem = "not pem";
  EXPECT_EQ(NewHttpClientOrError(rc, &clock).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kdbg::kube
