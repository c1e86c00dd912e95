#include "agent/delve/testing/fake_delve.h"

#include "absl/strings/str_cat.h"

namespace kdbg::delve::testing {

using nlohmann::json;

class FakeDelve::Conn : public RpcConnection {
 public:
  explicit Conn(FakeDelve* server) : server_(server) {}
  absl::Status Send(absl::string_view message) override {
    server_->Handle(this, std::string(message));
    return absl::OkStatus();
  }
  absl::StatusOr<absl::string_view> ReadMessage(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !replies_.empty() || interrupted_;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) {
      return absl::DeadlineExceededError("fake: no reply");
    }
    if (interrupted_) {
      interrupted_ = false;
      return absl::CancelledError("fake: interrupted");
    }
    current_ = std::move(replies_.front());
    replies_.pop_front();
    return absl::string_view(current_);
  }
  void Interrupt() override {
    absl::MutexLock lock(&mu_);
    interrupted_ = true;
  }
  void Push(std::string reply) {
    absl::MutexLock lock(&mu_);
    replies_.push_back(std::move(reply));
  }

 private:
  FakeDelve* server_;
  absl::Mutex mu_;
  std::deque<std::string> replies_ ABSL_GUARDED_BY(mu_);
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
  std::string current_;
};

absl::StatusOr<std::unique_ptr<RpcConnection>> FakeDelve::Dial(const std::string&) {
  return std::unique_ptr<RpcConnection>(new Conn(this));
}

void FakeDelve::Handle(Conn* conn, const std::string& message) {
  json req = json::parse(message);
  std::string method = req.value("method", "");
  json params = req["params"].is_array() && !req["params"].empty() ? req["params"][0] : json();
  json id = req["id"];
  auto reply = [](const json& id, const absl::StatusOr<json>& r) {
    json out = {{"id", id}};
    if (r.ok()) {
      out["result"] = *r;
      out["error"] = nullptr;
    } else {
      out["result"] = nullptr;
      out["error"] = std::string(r.status().message());
    }
    return out.dump();
  };
  Handler handler;
  {
    absl::MutexLock lock(&mu_);
    calls_.emplace_back(method, params);
    if (method == "RPCServer.Command") {
      std::string name = params.value("Name", "");
      if (name == "continue") {
        if (!stops_.empty()) {
          json st = std::move(stops_.front());
          stops_.pop_front();
          conn->Push(reply(id, json{{"State", st}}));
        } else {
          running_ = true;
          held_conn_ = conn;
          held_id_ = id;
        }
        return;
      }
      if (name == "halt") {
        // Delve answers the pending continue and the halt once the process has stopped.
        json st = {{"Running", false}, {"Threads", json::array()}};
        if (held_conn_ != nullptr) {
          held_conn_->Push(reply(held_id_, json{{"State", st}}));
          held_conn_ = nullptr;
        }
        running_ = false;
        conn->Push(reply(id, json{{"State", st}}));
        return;
      }
    }
    auto it = handlers_.find(method);
    if (it == handlers_.end()) {
      conn->Push(
          reply(id, absl::UnimplementedError(absl::StrCat("fake: no handler for ", method))));
      return;
    }
    handler = it->second;
  }
  conn->Push(reply(id, handler(params)));
}

}  // namespace kdbg::delve::testing
