#include "tests/fakes/kube-apiserver/api_stub.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "kube/names.h"
#include "kube/objects_json.h"
#include "kube/testing/selector.h"

namespace kdbg::kube::stub {
namespace {

using nlohmann::json;

void Reply(httplib::Response& res, int code, const std::string& body) {
  res.status = code;
  res.set_content(body, "application/json");
}

std::string Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

}  // namespace

std::string StatusJson(int code, const std::string& reason, const std::string& message,
                       const std::string& name, const std::string& kind) {
  json s = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
  if (!kind.empty()) {
    s["details"] = json::object();
    if (!name.empty()) s["details"]["name"] = name;
    s["details"]["kind"] = kind;
  }
  return s.dump();
}

ApiStub::ApiStub(StubConfig config, PodStore* store) : config_(std::move(config)), store_(store) {}

const UserInfo* ApiStub::Authenticate(const httplib::Request& req, httplib::Response& res) {
  const std::string header = req.get_header_value("Authorization");  // returned by value
  absl::string_view auth = header;
  if (absl::ConsumePrefix(&auth, "Bearer ")) {
    auto it = config_.users.find(std::string(absl::StripAsciiWhitespace(auth)));
    if (it != config_.users.end()) return &it->second;
  }
  Reply(res, 401, StatusJson(401, "Unauthorized", "Unauthorized"));
  return nullptr;
}

bool ApiStub::Authorize(const UserInfo& user, const ResourceAttributes& attrs,
                        httplib::Response& res) {
  AccessDecision d = config_.rules.Decide(user, attrs);
  if (d.allowed) return true;
  Reply(res, 403,
        StatusJson(403, "Forbidden", ForbiddenMessage(user, attrs, d.reason), attrs.name,
                   attrs.resource));
  return false;
}

void ApiStub::Register(httplib::Server& server) {
  server.Get(R"(/api/v1/namespaces/([^/]+)/pods/([^/]+))",
             [this](const httplib::Request& req, httplib::Response& res) { GetPod(req, res); });
  server.Get(R"(/api/v1/namespaces/([^/]+)/pods)",
             [this](const httplib::Request& req, httplib::Response& res) {
               ListOrWatchPods(req.matches[1], req, res);
             });
  server.Get("/api/v1/pods", [this](const httplib::Request& req, httplib::Response& res) {
    ListOrWatchPods("", req, res);
  });
  server.Get(
      R"(/apis/(apps|batch)/v1/namespaces/([^/]+)/([^/]+)/([^/]+))",
      [this](const httplib::Request& req, httplib::Response& res) { GetWorkload(req, res); });
  server.Post(
      "/apis/authentication.k8s.io/v1/tokenreviews",
      [this](const httplib::Request& req, httplib::Response& res) { TokenReview(req, res); });
  server.Post(
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      [this](const httplib::Request& req, httplib::Response& res) { AccessReview(req, res); });
  server.Post(
      R"(/api/v1/namespaces/([^/]+)/events)",
      [this](const httplib::Request& req, httplib::Response& res) { CreateEvent(req, res); });
  server.Get(R"(/api/v1/namespaces/([^/]+)/events)",
             [this](const httplib::Request& req, httplib::Response& res) { ListEvents(req, res); });
  // Everything else: the API server's 404 for an unknown path.
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty()) {
      Reply(res, 404,
            StatusJson(404, "NotFound", "the server could not find the requested resource"));
    }
  });
}

void ApiStub::GetPod(const httplib::Request& req, httplib::Response& res) {
  const UserInfo* user = Authenticate(req, res);
  if (user == nullptr) return;
  std::string ns = req.matches[1], name = req.matches[2];
  if (!Authorize(*user, {.namespace_ = ns, .verb = "get", .resource = "pods", .name = name}, res)) {
    return;
  }
  store_->Rescan();
  auto pod = store_->Get(ns, name);
  if (!pod.has_value()) {
    Reply(res, 404,
          StatusJson(404, "NotFound", absl::StrCat("pods \"", name, "\" not found"), name, "pods"));
    return;
  }
  Reply(res, 200, pod->object.dump());
}

void ApiStub::GetWorkload(const httplib::Request& req, httplib::Response& res) {
  const UserInfo* user = Authenticate(req, res);
  if (user == nullptr) return;
  std::string group = req.matches[1], ns = req.matches[2], resource = req.matches[3],
              name = req.matches[4];
  if (!Authorize(
          *user,
          {.namespace_ = ns, .verb = "get", .group = group, .resource = resource, .name = name},
          res)) {
    return;
  }
  std::string body;
  if (!config_.workloads_dir.empty() && kube::IsDns1123Subdomain(name) &&
      kube::IsDns1123Label(ns) && kube::IsDns1123Label(resource)) {
    std::ifstream in(
        absl::StrCat(config_.workloads_dir, "/", resource, ".", ns, ".", name, ".json"));
    std::stringstream ss;
    ss << in.rdbuf();
    body = ss.str();
  }
  if (body.empty()) {
    Reply(
        res, 404,
        StatusJson(404, "NotFound", absl::StrCat(resource, ".", group, " \"", name, "\" not found"),
                   name, resource));
    return;
  }
  Reply(res, 200, body);
}

void ApiStub::ListOrWatchPods(const std::string& ns, const httplib::Request& req,
                              httplib::Response& res) {
  const UserInfo* user = Authenticate(req, res);
  if (user == nullptr) return;
  std::string watch = req.get_param_value("watch");
  bool watching = watch == "true" || watch == "1";
  if (!Authorize(*user, {.namespace_ = ns, .verb = watching ? "watch" : "list", .resource = "pods"},
                 res)) {
    return;
  }
  auto sel = PodSelector::Parse(req.get_param_value("labelSelector"),
                                req.get_param_value("fieldSelector"));
  if (!sel.ok()) {
    Reply(res, 400, StatusJson(400, "BadRequest", std::string(sel.status().message())));
    return;
  }
  store_->Rescan();
  if (!watching) {
    json items = json::array();
    long rv = store_->version();
    for (const StoredPod& sp : store_->List(ns)) {
      if (sel->Matches(sp.pod)) items.push_back(sp.object);
    }
    json list = {{"kind", "PodList"},
                 {"apiVersion", "v1"},
                 {"metadata", {{"resourceVersion", absl::StrCat(rv)}}},
                 {"items", items}};
    Reply(res, 200, list.dump());
    return;
  }
  // Watch: the current state as ADDED when no resourceVersion (or "0") is given, then changes.
  std::string rv_param = req.get_param_value("resourceVersion");
  long from = 0;
  std::vector<std::string> initial;
  if (rv_param.empty() || rv_param == "0") {
    from = store_->version();
    for (const StoredPod& sp : store_->List(ns)) {
      if (sel->Matches(sp.pod)) {
        initial.push_back(json({{"type", "ADDED"}, {"object", sp.object}}).dump() + "\n");
      }
    }
  } else if (!absl::SimpleAtoi(rv_param, &from)) {
    Reply(
        res, 400,
        StatusJson(400, "BadRequest", absl::StrCat("invalid resource version \"", rv_param, "\"")));
    return;
  }
  int timeout_seconds = 0;
  absl::Time deadline = absl::InfiniteFuture();
  if (absl::SimpleAtoi(req.get_param_value("timeoutSeconds"), &timeout_seconds) &&
      timeout_seconds > 0) {
    deadline = absl::Now() + absl::Seconds(timeout_seconds);
  }
  struct WatchState {
    long last;
    std::vector<std::string> pending;
    bool done = false;
  };
  auto state = std::make_shared<WatchState>(WatchState{from, std::move(initial)});
  PodSelector selector = *sel;
  res.set_chunked_content_provider("application/json", [this, state, selector, ns, deadline](
                                                           size_t, httplib::DataSink& sink) {
    if (state->done || stopping_ || absl::Now() >= deadline || !sink.is_writable()) {
      sink.done();
      return true;
    }
    std::vector<PodChange> changes;
    absl::Status s = store_->ChangesSince(state->last, &changes);
    if (!s.ok()) {
      json ev = {{"type", "ERROR"},
                 {"object", json::parse(StatusJson(410, "Expired", std::string(s.message())))}};
      state->pending.push_back(ev.dump() + "\n");
      state->done = true;
    }
    for (const PodChange& c : changes) {
      state->last = c.version;
      if (!ns.empty() && c.pod.pod.namespace_ != ns) continue;
      if (!selector.Matches(c.pod.pod)) continue;
      state->pending.push_back(json({{"type", c.type}, {"object", c.pod.object}}).dump() + "\n");
    }
    if (state->pending.empty()) {
      // Nothing to send: wait (bounded, so shutdown and disconnects are noticed), rescanning
      // the directory for files added meanwhile.
      if (!store_->WaitForChange(state->last, absl::Milliseconds(200))) store_->Rescan();
      return true;
    }
    for (const std::string& line : state->pending) {
      if (!sink.write(line.data(), line.size())) return false;
    }
    state->pending.clear();
    return true;
  });
}

void ApiStub::TokenReview(const httplib::Request& req, httplib::Response& res) {
  const UserInfo* caller = Authenticate(req, res);
  if (caller == nullptr) return;
  if (!Authorize(*caller,
                 {.verb = "create", .group = "authentication.k8s.io", .resource = "tokenreviews"},
                 res)) {
    return;
  }
  auto body = ParseJson(req.body, "TokenReview");
  std::string token;
  if (body.ok() && body->is_object() && body->contains("spec") && (*body)["spec"].is_object()) {
    token = (*body)["spec"].value("token", "");
  }
  if (token.empty()) {
    Reply(res, 400, StatusJson(400, "BadRequest", "TokenReview: spec.token is required"));
    return;
  }
  json status;
  auto it = config_.users.find(token);
  if (it != config_.users.end()) {
    const UserInfo& u = it->second;
    status = {{"authenticated", true},
              {"user", {{"username", u.username}, {"uid", u.uid}, {"groups", u.groups}}},
              {"audiences", {"https://kubernetes.default.svc.cluster.local"}}};
  } else {
    // What the API server answers for a token no authenticator accepts.
    status = {{"user", json::object()}, {"error", "[invalid bearer token, token lookup failed]"}};
  }
  json out = {{"kind", "TokenReview"},
              {"apiVersion", "authentication.k8s.io/v1"},
              {"metadata", {{"creationTimestamp", nullptr}}},
              {"spec", {{"token", token}}},
              {"status", status}};
  Reply(res, 201, out.dump());
}

void ApiStub::AccessReview(const httplib::Request& req, httplib::Response& res) {
  const UserInfo* caller = Authenticate(req, res);
  if (caller == nullptr) return;
  if (!Authorize(
          *caller,
          {.verb = "create", .group = "authorization.k8s.io", .resource = "subjectaccessreviews"},
          res)) {
    return;
  }
  auto body = ParseJson(req.body, "SubjectAccessReview");
  if (!body.ok() || !body->is_object() || !body->contains("spec")) {
    Reply(res, 400, StatusJson(400, "BadRequest", "SubjectAccessReview: spec is required"));
    return;
  }
  const json& spec = (*body)["spec"];
  UserInfo subject;
  ResourceAttributes attrs;
  try {
    subject.username = spec.value("user", "");
    subject.uid = spec.value("uid", "");
    if (spec.contains("groups") && spec["groups"].is_array()) {
      subject.groups = spec["groups"].get<std::vector<std::string>>();
    }
    if (spec.contains("resourceAttributes") && spec["resourceAttributes"].is_object()) {
      const json& a = spec["resourceAttributes"];
      attrs.namespace_ = a.value("namespace", "");
      attrs.verb = a.value("verb", "");
      attrs.group = a.value("group", "");
      attrs.resource = a.value("resource", "");
      attrs.name = a.value("name", "");
      attrs.subresource = a.value("subresource", "");
    }
  } catch (const std::exception& e) {
    Reply(res, 400, StatusJson(400, "BadRequest", absl::StrCat("SubjectAccessReview: ", e.what())));
    return;
  }
  if (subject.username.empty() && subject.groups.empty()) {
    Reply(res, 422,
          StatusJson(422, "Invalid",
                     "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: "
                     "Invalid value: \"\": at least one of user or group must be specified"));
    return;
  }
  AccessDecision d = config_.rules.Decide(subject, attrs);
  json status = {{"allowed", d.allowed}};
  if (d.denied) status["denied"] = true;
  if (!d.reason.empty()) status["reason"] = d.reason;
  json out = {{"kind", "SubjectAccessReview"},
              {"apiVersion", "authorization.k8s.io/v1"},
              {"metadata", {{"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", status}};
  Reply(res, 201, out.dump());
}

void ApiStub::CreateEvent(const httplib::Request& req, httplib::Response& res) {
  const UserInfo* caller = Authenticate(req, res);
  if (caller == nullptr) return;
  std::string ns = req.matches[1];
  if (!Authorize(*caller, {.namespace_ = ns, .verb = "create", .resource = "events"}, res)) return;
  auto body = ParseJson(req.body, "Event");
  if (!body.ok() || !body->is_object()) {
    Reply(res, 400, StatusJson(400, "BadRequest", "Event: body is not a JSON object"));
    return;
  }
  json ev = *body;
  absl::MutexLock lock(&events_mu_);
  json& meta = ev["metadata"];
  if (!meta.is_object()) meta = json::object();
  std::string name = meta.value("name", "");
  if (name.empty()) name = absl::StrCat(meta.value("generateName", "event."), ++event_seq_);
  meta["name"] = name;
  meta["namespace"] = ns;
  meta["creationTimestamp"] = Now();
  meta["resourceVersion"] = absl::StrCat(event_seq_);
  events_.push_back(ev);
  Reply(res, 201, ev.dump());
}

void ApiStub::ListEvents(const httplib::Request& req, httplib::Response& res) {
  const UserInfo* caller = Authenticate(req, res);
  if (caller == nullptr) return;
  std::string ns = req.matches[1];
  if (!Authorize(*caller, {.namespace_ = ns, .verb = "list", .resource = "events"}, res)) return;
  json items = json::array();
  absl::MutexLock lock(&events_mu_);
  for (const json& e : events_) {
    if (e["metadata"].value("namespace", "") == ns) items.push_back(e);
  }
  json list = {{"kind", "EventList"},
               {"apiVersion", "v1"},
               {"metadata", {{"resourceVersion", absl::StrCat(event_seq_)}}},
               {"items", items}};
  Reply(res, 200, list.dump());
}

}  // namespace kdbg::kube::stub
