// HTTP handlers of the Kubernetes API stub: pods (get, list, watch), TokenReview,
// SubjectAccessReview and Events, with bearer-token authentication and RBAC-like authorization
// answering in the real API server's Status shapes. See README.md.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "httplib.h"
#include "tests/fakes/kube-apiserver/pod_store.h"
#include "tests/fakes/kube-apiserver/stub_config.h"

namespace kdbg::kube::stub {

class ApiStub {
 public:
  // `store` must outlive this object and the server it is registered on.
  ApiStub(StubConfig config, PodStore* store);
  void Register(httplib::Server& server);
  // Ends open watches (call before server.stop()).
  void Shutdown() { stopping_ = true; }

 private:
  // Returns the user, or writes 401 and returns nullptr.
  const UserInfo* Authenticate(const httplib::Request& req, httplib::Response& res);
  // True if allowed; else writes the 403 Status.
  bool Authorize(const UserInfo& user, const ResourceAttributes& attrs, httplib::Response& res);
  void GetPod(const httplib::Request& req, httplib::Response& res);
  void GetWorkload(const httplib::Request& req, httplib::Response& res);
  void ListOrWatchPods(const std::string& ns, const httplib::Request& req, httplib::Response& res);
  void TokenReview(const httplib::Request& req, httplib::Response& res);
  void AccessReview(const httplib::Request& req, httplib::Response& res);
  void CreateEvent(const httplib::Request& req, httplib::Response& res);
  void ListEvents(const httplib::Request& req, httplib::Response& res);

  const StubConfig config_;
  PodStore* const store_;
  std::atomic<bool> stopping_{false};
  absl::Mutex events_mu_;
  std::vector<nlohmann::json> events_ ABSL_GUARDED_BY(events_mu_);
  long event_seq_ ABSL_GUARDED_BY(events_mu_) = 0;
};

// {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":...,
//  "reason":...,"details":{"name":...,"kind":...},"code":...}
std::string StatusJson(int code, const std::string& reason, const std::string& message,
                       const std::string& name = "", const std::string& kind = "");

}  // namespace kdbg::kube::stub
