#include "agent/service/debug_binary_store.h"

#include <dirent.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "agent/service/session_manager.h"
#include "agent/service/testing/fake_debug_session.h"
#include "agent/service/testing/fake_resolver.h"
#include "agent/service/testing/stream_reader.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::agent {
namespace {

using ::testing::HasSubstr;

// A stand-in for the ELF reader: files whose text starts with "GO <build id> <dwarf|nodwarf>" are
// Go binaries, "C" files are ELF without Go, anything else is not ELF. (The real reader on real
// binaries is exercised by tests/integration/agent.)
absl::StatusOr<kdbg::v1::BinaryInfo> FakeInspect(const std::string& path) {
  std::ifstream in(path);
  std::string word, id, dwarf;
  in >> word >> id >> dwarf;
  kdbg::v1::BinaryInfo info;
  if (word == "GO") {
    info.set_go_version("go1.26.8");
    info.set_build_id(id);
    info.set_has_dwarf(dwarf == "dwarf");
    return info;
  }
  if (word == "C") return info;
  return absl::InvalidArgumentError("not an ELF file");
}

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DebugBinaryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = kdbg::testing::MakeTempDir("kdbg-debugbin-");
    dir_ = root_ + "/state/debug-binaries";
    auto s = DebugBinaryStore::Open(
        {.dir = dir_, .max_size = 1 << 20, .inspect = FakeInspect, .clock = &clock_});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  static kdbg::v1::DebugBinaryHeader Header(int64_t size) {
    kdbg::v1::DebugBinaryHeader h;
    h.set_file_name("hello.debug");
    h.set_size(size);
    return h;
  }
  // Uploads `content` in chunks of `chunk` bytes; returns Commit's result.
  absl::StatusOr<kdbg::v1::DebugBinaryUploaded> UploadAll(const std::string& content,
                                                          const std::string& target_id,
                                                          size_t chunk = 7) {
    auto u = store_->Begin(Header(static_cast<int64_t>(content.size())), 0, owner_);
    if (!u.ok()) return u.status();
    for (size_t i = 0; i < content.size(); i += chunk) {
      absl::Status st = (*u)->Append(absl::string_view(content).substr(i, chunk));
      if (!st.ok()) return st;
    }
    return (*u)->Commit(target_id, "pid 4242 (/app/hello)");
  }

  kdbg::testing::FakeClock clock_;
  std::string root_, dir_;
  std::unique_ptr<DebugBinaryStore> store_;
  DebugBinaryStore::Owner owner_{"alice", "0123abcd"};
};

TEST_F(DebugBinaryStoreTest, ChunksAssembleIntoOnePrivateFileDeletedWithTheLastReference) {
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);  // parents created too
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::string content = "GO abc/def dwarf\n" + std::string(100, 'x');
  auto up = UploadAll(content, "abc/def");
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->build_id(), "abc/def");
  EXPECT_EQ(up->size(), static_cast<int64_t>(content.size()));
  EXPECT_EQ(up->go_version(), "go1.26.8");
  EXPECT_THAT(Files(dir_), ::testing::ElementsAre(up->upload_id()));
  EXPECT_EQ(store_->pending(), 1);

  auto bin = store_->Claim(up->upload_id(), owner_);
  ASSERT_TRUE(bin.ok()) << bin.status();
  EXPECT_EQ((*bin)->path(), dir_ + "/" + up->upload_id());
  EXPECT_EQ(Slurp((*bin)->path()), content);
  ASSERT_EQ(::stat((*bin)->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(store_->pending(), 0);
  // Used once: a second session cannot take it.
  EXPECT_EQ(store_->Claim(up->upload_id(), owner_).status().code(), absl::StatusCode::kNotFound);
  std::shared_ptr<DebugBinary> copy = *bin;
  bin->reset();
  EXPECT_EQ(Files(dir_).size(), 1u);  // still referenced
  copy.reset();
  EXPECT_TRUE(Files(dir_).empty());
}

TEST_F(DebugBinaryStoreTest, OverTheCapIsRefusedBeforeAnyFileExists) {
  auto u = store_->Begin(Header((1 << 20) + 1), 0, owner_);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(u.status().message(),
              HasSubstr("debug binary hello.debug (1.0 MiB) is larger than the cap of 1 MiB"));
  // The caller's (policy's) cap applies when lower than the store's.
  auto v = store_->Begin(Header(2048), 1024, owner_);
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("(2 KiB) is larger than the cap of 1 KiB"));
  EXPECT_EQ(store_->Begin(Header(0), 0, owner_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Files(dir_).empty());
}

TEST_F(DebugBinaryStoreTest, MoreBytesThanAnnouncedIsRefusedAndLeavesNothing) {
  auto u = store_->Begin(Header(10), 0, owner_);
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE((*u)->Append("0123456789").ok());
  absl::Status st = (*u)->Append("x");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("more bytes arrived than the announced 10"));
  EXPECT_EQ(Files(dir_).size(), 1u);  // the partial file, until the upload goes
  u->reset();
  EXPECT_TRUE(Files(dir_).empty());
  EXPECT_EQ(store_->pending(), 0);
}

TEST_F(DebugBinaryStoreTest, CutOffUploadIsRefusedAndLeavesNothing) {
  auto u = store_->Begin(Header(100), 0, owner_);
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE((*u)->Append("GO abc dwarf").ok());
  auto r = (*u)->Commit("abc", "pid 1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              HasSubstr("the upload of debug binary hello.debug was cut off after 12 of 100 bytes; "
                        "nothing was kept"));
  u->reset();
  EXPECT_TRUE(Files(dir_).empty());
}

TEST_F(DebugBinaryStoreTest, AbandonedUploadDeletesItsPartialFile) {
  auto u = store_->Begin(Header(100), 0, owner_);
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE((*u)->Append("GO abc").ok());
  EXPECT_THAT(Files(dir_), ::testing::ElementsAre((*u)->id() + ".partial"));
  u->reset();  // what a cancelled call does
  EXPECT_TRUE(Files(dir_).empty());
}

TEST_F(DebugBinaryStoreTest, RefusalsNameWhatIsWrongAndLeaveNothing) {
  struct Case {
    std::string content;
    absl::StatusCode code;
    std::string message;
  } cases[] = {
      {"GO other/build dwarf", absl::StatusCode::kFailedPrecondition,
       "debug binary hello.debug has Go build ID other/build but the target, pid 4242 "
       "(/app/hello), has build ID abc/def: pass the unstripped binary of the very build"},
      {"just some text", absl::StatusCode::kInvalidArgument,
       "debug binary hello.debug is not an ELF executable (not an ELF file)"},
      {"C program", absl::StatusCode::kInvalidArgument,
       "debug binary hello.debug is not a Go program"},
      {"GO abc/def nodwarf", absl::StatusCode::kInvalidArgument,
       "has the target's build ID but no debug info (DWARF) either: it is stripped too"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.content);
    auto r = UploadAll(c.content, "abc/def");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code);
    EXPECT_THAT(r.status().message(), HasSubstr(c.message));
    EXPECT_TRUE(Files(dir_).empty());
  }
  EXPECT_EQ(store_->pending(), 0);
}

TEST_F(DebugBinaryStoreTest, ClaimNeedsTheSameUserAndTarget) {
  auto up = UploadAll("GO abc dwarf", "abc");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(store_->Claim(up->upload_id(), {"mallory", "0123abcd"}).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->Claim(up->upload_id(), {"alice", "ffff"}).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto none = store_->Claim("0000", owner_);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("no debug binary upload 0000 on this node"));
  EXPECT_TRUE(store_->Claim(up->upload_id(), owner_).ok());  // refusals did not consume it
  EXPECT_TRUE(Files(dir_).empty());                          // and the claim released it here
}

TEST_F(DebugBinaryStoreTest, UnclaimedUploadsExpire) {
  auto up = UploadAll("GO abc dwarf", "abc");
  ASSERT_TRUE(up.ok());
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(store_->ExpireUnclaimed(), 0);
  EXPECT_EQ(Files(dir_).size(), 1u);
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(store_->ExpireUnclaimed(), 1);
  EXPECT_TRUE(Files(dir_).empty());
  EXPECT_EQ(store_->Claim(up->upload_id(), owner_).status().code(), absl::StatusCode::kNotFound);
}

// The claim window is time served: the wall clock set on an hour does not delete an upload its
// session is about to claim; set back, it does not keep one past the window.
TEST_F(DebugBinaryStoreTest, TheClaimWindowIsTimeServedWhateverTheWallClockDoes) {
  auto up = UploadAll("GO abc dwarf", "abc");
  ASSERT_TRUE(up.ok());
  clock_.StepWall(absl::Hours(1));
  EXPECT_EQ(store_->ExpireUnclaimed(), 0);
  clock_.StepWall(-absl::Hours(2));
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(store_->ExpireUnclaimed(), 1);
  EXPECT_TRUE(Files(dir_).empty());
}

TEST_F(DebugBinaryStoreTest, OpeningTheStoreDeletesWhatAnEarlierAgentLeft) {
  auto up = UploadAll("GO abc dwarf", "abc");
  ASSERT_TRUE(up.ok());
  auto partial = store_->Begin(Header(100), 0, owner_);
  ASSERT_TRUE(partial.ok());
  ASSERT_EQ(Files(dir_).size(), 2u);
  // A killed agent runs no destructors: copy its files aside, as they would remain on disk.
  std::string keep = root_ + "/keep";
  std::filesystem::copy(dir_, keep);
  partial->reset();
  store_.reset();
  EXPECT_TRUE(Files(dir_).empty());  // a clean shutdown deletes everything it holds
  std::filesystem::remove(dir_);
  std::filesystem::rename(keep, dir_);
  ASSERT_EQ(Files(dir_).size(), 2u);
  int removed = -1;
  auto again = DebugBinaryStore::Open({.dir = dir_, .inspect = FakeInspect}, &removed);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(removed, 2);
  EXPECT_TRUE(Files(dir_).empty());
}

// The session side: SessionManager claims the upload, hands its path to the engine, and the file
// goes when the session ends, whatever ends it.
class DebugBinarySessionTest : public DebugBinaryStoreTest {
 protected:
  void SetUp() override {
    DebugBinaryStoreTest::SetUp();
    kdbg::v1::ResolvedTarget t;
    t.set_host_pid(4242);
    t.set_container_id("0123abcd");
    t.set_start_time_ticks(77);
    t.mutable_binary()->set_path("/app/hello");
    t.mutable_binary()->set_go_version("go1.26.8");
    t.mutable_binary()->set_build_id("abc/def");
    t.mutable_binary()->set_stripped(true);
    t.set_debuggable(false);
    t.set_needs_debug_binary(true);
    t.set_problem("process 4242 (/app/hello) has no debug information (stripped)");
    resolver_.AddTarget(t);
    SessionManager::Options o;
    o.node_name = "node-a";
    o.debug_binaries = store_.get();
    manager_ = std::make_unique<SessionManager>(o, &resolver_, &factory_, &clock_, &metrics_);
  }
  void TearDown() override {
    manager_.reset();
    DebugBinaryStoreTest::TearDown();
  }
  SessionRequest Trace(const std::string& upload_id) {
    SessionRequest r;
    r.mode = kdbg::v1::SESSION_MODE_TRACE;
    r.target.set_container_id("0123abcd");
    r.options.set_script("trace main.handleSlash\n");
    r.user = "alice";
    r.debug_binary_id = upload_id;
    return r;
  }
  // Reads the stream to its finish; returns the finish status.
  static grpc::Status Drain(testing::StreamReader& reader, kdbg::v1::Event* last = nullptr) {
    for (;;) {
      auto item = reader.Next();
      if (item.kind != EventStream::Item::Kind::kEvent) return item.status;
      if (last != nullptr) *last = item.event;
    }
  }

  testing::FakeResolver resolver_;
  testing::FakeDebugSessionFactory factory_;
  AgentMetrics metrics_;
  std::unique_ptr<SessionManager> manager_;
};

TEST_F(DebugBinarySessionTest, StrippedTargetIsTracedWithTheUploadWhichGoesAtTheEnd) {
  auto up = UploadAll("GO abc/def dwarf", "abc/def");
  ASSERT_TRUE(up.ok()) << up.status();
  auto s = manager_->Start(Trace(up->upload_id()));
  ASSERT_TRUE(s.ok()) << s.status();
  testing::StreamReader reader((*s)->stream());
  auto armed = reader.Next();
  ASSERT_TRUE(armed.event.has_armed()) << armed.event.DebugString();
  ASSERT_EQ(factory_.trace_specs().size(), 1u);
  EXPECT_EQ(factory_.trace_specs()[0].executable, dir_ + "/" + up->upload_id());
  EXPECT_EQ(factory_.trace_specs()[0].pid, 4242);
  EXPECT_EQ(Files(dir_).size(), 1u);  // in use
  (*s)->RequestEnd(kdbg::v1::END_REASON_CLIENT_GONE);
  EXPECT_TRUE(Drain(reader).ok());
  EXPECT_TRUE(Files(dir_).empty());
}

TEST_F(DebugBinarySessionTest, TargetReplacedByAnotherBuildIsRefusedNamingBothIds) {
  auto up = UploadAll("GO abc/def dwarf", "abc/def");
  ASSERT_TRUE(up.ok());
  kdbg::v1::ResolvedTarget t = *resolver_.Resolve(Trace("").target);
  t.mutable_binary()->set_build_id("new/build");  // redeployed between upload and trace
  resolver_.AddTarget(t);
  auto s = manager_->Start(Trace(up->upload_id()));
  ASSERT_TRUE(s.ok());
  testing::StreamReader reader((*s)->stream());
  kdbg::v1::Event last;
  grpc::Status st = Drain(reader, &last);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(),
              HasSubstr("the debug binary has Go build ID abc/def but the target, pid 4242 "
                        "(/app/hello), has build ID new/build"));
  EXPECT_TRUE(last.has_error());
  EXPECT_EQ(factory_.started(), 0);
  EXPECT_TRUE(Files(dir_).empty());
}

TEST_F(DebugBinarySessionTest, EngineRefusalAndUnknownUploadsLeaveNoFile) {
  // Without an upload: the resolver's stripped refusal.
  auto plain = manager_->Start(Trace(""));
  ASSERT_TRUE(plain.ok());
  testing::StreamReader r1((*plain)->stream());
  grpc::Status st = Drain(r1);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("has no debug information (stripped)"));
  // An id nobody uploaded (or already used): refused at once, no session.
  auto unknown = manager_->Start(Trace("feedface"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_->size(), 0);
  // The engine failing to start: the claimed file goes with the failed session.
  auto up = UploadAll("GO abc/def dwarf", "abc/def");
  ASSERT_TRUE(up.ok());
  testing::FakeDebugSessionFactory::Options failing;
  failing.start_error = absl::UnavailableError("Delve failed to start");
  factory_.set_options(failing);
  auto s = manager_->Start(Trace(up->upload_id()));
  ASSERT_TRUE(s.ok());
  testing::StreamReader r2((*s)->stream());
  EXPECT_EQ(Drain(r2).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Files(dir_).empty());
  factory_.set_options({});
  // A manager shutting down with a live session deletes its file too.
  auto up2 = UploadAll("GO abc/def dwarf", "abc/def");
  ASSERT_TRUE(up2.ok());
  auto live = manager_->Start(Trace(up2->upload_id()));
  ASSERT_TRUE(live.ok());
  testing::StreamReader r3((*live)->stream());
  ASSERT_TRUE(r3.Next().event.has_armed());
  EXPECT_EQ(manager_->Shutdown(kdbg::v1::END_REASON_AGENT_SHUTDOWN, absl::Seconds(10)), 0);
  EXPECT_TRUE(Files(dir_).empty());
}

}  // namespace
}  // namespace kdbg::agent
