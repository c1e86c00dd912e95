// The debugger conversation an attach tunnel carries (agent_service.cc's TunnelReactor), seen from
// the agent between the remote client and Delve's headless server, so kdbg can tell the client
// something (the stop limit resumed the target, delve_session.cc AttachLoop) between two messages,
// never inside one.
//
// Delve serves two protocols on one port and picks by the client's first byte (`C` for DAP):
//
//   DAP (VS Code; the Debug Adapter Protocol's base protocol), both directions:
//     Content-Length: 77\r\n
//     \r\n
//     {"seq":4,"type":"response","request_seq":2,"success":true,"command":"attach"}
//   and from Delve, events such as
//     {"seq":9,"type":"event","event":"stopped","body":{"reason":"breakpoint","threadId":23,
//      "allThreadsStopped":true,"hitBreakpointIds":[2]}}
//
//   JSON-RPC v2 (`dlv connect`, GoLand), Go's net/rpc/jsonrpc codec: one JSON object per message,
//   each followed by "\n":
//     client: {"method":"RPCServer.State","params":[{"NonBlocking":true}],"id":2}
//     Delve:  {"id":2,"result":{"State":{...}},"error":null}
//             {"id":17,"result":null,"error":"could not find symbol value for nosuchvar"}
//
// (Real captures, both directions of both protocols: testdata/debug_protocol/, capture.py.)
//
// MessageScanner finds where messages end in one direction, in constant memory (DAP: a header of
// at most kMaxHeader bytes, then a body counted, not kept, but for its first kPeek bytes; JSON: a
// depth counter and string/escape state). Anything it cannot parse (a header without
// Content-Length, a body over kMaxBody, JSON that is not a stream of objects) makes it fail for
// good: the tunnel then passes bytes through untouched and tells the client nothing.
//
// DebugTunnelFilter applies that to one tunnel connection and delivers a notice:
//   - DAP: two events from the "adapter", inserted at the next boundary of the Delve -> client
//     stream (at once when it is between messages): `output` {category "important"} with the text,
//     and `continued` {threadId: the last stopped event's, allThreadsContinued: true}, so the IDE
//     shows the program running. Their seq is 0: the adapter's own numbering is Delve's. When the
//     user then pauses, Delve (which never knew the program ran: the agent continued it on its own
//     connection) answers the `pause` request but sends no `stopped` event, and the IDE would wait
//     for one forever: a `stopped` event {reason "pause", allThreadsStopped: true, no threadId}
//     follows Delve's answer (the agent halts the target for a returning client, and Delve serves
//     the IDE's next requests only once it has stopped).
//   - JSON-RPC: the server cannot push. The client's next request is answered here with a
//     JSON-RPC error carrying the text (`dlv` prints "Command failed: kdbg: ...") and not sent to
//     Delve; the client's ids are untouched (the reply carries the request's own id). Two
//     exceptions keep the client whole: RPCServer.Detach (the client is leaving; see below) drops
//     the notice; RPCServer.GetEvents, which dlv >= 1.27 sends beside every
//     Command{"WithEvents":true} and which Delve answers only at the command's next event, is held
//     until the request it belongs to is seen, then answered with the same error when that request
//     was (so `dlv` does not wait for an event that will never come) and forwarded when it was not.
//     A request over kMaxHeldRequest bytes is forwarded as is and the next one answered.
//
// A client may not kill the target: the pod's process is someone's production service, and both
// clients make killing it one keystroke away. Every message from the client is held until it ends
// (up to kMaxHeldRequest) and
//   - JSON-RPC: RPCServer.Detach {"Kill": true} (Delve 1.27's `quit`, answered with its default
//     "yes" to "Would you like to kill the process? [Y/n]") is answered here with an error and not
//     sent: `dlv` prints it and exits; Delve stays attached for the next client. A Detach without
//     Kill ("yes" to "kill the headless instance?", "no" to "kill the process?") is answered here
//     as Delve would and not sent either (Delve would detach and exit under a session that then
//     has nothing behind it); it counts in detaches(), and the tunnel ends the session safely.
//   - DAP: `disconnect` {"terminateDebuggee": true} (VS Code's Stop on an attach configuration)
//     goes on with terminateDebuggee false: Delve (--accept-multiclient) closes that client's
//     session only. An `output` event tells the IDE so.
// Either counts in refused_kills().
//
// Not thread-safe: the tunnel calls it under its own lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace kdbg::agent {

enum class DebugProtocol {
  kUndecided,    // the client has not sent a byte yet, or whitespace only
  kDap,          // first byte 'C' (Delve's own rule)
  kJsonRpc,      // first byte that is not whitespace '{'
  kPassThrough,  // anything else, or a parse failure: bytes pass untouched, no notice
};

const char* DebugProtocolName(DebugProtocol p);

// What the session's user (kdbg attach) is told when the filter refused a client's request to end
// the target (NOTICE_KIND_KILL_REFUSED): what was asked, that the target runs on, what to do.
std::string KillRefusedNotice(DebugProtocol p);

class MessageScanner {
 public:
  static constexpr size_t kMaxHeader = 1024;     // DAP: "Content-Length: N\r\n\r\n" and others
  static constexpr size_t kMaxBody = 256 << 20;  // DAP: a larger Content-Length is not believed
  static constexpr size_t kPeek = 512;           // DAP: body bytes kept for Peek()
  static constexpr size_t kMaxDepth = 1 << 20;   // JSON nesting

  explicit MessageScanner(DebugProtocol protocol) : protocol_(protocol) {}

  // Consumes `data` up to and including the end of the message it is in: returns how many bytes it
  // took and sets `*ended` when a message ended there (then the return value is a boundary).
  // Without an end, it takes all of `data`. After a failure it takes everything, ends nothing.
  size_t Next(absl::string_view data, bool* ended);
  // Every boundary in `data` (offsets just after each message's last byte), in order.
  std::vector<size_t> Boundaries(absl::string_view data);

  // Between two messages: no byte of a next message seen yet (JSON: only whitespace since).
  bool at_boundary() const;
  bool failed() const { return failed_; }
  // DAP: the first kPeek bytes of the last message that ended (its body).
  const std::string& peek() const { return last_peek_; }

 private:
  size_t NextDap(absl::string_view data, bool* ended);
  size_t NextJson(absl::string_view data, bool* ended);
  void Fail() { failed_ = true; }

  DebugProtocol protocol_;
  bool failed_ = false;
  // DAP
  std::string header_;    // bytes of the header so far
  size_t body_left_ = 0;  // body bytes still to come, once the header is complete
  bool in_body_ = false;
  std::string peek_;  // the current body's first bytes
  std::string last_peek_;
  // JSON
  size_t depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
};

class DebugTunnelFilter {
 public:
  static constexpr size_t kMaxHeldRequest = 64 * 1024;
  static constexpr size_t kMaxHeldGetEvents = 4;

  DebugProtocol protocol() const { return protocol_; }

  // Bytes from the client toward Delve: `data` becomes what to forward now (a JSON-RPC request
  // answered here is taken out; its reply waits in TakeReplies()).
  void FromClient(std::string* data);
  // Bytes from Delve toward the client: `data` becomes what to send the client, with whatever
  // this filter must tell the client inserted at message boundaries.
  void FromDelve(std::string* data);
  // The session resumed the target past its stop limit; `text` says why (one line). Ignored before
  // the client's first byte and in pass-through. Returns bytes to send the client now, after
  // everything FromDelve returned so far (possibly empty: then they come out of a later FromDelve,
  // or the next request is answered). A later notice replaces one not delivered yet.
  std::string Notify(const std::string& text);
  // Whole messages for the client that FromClient made (JSON-RPC replies) and that may go out now
  // (the Delve -> client stream is between messages); empty if none or not at a boundary.
  std::string TakeReplies();
  // Client bytes held here that must now go to Delve after all (the filter fell back to
  // pass-through in FromDelve): send them before anything FromClient returns later.
  std::string TakeForDelve() { return std::exchange(to_delve_, {}); }
  // Notices delivered to the client (DAP: events sent; JSON-RPC: a request answered).
  int delivered() const { return delivered_; }
  // Requests to kill the target that were refused (JSON-RPC) or made harmless (DAP).
  int refused_kills() const { return refused_kills_; }
  // JSON-RPC Detach requests without Kill answered here: the client asked Delve to go away.
  int detaches() const { return detaches_; }

  // The JSON-RPC error reply to request `id` (its raw JSON token), as Go's server writes one.
  static std::string JsonRpcError(absl::string_view id, const std::string& text);
  // A DAP `output` event {category "important"} with `text`.
  static std::string DapOutput(const std::string& text);
  // The DAP `output` and `continued` events of a notice.
  static std::string DapNotice(const std::string& text, int64_t thread_id);
  // The DAP `stopped` event after a pause of a program the IDE was told runs.
  static std::string DapPaused();

 private:
  // From the client's first byte that is not whitespace.
  void Decide(char first);
  // Gives up on the protocol: held client bytes are appended to `to_delve` in order, replies made
  // here to `to_client`; from then on bytes pass untouched.
  void FailToPassThrough(std::string* to_delve, std::string* to_client);
  // What is due to the client at a boundary of the Delve -> client stream.
  void AppendDue(std::string* out);
  // DAP: what a whole message from Delve / from the client means for what is due.
  void Observe(const MessageScanner& scanner);
  void ObserveClient(const MessageScanner& scanner);
  // JSON-RPC: one whole request held from the client; appends what to forward to `out`.
  void HandleRequest(std::string request, std::string* out);
  // DAP: one whole message held from the client (header and body); appends what to forward.
  void HandleDapRequest(const std::string& message, std::string* out);

  DebugProtocol protocol_ = DebugProtocol::kUndecided;
  bool leading_space_ = false;  // undecided: the client sent whitespace first
  std::optional<MessageScanner> from_client_;
  std::optional<MessageScanner> from_delve_;
  std::optional<std::string> pending_;  // the notice not delivered yet
  int delivered_ = 0;
  int refused_kills_ = 0;
  int detaches_ = 0;
  // DAP: the threadId of the last "stopped" event from Delve.
  int64_t last_thread_id_ = 1;
  bool told_running_ = false;  // `continued` sent, no stop since
  bool pause_asked_ = false;   // ... and the client asked to pause
  bool paused_due_ = false;    // Delve answered that pause: `stopped` is due

  bool holding_ = false;  // inside a message from the client that is held
  std::string held_;      // its bytes so far
  // JSON-RPC
  std::vector<std::string> held_get_events_;  // whole GetEvents requests not forwarded yet
  int answer_get_events_ = 0;  // GetEvents still to answer for a request answered here
  std::string answered_text_;  // the text those get
  std::string replies_;        // replies made here, for the client, not sent yet
  std::string to_delve_;       // see TakeForDelve
};

}  // namespace kdbg::agent
