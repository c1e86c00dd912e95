// A Delve that misbehaves (docs/security-model.md, "Bad input at every edge"): the real bundled
// Delve attached to a real Go target, reached through a dialer whose connections (every one, the
// safe end's too), once the session is armed, answer garbage, answer nothing in time, or close in
// the middle of a reply. A closed connection ends the session on its own (END_REASON_ERROR); a
// garbage reply loses that hit (a notice says so) and the session goes on, as does a silent Delve,
// until it is stopped. Either way the end releases the target: running, serving, TracerPid 0, no
// dlv left (the safe end's calls fail, so Delve is stopped by SIGTERM, never SIGKILL).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/delve/delve_engine.h"
#include "agent/delve/rpc_connection.h"
#include "tests/integration/delve/engine_fixture.h"

namespace kdbg::delve {
namespace {

enum class Misbehaviour { kNone, kGarbage, kSilent, kCloseMidReply };

// Shared by every connection the dialer made: what they do from now on.
struct Switch {
  absl::Mutex mu;
  Misbehaviour mode ABSL_GUARDED_BY(mu) = Misbehaviour::kNone;
  Misbehaviour Get() {
    absl::MutexLock lock(&mu);
    return mode;
  }
};

class HostileConnection final : public RpcConnection {
 public:
  HostileConnection(std::unique_ptr<RpcConnection> real, std::shared_ptr<Switch> sw)
      : real_(std::move(real)), switch_(std::move(sw)) {}
  absl::Status Send(absl::string_view message) override {
    if (closed_) return absl::UnavailableError("connection closed by Delve");
    return real_->Send(message);
  }
  absl::StatusOr<absl::string_view> ReadMessage(absl::Duration timeout) override {
    if (closed_) return absl::UnavailableError("connection closed by Delve");
    switch (switch_->Get()) {
      case Misbehaviour::kNone:
        return real_->ReadMessage(timeout);
      case Misbehaviour::kGarbage: {
        auto m = real_->ReadMessage(timeout);  // Delve's real answer, replaced
        if (!m.ok()) return m;
        garbage_ = absl::StrCat("\x01\xff{\"id\":", m->size(), ",\"result\":[}}garbage");
        return absl::string_view(garbage_);
      }
      case Misbehaviour::kSilent: {
        // Delve never answers: the call waits its whole timeout (unless interrupted, once).
        absl::MutexLock lock(&mu_);
        if (mu_.AwaitWithTimeout(absl::Condition(&interrupted_), timeout)) {
          interrupted_ = false;
          return absl::CancelledError("interrupted");
        }
        return absl::DeadlineExceededError("Delve did not answer");
      }
      case Misbehaviour::kCloseMidReply:
        real_.reset();  // the TCP connection closes with the reply unread
        closed_ = true;
        return absl::UnavailableError("connection closed by Delve in the middle of a reply");
    }
    return absl::InternalError("unreachable");
  }
  void Interrupt() override {
    if (real_ != nullptr) real_->Interrupt();
    absl::MutexLock lock(&mu_);
    interrupted_ = true;
  }

 private:
  std::unique_ptr<RpcConnection> real_;
  std::shared_ptr<Switch> switch_;
  bool closed_ = false;
  std::string garbage_;
  absl::Mutex mu_;
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
};

class HostileDialer final : public RpcDialer {
 public:
  explicit HostileDialer(std::shared_ptr<Switch> sw) : switch_(std::move(sw)) {}
  absl::StatusOr<std::unique_ptr<RpcConnection>> Dial(const std::string& address) override {
    auto c = real_.Dial(address);
    if (!c.ok()) return c.status();
    return std::unique_ptr<RpcConnection>(new HostileConnection(std::move(*c), switch_));
  }

 private:
  SocketRpcDialer real_;
  std::shared_ptr<Switch> switch_;
};

class HostileDelveTest : public DelveEngineTest,
                         public ::testing::WithParamInterface<Misbehaviour> {};

TEST_P(HostileDelveTest, SessionEndsWithAnErrorAndTheTargetIsReleased) {
  auto target = GoTarget::Start("hello-world");
  ASSERT_TRUE(target.ok()) << target.status();
  auto sw = std::make_shared<Switch>();
  DelveOptions o = factory_->options();
  o.dialer = std::make_shared<HostileDialer>(sw);
  o.call_timeout = absl::Seconds(2);  // a silent Delve costs this per call
  factory_ = NewDelveSessionFactory(o);

  Events events;
  auto session =
      Trace((*target)->pid(), "trace handleSlash main.go:10\non handleSlash print r.RemoteAddr\n",
            &events);
  ASSERT_TRUE(session.ok()) << session.status();
  // Armed and tracing; one real hit first, so a continue is pending when Delve turns hostile.
  ASSERT_TRUE(kdbg::testing::HttpGet("127.0.0.1", (*target)->port()).ok());
  ASSERT_TRUE(events.WaitHits(1));
  {
    absl::MutexLock lock(&sw->mu);
    sw->mode = GetParam();
  }
  // The read already waiting returns the next hit honestly; the one after is hostile.
  for (int i = 0; i < 2; ++i) {
    (void)kdbg::testing::HttpGet("127.0.0.1", (*target)->port(), "/", absl::Seconds(2));
  }
  if (GetParam() == Misbehaviour::kGarbage) {
    bool noticed = false;
    for (int i = 0; i < 100 && !noticed; ++i) {
      for (const auto& n : events.Notices()) noticed |= n.kind() == v1::NOTICE_KIND_CONTINUE_ERROR;
      if (!noticed) absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_TRUE(noticed) << "a garbage reply is reported as a lost hit";
  }
  if (GetParam() != Misbehaviour::kCloseMidReply) {
    (*session)->RequestEnd(v1::END_REASON_STOP_REQUESTED);
  }
  auto ended = (*session)->Wait(absl::Seconds(90));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->reason(), GetParam() == Misbehaviour::kCloseMidReply
                                 ? v1::END_REASON_ERROR
                                 : v1::END_REASON_STOP_REQUESTED)
      << ended->message();
  EXPECT_TRUE(ended->target_alive()) << ended->message();
  EXPECT_FALSE(ended->target_traced()) << ended->message();
  ExpectReleased(**target);
}

INSTANTIATE_TEST_SUITE_P(Delve, HostileDelveTest,
                         ::testing::Values(Misbehaviour::kGarbage, Misbehaviour::kSilent,
                                           Misbehaviour::kCloseMidReply),
                         [](const ::testing::TestParamInfo<Misbehaviour>& p) {
                           switch (p.param) {
                             case Misbehaviour::kGarbage:
                               return "AnswersGarbage";
                             case Misbehaviour::kSilent:
                               return "AnswersTooSlowly";
                             case Misbehaviour::kCloseMidReply:
                               return "ClosesMidReply";
                             default:
                               return "None";
                           }
                         });

}  // namespace
}  // namespace kdbg::delve
