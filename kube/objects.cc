// Parsing of the Kubernetes objects kdbg reads. nlohmann::json throws; every exception is caught
// here and becomes InvalidArgument, so nothing escapes this file.
#include "kube/objects.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "kube/objects_json.h"

namespace kdbg::kube {
namespace {

using nlohmann::json;

// Null-tolerant accessors: the API server emits `null` for empty maps and lists in some versions
// ("env: null", "lastProbeTime": null), so a missing or null member reads as empty.
const json* Member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Str(const json& j, const char* key) {
  const json* m = Member(j, key);
  return (m != nullptr && m->is_string()) ? m->get<std::string>() : std::string();
}

std::map<std::string, std::string> StrMap(const json& j, const char* key) {
  std::map<std::string, std::string> out;
  const json* m = Member(j, key);
  if (m == nullptr || !m->is_object()) return out;
  for (auto it = m->begin(); it != m->end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

// An integer member, or `fallback` when absent, null or not a positive integer.
int PositiveInt(const json& j, const char* key, int fallback) {
  const json* m = Member(j, key);
  if (m == nullptr || !m->is_number_integer()) return fallback;
  int64_t v = m->get<int64_t>();
  return v > 0 && v <= (int64_t{1} << 30) ? static_cast<int>(v) : fallback;
}

// "9999" or "http": a probe's port is an int or a named container port.
std::string Port(const json& handler) {
  const json* p = Member(handler, "port");
  if (p == nullptr) return "";
  if (p->is_number_integer()) return std::to_string(p->get<int64_t>());
  return p->is_string() ? p->get<std::string>() : "";
}

std::optional<Probe> ParseProbe(const json& c, const char* key) {
  const json* p = Member(c, key);
  if (p == nullptr || !p->is_object()) return std::nullopt;
  Probe out;
  out.period_seconds = PositiveInt(*p, "periodSeconds", out.period_seconds);
  out.timeout_seconds = PositiveInt(*p, "timeoutSeconds", out.timeout_seconds);
  out.failure_threshold = PositiveInt(*p, "failureThreshold", out.failure_threshold);
  if (const json* h = Member(*p, "httpGet"); h != nullptr) {
    out.handler = absl::StrCat("httpGet :", Port(*h), Str(*h, "path"));
  } else if (const json* t = Member(*p, "tcpSocket"); t != nullptr) {
    out.handler = absl::StrCat("tcpSocket :", Port(*t));
  } else if (const json* g = Member(*p, "grpc"); g != nullptr) {
    out.handler = absl::StrCat("grpc :", Port(*g));
  } else if (const json* e = Member(*p, "exec"); e != nullptr) {
    out.handler = "exec";
    if (const json* cmd = Member(*e, "command"); cmd != nullptr && cmd->is_array()) {
      for (const json& w : *cmd) {
        if (w.is_string()) absl::StrAppend(&out.handler, " ", w.get<std::string>());
      }
    }
    if (out.handler.size() > 60) out.handler = out.handler.substr(0, 57) + "...";
  } else {
    out.handler = "probe";
  }
  return out;
}

std::vector<ContainerSpec> Containers(const json& spec, const char* key) {
  std::vector<ContainerSpec> out;
  const json* list = Member(spec, key);
  if (list == nullptr || !list->is_array()) return out;
  for (const json& c : *list) {
    out.push_back(
        {Str(c, "name"), Str(c, "image"), Str(c, "restartPolicy"), ParseProbe(c, "livenessProbe")});
  }
  return out;
}

std::vector<ContainerStatus> Statuses(const json& status, const char* key) {
  std::vector<ContainerStatus> out;
  const json* list = Member(status, key);
  if (list == nullptr || !list->is_array()) return out;
  for (const json& c : *list) {
    ContainerStatus s;
    s.name = Str(c, "name");
    s.container_id = Str(c, "containerID");
    if (const json* st = Member(c, "state"); st != nullptr && st->is_object()) {
      // Exactly one of running / waiting / terminated is set by the kubelet.
      for (const char* k : {"running", "waiting", "terminated"}) {
        if (const json* v = Member(*st, k); v != nullptr) {
          s.state = k;
          s.state_reason = Str(*v, "reason");
          break;
        }
      }
    }
    if (const json* r = Member(c, "ready"); r != nullptr && r->is_boolean())
      s.ready = r->get<bool>();
    if (const json* n = Member(c, "restartCount"); n != nullptr && n->is_number_integer()) {
      s.restart_count = n->get<int>();
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, absl::string_view what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not valid JSON"));
  }
  return j;
}

absl::StatusOr<Pod> PodFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("pod: expected a JSON object");
  std::string kind = Str(j, "kind");
  if (!kind.empty() && kind != "Pod") {
    return absl::InvalidArgumentError(absl::StrCat("pod: object is a ", kind, ", not a Pod"));
  }
  const json* meta = Member(j, "metadata");
  if (meta == nullptr || !meta->is_object()) {
    return absl::InvalidArgumentError("pod: metadata missing");
  }
  Pod pod;
  try {
    pod.namespace_ = Str(*meta, "namespace");
    pod.name = Str(*meta, "name");
    pod.uid = Str(*meta, "uid");
    pod.resource_version = Str(*meta, "resourceVersion");
    pod.labels = StrMap(*meta, "labels");
    pod.annotations = StrMap(*meta, "annotations");
    pod.deleting = Member(*meta, "deletionTimestamp") != nullptr;
    static const json kEmpty = json::object();
    const json* spec = Member(j, "spec");
    if (spec == nullptr) spec = &kEmpty;
    pod.node_name = Str(*spec, "nodeName");
    pod.node_selector = StrMap(*spec, "nodeSelector");
    pod.containers = Containers(*spec, "containers");
    pod.init_containers = Containers(*spec, "initContainers");
    const json* status = Member(j, "status");
    if (status == nullptr) status = &kEmpty;
    pod.phase = Str(*status, "phase");
    pod.pod_ip = Str(*status, "podIP");
    pod.host_ip = Str(*status, "hostIP");
    pod.container_statuses = Statuses(*status, "containerStatuses");
    pod.init_container_statuses = Statuses(*status, "initContainerStatuses");
    if (const json* conds = Member(*status, "conditions"); conds != nullptr && conds->is_array()) {
      for (const json& c : *conds) pod.conditions.emplace_back(Str(c, "type"), Str(c, "status"));
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("pod: ", e.what()));
  }
  if (pod.name.empty()) return absl::InvalidArgumentError("pod: metadata.name missing");
  return pod;
}

absl::StatusOr<Pod> ParsePod(absl::string_view json_text) {
  KDBG_ASSIGN_OR_RETURN(json j, ParseJson(json_text, "pod"));
  return PodFromJson(j);
}

absl::StatusOr<std::vector<Pod>> PodListFromJson(const nlohmann::json& j,
                                                 std::string* resource_version) {
  if (!j.is_object()) return absl::InvalidArgumentError("pod list: expected a JSON object");
  std::string kind = Str(j, "kind");
  if (!kind.empty() && kind != "PodList" && kind != "List") {
    return absl::InvalidArgumentError(
        absl::StrCat("pod list: object is a ", kind, ", not a PodList or List"));
  }
  const json* items = Member(j, "items");
  if (items != nullptr && !items->is_array()) {
    return absl::InvalidArgumentError("pod list: items is not a list");
  }
  std::vector<Pod> pods;
  if (items != nullptr) {
    for (size_t i = 0; i < items->size(); ++i) {
      auto pod = PodFromJson((*items)[i]);
      if (!pod.ok()) return Annotate(pod.status(), absl::StrCat("pod list: items[", i, "]"));
      pods.push_back(std::move(*pod));
    }
  }
  if (resource_version != nullptr) {
    const json* meta = Member(j, "metadata");
    *resource_version = meta != nullptr ? Str(*meta, "resourceVersion") : std::string();
  }
  return pods;
}

absl::StatusOr<std::vector<Pod>> ParsePodList(absl::string_view json_text,
                                              std::string* resource_version) {
  KDBG_ASSIGN_OR_RETURN(json j, ParseJson(json_text, "pod list"));
  return PodListFromJson(j, resource_version);
}

absl::StatusOr<WatchEvent> ParseWatchEvent(absl::string_view json_line) {
  KDBG_ASSIGN_OR_RETURN(json j, ParseJson(json_line, "watch event"));
  WatchEvent ev;
  ev.type = Str(j, "type");
  if (ev.type.empty()) return absl::InvalidArgumentError("watch event: type missing");
  const json* object = Member(j, "object");
  if (object == nullptr) return absl::InvalidArgumentError("watch event: object missing");
  if (ev.type == "ERROR") {
    // The object is a metav1.Status: {"kind":"Status","code":410,"reason":"Expired",...}.
    ev.error_message = Str(*object, "message");
    if (const json* c = Member(*object, "code"); c != nullptr && c->is_number_integer()) {
      ev.error_code = c->get<int>();
    }
    return ev;
  }
  if (ev.type == "BOOKMARK") {
    // Bookmarks carry only metadata.resourceVersion; keep it without requiring a name.
    if (const json* meta = Member(*object, "metadata"); meta != nullptr) {
      ev.pod.resource_version = Str(*meta, "resourceVersion");
    }
    return ev;
  }
  auto pod = PodFromJson(*object);
  if (!pod.ok()) return Annotate(pod.status(), absl::StrCat("watch event ", ev.type));
  ev.pod = std::move(*pod);
  return ev;
}

absl::StatusOr<UserInfo> ParseTokenReview(absl::string_view json_text) {
  KDBG_ASSIGN_OR_RETURN(json j, ParseJson(json_text, "TokenReview response"));
  UserInfo u;
  try {
    const json& st = j.at("status");
    u.authenticated = st.value("authenticated", false);
    u.error = st.value("error", "");
    if (auto it = st.find("user"); it != st.end() && it->is_object()) {
      u.username = it->value("username", "");
      u.uid = it->value("uid", "");
      if (auto g = it->find("groups"); g != it->end() && g->is_array()) {
        u.groups = g->get<std::vector<std::string>>();
      }
      if (auto e = it->find("extra"); e != it->end() && e->is_object()) {
        u.extra = e->get<std::map<std::string, std::vector<std::string>>>();
      }
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("unexpected TokenReview response: ", e.what()));
  }
  return u;
}

absl::StatusOr<AccessDecision> ParseSubjectAccessReview(absl::string_view json_text) {
  KDBG_ASSIGN_OR_RETURN(json j, ParseJson(json_text, "SubjectAccessReview response"));
  AccessDecision d;
  try {
    const json& st = j.at("status");
    d.allowed = st.value("allowed", false);
    d.denied = st.value("denied", false);
    d.reason = st.value("reason", "");
    d.evaluation_error = st.value("evaluationError", "");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("unexpected SubjectAccessReview response: ", e.what()));
  }
  return d;
}

const ContainerStatus* Pod::StatusOf(absl::string_view container) const {
  for (const ContainerStatus& s : container_statuses) {
    if (s.name == container) return &s;
  }
  for (const ContainerStatus& s : init_container_statuses) {
    if (s.name == container) return &s;
  }
  return nullptr;
}

bool Pod::Ready() const {
  for (const auto& [type, status] : conditions) {
    if (type == "Ready") return status == "True";
  }
  return false;
}

}  // namespace kdbg::kube
