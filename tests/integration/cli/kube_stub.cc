#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include "tests/integration/cli/kube_stub.h"

#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace kdbg::cli::testing {

KubeStub::KubeStub(const std::string& cert_path, const std::string& key_path)
    : server_(std::make_unique<httplib::SSLServer>(cert_path.c_str(), key_path.c_str())) {
  server_->Get(R"(/api/v1/namespaces/([^/]+)/pods/([^/]+))", [this](const httplib::Request& req,
                                                                    httplib::Response& res) {
    std::string auth = req.get_header_value("Authorization");
    absl::MutexLock l(&mu_);
    seen_.push_back(auth);
    std::string token = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : "";
    auto it = allowed_.find(token);
    if (it == allowed_.end() && allowed_.count("") == 0) {
      res.status = 401;
      res.set_content(
          R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})"
          "\n",
          "application/json");
      return;
    }
    std::string ns = req.matches[1], name = req.matches[2];
    if (it != allowed_.end() && !it->second) {
      res.status = 403;
      res.set_content(
          absl::StrCat(
              R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \")",
              name,
              R"(\" is forbidden: User \"bob\" cannot get resource \"pods\" in API group \"\" in the namespace \")",
              ns, R"(\"","reason":"Forbidden","details":{"name":")", name,
              R"(","kind":"pods"},"code":403})", "\n"),
          "application/json");
      return;
    }
    auto pod = pods_.find(ns + "/" + name);
    if (pod == pods_.end()) {
      res.status = 404;
      res.set_content(
          absl::StrCat(
              R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \")",
              name, R"(\" not found","reason":"NotFound","details":{"name":")", name,
              R"(","kind":"pods"},"code":404})", "\n"),
          "application/json");
      return;
    }
    res.set_content(pod->second, "application/json");
  });
  // Lists for the shell completion: every namespace that has a pod, a namespace's pods.
  auto list = [this](const httplib::Request& req, httplib::Response& res) {
    int delay = 0;
    {
      absl::MutexLock l(&mu_);
      seen_.push_back(req.get_header_value("Authorization"));
      delay = list_delay_ms_;
    }
    if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    absl::MutexLock l(&mu_);
    nlohmann::json items = nlohmann::json::array();
    std::string ns = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    std::string last_ns;
    for (const auto& [key, json] : pods_) {
      std::string pod_ns = key.substr(0, key.find('/'));
      if (ns.empty()) {
        if (pod_ns != last_ns) items.push_back({{"metadata", {{"name", pod_ns}}}});
        last_ns = pod_ns;
      } else if (pod_ns == ns) {
        items.push_back(nlohmann::json::parse(json));
      }
    }
    nlohmann::json out = {{"kind", ns.empty() ? "NamespaceList" : "PodList"},
                          {"apiVersion", "v1"},
                          {"metadata", {{"resourceVersion", "99"}}},
                          {"items", items}};
    res.set_content(out.dump(), "application/json");
  };
  server_->Get(R"(/api/v1/namespaces)", list);
  server_->Get(R"(/api/v1/namespaces/([^/]+)/pods)", list);
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

KubeStub::~KubeStub() {
  server_->stop();
  thread_.join();
}

std::string PodJson(const std::string& ns, const std::string& name,
                    const std::vector<std::string>& containers,
                    const std::string& default_container, const std::string& phase,
                    const std::string& first_state) {
  nlohmann::json pod;
  pod["kind"] = "Pod";
  pod["apiVersion"] = "v1";
  pod["metadata"] = {{"name", name},
                     {"namespace", ns},
                     {"uid", "0f6c3e6e-1111-4222-8333-444455556666"},
                     {"resourceVersion", "1234"}};
  if (!default_container.empty()) {
    pod["metadata"]["annotations"] = {
        {"kubectl.kubernetes.io/default-container", default_container}};
  }
  pod["spec"]["nodeName"] = "node-a";
  pod["spec"]["containers"] = nlohmann::json::array();
  pod["status"]["phase"] = phase;
  pod["status"]["containerStatuses"] = nlohmann::json::array();
  bool first = true;
  for (const auto& c : containers) {
    pod["spec"]["containers"].push_back({{"name", c}, {"image", "example/" + c}});
    nlohmann::json st = {
        {"name", c}, {"ready", true}, {"restartCount", 0}, {"image", "example/" + c}};
    std::string state = first ? first_state : "running";
    if (state == "running") {
      st["containerID"] = "containerd://" + std::string(64, 'a');
      st["state"]["running"] = {{"startedAt", "2026-11-24T00:00:00Z"}};
    } else if (state == "waiting") {
      st["state"]["waiting"] = {{"reason", "CrashLoopBackOff"}, {"message", "back-off 5m0s"}};
    } else {
      st["containerID"] = "containerd://" + std::string(64, 'b');
      st["state"]["terminated"] = {{"reason", "Error"}, {"exitCode", 2}};
    }
    if (phase != "Pending") pod["status"]["containerStatuses"].push_back(st);
    first = false;
  }
  return pod.dump() + "\n";
}

}  // namespace kdbg::cli::testing
