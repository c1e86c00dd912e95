// Which container of a pod `kdbg ... -c NAME` means, and whether it can be debugged now. The one
// rule for the CLI (to tell the user early) and the controller (which re-reads the pod and
// decides).
//
// The choice, as kubectl makes it for `kubectl exec` / `kubectl logs`:
//   1. `requested` (the -c flag) when non-empty;
//   2. else the pod's `kubectl.kubernetes.io/default-container` annotation;
//   3. else the first entry of spec.containers.
// Any container of the pod may be named explicitly (1 or 2), including init containers:
//   - app containers (spec.containers): debuggable while running;
//   - native sidecars (spec.initContainers[] with `restartPolicy: Always`, Kubernetes 1.28+, e.g. a
//     service-mesh proxy): they run for the pod's whole life, so they are debugged like app
//     containers;
//   - classic init containers: debuggable only while running (an init container stuck in a loop is
//     a real emergency); once finished ("terminated", reason Completed) the error says init
//     containers run to completion and lists the containers that can be debugged.
// The default (3) is never an init container.
//
// The pod and the container must be running, judged by the container's own state, not the pod's
// phase: a pod is "Pending" while any one container waits (an image pull), yet its running
// containers can be debugged. Errors, each naming the pod and saying what to do:
//   NotFound            no container of that name (the message lists every container, init
//                       containers marked "(init)", native sidecars "(sidecar)")
//   FailedPrecondition  the pod has no containers, is being deleted, has finished (phase Succeeded
//                       or Failed), is not scheduled on a node; the container has no status yet,
//                       is waiting or terminated (with the kubelet's reason, e.g.
//                       "waiting (CrashLoopBackOff)"), or has no container ID yet
//
// Pure function over a parsed Pod (kube/objects.h); tested on the real pods in kube/testdata/pods.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/objects.h"

namespace kdbg::kube {

enum class ContainerKind {
  kApp,            // spec.containers[]
  kNativeSidecar,  // spec.initContainers[] with restartPolicy: Always
  kInit,           // spec.initContainers[], run to completion before the app containers
};

struct SelectedContainer {
  std::string name = {};
  ContainerKind kind = ContainerKind::kApp;
  std::string container_id = {};  // "containerd://<64 hex>", "cri-o://...", "docker://..."
};

absl::StatusOr<SelectedContainer> SelectContainer(const Pod& pod, absl::string_view requested);

}  // namespace kdbg::kube
