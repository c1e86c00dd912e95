// The support matrix: the examples' trace script (examples/trace.dlv) on each build of the sample
// service: Go 1.26 as production builds it (optimized), Go 1.26 with -N -l, Go 1.27 (GOTOOLCHAIN=
// go1.27.3) and Debian's Go 1.19. Real bundled Delves, picked by the target's Go version as the
// agent picks them; each run checks the printed values and that the target was released.
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/gobinary/go_binary.h"
#include "common/child_process.h"
#include "nlohmann/json.hpp"
#include "tests/integration/delve/engine_fixture.h"

namespace kdbg::delve {
namespace {

std::string ExampleScript() {
  std::ifstream in(kdbg::testing::SourceDir() + "/examples/trace.dlv");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string GoVersionOf(const std::string& target) {
  auto facts = gobinary::InspectGoBinary(kdbg::testing::TargetPath(target));
  EXPECT_TRUE(facts.ok()) << facts.status();
  return facts.ok() ? facts->go_version : "";
}

// The Delve that attached to `pid` (its command line's first word), while the session runs.
std::string DelveOf(pid_t pid) {
  std::vector<pid_t> dlv = kdbg::testing::DlvProcessesFor(pid);
  if (dlv.size() != 1) return absl::StrCat(dlv.size(), " dlv processes");
  std::ifstream in(absl::StrCat("/proc/", dlv[0], "/cmdline"));
  std::string argv0;
  std::getline(in, argv0, '\0');
  return argv0;
}

struct Build {
  const char* target;
  const char* go_prefix;  // what the binary records
  const char* delve;      // the bundled version that must be picked
};

class SupportMatrixTest : public DelveEngineTest, public ::testing::WithParamInterface<Build> {};

TEST_P(SupportMatrixTest, ExampleScriptPrintsTheClientPorts) {
  const Build& b = GetParam();
  std::string go = GoVersionOf(b.target);
  ASSERT_EQ(go.rfind(b.go_prefix, 0), 0u) << go;
  auto t = GoTarget::Start(b.target);
  ASSERT_TRUE(t.ok()) << t.status();
  Events events;
  agent::TraceSpec spec;  // the binary's facts (its Go version) come from the resolver
  auto session = Trace((*t)->pid(), ExampleScript(), &events, spec);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(DelveOf((*t)->pid()), kdbg::testing::BundledDelvePath(b.delve));
  std::vector<int> ports;
  for (int i = 0; i < 2; ++i) {
    auto r = kdbg::testing::HttpGet("127.0.0.1", (*t)->port());
    ASSERT_TRUE(r.ok()) << r.status();
    ports.push_back(r->local_port);
  }
  ASSERT_TRUE(events.WaitHits(2));
  auto hits = events.Hits();
  ASSERT_EQ(hits.size(), 2u);
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_EQ(hits[i].function(), "main.handleSlash");
    EXPECT_EQ(hits[i].line(), 10);
    ASSERT_EQ(hits[i].vars_size(), 1);
    EXPECT_EQ(hits[i].vars(0).name(), "r.RemoteAddr");
    EXPECT_EQ(hits[i].vars(0).value(), absl::StrCat("\"127.0.0.1:", ports[i], "\""));
  }
  for (const v1::Event& e : events.All()) EXPECT_EQ(e.unsupported_go(), "") << e.DebugString();
  (*session)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*session)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ended.ok()) << ended.status();
  ExpectCleanEnd(*ended);
  ExpectReleased(**t);
}

INSTANTIATE_TEST_SUITE_P(Builds, SupportMatrixTest,
                         ::testing::Values(Build{"hello-world", "go1.26", "v1.27.2"},
                                           Build{"hello-world-nol", "go1.26", "v1.27.2"},
                                           Build{"hello-world-go127", "go1.27", "v1.27.2"}),
                         [](const ::testing::TestParamInfo<Build>& info) {
                           std::string n = info.param.target;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

// Go 1.19 is outside every bundled Delve's range (Go 1.24-1.27): refused before Delve starts,
// with what to do; nothing is left behind.
TEST_F(DelveEngineTest, Go119IsRefusedWithWhatToDo) {
  std::string go = GoVersionOf("hello-world-go119");
  ASSERT_EQ(go.rfind("go1.19", 0), 0u) << go;
  auto t = GoTarget::Start("hello-world-go119");
  ASSERT_TRUE(t.ok()) << t.status();
  Events events;
  agent::TraceSpec spec;  // the binary's facts (its Go version) come from the resolver
  auto session = Trace((*t)->pid(), ExampleScript(), &events, spec);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(session.status().message(),
            absl::StrCat("the program was built with ", go,
                         ", outside the bundled Delve's supported range Go 1.24-1.27 (Delve "
                         "1.26.2: Go 1.24-1.26, Delve 1.27.2: Go 1.25-1.27): rebuild the service "
                         "with a supported Go, or pass --allow-unsupported-go to try anyway with "
                         "Delve 1.26.2 (undefined behaviour: values may be missing or wrong)"));
  EXPECT_TRUE(events.All().empty());
  EXPECT_TRUE(kdbg::testing::DlvProcessesFor((*t)->pid()).empty());
  // No Delve log or other file left in the work directory.
  EXPECT_TRUE(std::filesystem::is_empty(work_dir_));
  ExpectReleased(**t);
}

// With --allow-unsupported-go the nearest Delve (1.26.2) attaches; every event is marked.
TEST_F(DelveEngineTest, Go119WithTheOverrideIsTracedAndEveryEventMarked) {
  std::string go = GoVersionOf("hello-world-go119");
  auto t = GoTarget::Start("hello-world-go119");
  ASSERT_TRUE(t.ok()) << t.status();
  Events events;
  agent::TraceSpec spec;
  spec.allow_unsupported_go = true;
  auto session = Trace((*t)->pid(), ExampleScript(), &events, spec);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(DelveOf((*t)->pid()), kdbg::testing::BundledDelvePath("v1.26.2"));
  auto r = kdbg::testing::HttpGet("127.0.0.1", (*t)->port());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(events.WaitHits(1));
  auto hits = events.Hits();
  ASSERT_EQ(hits.size(), 1u);
  ASSERT_EQ(hits[0].vars_size(), 1);
  // Delve 1.26.2 copes with this Go 1.19 binary in attach mode (measured): the real value.
  EXPECT_EQ(hits[0].vars(0).value(), absl::StrCat("\"127.0.0.1:", r->local_port, "\""));
  (*session)->RequestEnd(v1::END_REASON_CLIENT_STOP);
  auto ended = (*session)->Wait(absl::Seconds(20));
  ASSERT_TRUE(ended.ok()) << ended.status();
  ExpectCleanEnd(*ended);
  std::string mark = absl::StrCat("UNSUPPORTED: ", go,
                                  " is outside Delve 1.26.2's supported range Go 1.24-1.26 "
                                  "(--allow-unsupported-go)");
  auto all = events.All();
  ASSERT_GE(all.size(), 3u);  // armed, hit, ended
  for (const v1::Event& e : all) EXPECT_EQ(e.unsupported_go(), mark) << e.DebugString();
  ExpectReleased(**t);
}

// The agent's own preflight (`kdbg-agent resolve`, run on a node by hand) shows the same Go gate
// as `kdbg resolve`: the target's Go version beside the bundled Delves' range, the Delve that
// would attach, and outside the range the refusal saying what to do (exit status 1).
TEST(AgentResolveGoGateTest, ShowsTheGoVersionBesideTheBundledDelvesRange) {
  KDBG_REQUIRE_REAL(HaveDelve(), "root and the bundled Delve (scripts/delve)");
  const std::string agent = kdbg::testing::BinaryDir() + "/agent/kdbg-agent";
  const std::string dlv = absl::StrJoin(kdbg::testing::BundledDelvePaths(), ",");
  struct Case {
    const char* target;
    bool supported;
    const char* delve;
  };
  for (const Case& c :
       {Case{"hello-world", true, "1.27.2"}, Case{"hello-world-go119", false, "1.26.2"}}) {
    SCOPED_TRACE(c.target);
    std::string go = GoVersionOf(c.target);
    auto t = GoTarget::Start(c.target);
    ASSERT_TRUE(t.ok()) << t.status();
    // Both outputs with the exit status: 1 when not debuggable (the refusal on stderr).
    auto run = [&](const std::string& flags) {
      auto out = RunCommand({"sh", "-c",
                             absl::StrCat(agent, " resolve --pid ", (*t)->pid(), " --dlv ", dlv,
                                          flags, "; echo \"exit=$?\"")},
                            absl::Seconds(30), /*merge_stderr=*/flags.empty());
      EXPECT_TRUE(out.ok()) << out.status();
      return out.ok() ? *out : std::string();
    };
    std::string text = run("");
    std::string json_out = run(" -o json");
    EXPECT_THAT(text, HasSubstr(absl::StrCat("binary ", (*t)->binary(), "  ", go)));
    EXPECT_THAT(text, HasSubstr(absl::StrCat(
                          "delve ", c.delve,
                          "  bundled Delve supports Go 1.24-1.27 (Delve 1.26.2: Go 1.24-1.26, "
                          "Delve 1.27.2: Go 1.25-1.27)  go supported=",
                          c.supported ? "yes" : "no")));
    if (c.supported) {
      EXPECT_THAT(text, HasSubstr("debuggable: yes"));
      EXPECT_THAT(text, HasSubstr("exit=0"));
      EXPECT_THAT(json_out, HasSubstr("exit=0"));
    } else {
      std::string refusal = absl::StrCat(
          "the program was built with ", go,
          ", outside the bundled Delve's supported range Go 1.24-1.27 (Delve 1.26.2: Go 1.24-1.26, "
          "Delve 1.27.2: Go 1.25-1.27): rebuild the service with a supported Go, or pass "
          "--allow-unsupported-go to try anyway with Delve 1.26.2");
      EXPECT_THAT(text, HasSubstr("debuggable: no: " + refusal));
      EXPECT_THAT(text, HasSubstr("kdbg-agent resolve: not debuggable: " + refusal));
      EXPECT_THAT(text, HasSubstr("exit=1"));
      EXPECT_THAT(json_out, HasSubstr("exit=1"));
    }
    json_out = json_out.substr(0, json_out.find("exit="));
    auto parsed = nlohmann::json::parse(json_out, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(parsed.is_object()) << json_out;
    EXPECT_EQ(parsed.value("delve_version", ""), c.delve);
    EXPECT_EQ(parsed.value("go_supported", !c.supported), c.supported);
    EXPECT_THAT(parsed.value("supported_go", ""),
                HasSubstr("Go 1.24-1.27 (Delve 1.26.2: Go "
                          "1.24-1.26, Delve 1.27.2: Go 1.25-1.27)"));
    EXPECT_THAT(parsed.dump(), HasSubstr(go));
  }
}

}  // namespace
}  // namespace kdbg::delve
