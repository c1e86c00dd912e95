// The real `kdbg` binary against an in-process Controller (TLS, bearer token, scripted streams) and
// an in-process Kubernetes API, with kubeconfigs written for each case and the shared fixtures.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/cluster.h"
#include "common/child_process.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/cli/fake_controller.h"
#include "tests/integration/cli/kube_stub.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/test_env.h"

namespace kdbg::cli::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

void WriteFile(const std::string& path, const std::string& text, int mode = 0600) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `kdbg ARGS` running, stdout read line by line, stderr to a file.
class Kdbg {
 public:
  Kdbg(const std::vector<std::string>& args, const std::vector<std::string>& env,
       const std::string& dir) {
    err_path_ = dir + "/stderr-" + std::to_string(counter_++);
    SpawnOptions o;
    o.argv = {kdbg::testing::BinaryDir() + "/cli/kdbg"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = env;
    o.capture_stdout = true;
    o.stderr_path = err_path_;
    o.destroy_grace = absl::Seconds(2);
    auto child = ChildProcess::Spawn(o);
    EXPECT_TRUE(child.ok()) << child.status();
    if (child.ok()) child_ = std::move(*child);
  }

  // Next stdout line, or nullopt at EOF/timeout.
  std::optional<std::string> ReadLine(absl::Duration timeout = absl::Seconds(10)) {
    absl::Time deadline = kdbg::MonotonicNow() + timeout;
    while (true) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        out_ += line + "\n";
        return line;
      }
      absl::Duration left = deadline - kdbg::MonotonicNow();
      if (left <= absl::ZeroDuration() || child_ == nullptr) return std::nullopt;
      pollfd p{child_->stdout_fd(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0)
        return std::nullopt;
      char b[4096];
      ssize_t n = ::read(child_->stdout_fd(), b, sizeof b);
      if (n <= 0) return std::nullopt;
      buf_.append(b, n);
    }
  }

  std::optional<std::string> ReadLineContaining(const std::string& needle) {
    while (auto line = ReadLine()) {
      if (absl::StrContains(*line, needle)) return line;
    }
    return std::nullopt;
  }

  // Reads the rest of stdout and waits for the exit; returns the exit status (or -signal).
  int Finish(absl::Duration timeout = absl::Seconds(20)) {
    while (ReadLine(timeout)) {
    }
    auto st = child_->Wait(timeout);
    EXPECT_TRUE(st.ok()) << "kdbg did not exit: " << st.status() << "\nstderr: " << err();
    if (!st.ok()) return -1000;
    if (WIFSIGNALED(*st)) return -WTERMSIG(*st);
    return WEXITSTATUS(*st);
  }

  void Signal(int sig) { ASSERT_TRUE(child_->Signal(sig).ok()); }
  const std::string& out() const { return out_; }
  std::string err() const { return ReadFileText(err_path_); }

 private:
  static inline int counter_ = 0;
  std::unique_ptr<ChildProcess> child_;
  std::string buf_, out_, err_path_;
};

kdbg::v1::Event Ev(const std::string& session) {
  kdbg::v1::Event e;
  e.set_session_id(session);
  e.set_time_unix_nanos(1795000000000000000);
  return e;
}

std::vector<kdbg::v1::Event> TraceScript(bool with_end) {
  std::vector<kdbg::v1::Event> v;
  auto p = Ev("t-1");
  p.mutable_notice()->set_kind(kdbg::v1::NOTICE_KIND_PROGRESS);
  p.mutable_notice()->set_message("Delve attached to PID 4242 in 81 ms");
  v.push_back(p);
  auto a = Ev("t-1");
  a.mutable_armed()->set_host_pid(4242);
  a.mutable_armed()->set_attach_ms(81);
  a.mutable_armed()->set_arm_ms(4);
  auto* tp = a.mutable_armed()->add_tracepoints();
  tp->set_name("handleSlash");
  tp->set_location("main.go:10");
  tp->set_function("main.handleSlash");
  tp->set_file("/src/hello-world/main.go");
  tp->set_line(10);
  v.push_back(a);
  for (int i = 0; i < 2; ++i) {
    auto h = Ev("t-1");
    auto* hit = h.mutable_hit();
    hit->set_tracepoint("handleSlash");
    hit->set_goroutine(19 + i);
    hit->set_function("main.handleSlash");
    hit->set_file("/src/hello-world/main.go");
    hit->set_line(10);
    hit->set_hit_count(i + 1);
    auto* w = hit->add_args();
    w->set_name("w");
    w->set_value("net/http.ResponseWriter(*net/http.response) 0xc0001a4000");
    auto* r = hit->add_args();
    r->set_name("r");
    r->set_value("*net/http.Request {Method: \"GET\"}");
    auto* var = hit->add_vars();
    var->set_name("r.RemoteAddr");
    var->set_value(absl::StrCat("\"127.0.0.1:5342", i, "\""));
    v.push_back(h);
  }
  if (with_end) {
    auto e = Ev("t-1");
    e.mutable_ended()->set_reason(kdbg::v1::END_REASON_MAX_HITS);
    e.mutable_ended()->set_hits(2);
    e.mutable_ended()->set_message("target running, detached cleanly");
    e.mutable_ended()->set_target_alive(true);
    v.push_back(e);
  }
  return v;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = kdbg::testing::TestPki::Create("kdbg-cli-test-ca");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    auto cert = pki_->Issue(
        {"kdbg-controller", {"localhost", "kdbg-controller.kdbg-system.svc"}, {"127.0.0.1"}});
    ASSERT_TRUE(cert.ok()) << cert.status();
    cert_ = *cert;
    kube_ = std::make_unique<KubeStub>(cert_.cert_path, cert_.key_path);
    kube_->AllowToken("good-token");
    kube_->AddPod("default", "hello-world",
                  PodJson("default", "hello-world", {"sidecar", "app"}, "app"));
    kube_->AddPod("shop", "web-0", PodJson("shop", "web-0", {"web", "envoy"}));
    kube_->AddPod("default", "pending", PodJson("default", "pending", {"app"}, "", "Pending"));
    kube_->AddPod("default", "crashing",
                  PodJson("default", "crashing", {"app"}, "", "Running", "waiting"));
    ctl_.version_response.mutable_controller()->set_version("0.1.0");
    auto* agent = ctl_.version_response.add_agents();
    agent->set_version("0.1.0");
    agent->set_node_name("node-a");
    agent->set_delve_version("1.20.2");
    server_ = std::make_unique<FakeControllerServer>(&ctl_, cert_.cert_path, cert_.key_path);
    dir_ = kdbg::testing::MakeTempDir("kdbg-cli-it");
    WriteKubeconfig("config", R"({"token": "good-token"})");
    script_ = dir_ + "/trace.txt";
    WriteFile(script_,
              "trace handleSlash main.go:10\non handleSlash print r.RemoteAddr\ncontinue\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteKubeconfig(const std::string& name, const std::string& user_json,
                       const std::string& ns = "default") {
    json cfg = {
        {"apiVersion", "v1"},
        {"kind", "Config"},
        {"current-context", "test"},
        {"clusters",
         {{{"name", "c"},
           {"cluster",
            {{"server", kube_->server()}, {"certificate-authority", pki_->ca().cert_path}}}}}},
        {"contexts",
         {{{"name", "test"}, {"context", {{"cluster", "c"}, {"user", "u"}, {"namespace", ns}}}}}},
        {"users", {{{"name", "u"}, {"user", json::parse(user_json)}}}}};
    WriteFile(dir_ + "/" + name, cfg.dump(2));
  }

  std::vector<std::string> Env(const std::string& kubeconfig = "config",
                               bool with_controller = true) {
    std::vector<std::string> env = {absl::StrCat("PATH=", std::getenv("PATH")), "HOME=" + dir_,
                                    "KUBECONFIG=" + dir_ + "/" + kubeconfig,
                                    "KDBG_CONTROLLER_CA=" + pki_->ca().cert_path};
    if (with_controller) env.push_back("KDBG_CONTROLLER=" + server_->address());
    return env;
  }

  std::unique_ptr<kdbg::testing::TestPki> pki_;
  kdbg::testing::CertFiles cert_;
  std::unique_ptr<KubeStub> kube_;
  FakeController ctl_;
  std::unique_ptr<FakeControllerServer> server_;
  std::string dir_;
  std::string script_;
};

TEST_F(CliTest, TraceTextLikeDlvTrace) {
  ctl_.trace_events = TraceScript(true);
  Kdbg k({"trace", "pod/hello-world", "--init", script_, "--duration", "30s", "--max-hits", "2",
          "--rate-limit", "250", "--lease", "90s", "--no-returns"},
         Env(), dir_);
  EXPECT_EQ(k.Finish(), 0) << k.err();
  EXPECT_EQ(k.out(),
            "> goroutine(19): main.handleSlash(w, r) main.go:10\n"
            "\tr.RemoteAddr: \"127.0.0.1:53420\"\n"
            "> goroutine(20): main.handleSlash(w, r) main.go:10\n"
            "\tr.RemoteAddr: \"127.0.0.1:53421\"\n");
  std::string err = k.err();
  EXPECT_TRUE(
      absl::StrContains(err, "kdbg: pod default/hello-world container app on node node-a\n"))
      << err;
  EXPECT_TRUE(absl::StrContains(err, "kdbg: Delve attached to PID 4242 in 81 ms\n")) << err;
  EXPECT_TRUE(
      absl::StrContains(err, "kdbg: armed 1 tracepoint on PID 4242 (attach 81 ms, arm 4 ms)\n"))
      << err;
  EXPECT_TRUE(
      absl::StrContains(err, "kdbg:   handleSlash -> main.handleSlash /src/hello-world/main.go:10"))
      << err;
  EXPECT_TRUE(absl::StrContains(
      err, "kdbg: ended: max hits reached; 2 hits; target running, detached cleanly\n"))
      << err;

  absl::MutexLock lock(&ctl_.mu);
  ASSERT_EQ(ctl_.trace_requests.size(), 1u);
  const auto& req = ctl_.trace_requests[0];
  EXPECT_EQ(req.target().namespace_(), "default");
  EXPECT_EQ(req.target().pod(), "hello-world");
  EXPECT_EQ(req.target().container(), "app") << "the default-container annotation, not the first";
  EXPECT_EQ(req.options().script(), ReadFileText(script_));
  EXPECT_EQ(req.options().script_name(), "trace.txt");
  EXPECT_EQ(req.options().duration_ms(), 30000);
  EXPECT_EQ(req.options().max_hits(), 2);
  EXPECT_EQ(req.options().max_hits_per_second(), 250);
  EXPECT_TRUE(req.options().no_returns());
  EXPECT_EQ(req.lease_ms(), 90000);
  EXPECT_EQ(kube_->seen_authorizations().back(), "Bearer good-token");
}

// `kdbg trace TARGET REGEXP`: the CLI lists the matching functions (runtime left out) on the
// target, then sends an ordinary script for them, with --print and --stack, to Trace.
TEST_F(CliTest, QuickTraceSendsTheScriptOfTheMatchingFunctions) {
  ctl_.trace_events = TraceScript(true);
  ctl_.functions = {"main.handleOrder", "main.handleSlash", "main.main", "runtime.handleX"};
  Kdbg k({"trace", "pod/hello-world", "handle", "--print", "r.URL.Path", "--stack", "3"}, Env(),
         dir_);
  EXPECT_EQ(k.Finish(), 0) << k.err();
  EXPECT_TRUE(absl::StrContains(
      k.err(), "kdbg: \"handle\" matches 2 functions: main.handleOrder, main.handleSlash\n"))
      << k.err();
  absl::MutexLock lock(&ctl_.mu);
  ASSERT_EQ(ctl_.functions_requests.size(), 1u);
  const auto& list = ctl_.functions_requests[0];
  EXPECT_EQ(list.target().pod(), "hello-world");
  EXPECT_EQ(list.target().container(), "app");
  EXPECT_EQ(list.query().regexp(), "handle");
  EXPECT_TRUE(list.query().exclude_runtime());
  ASSERT_EQ(ctl_.trace_requests.size(), 1u);
  EXPECT_EQ(ctl_.trace_requests[0].options().script(),
            "# kdbg trace handle\n"
            "trace handleOrder main.handleOrder\n"
            "on handleOrder print r.URL.Path\n"
            "on handleOrder stack 3\n"
            "trace handleSlash main.handleSlash\n"
            "on handleSlash print r.URL.Path\n"
            "on handleSlash stack 3\n");
  EXPECT_EQ(ctl_.trace_requests[0].options().script_name(), "quick-trace");
  EXPECT_FALSE(ctl_.trace_requests[0].options().no_returns());  // returns by default
}

// Too many matches, none, or only runtime ones: one clear line, exit 1, and no Trace call (no
// session is ever started).
TEST_F(CliTest, QuickTraceRefusalsStartNoSession) {
  for (int i = 0; i < 30; ++i) ctl_.functions.push_back(absl::StrCat("main.f", 100 + i));
  ctl_.functions.push_back("runtime.mallocgc");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"main.f1"},
       "\"main.f1\" matches 30 functions of pod/hello-world; a quick trace arms at most 20"},
      {{"main.f1", "--max-funcs", "5"}, "the first 10: main.f100, main.f101,"},
      {{"nothing"}, "no function of pod/hello-world matches \"nothing\""},
      {{"mallocgc"}, "matches only functions of the Go runtime (1, e.g. runtime.mallocgc)"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"trace", "pod/hello-world"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    Kdbg k(args, Env(), dir_);
    EXPECT_EQ(k.Finish(), 1) << k.err();
    EXPECT_TRUE(absl::StrContains(k.err(), c.message)) << k.err();
    EXPECT_TRUE(absl::StrContains(k.err(), "kdbg: error: ")) << k.err();
  }
  ctl_.trace_events = TraceScript(true);
  Kdbg ok({"trace", "pod/hello-world", "main.f1", "--max-funcs", "30", "--max-hits", "1"}, Env(),
          dir_);
  EXPECT_EQ(ok.Finish(), 0) << ok.err();
  absl::MutexLock lock(&ctl_.mu);
  EXPECT_EQ(ctl_.trace_requests.size(), 1u) << "only the last run may trace";
}

// `kdbg funcs`: names on stdout one per line (a pager's input), the count on stderr; paging and
// the runtime flag reach the controller.
TEST_F(CliTest, FuncsListsPagesAndFilters) {
  ctl_.functions = {"main.a", "main.b", "main.c", "runtime.main"};
  Kdbg all({"funcs", "pod/hello-world"}, Env(), dir_);
  EXPECT_EQ(all.Finish(), 0) << all.err();
  EXPECT_EQ(all.out(), "main.a\nmain.b\nmain.c\n");
  EXPECT_TRUE(
      absl::StrContains(all.err(), "kdbg: 3 functions (runtime packages left out: --runtime)\n"))
      << all.err();
  Kdbg page({"funcs", "pod/hello-world", "main.", "--offset", "1", "--limit", "1", "--runtime"},
            Env(), dir_);
  EXPECT_EQ(page.Finish(), 0) << page.err();
  EXPECT_EQ(page.out(), "main.b\n");
  EXPECT_TRUE(absl::StrContains(
      page.err(), "kdbg: 3 functions match \"main.\"; shown 2-2: --offset 2 for the next"))
      << page.err();
  Kdbg json({"funcs", "pod/hello-world", "runtime", "--runtime", "-o", "json"}, Env(), dir_);
  EXPECT_EQ(json.Finish(), 0) << json.err();
  EXPECT_TRUE(absl::StrContains(json.out(), "\"name\":\"runtime.main\"")) << json.out();
  absl::MutexLock lock(&ctl_.mu);
  ASSERT_EQ(ctl_.functions_requests.size(), 3u);
  EXPECT_TRUE(ctl_.functions_requests[0].query().exclude_runtime());
  EXPECT_EQ(ctl_.functions_requests[1].query().offset(), 1);
  EXPECT_EQ(ctl_.functions_requests[1].query().limit(), 1);
  EXPECT_FALSE(ctl_.functions_requests[1].query().exclude_runtime());
}

// `kdbg sessions` like `kubectl get`: the table, -o wide, --no-headers, -o yaml, and kubectl's
// words for an empty list.
TEST_F(CliTest, SessionsPrintLikeKubectlGet) {
  Kdbg none({"sessions"}, Env(), dir_);
  EXPECT_EQ(none.Finish(), 0) << none.err();
  EXPECT_EQ(none.out(), "");
  EXPECT_TRUE(absl::StrContains(none.err(), "No debug sessions found in default namespace.\n"))
      << none.err();
  auto* s = ctl_.sessions_response.add_sessions();
  s->mutable_info()->set_id("t-9");
  s->mutable_info()->set_mode(kdbg::v1::SESSION_MODE_TRACE);
  s->mutable_info()->set_user("alice");
  s->mutable_target()->set_namespace_("default");
  s->mutable_target()->set_pod("hello-world");
  s->mutable_target()->set_container("app");
  s->set_node_name("node-a");
  Kdbg table({"sessions"}, Env(), dir_);
  EXPECT_EQ(table.Finish(), 0) << table.err();
  EXPECT_TRUE(absl::StartsWith(table.out(), "SESSION   MODE    NAMESPACE   POD           STATE"))
      << table.out();
  EXPECT_FALSE(absl::StrContains(table.out(), "node-a")) << table.out();
  Kdbg wide({"sessions", "-o", "wide", "--no-headers"}, Env(), dir_);
  EXPECT_EQ(wide.Finish(), 0) << wide.err();
  EXPECT_TRUE(absl::StartsWith(wide.out(), "t-9   trace   default   hello-world   app   node-a"))
      << wide.out();
  EXPECT_TRUE(absl::StrContains(wide.out(), "alice")) << wide.out();
  Kdbg yaml({"sessions", "-A", "-o", "yaml"}, Env(), dir_);
  EXPECT_EQ(yaml.Finish(), 0) << yaml.err();
  EXPECT_TRUE(absl::StartsWith(yaml.out(), "- type: \"session\"\n  id: \"t-9\"\n")) << yaml.out();
  Kdbg bad({"sessions", "-o", "xml"}, Env(), dir_);
  EXPECT_EQ(bad.Finish(), 2);
}

// --stats off a terminal: no hit lines, the block as plain lines at the end (and every 5 s);
// on a terminal (a pty from script(1)) the block is redrawn in place with ANSI cursor moves.
TEST_F(CliTest, StatsViewPlainOffATerminalAndRedrawnOnOne) {
  ctl_.trace_events = TraceScript(true);
  Kdbg plain({"trace", "pod/hello-world", "--init", script_, "--stats"}, Env(), dir_);
  EXPECT_EQ(plain.Finish(), 0) << plain.err();
  EXPECT_FALSE(absl::StrContains(plain.out(), "> goroutine")) << plain.out();
  EXPECT_TRUE(absl::StrContains(plain.out(), "kdbg stats: engine ")) << plain.out();
  EXPECT_TRUE(absl::StrContains(plain.out(), ", 2 hits, ")) << plain.out();
  EXPECT_TRUE(absl::StrContains(plain.out(), "r.RemoteAddr   ")) << plain.out();
  EXPECT_FALSE(absl::StrContains(plain.out(), "\x1b[")) << plain.out();
  EXPECT_TRUE(absl::StrContains(plain.err(), "kdbg: ended: ")) << plain.err();

  ctl_.trace_end = FakeController::StreamEnd::kHold;
  std::string cmd = absl::StrCat("exec ", kdbg::testing::BinaryDir(),
                                 "/cli/kdbg trace pod/hello-world --init ", script_, " --stats");
  SpawnOptions o;
  o.argv = {"script", "-qefc", cmd, "/dev/null"};
  o.env = Env();
  o.capture_stdout = true;
  o.stderr_path = dir_ + "/tty-stderr";
  auto child = ChildProcess::Spawn(o);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(ctl_.WaitFor([&] { return ctl_.stream_open; }, absl::Seconds(20)));
  absl::SleepFor(absl::Milliseconds(2500));  // two redraws
  // Ctrl-C to kdbg itself, the only process script(1) started on the pty.
  std::string children =
      ReadFileText(absl::StrCat("/proc/", (*child)->pid(), "/task/", (*child)->pid(), "/children"));
  pid_t kdbg_pid = std::atoi(children.c_str());
  ASSERT_GT(kdbg_pid, 0) << children;
  ASSERT_EQ(::kill(kdbg_pid, SIGINT), 0);
  auto out = (*child)->ReadAllStdout(absl::Seconds(20));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(absl::StrContains(*out, "\x1b[")) << *out;
  EXPECT_TRUE(absl::StrContains(*out, "kdbg stats: engine ")) << *out;
  EXPECT_TRUE(absl::StrContains(*out, "ended: stopped on request")) << *out;
  auto st = (*child)->Wait(absl::Seconds(20));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(ChildProcess::DescribeWaitStatus(*st), "exit status 0") << *out;
  absl::MutexLock lock(&ctl_.mu);
  EXPECT_EQ(ctl_.stop_requests.size(), 1u) << "Ctrl-C ends the session as without --stats";
}

// Shell completion the way bash runs it: the script from `kdbg completion bash` sourced in a
// subshell, its function called with COMP_WORDS/COMP_CWORD set, against the API stub (with the
// user's kubeconfig token) and the controller; a slow API costs the shell at most about a second.
TEST_F(CliTest, BashCompletionOffersNamespacesPodsWorkloadsContainersAndSessions) {
  nlohmann::json web = json::parse(PodJson("shop", "web-7d9f8c-x2k9p", {"web", "envoy"}));
  web["metadata"]["labels"] = {{"pod-template-hash", "7d9f8c"}};
  kube_->AddPod("shop", "web-7d9f8c-x2k9p", web.dump());
  auto* s = ctl_.sessions_response.add_sessions();
  s->mutable_info()->set_id("3f2a9c1e");
  std::string bin_dir = kdbg::testing::BinaryDir() + "/cli";
  auto complete = [&](const std::string& words, int cword) {
    SpawnOptions o;
    o.argv = {"bash", "-c",
              absl::StrCat("source <(kdbg completion bash) && COMP_WORDS=(", words,
                           ") && COMP_CWORD=", cword,
                           " && _kdbg_complete && printf '%s\\n' \"${COMPREPLY[@]}\"")};
    std::vector<std::string> env = Env();
    env[0] = absl::StrCat("PATH=", bin_dir, ":", std::getenv("PATH"));
    o.env = env;
    o.capture_stdout = true;
    o.stderr_path = dir_ + "/complete-stderr";
    auto child = ChildProcess::Spawn(o);
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return std::string();
    auto out = (*child)->ReadAllStdout(absl::Seconds(20));
    (void)(*child)->Wait(absl::Seconds(10));
    return out.ok() ? *out : std::string();
  };
  EXPECT_EQ(complete("kdbg tr", 1), "trace\n");
  EXPECT_EQ(complete("kdbg trace -n ''", 3), "default\nshop\n");
  EXPECT_EQ(complete("kdbg trace -n shop ''", 4), "deploy/web\nweb-0\nweb-7d9f8c-x2k9p\n");
  EXPECT_EQ(complete("kdbg trace pod/h", 2), "pod/hello-world\n");
  EXPECT_EQ(complete("kdbg trace -n shop web-0 -c ''", 6), "envoy\nweb\n");
  EXPECT_EQ(complete("kdbg stop ''", 2), "3f2a9c1e\n");
  EXPECT_EQ(complete("kdbg sessions -o y", 3), "yaml\n");
  EXPECT_TRUE(absl::StrContains(kube_->seen_authorizations().back(), "Bearer good-token"));
  kube_->SetListDelay(5000);
  absl::Time t0 = kdbg::MonotonicNow();
  EXPECT_EQ(complete("kdbg trace ''", 2), "");
  EXPECT_LT(kdbg::MonotonicNow() - t0, absl::Seconds(3)) << "the shell waited too long";
}

// The CLI asks for batches (TraceOptions.batch_events) and prints a batch's hits exactly as it
// prints the same hits sent one by one, in text and in JSON.
TEST_F(CliTest, BatchedHitsPrintLikeSingleOnes) {
  std::vector<kdbg::v1::Event> single = TraceScript(true);
  std::vector<kdbg::v1::Event> batched;
  kdbg::v1::Event batch = Ev("t-1");
  for (const auto& e : single) {
    if (e.has_hit()) {
      *batch.mutable_batch()->add_events() = e;
    } else {
      if (batch.batch().events_size() > 0) batched.push_back(batch);
      batch.clear_batch();
      batched.push_back(e);
    }
  }
  ASSERT_EQ(batched.size(), 4u);  // progress, armed, one batch of 2 hits, ended
  for (const char* format : {"text", "json"}) {
    SCOPED_TRACE(format);
    ctl_.trace_events = single;
    Kdbg one({"trace", "pod/hello-world", "--init", script_, "-o", format}, Env(), dir_);
    EXPECT_EQ(one.Finish(), 0) << one.err();
    ctl_.trace_events = batched;
    Kdbg b({"trace", "pod/hello-world", "--init", script_, "-o", format}, Env(), dir_);
    EXPECT_EQ(b.Finish(), 0) << b.err();
    EXPECT_EQ(b.out(), one.out());
    EXPECT_TRUE(absl::StrContains(b.out(), "127.0.0.1:53421")) << b.out();
    EXPECT_EQ(b.err(), one.err());
  }
  absl::MutexLock lock(&ctl_.mu);
  ASSERT_FALSE(ctl_.trace_requests.empty());
  EXPECT_TRUE(ctl_.trace_requests.back().options().batch_events());
}

TEST_F(CliTest, TraceJsonFieldByField) {
  ctl_.trace_events = TraceScript(true);
  Kdbg k({"trace", "hello-world", "--init", script_, "-o", "json", "-c", "sidecar"}, Env(), dir_);
  EXPECT_EQ(k.Finish(), 0) << k.err();
  std::vector<json> lines;
  for (absl::string_view l : absl::StrSplit(k.out(), '\n', absl::SkipEmpty())) {
    lines.push_back(json::parse(l));
  }
  ASSERT_EQ(lines.size(), 4u) << k.out();
  EXPECT_EQ(lines[0]["type"], "armed");
  EXPECT_EQ(lines[0]["pid"], 4242);
  EXPECT_EQ(lines[0]["tracepoints"][0]["function"], "main.handleSlash");
  EXPECT_EQ(lines[0]["tracepoints"][0]["file"], "/src/hello-world/main.go");
  EXPECT_EQ(lines[0]["tracepoints"][0]["line"], 10);
  EXPECT_EQ(lines[1]["type"], "hit");
  EXPECT_EQ(lines[1]["tracepoint"], "handleSlash");
  EXPECT_EQ(lines[1]["goroutine"], 19);
  EXPECT_EQ(lines[1]["function"], "main.handleSlash");
  EXPECT_EQ(lines[1]["file"], "/src/hello-world/main.go");
  EXPECT_EQ(lines[1]["line"], 10);
  EXPECT_EQ(lines[1]["args"]["r"], "*net/http.Request {Method: \"GET\"}");
  EXPECT_EQ(lines[1]["vars"]["r.RemoteAddr"], "\"127.0.0.1:53420\"");
  EXPECT_EQ(lines[1]["time"], "2026-11-18T11:06:40Z");
  EXPECT_EQ(lines[2]["goroutine"], 20);
  EXPECT_EQ(lines[3]["type"], "ended");
  EXPECT_EQ(lines[3]["reason"], "max_hits");
  EXPECT_EQ(lines[3]["hits"], 2);
  absl::MutexLock lock(&ctl_.mu);
  EXPECT_EQ(ctl_.trace_requests.at(0).target().container(), "sidecar");
}

TEST_F(CliTest, CtrlCStopsTheSessionAndExitsZero) {
  ctl_.trace_events = TraceScript(false);
  ctl_.trace_end = FakeController::StreamEnd::kHold;
  Kdbg k({"trace", "pod/hello-world", "--init", script_, "-o", "json"}, Env(), dir_);
  ASSERT_TRUE(k.ReadLineContaining("\"type\":\"hit\""));
  k.Signal(SIGINT);
  EXPECT_EQ(k.Finish(), 0) << k.err();
  EXPECT_TRUE(absl::StrContains(k.out(), "\"type\":\"ended\",\"session\":\"t-1\"")) << k.out();
  EXPECT_TRUE(absl::StrContains(k.out(), "\"reason\":\"stop_requested\"")) << k.out();
  EXPECT_TRUE(absl::StrContains(k.err(), "interrupted: ending the session safely")) << k.err();
  absl::MutexLock lock(&ctl_.mu);
  EXPECT_EQ(ctl_.stop_requests, std::vector<std::string>{"t-1"});
  EXPECT_FALSE(ctl_.stream_cancelled) << "a clean stop lets the stream end by itself";
}

TEST_F(CliTest, SecondCtrlCQuitsAtOnceAndCancelsTheStream) {
  ctl_.trace_events = TraceScript(false);
  ctl_.trace_end = FakeController::StreamEnd::kHold;
  ctl_.stop_hangs = true;
  Kdbg k({"trace", "pod/hello-world", "--init", script_}, Env(), dir_);
  ASSERT_TRUE(k.ReadLineContaining("goroutine(20)"));
  k.Signal(SIGINT);
  ASSERT_TRUE(ctl_.WaitFor([&] { return !ctl_.stop_requests.empty(); }, absl::Seconds(5)));
  absl::Time start = kdbg::MonotonicNow();
  k.Signal(SIGINT);
  EXPECT_EQ(k.Finish(), 130) << k.err();
  EXPECT_LT(kdbg::MonotonicNow() - start, absl::Seconds(2));
  EXPECT_TRUE(absl::StrContains(k.err(), "quit at once; the agent still ends the session safely"))
      << k.err();
  EXPECT_TRUE(ctl_.WaitFor([&] { return ctl_.stream_cancelled; }, absl::Seconds(5)));
}

TEST_F(CliTest, CtrlCBeforeTheSessionHasAnIdCancelsAndExitsZero) {
  ctl_.trace_end = FakeController::StreamEnd::kHold;  // no events at all: still attaching
  Kdbg k({"trace", "pod/hello-world", "--init", script_, "-o", "json"}, Env(), dir_);
  ASSERT_TRUE(ctl_.WaitFor([&] { return ctl_.stream_open; }, absl::Seconds(10))) << k.err();
  k.Signal(SIGINT);
  EXPECT_EQ(k.Finish(), 0) << k.err();
  EXPECT_TRUE(ctl_.WaitFor([&] { return ctl_.stream_cancelled; }, absl::Seconds(5)));
  json j = json::parse(k.out());
  EXPECT_EQ(j["type"], "ended");
  EXPECT_EQ(j["reason"], "client_gone");
  absl::MutexLock lock(&ctl_.mu);
  EXPECT_TRUE(ctl_.stop_requests.empty());
}

TEST_F(CliTest, InstalledAsKubectlPlugin) {
  std::string plugin = kdbg::testing::BinaryDir() + "/cli/kubectl-kdbg";
  auto out = RunCommand({plugin, "trace", "--help"}, absl::Seconds(10), /*merge_stderr=*/false);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(absl::StrContains(*out, "kubectl kdbg trace pod/hello-world --init trace.txt"))
      << *out;
}

TEST_F(CliTest, SigkillMidTraceCancelsTheStream) {
  ctl_.trace_events = TraceScript(false);
  ctl_.trace_end = FakeController::StreamEnd::kHold;
  Kdbg k({"trace", "pod/hello-world", "--init", script_}, Env(), dir_);
  ASSERT_TRUE(k.ReadLineContaining("goroutine(19)"));
  k.Signal(SIGKILL);
  EXPECT_EQ(k.Finish(), -SIGKILL);
  EXPECT_TRUE(ctl_.WaitFor([&] { return ctl_.stream_cancelled; }, absl::Seconds(10)))
      << "the controller must see the stream cancelled when the CLI dies";
}

TEST_F(CliTest, ErrorEventAndControllerErrors) {
  auto e = Ev("t-1");
  e.mutable_error()->set_code("INVALID_ARGUMENT");
  e.mutable_error()->set_message("trace.txt:1: location \"nope\" not found");
  ctl_.trace_events = {e};
  Kdbg k({"trace", "pod/hello-world", "--init", script_, "-o", "json"}, Env(), dir_);
  EXPECT_EQ(k.Finish(), 1);
  json j = json::parse(k.out());
  EXPECT_EQ(j["type"], "error");
  EXPECT_EQ(j["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(j["message"], "trace.txt:1: location \"nope\" not found");

  ctl_.token = "another-token";  // the controller no longer accepts the user's token
  Kdbg k2({"sessions", "-o", "json"}, Env(), dir_);
  EXPECT_EQ(k2.Finish(), 1);
  EXPECT_EQ(json::parse(k2.out())["code"], "UNAUTHENTICATED");
  EXPECT_TRUE(absl::StrContains(k2.err(), "did not accept your credentials")) << k2.err();
  std::string err2 = k2.err();
  EXPECT_EQ(std::count(err2.begin(), err2.end(), '\n'), 1) << err2;
}

TEST_F(CliTest, PodProblemsAreClearOneLineErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string code;
    std::string says;
  };
  kube_->DenyToken("bob-token");
  WriteKubeconfig("bob", R"({"token": "bob-token"})");
  std::vector<Case> cases = {
      {{"resolve", "pod/nope"}, "NOT_FOUND", "pods \\\"nope\\\" not found"},
      {{"resolve", "pod/pending"}, "FAILED_PRECONDITION", "is Pending"},
      {{"resolve", "pod/crashing"}, "FAILED_PRECONDITION", "is waiting (CrashLoopBackOff)"},
      {{"resolve", "pod/hello-world", "-c", "db"}, "NOT_FOUND", "its containers are: sidecar, app"},
      {{"resolve", "web-0", "-n", "shop", "-c", "x"},
       "NOT_FOUND",
       "its containers are: web, envoy"},
  };
  for (const auto& c : cases) {
    auto args = c.args;
    args.insert(args.end(), {"-o", "json"});
    Kdbg k(args, Env(), dir_);
    EXPECT_EQ(k.Finish(), 1) << c.args[1];
    json j = json::parse(k.out());
    EXPECT_EQ(j["code"], c.code) << k.out();
    EXPECT_TRUE(absl::StrContains(k.out(), c.says)) << k.out();
    std::string err = k.err();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
  Kdbg forbidden({"resolve", "pod/hello-world"}, Env("bob"), dir_);
  EXPECT_EQ(forbidden.Finish(), 1);
  EXPECT_TRUE(absl::StrContains(
      forbidden.err(), "pods \"hello-world\" is forbidden: User \"bob\" cannot get resource"))
      << "the API server's own answer: " << forbidden.err();
  absl::MutexLock lock(&ctl_.mu);
  EXPECT_TRUE(ctl_.resolve_requests.empty())
      << "nothing reaches the controller for a pod the user cannot use";
}

TEST_F(CliTest, ResolveSessionsStopVersion) {
  ctl_.resolve_response.set_node_name("node-a");
  ctl_.resolve_response.set_container("web");
  ctl_.resolve_response.set_agent("kdbg-agent-abcde");
  ctl_.resolve_response.mutable_target()->set_host_pid(4242);
  ctl_.resolve_response.mutable_target()->set_debuggable(true);
  ctl_.resolve_response.mutable_target()->mutable_binary()->set_go_version("go1.19.8");
  Kdbg r({"resolve", "web-0", "-n", "shop", "-o", "json"}, Env(), dir_);
  EXPECT_EQ(r.Finish(), 0) << r.err();
  json j = json::parse(r.out());
  EXPECT_EQ(j["pod"], "web-0");
  EXPECT_EQ(j["namespace"], "shop");
  EXPECT_EQ(j["container"], "web");
  EXPECT_EQ(j["host_pid"], 4242);
  EXPECT_EQ(j["debuggable"], true);
  EXPECT_EQ(j["binary"]["go_version"], "go1.19.8");
  Kdbg rt({"resolve", "web-0", "-n", "shop"}, Env(), dir_);
  EXPECT_EQ(rt.Finish(), 0);
  EXPECT_TRUE(absl::StrContains(rt.out(), "debuggable: yes\n")) << rt.out();

  auto* s = ctl_.sessions_response.add_sessions();
  s->mutable_info()->set_id("t-9");
  s->mutable_info()->set_mode(kdbg::v1::SESSION_MODE_TRACE);
  s->mutable_target()->set_namespace_("default");
  s->mutable_target()->set_pod("hello-world");
  s->set_node_name("node-a");
  Kdbg ls({"sessions", "-o", "json"}, Env(), dir_);
  EXPECT_EQ(ls.Finish(), 0) << ls.err();
  j = json::parse(ls.out());
  EXPECT_EQ(j["id"], "t-9");
  EXPECT_EQ(j["node"], "node-a");
  Kdbg la({"sessions", "-A"}, Env(), dir_);
  EXPECT_EQ(la.Finish(), 0);
  EXPECT_TRUE(absl::StartsWith(la.out(), "SESSION ")) << la.out();
  EXPECT_TRUE(absl::StrContains(la.out(), "t-9 ")) << la.out();
  {
    absl::MutexLock lock(&ctl_.mu);
    ASSERT_EQ(ctl_.list_requests.size(), 2u);
    EXPECT_EQ(ctl_.list_requests[0].namespace_(), "default") << "the context's namespace";
    EXPECT_TRUE(ctl_.list_requests[1].all_namespaces());
  }

  Kdbg stop({"stop", "t-9"}, Env(), dir_);
  EXPECT_EQ(stop.Finish(), 0) << stop.err();
  EXPECT_EQ(stop.out(),
            "kdbg: ended: stopped on request; 5 hits; target running, detached cleanly\n");
  Kdbg missing({"stop", "missing"}, Env(), dir_);
  EXPECT_EQ(missing.Finish(), 1);
  EXPECT_TRUE(absl::StrContains(missing.err(), "session missing not found")) << missing.err();

  Kdbg v({"version"}, Env(), dir_);
  EXPECT_EQ(v.Finish(), 0) << v.err();
  EXPECT_EQ(v.out(),
            absl::StrCat("kdbg ", KDBG_VERSION,
                         "\nkdbg-controller 0.1.0\nkdbg-agent 0.1.0 on node-a (delve 1.20.2)\n"));
}

TEST_F(CliTest, ExecPluginRunsOnceAndItsTokenReachesBoth) {
  ctl_.resolve_response.mutable_target()->set_debuggable(true);
  std::string plugin = dir_ + "/plugin.sh";
  WriteFile(
      plugin,
      absl::StrCat(
          "#!/bin/sh\necho run >> ", dir_, "/plugin-runs\n",
          "cat "
          "<<EOF\n{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
          "\"status\":{\"token\":\"good-token\",\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}"
          "\nEOF\n"),
      0700);
  WriteKubeconfig(
      "exec",
      absl::StrCat(R"({"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": ")",
                   plugin, R"(", "interactiveMode": "Never"}})"));
  Kdbg k({"sessions"}, Env("exec"), dir_);
  EXPECT_EQ(k.Finish(), 0) << k.err();
  EXPECT_EQ(ReadFileText(dir_ + "/plugin-runs"), "run\n");
  Kdbg r({"resolve", "pod/hello-world"}, Env("exec"), dir_);
  EXPECT_EQ(r.Finish(), 0) << r.err();
  EXPECT_EQ(kube_->seen_authorizations().back(), "Bearer good-token");

  WriteFile(dir_ + "/token", "good-token\n");
  WriteKubeconfig("tokenfile", absl::StrCat(R"({"tokenFile": ")", dir_, R"(/token"})"));
  Kdbg t({"resolve", "pod/hello-world"}, Env("tokenfile"), dir_);
  EXPECT_EQ(t.Finish(), 0) << t.err();
}

TEST_F(CliTest, ClientCertificateUsersAreToldTheyNeedAToken) {
  auto user = pki_->Issue({"alice"});
  ASSERT_TRUE(user.ok());
  WriteKubeconfig("cert", absl::StrCat(R"({"client-certificate": ")", user->cert_path,
                                       R"(", "client-key": ")", user->key_path, R"("})"));
  Kdbg k({"sessions", "-o", "json"}, Env("cert"), dir_);
  EXPECT_EQ(k.Finish(), 1);
  EXPECT_TRUE(absl::StrContains(k.err(), "authenticates with a client certificate only"))
      << k.err();
  EXPECT_EQ(json::parse(k.out())["code"], "FAILED_PRECONDITION");
}

TEST_F(CliTest, PortForwardDiscoveryStartsAndStopsKubectl) {
  std::string kubectl = dir_ + "/kubectl";
  WriteFile(kubectl,
            absl::StrCat("#!/bin/sh\necho \"$@\" > ", dir_, "/kubectl-args\necho $$ > ", dir_,
                         "/kubectl-pid\necho 'Forwarding from 127.0.0.1:", server_->port(),
                         " -> 8443'\necho 'Forwarding from [::1]:", server_->port(),
                         " -> 8443'\nexec sleep 60\n"),
            0700);
  auto env = Env("config", /*with_controller=*/false);
  env.push_back("KDBG_KUBECTL=" + kubectl);
  Kdbg k({"sessions", "--context", "test"}, env, dir_);
  // The certificate names kdbg-controller.kdbg-system.svc: checked although reached on 127.0.0.1.
  EXPECT_EQ(k.Finish(), 0) << k.err();
  EXPECT_EQ(ReadFileText(dir_ + "/kubectl-args"),
            "--context test port-forward -n kdbg-system service/kdbg-controller :443\n");
  std::string pid = std::string(absl::StripAsciiWhitespace(ReadFileText(dir_ + "/kubectl-pid")));
  EXPECT_FALSE(fs::exists("/proc/" + pid)) << "kubectl port-forward left running";
}

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST_F(CliTest, AttachTunnelsEachConnectionAndCtrlCEndsIt) {
  int port = kdbg::testing::FreePort();
  Kdbg k({"attach", "pod/hello-world", "--listen", absl::StrCat("127.0.0.1:", port), "--headless"},
         Env(), dir_);
  auto line = k.ReadLineContaining("dlv connect");
  ASSERT_TRUE(line) << k.err();
  EXPECT_EQ(*line, absl::StrCat("  dlv connect 127.0.0.1:", port));
  ASSERT_TRUE(k.ReadLineContaining("\"mode\": \"remote\""));
  for (int i = 0; i < 2; ++i) {
    int fd = Connect(port);
    ASSERT_GE(fd, 0);
    std::string msg = absl::StrCat("ping", i);
    ASSERT_EQ(::send(fd, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
    ::shutdown(fd, SHUT_WR);
    std::string got;
    char b[256];
    ssize_t n;
    while ((n = ::recv(fd, b, sizeof b, 0)) > 0) got.append(b, n);
    ::close(fd);
    EXPECT_EQ(got, "echo:" + msg);
  }
  k.Signal(SIGINT);
  EXPECT_EQ(k.Finish(), 0) << k.err();
  EXPECT_TRUE(absl::StrContains(k.err(), "ended: stopped on request")) << k.err();
  absl::MutexLock lock(&ctl_.mu);
  EXPECT_EQ(ctl_.tunnels, 2);
  EXPECT_EQ(ctl_.stop_requests, std::vector<std::string>{"a-1"});
  EXPECT_EQ(ctl_.attach_requests.at(0).target().container(), "app");
}

// Kubeconfig handling through the kube library, on the shared real-world files.
TEST(KubeconfigFixturesTest, ContextsNamespacesTokensAndMerging) {
  std::string dir = kdbg::testing::MakeTempDir("kdbg-cli-kubeconfig");
  std::string fixtures = kdbg::testing::TestdataDir("kube") + "/kubeconfig/";
  fs::create_directories(dir + "/testns");
  WriteFile(dir + "/testns/ca.pem", "");  // referenced relative to the file; never used here
  fs::copy_file(fixtures + "bearer-token-multi-context-oidc-authprovider.yaml",
                dir + "/multi.yaml");
  fs::copy_file(fixtures + "client-certificate-data-kubeadm-admin.yaml", dir + "/cert.yaml");

  ClusterOptions o;
  o.kubeconfig = dir + "/multi.yaml";
  auto c = OpenCluster(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Namespace(), "testns");
  EXPECT_EQ(*(*c)->BearerToken(), "token");
  EXPECT_EQ((*c)->KubectlArgs(), (std::vector<std::string>{"--kubeconfig", dir + "/multi.yaml"}));

  o.context = "production/172-28-128-4:8443/root";
  c = OpenCluster(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Namespace(), "production");
  EXPECT_EQ(*(*c)->BearerToken(), "supertoken");

  o.context = "production/172-28-128-4:8443/mmosley";  // auth-provider: nothing kdbg can send
  c = OpenCluster(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(c.status().message(), "auth-provider")) << c.status();

  ClusterOptions m;  // $KUBECONFIG with several files: the first current-context wins
  m.kubeconfig_env = absl::StrCat(dir, "/missing.yaml:", dir, "/cert.yaml:", dir, "/multi.yaml");
  c = OpenCluster(m);
  ASSERT_TRUE(c.ok()) << c.status();
  auto token = (*c)->BearerToken();
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(token.status().message(), "client certificate only"))
      << token.status();
  m.context = "testns/172-28-128-4:8443/user";  // a context from the second file
  c = OpenCluster(m);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*(*c)->BearerToken(), "token");
  EXPECT_EQ((*c)->Namespace(), "testns");

  ClusterOptions h;  // ~/.kube/config
  h.home = dir + "/home";
  fs::create_directories(h.home + "/.kube");
  fs::copy_file(dir + "/multi.yaml", h.home + "/.kube/config");
  fs::create_directories(h.home + "/.kube/testns");
  WriteFile(h.home + "/.kube/testns/ca.pem", "");
  c = OpenCluster(h);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Namespace(), "testns");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kdbg::cli::testing
