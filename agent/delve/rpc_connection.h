// The byte boundary between the Delve JSON-RPC client and Delve: one connection carries a stream of
// JSON objects, each terminated by '\n' (Go's net/rpc/jsonrpc codec writes one json.Encoder value
// per message, and json.Encoder appends "\n"; JSON strings never contain a raw newline). Example
// reply:
//   {"id":1,"result":{"State":{"Running":false,...}},"error":null}\n
//
// Real implementation: SocketRpcDialer (the Unix socket the agent's Delve listens on, or TCP with
// TCP_NODELAY: common/stream_connect.h). Tests use agent/delve/testing/fake_delve.h.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kdbg::delve {

class RpcConnection {
 public:
  virtual ~RpcConnection() = default;
  // Writes one complete message (a JSON object; the newline is added here). Unavailable when the
  // peer is gone.
  virtual absl::Status Send(absl::string_view message) = 0;
  // Returns the next complete message, without its newline. The view points into the
  // connection's buffer and is valid until the next ReadMessage on this connection (no copy of the
  // 6-10 KB continue replies; a Send leaves it valid: the continue loop sends the next continue
  // before it parses a stop). Errors: DeadlineExceeded after `timeout` (the message stays pending
  // and a later call returns it), Unavailable when the peer closed, Cancelled when Interrupt() was
  // called.
  virtual absl::StatusOr<absl::string_view> ReadMessage(absl::Duration timeout) = 0;
  // Makes a ReadMessage blocked in another thread (or the next one) return Cancelled, once.
  // Thread-safe; the only method that may be called concurrently with the others.
  virtual void Interrupt() = 0;
};

class RpcDialer {
 public:
  virtual ~RpcDialer() = default;
  // Connects to `address` ("unix:PATH", "HOST:PORT": common/stream_connect.h). Unavailable when
  // nothing listens there (yet).
  virtual absl::StatusOr<std::unique_ptr<RpcConnection>> Dial(const std::string& address) = 0;
};

// A socket to Delve's headless server. Connecting and every Send are bounded by `send_timeout`
// (SO_SNDTIMEO): a Delve that stops reading makes Send fail with DeadlineExceeded instead of
// blocking the session's thread; reads are bounded by ReadMessage's own timeout.
class SocketRpcDialer final : public RpcDialer {
 public:
  static constexpr absl::Duration kDefaultSendTimeout = absl::Seconds(10);
  explicit SocketRpcDialer(absl::Duration send_timeout = kDefaultSendTimeout)
      : send_timeout_(send_timeout) {}
  absl::StatusOr<std::unique_ptr<RpcConnection>> Dial(const std::string& address) override;

 private:
  absl::Duration send_timeout_;
};

}  // namespace kdbg::delve
