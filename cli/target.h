// TARGET parsing and container selection, as kubectl users expect them.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "kube/objects.h"

namespace kdbg::cli {

// "pod/NAME", "pods/NAME", "po/NAME" or "NAME" -> NAME. InvalidArgument for other kinds
// ("deployment/x") or names that are not DNS-1123 subdomains.
absl::StatusOr<std::string> ParseTarget(const std::string& target);

// The container to debug: `requested` if non-empty, else the pod's
// kubectl.kubernetes.io/default-container annotation, else the first container. Errors, each
// saying what to do:
//   NotFound            unknown container (message lists the pod's containers)
//   FailedPrecondition  pod pending/succeeded/failed or being deleted, container waiting or
//                       terminated (with the kubelet's reason), no status yet
absl::StatusOr<std::string> SelectContainer(const kube::Pod& pod, const std::string& requested);

}  // namespace kdbg::cli
