#!/usr/bin/env bash
# Captures the workload fixtures of this directory from the project's real cluster (scripts/cluster
# up + samples, whose Deployment default/hello-world and its ReplicaSet are read as they are): it
# creates a StatefulSet with matchExpressions, a DaemonSet and a Job from the sample's image
# (capture-objects.yaml), waits until their pods run, writes each object as `kubectl get -o json`
# prints it, then deletes what it created. Trimming: none (kubectl omits managedFields by
# default); see kube/testdata/SOURCES.md.
#   kube/testdata/workloads/capture.sh   (env KDBG_CLUSTER_DIR, default /tmp/kdbg-cluster)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${KDBG_CLUSTER_DIR:-/tmp/kdbg-cluster}
# shellcheck source=/dev/null
. "$DIR/env"
admin() { "$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
image=$(admin -n default get deploy hello-world -o jsonpath='{.spec.template.spec.containers[0].image}')
[[ -n $image ]] || { echo "capture: no deploy/hello-world: scripts/cluster samples first" >&2; exit 1; }
sed "s#IMAGE#$image#" "$HERE/capture-objects.yaml" | admin create -f - >/dev/null
trap 'sed "s#IMAGE#$image#" "$HERE/capture-objects.yaml" | admin delete --wait=false -f - >/dev/null 2>&1 || true' EXIT
admin -n default rollout status sts/ledger --timeout=120s >&2
admin -n default rollout status ds/node-exporter --timeout=120s >&2
admin -n default wait --for=jsonpath='{.status.ready}'=1 job/reindex --timeout=120s >&2
# Let the controllers write their last status (observedGeneration, ready counts).
sleep 3
rs=$(admin -n default get rs -l app=hello-world -o jsonpath='{.items[0].metadata.name}')
get() {  # resource file
  admin -n default get "$1" -o json >"$HERE/$2.tmp"
  mv "$HERE/$2.tmp" "$HERE/$2"
  echo "capture: $1 -> $2" >&2
}
get deploy/hello-world deployment-apps-v1-hello-world.json
get "rs/$rs" replicaset-apps-v1-hello-world.json
get sts/ledger statefulset-apps-v1-ledger-match-expressions.json
get ds/node-exporter daemonset-apps-v1-node-exporter.json
get job/reindex job-batch-v1-reindex-controller-uid.json
