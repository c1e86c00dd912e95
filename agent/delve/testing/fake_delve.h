// A scripted fake Delve server for unit tests: every connection it dials shares one handler table.
// Requests are answered at once by the handler registered for their method; a `continue` is
// answered from a queue of canned stops and, when the queue is empty, held (the process "runs")
// until a `halt` arrives on any connection, exactly as Delve answers a pending continue only when
// the process stops. Records every call for assertions. Thread-safe. (The /proc fake is
// common/testing/fake_proc_reader.h.)
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/delve/rpc_connection.h"
#include "common/testing/fake_proc_reader.h"
#include "nlohmann/json.hpp"

namespace kdbg::delve::testing {

class FakeDelve : public RpcDialer {
 public:
  using json = nlohmann::json;
  // Returns the "result" object, or an error whose message becomes Delve's "error" string.
  using Handler = std::function<absl::StatusOr<json>(const json& params)>;

  FakeDelve() {
    On("RPCServer.State", [this](const json&) -> absl::StatusOr<json> {
      absl::MutexLock lock(&mu_);
      return json{{"State", {{"Running", running_}, {"Threads", json::array()}}}};
    });
    On("RPCServer.Detach", [](const json&) -> absl::StatusOr<json> { return json::object(); });
    On("RPCServer.ListBreakpoints", [this](const json&) -> absl::StatusOr<json> {
      absl::MutexLock lock(&mu_);
      json list = json::array({{{"id", -1}, {"name", "unrecovered-panic"}}});
      for (int id : breakpoints_) list.push_back({{"id", id}});
      return json{{"Breakpoints", list}};
    });
    On("RPCServer.ClearBreakpoint", [this](const json& p) -> absl::StatusOr<json> {
      int id = p.value("Id", 0);
      absl::MutexLock lock(&mu_);
      // As Delve (service/rpc2/server.go): an id it does not know is an error.
      if (id > 0 && std::erase(breakpoints_, id) == 0) {
        return absl::NotFoundError(absl::StrCat("no breakpoint with id ", id));
      }
      return json::object();
    });
  }

  void On(const std::string& method, Handler h) {
    absl::MutexLock lock(&mu_);
    handlers_[method] = std::move(h);
  }
  // A stop to answer the next `continue` with (the "State" object of the reply).
  void QueueStop(json state) {
    absl::MutexLock lock(&mu_);
    stops_.push_back(std::move(state));
  }
  // A breakpoint at `addresses` addresses: ListBreakpoints ("All": true, as DelveClient asks)
  // lists it once per address, as Delve lists physical breakpoints.
  void AddBreakpoint(int id, int addresses = 1) {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < addresses; ++i) breakpoints_.push_back(id);
  }
  std::vector<int> breakpoints() {
    absl::MutexLock lock(&mu_);
    return breakpoints_;
  }
  // Method names in the order they arrived (all connections).
  std::vector<std::string> methods() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const auto& c : calls_) out.push_back(c.first);
    return out;
  }
  std::vector<std::pair<std::string, json>> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  bool running() {
    absl::MutexLock lock(&mu_);
    return running_;
  }

  absl::StatusOr<std::unique_ptr<RpcConnection>> Dial(const std::string& address) override;

 private:
  class Conn;
  friend class Conn;
  void Handle(Conn* conn, const std::string& message);

  absl::Mutex mu_;
  std::map<std::string, Handler> handlers_;
  std::deque<json> stops_;
  std::vector<int> breakpoints_;
  std::vector<std::pair<std::string, json>> calls_;
  bool running_ = false;
  Conn* held_conn_ = nullptr;  // the connection whose continue is pending
  json held_id_;
};

// The /proc fake is common's: any PID exists (sleeping) unless a test says otherwise.
using FakeProc = ::kdbg::testing::FakeProcReader;

}  // namespace kdbg::delve::testing
