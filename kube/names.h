// Kubernetes object names, checked before they reach an API path, a log line or an agent. The
// rules are the API server's (k8s.io/apimachinery/pkg/util/validation):
//   DNS-1123 label      namespaces, container names: at most 63 characters of [a-z0-9-], starting
//                       and ending with a letter or digit ("kube-system", "web")
//   DNS-1123 subdomain  pod names: at most 253 characters of [a-z0-9-.], starting and ending with
//                       a letter or digit ("web-7d4b9c8f6-x2x9q", "etcd-node.example")
// So a name can never hold '/', "..", a blank or a control byte: "../secrets" is refused, not sent.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kdbg::kube {

bool IsDns1123Label(absl::string_view name);
bool IsDns1123Subdomain(absl::string_view name);

// OkStatus, or InvalidArgument "<what> \"<name>\" is not a valid Kubernetes name (...)". `what` is
// "namespace", "pod" or "container"; the first two are required (empty is refused too), an empty
// container means "the default one".
absl::Status ValidateObjectName(absl::string_view what, absl::string_view name);

}  // namespace kdbg::kube
