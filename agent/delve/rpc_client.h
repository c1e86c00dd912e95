// A Delve JSON-RPC 2 client (API version 2, "RPCServer.*" methods) over one RpcConnection.
//
// Wire format (checked against Delve 1.20.2):
//   -> {"method":"RPCServer.State","params":[{"NonBlocking":true}],"id":1}
//   <-
//   {"id":1,"result":{"State":{"Running":false,"Threads":[...],"exited":false,...}},"error":null}
// An error reply carries `"result":null,"error":"location \"nope\" not found"`.
//
// Delve serves one call at a time per connection except Command and State: a halt sent on the
// connection where a continue is pending is never read. The session therefore holds two clients:
// one for the continue loop, one for State/halt (see docs/delve-engine.md).
//
// Thread safety: one thread at a time, except Interrupt() (forwarded to the connection).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/delve/rpc_connection.h"
#include "nlohmann/json.hpp"

namespace kdbg::delve {

// A location as RPCServer.FindLocation reports it.
struct Location {
  std::string function;  // "main.handleSlash"
  std::string file;      // absolute path from DWARF
  int line = 0;
  std::vector<uint64_t> pcs;
};

// What RPCServer.CreateBreakpoint needs; `continue` is always true in kdbg trace sessions.
struct BreakpointRequest {
  std::string name;
  std::vector<uint64_t> addrs;
  std::string file;
  int line = 0;
  std::string function;
  bool tracepoint = true;              // JSON key "continue" (a "Tracepoint" key is ignored!)
  std::vector<std::string> variables;  // evaluated at every hit
  bool load_args = true;
  int stacktrace = 0;  // frames to collect at every hit
  std::string cond;
  std::string hit_cond;  // "> 3", "== 1", "% 2"
};

class DelveClient {
 public:
  explicit DelveClient(std::unique_ptr<RpcConnection> conn) : conn_(std::move(conn)) {}

  // Sends one call and waits for its reply's "result". Delve's "error" string comes back as
  // Unknown with Delve's text; a lost connection as Unavailable; no reply in time as
  // DeadlineExceeded (the reply may still come and is then discarded by the next Call).
  absl::StatusOr<nlohmann::json> Call(const std::string& method, nlohmann::json params,
                                      absl::Duration timeout);
  // Asynchronous half of Call, for `continue`: Send, then later Receive (as often as needed until
  // it stops returning DeadlineExceeded).
  absl::Status Send(const std::string& method, nlohmann::json params);
  absl::StatusOr<nlohmann::json> Receive(absl::Duration timeout);
  // As Receive, but the pending call's reply comes unparsed, as Delve sent it; the view is valid
  // until the next call on this client. ParseReply(text) is what Receive would have returned. The
  // continue loop reads what it must know of a stop from the text (a stop is 6-10 KB: parsing it
  // was most of the time the target stayed stopped for the agent) and parses after continuing.
  absl::StatusOr<absl::string_view> ReceiveUnparsed(absl::Duration timeout);
  static absl::StatusOr<nlohmann::json> ParseReply(absl::string_view reply_text);
  // ParseReply for a command's reply (a stop), for counting and reporting its hits: without the
  // State's "currentThread" and "currentGoroutine" (copies of a thread and goroutine that
  // "Threads" holds in full, nearly half of a stop's bytes) and without the threads that are not
  // at a breakpoint (~260 bytes each, one per OS thread of the target: GOMAXPROCS and more). Both
  // are cut from the text before parsing (WithoutStateMembers); a reply of another layout is
  // parsed whole.
  static absl::StatusOr<nlohmann::json> ParseStopReply(absl::string_view reply_text);
  // `reply_text` without the named members of its result's State object and, with
  // `only_threads_at_breakpoints`, with only the elements of its "Threads" array that are objects
  // whose "breakPoint" is an object, when it has Go's jsonrpc layout
  // `{"id":N,"result":{"State":{...}},...}` and is well-formed JSON as far as the State's end;
  // otherwise (or when nothing was cut) nullopt. The scan is JSON's own grammar: strings (with
  // their escapes), objects and arrays skipped whole, so a name inside a string value never
  // matches; a thread with an escaped key leaves the reply to the full parse.
  static std::optional<std::string> WithoutStateMembers(
      absl::string_view reply_text, std::initializer_list<absl::string_view> names,
      bool only_threads_at_breakpoints = false);
  // The api.State of a command's reply (continue, halt): Delve's RPCServer.Command answers
  // {"State": {"Running": false, "Threads": [...], "exited": false, ...}}; a reply without that
  // key is taken as the State itself.
  static const nlohmann::json& StopState(const nlohmann::json& reply);
  // A thread of a State that a stop's handling reads: an object whose "breakPoint" is an object
  // (Delve omits an idle thread's). ParseStopReply keeps exactly these of "Threads".
  static bool AtBreakpoint(const nlohmann::json& thread);
  bool pending() const { return pending_id_ != 0; }

  // The typed calls the engine uses.
  absl::StatusOr<nlohmann::json> State(bool non_blocking, absl::Duration timeout);
  absl::StatusOr<std::vector<Location>> FindLocation(const std::string& loc,
                                                     absl::Duration timeout);
  // Returns the created breakpoint (with its "id").
  absl::StatusOr<nlohmann::json> CreateBreakpoint(const BreakpointRequest& bp,
                                                  absl::Duration timeout);
  absl::Status ClearBreakpoint(int id, absl::Duration timeout);
  absl::Status ClearBreakpointByName(const std::string& name, absl::Duration timeout);
  // Every physical breakpoint (ListBreakpoints {"All": true}): one entry per address of each,
  // Delve's internal ones (id < 0) included; a disabled breakpoint has none.
  absl::StatusOr<nlohmann::json> ListBreakpoints(absl::Duration timeout);
  // Every logical breakpoint (ListBreakpoints {"All": false}): one entry per breakpoint, with all
  // its addresses, disabled ones and Delve's own (id < 0) included.
  absl::StatusOr<nlohmann::json> ListLogicalBreakpoints(absl::Duration timeout);
  absl::Status Detach(absl::Duration timeout);
  static nlohmann::json CommandParams(const std::string& name) { return {{"Name", name}}; }

  void Interrupt() { conn_->Interrupt(); }

 private:
  // The reply to call `want_id`, unparsed (late replies to earlier calls are skipped).
  absl::StatusOr<absl::string_view> ReadReply(uint64_t want_id, absl::Duration timeout);

  std::unique_ptr<RpcConnection> conn_;
  uint64_t next_id_ = 1;
  uint64_t pending_id_ = 0;
};

// Connects to Delve at `address` and waits for its first State reply, retrying until `timeout`
// (Delve's socket appears a while after it starts). A connection Delve closes before answering is
// retried with a new one: on TCP loopback Delve first checks, from /proc/net/tcp, that it comes
// from its own UID, and that check misses connections on busy hosts (seen here with >10,000
// sockets: "closing connection from different user"); the agent's Unix sockets skip that check.
// `still_alive` (may be empty) says whether Delve still runs; when it returns false the wait ends
// with Unavailable.
absl::StatusOr<std::unique_ptr<DelveClient>> DialReady(RpcDialer& dialer,
                                                       const std::string& address,
                                                       absl::Duration timeout,
                                                       const std::function<bool()>& still_alive);

// Serialises a request exactly as Delve expects it (exposed for tests).
nlohmann::json BreakpointToJson(const BreakpointRequest& bp);

}  // namespace kdbg::delve
