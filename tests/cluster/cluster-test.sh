#!/usr/bin/env bash
# End-to-end checks of kdbg on the real cluster (scripts/cluster up + install + samples), run by
# ctest (label `cluster`, tests/cluster/CMakeLists.txt). Each check exits non-zero with a message
# naming what differed. Every kdbg run is bounded (--duration, --max-hits, timeout).
#
#   cluster-test.sh resolve   kdbg resolve of the sample pod on each node: the agent of that node
#                             answers, with the container's real host PID
#   cluster-test.sh trace     a trace of each sample pod as the allowed user: armed, one hit from a
#                             real request, ended with the target running and detached
#   cluster-test.sh denied    the denied user is refused by the controller's SubjectAccessReview;
#                             no Delve was started
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${KDBG_CLUSTER_DIR:-/tmp/kdbg-cluster}
[[ -f $DIR/env ]] || { echo "cluster-test: $DIR/env missing: scripts/cluster up first" >&2; exit 1; }
# shellcheck source=/dev/null
. "$DIR/env"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() { printf 'cluster-test: FAIL: %s\n' "$*" >&2; exit 1; }
admin() { "$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# "pod node ip" of each sample pod.
sample_pods() {
  admin -n default get pods -l app=hello-world \
    -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP}{"\n"}{end}'
}

# The host PID of a pod's container, as containerd of its node reports it.
host_pid() {  # node container_id
  ctr --address "$DIR/nodes/$1/containerd/containerd.sock" -n k8s.io tasks ls |
    awk -v id="$2" '$1 == id {print $2}'
}

check_two_nodes() {
  local nodes
  nodes=$(sample_pods | awk '{print $2}' | sort -u | tr '\n' ' ')
  [[ $nodes == "node-a node-b " ]] || fail "sample pods should run on node-a and node-b, they run on: $nodes"
}

cmd_resolve() {
  check_two_nodes
  local pod node ip
  while read -r pod node ip; do
    local out cid pid agent_node agent
    out=$(timeout 60 "$KDBG" resolve "pod/$pod" -o json 2>"$WORK/err") ||
      fail "kdbg resolve pod/$pod: $(cat "$WORK/err")"
    cid=$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}')
    pid=$(host_pid "$node" "${cid#containerd://}")
    [[ -n $pid ]] || fail "no task for $cid on $node"
    grep -q "\"node\": *\"$node\"" <<<"$out" || fail "resolve of $pod on $node named another node: $out"
    grep -q "\"host_pid\": *$pid\b" <<<"$out" || fail "resolve of $pod: host PID should be $pid: $out"
    agent=$(sed -n 's/.*"agent": *"\([^"]*\)".*/\1/p' <<<"$out")
    agent_node=$(admin -n kdbg-system get pod "$agent" -o jsonpath='{.spec.nodeName}' 2>/dev/null || true)
    [[ $agent_node == "$node" ]] || fail "resolve of $pod on $node answered by agent $agent on '$agent_node'"
    grep -q '"debuggable": *true' <<<"$out" || fail "pod/$pod not debuggable: $out"
    echo "cluster-test: resolve pod/$pod: node $node, agent $agent, host PID $pid"
  done < <(sample_pods)
}

cmd_trace() {
  check_two_nodes
  local pod node ip
  while read -r pod node ip; do
    timeout 90 "$KDBG" trace "pod/$pod" --init "$ROOT/examples/trace.dlv" --max-hits 1 \
      --duration 60s >"$WORK/out" 2>"$WORK/err" &
    local kpid=$! i
    for ((i = 0; i < 120; i++)); do
      grep -q 'armed' "$WORK/err" && break
      kill -0 $kpid 2>/dev/null || break
      sleep 0.5
    done
    grep -q 'armed' "$WORK/err" || { kill $kpid 2>/dev/null || true; fail "trace of pod/$pod never armed: $(cat "$WORK/err")"; }
    for ((i = 0; i < 20; i++)); do
      kill -0 $kpid 2>/dev/null || break
      curl -s -m 2 "http://$ip:8080/" >/dev/null || true
      sleep 0.5
    done
    local rc=0
    wait $kpid || rc=$?
    ((rc == 0)) || fail "kdbg trace pod/$pod exited $rc: $(cat "$WORK/err")"
    grep -q 'handleSlash' "$WORK/out" || fail "no hit of handleSlash for pod/$pod: $(cat "$WORK/out")"
    grep -q 'target running, detached cleanly' "$WORK/err" || fail "pod/$pod not released cleanly: $(cat "$WORK/err")"
    curl -sf -m 5 "http://$ip:8080/" >/dev/null || fail "pod/$pod does not answer after the trace"
    echo "cluster-test: trace pod/$pod on $node: hit and released"
  done < <(sample_pods)
}

cmd_denied() {
  local pod node ip dlv_before dlv_after rc=0
  read -r pod node ip < <(sample_pods)
  dlv_before=$(pgrep -c -x dlv || true)
  KUBECONFIG=$KUBECONFIG_DENIED timeout 60 "$KDBG" trace "pod/$pod" --init "$ROOT/examples/trace.dlv" \
    --max-hits 1 --duration 10s >"$WORK/out" 2>"$WORK/err" || rc=$?
  ((rc != 0)) || fail "the denied user could trace pod/$pod"
  grep -q 'could not reach the controller' "$WORK/err" && fail "the denied user did not reach the controller: $(cat "$WORK/err")"
  # The controller's SubjectAccessReview answer, as the real API server gave it.
  grep -q 'permission denied: user "bob@example.com" may not create debugsessions.kdbg.io' "$WORK/err" ||
    fail "denied user's error does not say why: $(cat "$WORK/err")"
  dlv_after=$(pgrep -c -x dlv || true)
  [[ $dlv_after == "$dlv_before" ]] || fail "a Delve started for the denied user ($dlv_before -> $dlv_after)"
  echo "cluster-test: denied user refused: $(tail -1 "$WORK/err")"
}

case ${1:-} in
  resolve) cmd_resolve ;;
  trace) cmd_trace ;;
  denied) cmd_denied ;;
  *) echo "usage: $0 resolve|trace|denied" >&2; exit 2 ;;
esac
