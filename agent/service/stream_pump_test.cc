// StreamPump against a loopback peer playing Delve (issue 18: the tunnel's 1 MiB queues with a slow
// reader on either side). A fast side is back-pressured rather than buffered: the pump holds at
// most its high-water mark plus one read (or one Send), the peer's writes stall in the kernel, and
// every byte still arrives, in order, once the slow side reads.
#include "agent/service/stream_pump.h"
#include "common/clock.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::agent {
namespace {

// The byte at offset `i` of every stream here: a failure names the first offset that differs.
char PatternAt(size_t i) { return static_cast<char>((i * 131 + i / 4093) & 0xff); }

std::string Pattern(size_t offset, size_t n) {
  std::string s(n, '\0');
  for (size_t k = 0; k < n; ++k) s[k] = PatternAt(offset + k);
  return s;
}

// The first offset of `data` (starting at stream offset `offset`) that breaks the pattern, or -1.
int64_t FirstMismatch(const std::string& data, size_t offset) {
  for (size_t k = 0; k < data.size(); ++k) {
    if (data[k] != PatternAt(offset + k)) return static_cast<int64_t>(offset + k);
  }
  return -1;
}

// A loopback listener with one accepted connection, served by `body` on its own thread.
class Peer {
 public:
  Peer() {
    listen_fd_ = ::kdbg::testing::ListenLoopback(&port_);
    if (listen_fd_ < 0) ADD_FAILURE() << "cannot listen on loopback";
  }
  ~Peer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Runs `body(fd)` on the accepted connection (accepted within 10 s), then closes it.
  void Serve(std::function<void(int fd)> body) {
    thread_ = std::thread([this, body = std::move(body)] {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 10000) != 1) return;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      body(fd);
      ::close(fd);
    });
  }
  bool stopping() const { return stop_.load(); }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Waits (bounded by `limit`) until `value` has not changed for 300 ms; returns whether it settled.
bool Settles(const std::atomic<size_t>& value, absl::Duration limit) {
  absl::Time end = kdbg::MonotonicNow() + limit;
  size_t last = value.load();
  absl::Time since = kdbg::MonotonicNow();
  while (kdbg::MonotonicNow() < end) {
    absl::SleepFor(absl::Milliseconds(20));
    size_t v = value.load();
    if (v != last) {
      last = v;
      since = kdbg::MonotonicNow();
    } else if (kdbg::MonotonicNow() - since >= absl::Milliseconds(300)) {
      return true;
    }
  }
  return false;
}

// Delve floods 32 MiB toward a client that reads nothing: the pump stops reading at its 1 MiB
// mark, so Delve's writes stall in the kernel; once the client reads, every byte arrives in order,
// then the EOF.
TEST(StreamPumpTest, SlowClientStopsThePumpReadingAndDelveIsBackPressuredNothingLost) {
  constexpr size_t kTotal = 32u << 20;
  Peer delve;
  std::atomic<size_t> sent{0};
  delve.Serve([&](int fd) {
    const absl::Time end = kdbg::MonotonicNow() + absl::Seconds(60);
    while (sent < kTotal && !delve.stopping() && kdbg::MonotonicNow() < end) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      std::string piece = Pattern(sent, std::min<size_t>(64 * 1024, kTotal - sent));
      ssize_t n = ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return;
      if (n > 0) sent += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    // Keep the connection until the pump half-closes too (or the test ends).
    char b;
    pollfd p{fd, POLLIN, 0};
    while (!delve.stopping() && kdbg::MonotonicNow() < end) {
      if (::poll(&p, 1, 100) == 1 && ::recv(fd, &b, 1, 0) <= 0) return;
    }
  });
  std::atomic<int> notified{0};
  StreamPump::Callbacks cb;
  cb.on_data = [&] { ++notified; };
  auto pump = StreamPump::Start(delve.address(), cb);

  // 1. Nobody takes: Delve's writes stall well short of the total.
  ASSERT_TRUE(Settles(sent, absl::Seconds(20))) << "Delve kept sending: " << sent;
  const size_t stalled_at = sent.load();
  EXPECT_LT(stalled_at, kTotal / 2) << "the pump kept reading for a client that reads nothing";

  // 2. What the pump holds is bounded by its mark plus one read.
  EXPECT_GE(pump->pending_inbound(), StreamPump::kMaxInbound);
  EXPECT_LT(pump->pending_inbound(), StreamPump::kMaxInbound + StreamPump::kReadSize);
  size_t offset = 0;

  // 3. The client reads (1 MiB at a time, pausing between): everything arrives, in order, then EOF.
  bool eof = false;
  const absl::Time end = kdbg::MonotonicNow() + absl::Seconds(60);
  while (!eof && kdbg::MonotonicNow() < end) {
    StreamPump::Chunk c = pump->Take();
    if (c.empty) {
      absl::SleepFor(absl::Milliseconds(1));
      continue;
    }
    ASSERT_FALSE(c.error || c.done) << c.message;
    if (c.eof) {
      eof = true;
      break;
    }
    ASSERT_EQ(FirstMismatch(c.data, offset), -1);
    offset += c.data.size();
    if (offset % (1u << 20) < c.data.size()) absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE(eof);
  EXPECT_EQ(offset, kTotal);
  EXPECT_EQ(sent.load(), kTotal);
  EXPECT_GT(notified.load(), 0);
  pump->CloseWrite();
  // Both directions closed: the pump ends cleanly.
  StreamPump::Chunk last;
  for (int i = 0; i < 1000 && last.empty; ++i) {
    last = pump->Take();
    if (last.empty) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(last.done) << last.message;
}

// A client floods 32 MiB toward a Delve that reads nothing for a while: Send() says "pause" once
// the kernel's buffers and the pump's 1 MiB are full, on_send_space fires only after Delve reads,
// and Delve receives every byte in order, then the half-close.
TEST(StreamPumpTest, SlowDelveMakesSendPauseUntilSpaceNothingLost) {
  constexpr size_t kTotal = 32u << 20;
  constexpr size_t kPiece = 64 * 1024;
  Peer delve;
  absl::Notification start_reading;
  std::atomic<size_t> received{0};
  std::atomic<int64_t> mismatch{-1};
  std::atomic<bool> got_eof{false};
  delve.Serve([&](int fd) {
    start_reading.WaitForNotificationWithTimeout(absl::Seconds(30));
    const absl::Time end = kdbg::MonotonicNow() + absl::Seconds(60);
    std::string buf(kPiece, '\0');
    while (!delve.stopping() && kdbg::MonotonicNow() < end) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n == 0) {
        got_eof = true;
        return;
      }
      if (n < 0) return;
      if (mismatch < 0) {
        mismatch = FirstMismatch(buf.substr(0, static_cast<size_t>(n)), received);
      }
      received += static_cast<size_t>(n);
      absl::SleepFor(absl::Microseconds(200));  // a slow reader
    }
  });
  absl::Mutex mu;
  bool space = false;
  StreamPump::Callbacks cb;
  cb.on_send_space = [&] {
    absl::MutexLock lock(&mu);
    space = true;
  };
  auto pump = StreamPump::Start(delve.address(), cb);

  // 1. Delve reads nothing: Send() asks the client to pause once the kernel's buffers and the
  // pump's 1 MiB are full. on_send_space may still fire while the kernel's buffers grow (that
  // space is real): the client then sends again, until a pause holds for 300 ms.
  size_t queued = 0;
  bool held = false;
  for (int round = 0; round < 100 && !held && queued < kTotal; ++round) {
    bool paused = false;
    while (!paused && queued < kTotal) {
      paused = !pump->Send(Pattern(queued, kPiece));
      queued += kPiece;
    }
    ASSERT_TRUE(paused) << "Send() never pushed back after " << queued << " bytes";
    EXPECT_LE(pump->pending_outbound(), StreamPump::kMaxOutbound + kPiece);
    absl::SleepFor(absl::Milliseconds(300));
    absl::MutexLock lock(&mu);
    held = !space;
    space = false;
  }
  ASSERT_TRUE(held) << "on_send_space kept firing while Delve read nothing";
  EXPECT_LT(queued, kTotal / 2);
  EXPECT_GE(pump->pending_outbound(), StreamPump::kMaxOutbound / 2);
  EXPECT_LE(pump->pending_outbound(), StreamPump::kMaxOutbound + kPiece);
  EXPECT_EQ(received.load(), 0u);

  // 2. Delve reads slowly: the client resumes only on on_send_space, and sends the rest the same
  // way.
  start_reading.Notify();
  const absl::Time end = kdbg::MonotonicNow() + absl::Seconds(60);
  int pauses = 1;
  while (queued < kTotal && kdbg::MonotonicNow() < end) {
    {
      absl::MutexLock lock(&mu);
      auto ready = [&] { return space; };
      if (!mu.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(10))) break;
      space = false;
    }
    bool room = true;
    while (room && queued < kTotal) {
      room = pump->Send(Pattern(queued, kPiece));
      queued += kPiece;
    }
    if (!room) {
      ++pauses;
      EXPECT_LE(pump->pending_outbound(), StreamPump::kMaxOutbound + kPiece);
    }
  }
  ASSERT_EQ(queued, kTotal);
  EXPECT_GE(pauses, 2);
  pump->CloseWrite();
  for (int i = 0; i < 3000 && !got_eof; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(got_eof);
  EXPECT_EQ(received.load(), kTotal);
  EXPECT_EQ(mismatch.load(), -1);
  pump->Abort("test over");
}

}  // namespace
}  // namespace kdbg::agent
