// A small Debug Adapter Protocol client for tests, speaking to Delve's headless server (which
// takes DAP on the same listener as JSON-RPC: the first byte `C` of "Content-Length" selects DAP).
// What VS Code's Go extension does for a "remote" attach, in order:
//   initialize -> attach {"mode":"remote"} -> setBreakpoints {source.path, lines} ->
//   configurationDone -> ... event "stopped" {"reason":"breakpoint"} -> disconnect
// Messages are "Content-Length: N\r\n\r\n" + N bytes of JSON.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/fd.h"
#include "nlohmann/json.hpp"

namespace kdbg::testing {

class DapClient {
 public:
  static absl::StatusOr<DapClient> Connect(const std::string& host, int port);

  // Sends a request; returns its seq.
  absl::StatusOr<int> Send(const std::string& command, const nlohmann::json& arguments);
  // Sends `command` and reads messages until its response; events seen meanwhile are kept.
  absl::StatusOr<nlohmann::json> Request(const std::string& command,
                                         const nlohmann::json& arguments,
                                         absl::Duration timeout = absl::Seconds(20));
  // Reads until an event named `event` (or one seen already); nullopt on timeout or EOF.
  std::optional<nlohmann::json> WaitEvent(const std::string& event, absl::Duration timeout);

 private:
  explicit DapClient(UniqueFd fd) : fd_(std::move(fd)) {}
  std::optional<nlohmann::json> Read(absl::Time deadline);

  UniqueFd fd_;
  int seq_ = 0;
  std::string buffer_;
  std::vector<nlohmann::json> events_;
};

// What VS Code does with "substitutePath": [{"from": LOCAL, "to": REMOTE}] to a path it sends to
// the debugger: the first rule whose `from` is a prefix of `path` (at a '/' boundary) replaces it
// by `to`; no rule: the path unchanged.
std::string ApplySubstitutePath(const nlohmann::json& configuration, const std::string& path);

}  // namespace kdbg::testing
