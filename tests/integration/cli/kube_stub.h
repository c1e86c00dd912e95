// A minimal in-process Kubernetes API for the CLI's tests: HTTPS on 127.0.0.1, GET of single pods,
// lists of namespaces and of a namespace's pods (shell completion),
// bearer tokens checked like an API server with RBAC (401 unknown token, 403 Status with the
// server's message for a token without rights).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace httplib {
class SSLServer;
}

namespace kdbg::cli::testing {

class KubeStub {
 public:
  KubeStub(const std::string& cert_path, const std::string& key_path);
  ~KubeStub();
  std::string server() const { return "https://127.0.0.1:" + std::to_string(port_); }

  // tokens: "" accepts any client (e.g. certificate users).
  void AllowToken(const std::string& token) {
    absl::MutexLock l(&mu_);
    allowed_[token] = true;
  }
  void DenyToken(const std::string& token) {
    absl::MutexLock l(&mu_);
    allowed_[token] = false;
  }
  void AddPod(const std::string& ns, const std::string& name, const std::string& json) {
    absl::MutexLock l(&mu_);
    pods_[ns + "/" + name] = json;
  }
  // Lists (GET /api/v1/namespaces, /api/v1/namespaces/NS/pods) answer after this long: a slow
  // cluster for the completion's time budget.
  void SetListDelay(int ms) {
    absl::MutexLock l(&mu_);
    list_delay_ms_ = ms;
  }
  std::vector<std::string> seen_authorizations() {
    absl::MutexLock l(&mu_);
    return seen_;
  }

 private:
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
  absl::Mutex mu_;
  std::map<std::string, bool> allowed_;
  std::map<std::string, std::string> pods_;
  std::vector<std::string> seen_;
  int list_delay_ms_ = 0;
};

// A pod JSON as the API server returns it: Running, the given containers running (or the first one
// in `state`), with an optional default-container annotation.
std::string PodJson(const std::string& ns, const std::string& name,
                    const std::vector<std::string>& containers,
                    const std::string& default_container = "", const std::string& phase = "Running",
                    const std::string& first_state = "running");

}  // namespace kdbg::cli::testing
