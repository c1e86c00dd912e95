// StreamPump: one stream connection to an attach session's Delve server (its Unix socket, or a TCP
// address: common/stream_connect.h), pumped both ways by a thread of its own with poll(2), so the
// gRPC tunnel reactor never blocks on the socket.
//
// Bytes from the client go in through Send() (bounded: Send returns false when the outbound
// buffer is over its high-water mark, and on_send_space fires once it drains). Bytes from Delve
// come out as Chunks through Take(); at most kMaxInbound bytes wait there before the pump stops
// reading, so a slow client slows Delve instead of growing memory.
//
// Ends: CloseWrite() half-closes toward Delve (shutdown(SHUT_WR)) once everything queued is sent;
// Delve's EOF becomes a Chunk with `eof`; both directions closed gives a Chunk with `done`; a
// socket error or Abort() gives a Chunk with `error`. After `done` or `error` nothing else comes
// out.
//
// Thread-safe. Callbacks run on the pump's thread with no lock held. The pump's (detached) thread
// holds a reference to it, so the object lives until that thread has closed the socket and exited.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/fd.h"

namespace kdbg::agent {

class StreamPump : public std::enable_shared_from_this<StreamPump> {
 public:
  static constexpr size_t kMaxOutbound = 1 << 20;
  static constexpr size_t kMaxInbound = 1 << 20;
  static constexpr size_t kReadSize = 64 * 1024;

  struct Callbacks {
    std::function<void()> on_data;        // a Chunk is ready for Take()
    std::function<void()> on_send_space;  // Send() has room again after returning false
  };
  struct Chunk {
    bool empty = true;
    std::string data;
    bool eof = false;    // Delve closed its side (no more data)
    bool done = false;   // both directions closed cleanly
    bool error = false;  // connection failed or broke, or Abort()
    std::string message;
  };

  // Starts the pump thread, which connects to `address` ("unix:PATH" or "HOST:PORT", as
  // ConnectStream takes it); a failed connect comes out as an error Chunk naming the address.
  static std::shared_ptr<StreamPump> Start(const std::string& address, Callbacks callbacks);
  ~StreamPump() = default;

  // Queues bytes toward Delve. Returns false when the caller should pause until on_send_space.
  bool Send(const std::string& data);
  void CloseWrite();
  // Closes the connection now; the thread exits. `why` becomes the error Chunk's message.
  void Abort(const std::string& why);
  Chunk Take();
  // Bytes from Delve waiting for Take() (under kMaxInbound + kReadSize), and bytes queued toward
  // Delve (under kMaxOutbound plus the last Send's size, for a caller that pauses on false).
  size_t pending_inbound() const;
  size_t pending_outbound() const;

 private:
  StreamPump(std::string address, Callbacks callbacks);
  void Run();
  void Wake();
  void PushTerminal(bool error, const std::string& message);
  void Notify();

  const std::string address_;
  const Callbacks callbacks_;
  UniqueFd wake_fd_;  // eventfd

  mutable absl::Mutex mu_;
  std::string outbound_ ABSL_GUARDED_BY(mu_);
  bool close_write_ ABSL_GUARDED_BY(mu_) = false;
  bool aborted_ ABSL_GUARDED_BY(mu_) = false;
  std::string abort_reason_ ABSL_GUARDED_BY(mu_);
  bool send_paused_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Chunk> inbound_ ABSL_GUARDED_BY(mu_);
  size_t inbound_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool terminal_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kdbg::agent
