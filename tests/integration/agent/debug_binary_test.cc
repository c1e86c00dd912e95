// `--debug-binary` against a real `kdbg-agent serve` (real mTLS, real Delve, real Go targets): a
// stripped target traced with the unstripped binary of its build prints real values; every bad
// upload is refused with its own message; and no file is left in the agent's state dir, whatever
// ends the upload or the session (including an agent killed and restarted).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/agent/agent_process.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/go_target.h"
#include "tests/support/http_probe.h"
#include "tests/support/proc_probe.h"
#include "tests/support/test_env.h"

namespace kdbg::testing {
namespace {

using ::testing::HasSubstr;

constexpr size_t kChunk = size_t{1} << 20;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

// "1.20.2" -> true when Delve reads Go >= 1.25 (DWARF 5) binaries (Delve >= 1.25).
bool DelveReadsModernGo(const std::string& version) {
  std::vector<std::string> parts = absl::StrSplit(version, '.');
  int major = 0, minor = 0;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major) ||
      !absl::SimpleAtoi(parts[1], &minor)) {
    return true;
  }
  return major > 1 || minor >= 25;
}

class DebugBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KDBG_REQUIRE_REAL(::geteuid() == 0, "root (ptrace) for real Delve");
    auto pki = TestPki::Create("kdbg-debugbin-ca");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::move(*pki);
    auto ctl = pki_->Issue({"kdbg-controller"});
    ASSERT_TRUE(ctl.ok()) << ctl.status();
    controller_ = *ctl;
    state_dir_ = MakeTempDir("kdbg-debugbin-state-");
    StartAgent();
    // The pair the agent's Delve can read: one build, stripped copy shipped (same build ID).
    grpc::ClientContext ctx;
    Deadline(&ctx, 10);
    kdbg::v1::VersionInfo v;
    ASSERT_TRUE(stub_->Version(&ctx, {}, &v).ok());
    bool modern = DelveReadsModernGo(v.delve_version());
    unstripped_ = TargetPath(modern ? "hello-world-optimized" : "hello-world-go119-optimized");
    stripped_ = modern ? "hello-world-stripped" : "hello-world-go119-stripped";
    ASSERT_EQ(::access(unstripped_.c_str(), R_OK), 0) << unstripped_;
    auto t = GoTarget::Start(stripped_);
    ASSERT_TRUE(t.ok()) << t.status();
    target_ = std::move(*t);
  }
  void StartAgent() {
    AgentProcess::Options o;
    o.state_dir = state_dir_;
    auto a = AgentProcess::Start(pki_.get(), o);
    ASSERT_TRUE(a.ok()) << a.status();
    agent_ = std::move(*a);
    stub_ = agent_->Stub(&controller_, pki_.get());
  }
  void TearDown() override {
    if (HasFailure() && agent_ != nullptr)
      std::fprintf(stderr, "agent log:\n%s\n", agent_->Logs().c_str());
    agent_.reset();
    target_.reset();
    std::error_code ec;
    if (!state_dir_.empty() && !HasFailure()) std::filesystem::remove_all(state_dir_, ec);
  }
  static void Deadline(grpc::ClientContext* ctx, int s = 60) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(s));
  }
  std::string UploadDir() const { return state_dir_ + "/debug-binaries"; }

  kdbg::v1::DebugBinaryChunk Header(int64_t size, int64_t max_size = 0) {
    kdbg::v1::DebugBinaryChunk c;
    c.mutable_target()->set_host_pid(target_->pid());
    c.set_user("alice");
    c.mutable_header()->set_file_name("hello.debug");
    c.mutable_header()->set_size(size);
    c.set_max_size(max_size);
    return c;
  }
  // Sends `content` (announcing `announced` bytes, default its size) as the controller would.
  grpc::Status Upload(const std::string& content, kdbg::v1::DebugBinaryUploaded* out,
                      int64_t announced = -1, int64_t max_size = 0) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    auto w = stub_->UploadDebugBinary(&ctx, out);
    bool ok = w->Write(
        Header(announced < 0 ? static_cast<int64_t>(content.size()) : announced, max_size));
    for (size_t i = 0; ok && i < content.size(); i += kChunk) {
      kdbg::v1::DebugBinaryChunk c;
      c.set_data(content.substr(i, kChunk));
      ok = w->Write(c);
    }
    if (ok) w->WritesDone();
    return w->Finish();
  }
  // The target serves, is untraced, no dlv names it, and no upload is left on the node.
  void ExpectReleasedAndNoFile() {
    auto st = WaitUntilReleased(target_->pid(), 10000);
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_EQ(st->tracer_pid, 0);
    for (int i = 0; i < 200 && !DlvProcessesFor(target_->pid()).empty(); ++i)
      absl::SleepFor(absl::Milliseconds(50));
    EXPECT_TRUE(DlvProcessesFor(target_->pid()).empty());
    auto r = HttpGet("127.0.0.1", target_->port());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    ExpectNoFile();
  }
  void ExpectNoFile() {
    // The session's thread deletes the file right after the EndedEvent: allow it a moment.
    for (int i = 0; i < 100 && !FilesIn(UploadDir()).empty(); ++i)
      absl::SleepFor(absl::Milliseconds(20));
    EXPECT_THAT(FilesIn(UploadDir()), ::testing::IsEmpty());
  }
  // Delve by default: most of this suite proves Delve's use of the upload; `auto` picks the eBPF
  // engine for this script, which reads the upload's DWARF itself
  // (TheEbpfEngineReadsTheUploadsDwarf).
  kdbg::v1::TraceRequest TraceReq(const std::string& id, const std::string& upload,
                                  const std::string& engine = "delve") {
    kdbg::v1::TraceRequest r;
    r.mutable_target()->set_host_pid(target_->pid());
    r.mutable_options()->set_script(
        "trace handleSlash main.handleSlash\non handleSlash print r.RemoteAddr\n");
    r.mutable_options()->set_script_name("trace.dlv");
    r.mutable_options()->set_engine(engine);
    r.set_user("alice");
    r.set_session_id(id);
    r.set_debug_binary_id(upload);
    return r;
  }

  std::unique_ptr<TestPki> pki_;
  CertFiles controller_;
  std::string state_dir_;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<kdbg::v1::Agent::Stub> stub_;
  std::string unstripped_;
  std::string stripped_;
  std::unique_ptr<GoTarget> target_;
};

TEST_F(DebugBinaryTest, StrippedTargetTracedWithItsUnstrippedBuildPrintsRealValues) {
  kdbg::v1::DebugBinaryUploaded up;
  std::string bytes = Slurp(unstripped_);
  ASSERT_GT(bytes.size(), 2 * kChunk);  // really several chunks
  grpc::Status st = Upload(bytes, &up);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(up.size(), static_cast<int64_t>(bytes.size()));
  EXPECT_FALSE(up.build_id().empty());
  // The file is private and byte-identical.
  std::string stored = UploadDir() + "/" + up.upload_id();
  struct stat sb {};
  ASSERT_EQ(::stat(stored.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  EXPECT_EQ(Slurp(stored), bytes);

  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto reader = stub_->Trace(&ctx, TraceReq("it-debugbin", up.upload_id()));
  kdbg::v1::Event e;
  ASSERT_TRUE(reader->Read(&e)) << reader->Finish().error_message();
  ASSERT_TRUE(e.has_armed()) << e.DebugString();
  ASSERT_EQ(e.armed().tracepoints_size(), 1);
  EXPECT_EQ(e.armed().tracepoints(0).function(), "main.handleSlash");
  // Delve reads the upload as separate debug info, through a config home beside it.
  bool env_names_upload = false;
  for (pid_t dlv : DlvProcessesFor(target_->pid())) {
    std::string env = Slurp(absl::StrCat("/proc/", dlv, "/environ"));
    env_names_upload |= absl::StrContains(env, absl::StrCat("XDG_CONFIG_HOME=", stored, ".dlv"));
  }
  EXPECT_TRUE(env_names_upload);
  EXPECT_THAT(Slurp(stored + ".dlv/dlv/config.yml"),
              HasSubstr(absl::StrCat("debug-info-directories: [\"", stored, ".dlv/debug\"]")));

  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    auto r = HttpGet("127.0.0.1", target_->port());
    ASSERT_TRUE(r.ok()) << r.status();
    ports.push_back(r->local_port);
  }
  for (int port : ports) {
    ASSERT_TRUE(reader->Read(&e));
    ASSERT_TRUE(e.has_hit()) << e.DebugString();
    EXPECT_EQ(e.hit().function(), "main.handleSlash");
    ASSERT_GE(e.hit().vars_size(), 1) << e.DebugString();
    EXPECT_EQ(e.hit().vars(0).name(), "r.RemoteAddr");
    EXPECT_EQ(e.hit().vars(0).value(), absl::StrCat("\"127.0.0.1:", port, "\""));
    EXPECT_GE(e.hit().args_size(), 2) << e.DebugString();  // w and r, from the upload's DWARF
  }
  ctx.TryCancel();  // what the controller does when the CLI goes (Ctrl-C, killed)
  while (reader->Read(&e)) {
  }
  ExpectReleasedAndNoFile();
}

// The production case the eBPF engine exists for: a stripped service, traced without ever being
// stopped. With --engine auto the agent arms uprobes from the upload's DWARF (same build ID, same
// addresses), prints the same values, never ptraces the target, and deletes the upload at the end.
TEST_F(DebugBinaryTest, TheEbpfEngineReadsTheUploadsDwarf) {
  kdbg::v1::DebugBinaryUploaded up;
  grpc::Status st = Upload(Slurp(unstripped_), &up);
  ASSERT_TRUE(st.ok()) << st.error_message();
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto reader = stub_->Trace(&ctx, TraceReq("it-debugbin-ebpf", up.upload_id(), "auto"));
  kdbg::v1::Event e;
  ASSERT_TRUE(reader->Read(&e)) << reader->Finish().error_message();
  ASSERT_TRUE(e.has_armed()) << e.DebugString();
  EXPECT_EQ(e.armed().engine(), "ebpf") << e.armed().engine_note();
  EXPECT_EQ(e.armed().tracepoints(0).function(), "main.handleSlash");
  EXPECT_THAT(DlvProcessesFor(target_->pid()), ::testing::IsEmpty());
  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    auto r = HttpGet("127.0.0.1", target_->port());
    ASSERT_TRUE(r.ok()) << r.status();
    ports.push_back(r->local_port);
    EXPECT_EQ(kdbg::testing::ReadProcStatus(target_->pid())->tracer_pid, 0) << "never ptraced";
  }
  size_t seen = 0;
  while (seen < ports.size() && reader->Read(&e)) {
    if (!e.has_hit()) continue;
    EXPECT_EQ(e.hit().function(), "main.handleSlash");
    ASSERT_EQ(e.hit().vars_size(), 1) << e.DebugString();
    EXPECT_EQ(e.hit().vars(0).value(), absl::StrCat("\"127.0.0.1:", ports[seen], "\""));
    ASSERT_EQ(e.hit().args_size(), 2) << e.DebugString();
    EXPECT_THAT(e.hit().args(0).value(), ::testing::StartsWith("net/http.ResponseWriter(("));
    ++seen;
  }
  EXPECT_EQ(seen, ports.size());
  ctx.TryCancel();
  while (reader->Read(&e)) {
  }
  ExpectReleasedAndNoFile();
}

TEST_F(DebugBinaryTest, WithoutADebugBinaryTheRefusalNamesTheBuildIdAndTheOption) {
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto reader = stub_->Trace(&ctx, TraceReq("it-nodebugbin", ""));
  kdbg::v1::Event e;
  while (reader->Read(&e)) {
  }
  grpc::Status st = reader->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("has no debug information (stripped"));
  EXPECT_THAT(st.error_message(), HasSubstr("its Go build ID is "));
  EXPECT_THAT(st.error_message(), HasSubstr("--debug-binary FILE"));
  ExpectReleasedAndNoFile();
}

TEST_F(DebugBinaryTest, BadUploadsAreRefusedPreciselyAndLeaveNothing) {
  kdbg::v1::DebugBinaryUploaded up;
  // Another build: hello-world-nol (-N -l) has another build ID than the target's.
  grpc::Status other = Upload(Slurp(TargetPath("hello-world-nol")), &up);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(other.error_message(),
              ::testing::ContainsRegex("debug binary hello.debug has Go build ID [^ ]+ but the "
                                       "target, pid [0-9]+ \\(.*\\), has build ID [^ ]+: pass"));
  ExpectNoFile();
  // Not Go: a C program (ELF) and a text file (not ELF).
  grpc::Status c = Upload(Slurp(TargetPath("not-go")), &up);
  EXPECT_EQ(c.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(c.error_message(), HasSubstr("debug binary hello.debug is not a Go program"));
  grpc::Status text = Upload("#!/bin/sh\necho not a binary\n", &up);
  EXPECT_EQ(text.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(text.error_message(), HasSubstr("debug binary hello.debug is not an ELF executable"));
  ExpectNoFile();
  // Over the cap the controller passes (its policy): refused before any byte is stored.
  grpc::Status cap = Upload(std::string(4096, 'x'), &up, -1, /*max_size=*/1024);
  EXPECT_EQ(cap.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(cap.error_message(), HasSubstr("(4 KiB) is larger than the cap of 1 KiB"));
  // Cut off: fewer bytes than announced, then the end of the stream.
  std::string bytes = Slurp(unstripped_);
  grpc::Status cut =
      Upload(bytes.substr(0, 3 * kChunk / 2), &up, static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(cut.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(cut.error_message(), HasSubstr(absl::StrCat("was cut off after ", 3 * kChunk / 2,
                                                          " of ", bytes.size(), " bytes")));
  // The stripped target itself: the right build ID but no DWARF.
  grpc::Status stripped = Upload(Slurp(TargetPath(stripped_)), &up);
  EXPECT_EQ(stripped.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(stripped.error_message(), HasSubstr("no debug info (DWARF) either"));
  // An upload id nobody made.
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto reader = stub_->Trace(&ctx, TraceReq("it-unknown", "0123456789abcdef"));
  kdbg::v1::Event e;
  EXPECT_FALSE(reader->Read(&e));
  grpc::Status unknown = reader->Finish();
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.error_message(), HasSubstr("no debug binary upload 0123456789abcdef"));
  ExpectReleasedAndNoFile();
  EXPECT_FALSE(absl::StrContains(agent_->Logs(), "session started"));
}

TEST_F(DebugBinaryTest, CancelledMidUploadLeavesNoPartialFile) {
  std::string bytes = Slurp(unstripped_);
  grpc::ClientContext ctx;
  Deadline(&ctx);
  kdbg::v1::DebugBinaryUploaded up;
  auto w = stub_->UploadDebugBinary(&ctx, &up);
  ASSERT_TRUE(w->Write(Header(bytes.size())));
  kdbg::v1::DebugBinaryChunk c;
  c.set_data(bytes.substr(0, kChunk));
  ASSERT_TRUE(w->Write(c));
  // The partial file exists while bytes arrive...
  for (int i = 0; i < 200 && FilesIn(UploadDir()).empty(); ++i)
    absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(FilesIn(UploadDir()).size(), 1u);
  EXPECT_TRUE(absl::EndsWith(FilesIn(UploadDir())[0], ".partial"));
  // ...and goes when the call is cancelled (the CLI killed, or Ctrl-C, relayed by the controller).
  ctx.TryCancel();
  EXPECT_EQ(w->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ExpectNoFile();
}

TEST_F(DebugBinaryTest, ARestartedAgentDeletesUploadsItsPredecessorLeft) {
  kdbg::v1::DebugBinaryUploaded up;
  ASSERT_TRUE(Upload(Slurp(unstripped_), &up).ok());
  ASSERT_EQ(FilesIn(UploadDir()).size(), 1u);
  // Killed outright: no destructor runs, the file stays behind...
  ASSERT_TRUE(agent_->process().Signal(SIGKILL).ok());
  (void)agent_->process().Wait(absl::Seconds(10));
  ASSERT_EQ(FilesIn(UploadDir()).size(), 1u);
  agent_.reset();
  // ...until the next agent on this state dir starts.
  StartAgent();
  EXPECT_THAT(FilesIn(UploadDir()), ::testing::IsEmpty());
  EXPECT_TRUE(absl::StrContains(agent_->Logs(), "stale debug binary deleted")) << agent_->Logs();
}

}  // namespace
}  // namespace kdbg::testing
