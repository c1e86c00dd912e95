// End-to-end cases of the on-call commands (issue 19) on the sandbox: quick trace by regular
// expression and `kdbg funcs`, through the real CLI, controller (TLS, authorization, audit) and
// agent, against the Go 1.26 optimized hello-world service. Every session end is checked against
// the real target afterwards.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_harness.h"
#include "tests/support/dap_client.h"
#include "tests/support/http_probe.h"
#include "tests/support/proc_probe.h"
#include "tests/support/test_env.h"

namespace kdbg::e2e {
namespace {

using ::kdbg::testing::ApplySubstitutePath;
using ::kdbg::testing::DapClient;

class ErgoE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sb = Sandbox::Load();
    ASSERT_TRUE(sb.ok()) << sb.status();
    sb_ = *sb;
    ASSERT_TRUE(sb_.Up().ok());
  }

  std::set<int> SendRequests(int n) {
    std::set<int> ports;
    for (int i = 0; i < n; ++i) {
      auto r = testing::HttpGet("127.0.0.1", Sandbox::PortOf(sb_.Get("HELLO_URL")), "/",
                                absl::Seconds(10));
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) ports.insert(r->local_port);
    }
    return ports;
  }

  void ExpectReleased() {
    auto pid = sb_.ContainerPid("default", "hello-world");
    ASSERT_TRUE(pid.ok()) << pid.status();
    EXPECT_EQ(TargetReleased(*pid, sb_.Get("HELLO_URL")), "");
  }

  void ExpectNoSession() {
    auto sessions = RunKdbg(sb_, {"sessions", "-A", "-o", "json"}, sb_.CliEnv());
    EXPECT_EQ(sessions.exit_code, 0) << sessions.err;
    EXPECT_FALSE(absl::StrContains(sessions.out, "hello-world")) << sessions.out;
  }

  // `kdbg trace pod/hello-world ARGS -o json`, waited for "armed"; nullptr (and a failure) else.
  std::unique_ptr<KdbgProcess> StartQuickTrace(std::vector<std::string> args) {
    std::vector<std::string> all = {"trace", "pod/hello-world"};
    all.insert(all.end(), args.begin(), args.end());
    all.insert(all.end(), {"-o", "json"});
    auto p = KdbgProcess::Start(sb_, all, sb_.CliEnv());
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    armed_ = (*p)->WaitFor("armed", absl::Seconds(30));
    EXPECT_TRUE(armed_.has_value()) << "no armed event; stderr: " << (*p)->Stderr();
    if (!armed_) {
      (*p)->Signal(SIGINT);
      (*p)->Wait(absl::Seconds(20));
      return nullptr;
    }
    return std::move(*p);
  }

  static int PortOf(const std::string& quoted_addr) {
    size_t colon = quoted_addr.rfind(':');
    int port = 0;
    if (colon == std::string::npos) return 0;
    std::string digits = quoted_addr.substr(colon + 1);
    if (!digits.empty() && digits.back() == '"') digits.pop_back();
    return absl::SimpleAtoi(digits, &port) ? port : 0;
  }

  Sandbox sb_;
  std::optional<nlohmann::json> armed_;
};

// `kdbg trace pod/hello-world '^main\.handleSlash$'`: no script; the pattern is expanded on the
// agent from the target's symbols, the function qualifies for the eBPF engine (auto), each hit
// carries the function's arguments, and Ctrl-C ends the session safely.
TEST_F(ErgoE2eTest, QuickTraceByRegexpTracesTheMatchingFunctionWithItsArguments) {
  auto p = StartQuickTrace({"^main\\.handleSlash$"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(armed_->value("engine", ""), "ebpf") << armed_->dump();
  ASSERT_EQ((*armed_)["tracepoints"].size(), 1u) << armed_->dump();
  EXPECT_EQ((*armed_)["tracepoints"][0]["function"], "main.handleSlash") << armed_->dump();
  EXPECT_TRUE(absl::StrContains(p->Stderr(),
                                "\"^main\\.handleSlash$\" matches 1 function: "
                                "main.handleSlash"))
      << p->Stderr();
  SendRequests(2);
  for (int i = 0; i < 2; ++i) {
    auto hit = p->WaitFor("hit", absl::Seconds(20));
    ASSERT_TRUE(hit.has_value()) << p->Stderr();
    EXPECT_EQ((*hit)["function"], "main.handleSlash");
    EXPECT_EQ((*hit)["tracepoint"], "handleSlash");
    ASSERT_TRUE((*hit)["args"].contains("r")) << hit->dump();
    EXPECT_TRUE(absl::StrContains((*hit)["args"]["r"].get<std::string>(), "0x"))
        << "the *http.Request pointer: " << hit->dump();
  }
  p->Signal(SIGINT);
  auto ended = p->WaitFor("ended", absl::Seconds(20));
  ASSERT_TRUE(ended.has_value()) << p->Stderr();
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0) << p->Stderr();
  ExpectReleased();
  ExpectNoSession();
}

// --print and --stack: every matching function gets them; the script runs on eBPF (auto), the
// values and the stack's frames come from the real target.
TEST_F(ErgoE2eTest, QuickTraceWithPrintAndStackRunsOnEbpfAndShowsBoth) {
  auto p = StartQuickTrace(
      {"handleSlash$", "--print", "r.RemoteAddr", "--print", "r.Method", "--stack", "3"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(armed_->value("engine", ""), "ebpf") << armed_->dump();
  std::set<int> sent = SendRequests(1);
  auto hit = p->WaitFor("hit", absl::Seconds(20));
  ASSERT_TRUE(hit.has_value()) << p->Stderr();
  EXPECT_EQ((*hit)["function"], "main.handleSlash");
  EXPECT_EQ((*hit)["vars"]["r.Method"], "\"GET\"") << hit->dump();
  EXPECT_EQ(sent.count(PortOf((*hit)["vars"]["r.RemoteAddr"].get<std::string>())), 1u)
      << hit->dump();
  ASSERT_TRUE(hit->contains("stack")) << hit->dump();
  ASSERT_GE((*hit)["stack"].size(), 2u) << hit->dump();
  EXPECT_LE((*hit)["stack"].size(), 4u)
      << "depth+1 frames (more only past a frame with inlined calls), as Delve: " << hit->dump();
  EXPECT_EQ((*hit)["stack"][0]["function"], "main.handleSlash") << hit->dump();
  EXPECT_EQ((*hit)["stack"][1]["function"], "net/http.HandlerFunc.ServeHTTP") << hit->dump();
  EXPECT_TRUE(absl::EndsWith((*hit)["stack"][1]["file"].get<std::string>(), "/net/http/server.go"))
      << hit->dump();
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 0) << p->Stderr();
  ExpectReleased();
  ExpectNoSession();
}

// A pattern matching more functions than the cap is refused before any session: one line with
// the count and the first matches, exit 1, nothing attached.
TEST_F(ErgoE2eTest, QuickTraceRefusesATooBroadPatternListingTheFirstMatches) {
  auto r = RunKdbg(sb_, {"trace", "pod/hello-world", "^net/http\\."}, sb_.CliEnv());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "kdbg: error: \"^net/http\\.\" matches ")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "a quick trace arms at most 20 (--max-funcs")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "the first 10: net/http.")) << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, "armed")) << r.err;
  auto none = RunKdbg(sb_, {"trace", "pod/hello-world", "^main\\.nosuchfunction"}, sb_.CliEnv());
  EXPECT_EQ(none.exit_code, 1) << none.err;
  EXPECT_TRUE(absl::StrContains(
      none.err, "no function of pod/hello-world matches \"^main\\.nosuchfunction\""))
      << none.err;
  auto runtime = RunKdbg(sb_, {"trace", "pod/hello-world", "^runtime\\.mallocgc$"}, sb_.CliEnv());
  EXPECT_EQ(runtime.exit_code, 1) << runtime.err;
  EXPECT_TRUE(absl::StrContains(runtime.err, "matches only functions of the Go runtime"))
      << runtime.err;
  ExpectNoSession();
  ExpectReleased();
}

// `kdbg funcs`: the real target's functions through controller and agent, filtered and paged;
// a user without RBAC on the pod is refused like resolve.
TEST_F(ErgoE2eTest, FuncsListsTheTargetsFunctionsFilteredAndPaged) {
  auto r = RunKdbg(sb_, {"funcs", "pod/hello-world", "^main\\."}, sb_.CliEnv());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> names = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  EXPECT_NE(std::find(names.begin(), names.end(), "main.handleSlash"), names.end()) << r.out;
  EXPECT_NE(std::find(names.begin(), names.end(), "main.main"), names.end()) << r.out;
  // Inlined at its only call (addr.go): no symbol, listed from the DWARF as `dlv funcs` lists it.
  EXPECT_NE(std::find(names.begin(), names.end(), "main.listenAddr"), names.end()) << r.out;
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end())) << r.out;
  auto json =
      RunKdbg(sb_, {"funcs", "pod/hello-world", "^main\\.listenAddr$", "-o", "json"}, sb_.CliEnv());
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(absl::StrContains(json.out, "\"inlined_at_every_call\":true")) << json.out;
  EXPECT_TRUE(absl::StrContains(
      r.err, absl::StrCat("kdbg: ", names.size(), " functions match \"^main\\.\"")))
      << r.err;
  auto page =
      RunKdbg(sb_, {"funcs", "pod/hello-world", "--limit", "5", "--offset", "5"}, sb_.CliEnv());
  EXPECT_EQ(page.exit_code, 0) << page.err;
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(page.out, '\n', absl::SkipEmpty())).size(), 5u)
      << page.out;
  EXPECT_TRUE(absl::StrContains(page.err, "shown 6-10: --offset 10 for the next")) << page.err;
  auto denied = RunKdbg(sb_, {"funcs", "pod/hello-world"}, sb_.CliEnv(/*denied_user=*/true));
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(denied.err), "denied") ||
              absl::StrContains(absl::AsciiStrToLower(denied.err), "forbidden") ||
              absl::StrContains(absl::AsciiStrToLower(denied.err), "permission"))
      << denied.err;
  EXPECT_EQ(denied.out, "");
  auto stripped = RunKdbg(sb_, {"funcs", "pod/stripped"}, sb_.CliEnv());
  EXPECT_EQ(stripped.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(stripped.err, "stripped")) << stripped.err;
}

// `kdbg attach --vscode --source COPY`: the configuration written into COPY/.vscode/launch.json
// (merged with the user's own) drives a DAP client as VS Code would: it sets a breakpoint by the
// LOCAL path of a copy of the sources (a directory other than the build's), mapped through the
// written substitutePath, and the real Delve behind the tunnel hits it.
TEST_F(ErgoE2eTest, AttachWritesAVsCodeConfigurationWhoseSubstitutePathLetsADapClientBreak) {
  namespace fs = std::filesystem;
  std::string checkout = ScratchPath("checkout");
  fs::create_directories(checkout + "/.vscode");
  for (const char* f : {"main.go", "addr.go", "go.mod"}) {
    fs::copy_file(testing::SourceDir() + "/tests/targets/hello-world/" + f, checkout + "/" + f);
  }
  std::ofstream(checkout + "/.vscode/launch.json")
      << "{\n  // the user's own\n  \"version\": \"0.2.0\",\n  \"configurations\": [\n"
         "    {\"name\": \"Launch Package\", \"type\": \"go\", \"request\": \"launch\"}\n  ]\n}\n";
  int port = testing::FreePort();
  auto attach =
      KdbgProcess::Start(sb_,
                         {"attach", "pod/hello-world", "--headless", "--listen",
                          absl::StrCat("127.0.0.1:", port), "--vscode", "--source", checkout},
                         sb_.CliEnv());
  ASSERT_TRUE(attach.ok()) << attach.status();
  (void)(*attach)->AwaitStderr("kdbg: wrote", absl::Seconds(30));  // asserted below
  std::string err = (*attach)->Stderr();
  ASSERT_TRUE(absl::StrContains(err, "kdbg: wrote configuration \"kdbg: default/hello-world\" to " +
                                         checkout + "/.vscode/launch.json"))
      << err;
  std::ifstream in(checkout + "/.vscode/launch.json");
  nlohmann::json launch = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(launch.is_discarded());
  ASSERT_EQ(launch["configurations"].size(), 2u) << launch.dump();
  EXPECT_EQ(launch["configurations"][0]["name"], "Launch Package") << "the user's kept";
  nlohmann::json config = launch["configurations"][1];
  EXPECT_EQ(config["name"], "kdbg: default/hello-world");
  EXPECT_EQ(config["type"], "go");
  EXPECT_EQ(config["request"], "attach");
  EXPECT_EQ(config["mode"], "remote");
  EXPECT_EQ(config["host"], "127.0.0.1");
  EXPECT_EQ(config["port"], port);
  ASSERT_TRUE(config.contains("substitutePath")) << config.dump() << "\n" << err;
  EXPECT_EQ(config["substitutePath"][0]["from"], checkout);
  EXPECT_EQ(config["substitutePath"][0]["to"], testing::SourceDir() + "/tests/targets/hello-world");

  // The DAP conversation of VS Code's Go extension for a "remote" attach.
  auto dap = DapClient::Connect(config["host"].get<std::string>(), config["port"].get<int>());
  ASSERT_TRUE(dap.ok()) << dap.status();
  ASSERT_TRUE(dap->Request("initialize", {{"adapterID", "go"},
                                          {"pathFormat", "path"},
                                          {"linesStartAt1", true},
                                          {"columnsStartAt1", true}})
                  .ok());
  auto attached = dap->Request("attach", {{"request", "attach"}, {"mode", "remote"}});
  ASSERT_TRUE(attached.ok()) << attached.status();
  std::string local_file = checkout + "/main.go";
  std::string sent_path = ApplySubstitutePath(config, local_file);
  EXPECT_NE(sent_path, local_file);
  auto bp = dap->Request("setBreakpoints",
                         {{"source", {{"path", sent_path}}}, {"breakpoints", {{{"line", 11}}}}});
  ASSERT_TRUE(bp.ok()) << bp.status();
  ASSERT_EQ((*bp)["body"]["breakpoints"].size(), 1u) << bp->dump();
  EXPECT_TRUE((*bp)["body"]["breakpoints"][0].value("verified", false)) << bp->dump();
  ASSERT_TRUE(dap->Request("configurationDone", nlohmann::json::object()).ok());
  std::thread request([&] { SendRequests(1); });
  auto stopped = dap->WaitEvent("stopped", absl::Seconds(20));
  ASSERT_TRUE(stopped.has_value()) << (*attach)->Stderr();
  EXPECT_EQ((*stopped)["body"]["reason"], "breakpoint") << stopped->dump();
  auto frames =
      dap->Request("stackTrace", {{"threadId", (*stopped)["body"]["threadId"]}, {"levels", 1}});
  ASSERT_TRUE(frames.ok()) << frames.status();
  nlohmann::json top = (*frames)["body"]["stackFrames"][0];
  EXPECT_EQ(top["name"], "main.handleSlash") << top.dump();
  EXPECT_EQ(top["line"], 11) << top.dump();
  EXPECT_EQ(top["source"]["path"], sent_path) << "the build's path, which VS Code maps back";
  // Leave as a person would: clear, continue, disconnect without killing the target.
  ASSERT_TRUE(dap->Request("setBreakpoints", {{"source", {{"path", sent_path}}},
                                              {"breakpoints", nlohmann::json::array()}})
                  .ok());
  ASSERT_TRUE(dap->Request("continue", {{"threadId", (*stopped)["body"]["threadId"]}}).ok());
  request.join();
  EXPECT_TRUE(dap->Request("disconnect", {{"terminateDebuggee", false}}).ok());
  (*attach)->Signal(SIGINT);
  EXPECT_EQ((*attach)->Wait(absl::Seconds(30)), 0) << (*attach)->Stderr();
  ExpectReleased();
  ExpectNoSession();
}

}  // namespace
}  // namespace kdbg::e2e
