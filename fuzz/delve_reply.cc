// Fuzz target: Delve's JSON-RPC replies as kdbg decodes them (agent/delve/rpc_client.h,
// hit_format.h). The input is the byte stream Delve would send, one message per line; the client
// makes the calls a session makes (State, FindLocation, CreateBreakpoint, ListBreakpoints,
// continue, Detach, ids 1..6) over a connection that returns those lines, and every thread of
// every State reply is turned into a HitEvent as the continue loop does. A Delve that answers
// garbage must give an error, never a crash or an exception.
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "agent/delve/hit_format.h"
#include "agent/delve/json_access.h"
#include "agent/delve/rpc_client.h"
#include "agent/delve/rpc_connection.h"

namespace {

using nlohmann::json;

class LinesConnection final : public kdbg::delve::RpcConnection {
 public:
  explicit LinesConnection(absl::string_view bytes) : lines_(absl::StrSplit(bytes, '\n')) {}
  absl::Status Send(absl::string_view) override { return absl::OkStatus(); }
  absl::StatusOr<absl::string_view> ReadMessage(absl::Duration) override {
    if (next_ >= lines_.size()) return absl::UnavailableError("Delve closed the connection");
    return absl::string_view(lines_[next_++]);
  }
  void Interrupt() override {}

 private:
  std::vector<std::string> lines_;
  size_t next_ = 0;
};

void Hits(const json& state) {
  std::set<std::string> known;
  for (const json& th : kdbg::delve::jsonx::Arr(state, "Threads")) {
    kdbg::v1::HitEvent hit = kdbg::delve::BuildHit(th, "tp", 1);
    kdbg::delve::MarkOptimizedOut(
        true, &known, [](const std::string& name) { return name == "r"; }, &hit);
  }
}

// The threads of a parsed State that HandleStop reads (DelveClient::AtBreakpoint).
json AtBreakpoints(const json& threads) {
  json out = json::array();
  if (!threads.is_array()) return threads;
  for (const json& th : threads) {
    if (kdbg::delve::DelveClient::AtBreakpoint(th)) out.push_back(th);
  }
  return out;
}

// ParseStopReply against ParseReply on each line: whatever the full parse accepts, the parse
// without the State's copies and idle threads accepts too, and it reads the same threads at a
// breakpoint.
void StopReplyAgrees(absl::string_view bytes) {
  using kdbg::delve::DelveClient;
  for (absl::string_view line : absl::StrSplit(bytes, '\n')) {
    absl::StatusOr<json> whole = DelveClient::ParseReply(line);
    if (!whole.ok()) continue;
    absl::StatusOr<json> stop = DelveClient::ParseStopReply(line);
    if (!stop.ok()) __builtin_trap();
    const json& a = DelveClient::StopState(*whole);
    const json& b = DelveClient::StopState(*stop);
    if (a.is_object() != b.is_object()) __builtin_trap();
    if (a.is_object() && a.contains("Threads") != b.contains("Threads")) __builtin_trap();
    if (a.is_object() && a.contains("Threads") &&
        AtBreakpoints(a["Threads"]) != AtBreakpoints(b["Threads"])) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  StopReplyAgrees(bytes);
  kdbg::delve::DelveClient client(std::make_unique<LinesConnection>(bytes));
  const absl::Duration t = absl::Milliseconds(1);
  if (auto st = client.State(true, t); st.ok()) Hits(*st);
  if (auto locs = client.FindLocation("main.handler", t); locs.ok()) {
    kdbg::delve::BreakpointRequest req;
    req.name = "tp";
    req.addrs = (*locs)[0].pcs;
    req.variables = {"r.RemoteAddr"};
    (void)client.CreateBreakpoint(req, t);
  } else {
    (void)client.CreateBreakpoint(kdbg::delve::BreakpointRequest{}, t);
  }
  (void)client.ListBreakpoints(t);
  if (auto r =
          client.Call("RPCServer.Command", kdbg::delve::DelveClient::CommandParams("continue"), t);
      r.ok()) {
    Hits(kdbg::delve::jsonx::Obj(*r, "State"));
    // Values anywhere in the reply, as a variable would be formatted.
    for (const json& v : kdbg::delve::jsonx::Arr(*r, "Variables")) {
      (void)kdbg::delve::FormatVariable(v);
    }
  }
  (void)client.Detach(t);
  return 0;
}
