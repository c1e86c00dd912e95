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
BG=()  # background kdbg/dlv/load processes: ended (Ctrl-C first, so sessions end safely) on exit
cleanup() {
  local p
  for p in "${BG[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${BG[@]}"; do timeout 30 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

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

# Waits (bounded) until FILE has a line matching REGEX, while PID lives. 0 when seen.
wait_line() {  # file regex pid seconds
  local i
  for ((i = 0; i < $4 * 2; i++)); do
    grep -qE "$2" "$1" && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.5
  done
  grep -qE "$2" "$1"
}

# The checks every session end must pass, against the real process: it answers HTTP, is not
# stopped, no tracer (TracerPid 0), no Delve names its PID, the container did not restart.
expect_released() {  # pod node ip restarts-before
  local cid pid st i
  cid=$(admin -n default get pod "$1" -o jsonpath='{.status.containerStatuses[0].containerID}')
  pid=$(host_pid "$2" "${cid#containerd://}")
  [[ -n $pid ]] || fail "no task for pod/$1 on $2"
  for ((i = 0; i < 40; i++)); do
    st=$(awk '/^State:/ {s=$2} /^TracerPid:/ {t=$2} END {print s, t}' "/proc/$pid/status")
    [[ $st == [RSD]" 0" ]] && ! pgrep -f "dlv.* attach $pid( |$)" >/dev/null && break
    sleep 0.25
  done
  [[ $st == [RSD]" 0" ]] || fail "pod/$1 (PID $pid) not released: State/TracerPid $st"
  pgrep -af "dlv.* attach $pid( |$)" && fail "a Delve for PID $pid is left"
  curl -sf -m 5 "http://$3:8080/" >/dev/null || fail "pod/$1 does not answer after the session"
  [[ $(restarts "$1") == "$4" ]] || fail "pod/$1's container restarted during the session"
}
restarts() { admin -n default get pod "$1" -o jsonpath='{.status.containerStatuses[0].restartCount}'; }

# The session ID from the CLI's progress line "kdbg: agent NAME at ADDR, session ID".
session_of() { sed -n 's/.*, session \([0-9a-f]*\)$/\1/p' "$1" | head -1; }

# The controller's audit log, read where kubelet keeps the pod's emptyDir.
audit_log() {
  local uid
  uid=$(admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-controller \
    -o jsonpath='{.items[0].metadata.uid}')
  cat "$DIR"/nodes/*/kubelet/root/pods/"$uid"/volumes/kubernetes.io~empty-dir/audit/audit.log
}

# The audit trail has the session's end with END_REASON_<reason>, and the pod's Events say it began
# and ended (as the allowed user sees them with kubectl get events).
expect_audited() {  # session pod reason
  local i
  for ((i = 0; i < 40; i++)); do
    audit_log | grep "\"session\":\"$1\"" | grep '"kind":"session-end"' | grep -qE "\"end_reason\":\"END_REASON_($3)\"" && break
    sleep 0.25
  done
  audit_log | grep "\"session\":\"$1\"" | grep '"kind":"session-end"' | grep -qE "\"end_reason\":\"END_REASON_($3)\"" ||
    fail "no audit session-end line with END_REASON_$3 for session $1: $(audit_log | grep "$1" | tail -2)"
  local events
  for ((i = 0; i < 40; i++)); do
    events=$("$KUBECTL" -n default get events --field-selector "involvedObject.name=$2" \
      -o jsonpath='{range .items[*]}{.reason} {.message}{"\n"}{end}')
    grep -q "DebugSessionEnded.*$1" <<<"$events" && break
    sleep 0.25
  done
  grep -q "DebugSessionStarted.*$1" <<<"$events" || fail "no DebugSessionStarted Event for $1 on pod/$2: $events"
  grep -q "DebugSessionEnded.*$1" <<<"$events" || fail "no DebugSessionEnded Event for $1 on pod/$2: $events"
}

# A trace of each sample pod as the allowed user: hits from real requests streamed to the CLI on
# the host while the session runs, then Ctrl-C (SIGINT to the CLI) ends it: target running,
# untraced, the audit trail and the pod's Events record it.
cmd_trace() {
  check_two_nodes
  local pod node ip
  while read -r pod node ip; do
    : >"$WORK/out"
    local before
    before=$(restarts "$pod")
    "$KDBG" trace "pod/$pod" --init "$ROOT/examples/trace.dlv" --duration 120s -o json \
      >"$WORK/out" 2>"$WORK/err" &
    local kpid=$! i
    BG+=($kpid)
    wait_line "$WORK/out" '"type":"armed"' $kpid 60 || { kill $kpid 2>/dev/null; fail "trace of pod/$pod never armed: $(cat "$WORK/err")"; }
    for ((i = 0; i < 40; i++)); do
      (($(grep -c '"type":"hit"' "$WORK/out") >= 2)) && break
      kill -0 $kpid 2>/dev/null || break
      curl -s -m 2 "http://$ip:8080/" >/dev/null || true
      sleep 0.5
    done
    (($(grep -c '"type":"hit"' "$WORK/out") >= 2)) || { kill $kpid 2>/dev/null; fail "fewer than 2 hits streamed for pod/$pod: $(cat "$WORK/out" "$WORK/err")"; }
    grep '"type":"hit"' "$WORK/out" | head -1 | grep -q '"function":"main.handleSlash"' ||
      fail "hit not in main.handleSlash: $(head -3 "$WORK/out")"
    # r.RemoteAddr: the host's address on this node's bridge, as the pod saw the request.
    grep '"type":"hit"' "$WORK/out" | head -1 | grep -qE '"r.RemoteAddr":"\\"10\.244\.[0-9]+\.1:[0-9]+\\""' ||
      fail "hit does not print r.RemoteAddr of the host's request: $(grep -m1 '"type":"hit"' "$WORK/out")"
    kill -INT $kpid
    local rc=0
    for ((i = 0; i < 60; i++)); do kill -0 $kpid 2>/dev/null || break; sleep 0.5; done
    kill -0 $kpid 2>/dev/null && { kill -9 $kpid; fail "kdbg did not end within 30 s of Ctrl-C: $(cat "$WORK/err")"; }
    wait $kpid || rc=$?
    ((rc == 0)) || fail "kdbg trace pod/$pod exited $rc after Ctrl-C: $(cat "$WORK/err")"
    grep -q '"type":"ended"' "$WORK/out" || fail "no ended event: $(cat "$WORK/out")"
    grep '"type":"ended"' "$WORK/out" | grep -q '"target_alive":true' || fail "ended: target not alive: $(grep '"type":"ended"' "$WORK/out")"
    grep '"type":"ended"' "$WORK/out" | grep -q '"target_traced":false' || fail "ended: target still traced: $(grep '"type":"ended"' "$WORK/out")"
    expect_released "$pod" "$node" "$ip" "$before"
    local session
    session=$(session_of "$WORK/err")
    expect_audited "$session" "$pod" "CLIENT_STOP|STOP_REQUESTED"
    echo "cluster-test: trace pod/$pod on $node: $(grep -c '"type":"hit"' "$WORK/out") hits streamed, Ctrl-C, released (TracerPid 0), session $session audited"
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
