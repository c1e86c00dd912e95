#!/usr/bin/env bash
# End-to-end checks of kdbg on the real cluster (scripts/cluster up + install + samples), run by
# ctest (label `cluster`, tests/cluster/CMakeLists.txt). Each check exits non-zero with a message
# naming what differed. Every kdbg run is bounded (--duration, timeout, bounded loops), and every
# background CLI is ended with Ctrl-C on exit, pass or fail.
#
#   resolve    kdbg resolve of the sample pod on each node: the agent of that node answers, with
#              the container's real host PID
#   trace      a trace of each sample pod as the allowed user: hits streamed, Ctrl-C ends it, the
#              target released (running, TracerPid 0, no Delve), audit line and pod Events
#   attach     kdbg attach + a real `dlv connect` through the tunnel, on each node's pod; Delve on
#              a Unix socket: no TCP listener in the agent pod but its gRPC and health ports; dlv
#              leaves its breakpoint (`quit -c`): disabled while no client is connected (the CLI
#              says so, requests are not stopped), and Ctrl-C releases the target from there
#   sessions   kdbg sessions lists a trace, the denied user cannot stop it, kdbg stop ends it
#   denied     the denied user is refused by the controller's SubjectAccessReview; no Delve started
#   attach-rbac  under the policy's `attach: rbac` (helm upgrade): bob, bound to ClusterRole
#              kdbg-tracer, traces but is refused `kdbg attach` by the SubjectAccessReview of
#              debugsessions/attach (no Delve started); alice (kdbg-user) attaches
#   isolation  each node's agent resolves only its own node's pods (one machine, two kubelets)
#   faults     mid-trace: the CLI SIGKILLed, the agent's pod deleted, the controller's pod deleted,
#              the traced pod itself deleted
#   network-cut  mid-trace under request load: every packet between the controller's pod and the
#              traced pod's agent dropped (iptables in the agent pod's network namespace: no FIN, no
#              RST); keepalive ends the session and releases the target within ~20 s, the CLI is told
#   container-kill  mid-trace under request load: every process of the agent's container SIGKILLed
#              at once; Delve and the guardian live outside its cgroup, the guardian ends the session
#   rollout    mid-trace under request load: helm upgrade changes the agent's pod template
#   liveness   a breakpoint held by a remote dlv in a pod with a tight liveness probe: the agent
#              resumes it within the probe's budget, the pod is not restarted
#   readiness  an agent without its Delve is not ready; kdbg version and kdbg resolve say why
#   kubelet-restart  mid-trace under load: the target node's kubelet restarted (the session goes
#              on), then the controller node's (the CLI's port-forward is cut)
#   drain      mid-trace under load: the other node drained; the session goes on
#   attach-faults  kdbg attach with a dlv client connected, under load: the CLI SIGKILLed, the agent
#              pod deleted, the agent container SIGKILLed, the kubelet restarted, the controller
#              pod deleted
#   demo       scripts/demo --cluster, the README's demo, against this cluster
#   manifests  helm uninstall, kubectl apply of deploy/manifests unchanged, then resolve, trace
#              and isolation again
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${KDBG_CLUSTER_DIR:-/tmp/kdbg-cluster}
[[ -f $DIR/env ]] || { echo "cluster-test: $DIR/env missing: scripts/cluster up first" >&2; exit 1; }
# shellcheck source=/dev/null
. "$DIR/env"
WORK=$(mktemp -d)
BG=()  # background kdbg/dlv/load processes: ended (Ctrl-C first, so sessions end safely) on exit
ON_EXIT=()  # commands that put the cluster back as a check found it, run on exit (pass or fail)
cleanup() {
  local p c
  for c in "${ON_EXIT[@]}"; do eval "$c" || true; done
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
  [[ $nodes == "node-a node-b " ]] || {
    cluster_state >&2
    fail "sample pods should run on node-a and node-b, they run on: $nodes"
  }
}

# What a failed check needs to be understood from a CI log alone: the nodes, the sample
# Deployment's objects, recent Events, which cluster components still run, and the tails of the
# control plane's logs.
cluster_state() {
  local f
  echo "---- cluster state ($(date -u +%T))"
  admin get nodes -o wide 2>&1 || true
  admin -n default get deploy,rs,pods -o wide 2>&1 || true
  admin get events -A --sort-by=.lastTimestamp 2>&1 | tail -40 || true
  for f in "$DIR"/pids/*.pid; do
    [[ -e $f ]] || continue
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$(basename "$f" .pid): running"; else echo "$(basename "$f" .pid): STOPPED"; fi
  done
  for f in kube-controller-manager kube-scheduler kubelet-node-b; do
    [[ -f $DIR/logs/$f.log ]] || continue
    echo "---- last lines of $f.log"
    grep -v '^I' "$DIR/logs/$f.log" | tail -15
  done
  echo "---- end of cluster state"
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

# Starts `kdbg ARGS...` in the background, stdout to OUT and stderr to ERR, both emptied first by
# this shell: the redirection runs in the forked child, so a wait that reads OUT before the child
# truncates it would find the previous run's lines. Sets BGPID; the exit trap ends it (Ctrl-C).
kdbg_bg() {  # out err args...
  local out=$1 err=$2
  shift 2
  : >"$out"
  : >"$err"
  "$KDBG" "$@" >"$out" 2>"$err" &
  BGPID=$!
  BG+=($BGPID)
}

# `kdbg attach --headless` of pod $1 on a port the kernel picks (--listen 127.0.0.1:0: a port we
# chose could be taken by any socket, the kernel's ephemeral ones included), in the background.
# Waits for the CLI's "Delve is listening for you on 127.0.0.1:PORT" line, which it prints once the
# session serves. Sets APID (the CLI) and APORT; fails with the CLI's stderr if it never serves.
attach_headless() {  # pod
  local line='^Delve is listening for you on 127\.0\.0\.1:([0-9]+) '
  kdbg_bg "$WORK/attach.out" "$WORK/attach.err" attach "pod/$1" --headless --listen 127.0.0.1:0
  APID=$BGPID
  wait_line "$WORK/attach.out" "$line" $APID 60 ||
    fail "attach of pod/$1 never listened: $(cat "$WORK/attach.err")"
  APORT=$(sed -nE "s/$line.*/\\1/p" "$WORK/attach.out" | head -1)
}

# The TCP ports listening in the network namespace of host process $1, decimal, one per line: the
# LISTEN rows (st 0A) of /proc/PID/net/tcp and tcp6 ("  0: 00000000:1D13 00000000:0000 0A ...").
tcp_listen_ports() {  # host-pid
  local _ local_addr st
  while read -r _ local_addr _ st _; do
    if [[ $st == 0A ]]; then echo $((16#${local_addr##*:})); fi
  done < <(tail -q -n +2 "/proc/$1/net/tcp" "/proc/$1/net/tcp6") | sort -un | tr '\n' ' '
}

# Delve serves an attach session on a Unix socket, never on TCP (docs/delve-engine.md): in the
# agent pod's network namespace, which Delve shares, only the agent's gRPC and health ports
# listen, so a `kubectl port-forward` to the agent pod has nothing of Delve's to reach.
expect_no_delve_port() {  # pod node
  local cid pid agent apid dlvpid ports
  cid=$(admin -n default get pod "$1" -o jsonpath='{.status.containerStatuses[0].containerID}')
  pid=$(host_pid "$2" "${cid#containerd://}")
  dlvpid=$(pgrep -f "dlv.* attach $pid( |$)" | head -1)
  [[ -n $dlvpid ]] || fail "no Delve attached to pod/$1 (PID $pid) during its attach session"
  pgrep -af "dlv.* attach $pid( |$)" | grep -q -- "--listen=unix:/var/lib/kdbg-agent/delve/" ||
    fail "Delve of pod/$1 does not listen on the agent's Unix socket: $(pgrep -af "dlv.* attach $pid( |$)")"
  agent=$(agent_of "$2")
  apid=$(agent_host_pid "$2" "$agent")
  [[ $(readlink "/proc/$dlvpid/ns/net") == "$(readlink "/proc/$apid/ns/net")" ]] ||
    fail "Delve (PID $dlvpid) is not in agent $agent's network namespace"
  ports=$(tcp_listen_ports "$apid")
  [[ $ports == "7443 7444 " ]] ||
    fail "agent pod $agent listens on TCP ports $ports during an attach session, not only 7443 (gRPC) and 7444 (health)"
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

# Waits (60 s at most) until a deleted sample pod's object is gone: a pod deleted by a case stays
# listed by sample_pods while it terminates, after its replacement is Ready, and the next case
# could pick it (cluster.container-kill failed so in a CI run: "pods ... not found").
wait_pod_gone() {  # pod
  local i
  for ((i = 0; i < 120; i++)); do
    [[ -z $(admin -n default get pod "$1" --ignore-not-found -o name) ]] && return 0
    sleep 0.5
  done
  fail "pod/$1 was still listed 60 s after its deletion"
}

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
    audit_log | grep "\"session\":\"$1\"" | grep '"kind":"session-end"' | grep -E "\"end_reason\":\"END_REASON_($3)\"" >/dev/null && break
    sleep 0.25
  done
  audit_log | grep "\"session\":\"$1\"" | grep '"kind":"session-end"' | grep -E "\"end_reason\":\"END_REASON_($3)\"" >/dev/null ||
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
    local before
    before=$(restarts "$pod")
    kdbg_bg "$WORK/out" "$WORK/err" trace "pod/$pod" --init "$ROOT/examples/trace.dlv" --engine delve --duration 120s -o json
    local kpid=$BGPID i
    wait_line "$WORK/out" '"type":"armed"' $kpid 60 || { kill $kpid 2>/dev/null; fail "trace of pod/$pod never armed: $(cat "$WORK/err")"; }
    for ((i = 0; i < 40; i++)); do
      (($(grep -c '"type":"hit"' "$WORK/out") >= 2)) && break
      kill -0 $kpid 2>/dev/null || break
      curl -s -m 2 "http://$ip:8080/" >/dev/null || true
      sleep 0.5
    done
    (($(grep -c '"type":"hit"' "$WORK/out") >= 2)) || { kill $kpid 2>/dev/null; fail "fewer than 2 hits streamed for pod/$pod: $(cat "$WORK/out" "$WORK/err")"; }
    grep '"type":"hit"' "$WORK/out" | head -1 | grep '"function":"main.handleSlash"' >/dev/null ||
      fail "hit not in main.handleSlash: $(head -3 "$WORK/out")"
    # r.RemoteAddr: the host's address on this node's bridge, as the pod saw the request.
    grep '"type":"hit"' "$WORK/out" | head -1 | grep -E '"r.RemoteAddr":"\\"10\.244\.[0-9]+\.1:[0-9]+\\""' >/dev/null ||
      fail "hit does not print r.RemoteAddr of the host's request: $(grep -m1 '"type":"hit"' "$WORK/out")"
    kill -INT $kpid
    local rc=0
    for ((i = 0; i < 60; i++)); do kill -0 $kpid 2>/dev/null || break; sleep 0.5; done
    kill -0 $kpid 2>/dev/null && { kill -9 $kpid; fail "kdbg did not end within 30 s of Ctrl-C: $(cat "$WORK/err")"; }
    wait $kpid || rc=$?
    ((rc == 0)) || fail "kdbg trace pod/$pod exited $rc after Ctrl-C: $(cat "$WORK/err")"
    grep -q '"type":"ended"' "$WORK/out" || fail "no ended event: $(cat "$WORK/out")"
    grep '"type":"ended"' "$WORK/out" | grep '"target_alive":true' >/dev/null || fail "ended: target not alive: $(grep '"type":"ended"' "$WORK/out")"
    grep '"type":"ended"' "$WORK/out" | grep '"target_traced":false' >/dev/null || fail "ended: target still traced: $(grep '"type":"ended"' "$WORK/out")"
    expect_released "$pod" "$node" "$ip" "$before"
    local session
    session=$(session_of "$WORK/err")
    expect_audited "$session" "$pod" "CLIENT_STOP|STOP_REQUESTED"
    echo "cluster-test: trace pod/$pod on $node: $(grep -c '"type":"hit"' "$WORK/out") hits streamed, Ctrl-C, released (TracerPid 0), session $session audited"
  done < <(sample_pods)
}

cmd_denied() {
  local pod node ip rc=0 cid pid
  read -r pod node ip < <(sample_pods)
  cid=$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}')
  pid=$(host_pid "$node" "${cid#containerd://}")
  local audit_before
  audit_before=$(audit_log | wc -l)
  KUBECONFIG=$KUBECONFIG_DENIED timeout 60 "$KDBG" trace "pod/$pod" --init "$ROOT/examples/trace.dlv" --engine delve \
    --max-hits 1 --duration 10s >"$WORK/out" 2>"$WORK/err" || rc=$?
  ((rc != 0)) || fail "the denied user could trace pod/$pod"
  grep -q 'could not reach the controller' "$WORK/err" && fail "the denied user did not reach the controller: $(cat "$WORK/err")"
  # The controller's SubjectAccessReview answer, as the real API server gave it; the user name
  # came from the real TokenReview of bob's bearer token.
  grep -q 'permission denied: user "bob@example.com" may not create debugsessions.kdbg.io' "$WORK/err" ||
    fail "denied user's error does not say why: $(cat "$WORK/err")"
  # No Delve for the target, no session: the audit trail has the denial and nothing after it.
  pgrep -af "dlv.* attach $pid( |$)" && fail "a Delve attached to PID $pid for the denied user"
  audit_log | tail -n +$((audit_before + 1)) >"$WORK/audit"
  grep '"user":"bob@example.com"' "$WORK/audit" | grep '"decision":"denied"' >/dev/null ||
    fail "no audit line for bob's denial: $(cat "$WORK/audit")"
  grep -q '"kind":"session-end"' "$WORK/audit" && fail "a session ran for the denied user: $(cat "$WORK/audit")"
  [[ $(grep -c "\"pid\":$pid\b" "$WORK/audit") == 0 ]] || fail "the denial reached the agent (audit names PID $pid)"
  echo "cluster-test: denied user refused: $(tail -1 "$WORK/err")"
}

# The controller Deployment rolled out and alone: one Ready controller pod, none terminating (a
# port-forward to the Service may otherwise pick the old pod, which still runs the old policy).
controller_settled() {
  local i pods
  admin -n kdbg-system rollout status deploy/kdbg-controller --timeout=120s >/dev/null || return 1
  for ((i = 0; i < 120; i++)); do
    pods=$(admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-controller \
      -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.deletionTimestamp}{"\n"}{end}')
    [[ $(wc -l <<<"$pods") == 1 && $pods != *" "?* ]] && return 0
    sleep 0.5
  done
  echo "cluster-test: the controller did not settle within 60 s: $pods" >&2
  return 1
}

# Sets the policy's `attach` rule by a helm upgrade (the policy's checksum rolls the controller).
set_attach_policy() {  # allowed|rbac|denied
  "$HELM" --kubeconfig "$KUBECONFIG_ADMIN" upgrade kdbg "$ROOT/charts/kdbg" -n kdbg-system \
    --reuse-values --set "policy.attach=$1" >/dev/null && controller_settled
}

# A trace-only user under `attach: rbac`: bob, bound in `default` to the chart's ClusterRole
# kdbg-tracer (debugsessions without debugsessions/attach), traces a sample pod, and is refused
# `kdbg attach` by the real API server's answer for the subresource: no Delve for the pod, nothing
# left. alice (kdbg-user, which grants the subresource) attaches and lets go. The policy and the
# binding are put back on exit, pass or fail.
cmd_attach_rbac() {
  local pod node ip cid pid before rc=0 i
  read -r pod node ip < <(sample_pods)
  cid=$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}')
  pid=$(host_pid "$node" "${cid#containerd://}")
  before=$(restarts "$pod")
  ON_EXIT+=("admin -n default delete rolebinding kdbg-test-tracer --ignore-not-found >/dev/null")
  admin -n default create rolebinding kdbg-test-tracer --clusterrole=kdbg-tracer \
    --user=bob@example.com >/dev/null || fail "cannot bind bob to kdbg-tracer"
  ON_EXIT+=("set_attach_policy allowed || echo 'cluster-test: could not put policy.attach back to allowed' >&2")
  set_attach_policy rbac || fail "helm upgrade to policy.attach=rbac failed"
  admin -n kdbg-system get configmap kdbg-policy -o jsonpath='{.data.policy\.yaml}' | grep -qx 'attach: "rbac"' ||
    fail "the policy ConfigMap does not say attach: rbac"

  # bob traces (one hit: a request, or the kubelet's readiness probe).
  ( for ((i = 0; i < 20; i++)); do curl -s -m 2 -o /dev/null "http://$ip:8080/" || true; sleep 1; done ) &
  BG+=($!)
  KUBECONFIG=$KUBECONFIG_DENIED timeout 90 "$KDBG" trace "pod/$pod" --init "$ROOT/examples/trace.dlv" --engine delve \
    --max-hits 1 --duration 30s -o json >"$WORK/out" 2>"$WORK/err" || rc=$?
  ((rc == 0)) || fail "the trace-only user could not trace pod/$pod (exit $rc): $(cat "$WORK/err")"
  grep -q '"type":"hit"' "$WORK/out" || fail "bob's trace streamed no hit: $(cat "$WORK/out" "$WORK/err")"
  expect_released "$pod" "$node" "$ip" "$before"

  # bob may not attach: the controller's second SubjectAccessReview, as the API server answered it.
  rc=0
  KUBECONFIG=$KUBECONFIG_DENIED timeout 60 "$KDBG" attach "pod/$pod" --headless --listen 127.0.0.1:0 \
    >"$WORK/out" 2>"$WORK/err" || rc=$?
  ((rc != 0)) || fail "the trace-only user could attach to pod/$pod: $(cat "$WORK/out")"
  grep -q "user \"bob@example.com\" may not create debugsessions.kdbg.io/attach \"$pod\" in namespace \"default\"" "$WORK/err" ||
    fail "bob's refusal does not name the subresource: $(cat "$WORK/err")"
  grep -q '(attach: rbac)' "$WORK/err" || fail "bob's refusal does not name the policy rule: $(cat "$WORK/err")"
  grep -q 'Delve is listening' "$WORK/out" && fail "a Delve served bob: $(cat "$WORK/out")"
  pgrep -af "dlv.* attach $pid( |$)" && fail "a Delve attached to PID $pid for bob"

  # alice, bound to kdbg-user, attaches.
  attach_headless "$pod"
  kill -INT $APID
  for ((i = 0; i < 60; i++)); do kill -0 $APID 2>/dev/null || break; sleep 0.5; done
  kill -0 $APID 2>/dev/null && { kill -9 $APID; fail "kdbg attach did not end within 30 s of Ctrl-C"; }
  rc=0
  wait $APID || rc=$?
  ((rc == 0)) || fail "alice's kdbg attach pod/$pod exited $rc after Ctrl-C: $(cat "$WORK/attach.err")"
  grep -q 'detached cleanly' "$WORK/attach.err" || fail "alice's attach not released cleanly: $(cat "$WORK/attach.err")"
  expect_released "$pod" "$node" "$ip" "$before"
  echo "cluster-test: attach-rbac: bob (kdbg-tracer) traced pod/$pod and was refused attach: $(tail -1 "$WORK/err"); alice (kdbg-user) attached"
}

# kdbg attach of each sample pod as the allowed user: a Delve server tunnelled to a local port,
# driven by a real `dlv connect` (the newest bundled Delve as client): break in the handler, one
# real request, print who sent it, clear, quit leaving it running; Ctrl-C ends the attach.
cmd_attach() {
  check_two_nodes
  local dlv
  dlv=$("$ROOT/scripts/delve" paths | tail -1)
  [[ -x $dlv ]] || fail "no bundled Delve to connect with ($dlv): run scripts/delve"
  local pod node ip
  while read -r pod node ip; do
    local before i
    before=$(restarts "$pod")
    attach_headless "$pod"
    local apid=$APID port=$APORT
    expect_no_delve_port "$pod" "$node"
    # A request once the breakpoint is set (the kubelet's readiness probe, also from the host's
    # bridge address, may be the first to hit it: either is a real request through the pod).
    ( sleep 3; curl -s -m 20 -o /dev/null "http://$ip:8080/" ) &
    local cpid=$!
    BG+=($cpid)
    # dlv leaves with its breakpoint set (yes to "There are breakpoints set, do you wish to quit
    # and continue without clearing breakpoints?").
    printf 'break main.handleSlash\ncontinue\nprint r.RemoteAddr\nquit -c\ny\n' |
      timeout 60 "$dlv" connect "127.0.0.1:$port" >"$WORK/dlv.out" 2>&1 || fail "dlv connect through the tunnel to pod/$pod failed: $(cat "$WORK/dlv.out")"
    wait $cpid || true
    grep -qE '"10\.244\.[0-9]+\.1:[0-9]+"' "$WORK/dlv.out" || fail "dlv did not print r.RemoteAddr: $(cat "$WORK/dlv.out")"
    # With nobody connected the agent disables it: requests (and the kubelet's probes) are not
    # stopped there.
    wait_line "$WORK/attach.err" 'kdbg: breakpoints-disabled: .*1 at main\.handleSlash \(main\.go:10\)' $apid 20 ||
      fail "the breakpoint dlv left on pod/$pod was not disabled: $(cat "$WORK/attach.err")"
    for ((i = 0; i < 20; i++)); do
      curl -sf -m 2 -o /dev/null "http://$ip:8080/" || fail "request $i to pod/$pod with its breakpoint disabled took over 2 s or failed"
    done
    kill -INT $apid  # Ctrl-C
    for ((i = 0; i < 60; i++)); do kill -0 $apid 2>/dev/null || break; sleep 0.5; done
    local rc=0
    kill -0 $apid 2>/dev/null && { kill -9 $apid; fail "kdbg attach did not end within 30 s of Ctrl-C"; }
    wait $apid || rc=$?
    ((rc == 0)) || fail "kdbg attach pod/$pod exited $rc after Ctrl-C: $(cat "$WORK/attach.err")"
    grep -q 'detached cleanly' "$WORK/attach.err" || fail "attach of pod/$pod not released cleanly: $(cat "$WORK/attach.err")"
    expect_released "$pod" "$node" "$ip" "$before"
    local session
    session=$(session_of "$WORK/attach.err")
    expect_audited "$session" "$pod" "CLIENT_STOP|STOP_REQUESTED"
    echo "cluster-test: attach pod/$pod on $node: Delve on a Unix socket (agent pod TCP listeners: 7443 7444 only), dlv connect printed $(grep -oE '"10\.244\.[0-9]+\.1:[0-9]+"' "$WORK/dlv.out" | head -1), quit -c left its breakpoint: disabled, 20 requests served, Ctrl-C, released"
  done < <(sample_pods)
}

# `kdbg sessions` lists a running trace, `kdbg stop ID` from a second terminal ends it: the trace's
# CLI reports the stop, the target is released.
cmd_sessions() {
  local pod node ip before
  read -r pod node ip < <(sample_pods)
  before=$(restarts "$pod")
  kdbg_bg "$WORK/out" "$WORK/err" trace "pod/$pod" --init "$ROOT/examples/trace.dlv" --engine delve --duration 120s -o json
  local kpid=$BGPID i
  wait_line "$WORK/out" '"type":"armed"' $kpid 60 || fail "trace of pod/$pod never armed: $(cat "$WORK/err")"
  local session list
  session=$(session_of "$WORK/err")
  list=$(timeout 60 "$KDBG" sessions -o json) || fail "kdbg sessions failed"
  grep -q "$session" <<<"$list" || fail "kdbg sessions does not list $session: $list"
  grep "$session" <<<"$list" | grep "$pod" >/dev/null || fail "kdbg sessions: $session without its pod: $list"
  # The denied user sees no sessions to stop, and cannot stop alice's.
  if KUBECONFIG=$KUBECONFIG_DENIED timeout 60 "$KDBG" stop "$session" >"$WORK/stop.bob" 2>&1; then
    fail "the denied user stopped alice's session: $(cat "$WORK/stop.bob")"
  fi
  timeout 60 "$KDBG" stop "$session" >"$WORK/stop.out" 2>&1 || fail "kdbg stop $session: $(cat "$WORK/stop.out")"
  for ((i = 0; i < 60; i++)); do kill -0 $kpid 2>/dev/null || break; sleep 0.5; done
  kill -0 $kpid 2>/dev/null && fail "the trace did not end within 30 s of kdbg stop"
  wait $kpid || true
  grep '"type":"ended"' "$WORK/out" | grep -i 'stop' >/dev/null || fail "the trace did not report the stop: $(cat "$WORK/out")"
  expect_released "$pod" "$node" "$ip" "$before"
  expect_audited "$session" "$pod" STOP_REQUESTED
  list=$(timeout 60 "$KDBG" sessions -o json) || fail "kdbg sessions failed"
  grep -q "$session" <<<"$list" && fail "session $session still listed after kdbg stop: $list"
  echo "cluster-test: sessions listed $session, bob could not stop it, kdbg stop ended it, released"
}

# Per-node isolation on one machine: each agent resolves its own node's sample and refuses the
# other node's (the resolver scopes itself to its own kubelet's pod cgroups), as `kdbg-agent
# resolve` inside the agent's own pod shows; each agent keeps its state in its own directory.
cmd_isolation() {
  check_two_nodes
  local pod node ip agent other_cid own_cid other out
  while read -r pod node ip; do
    agent=$(admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-agent \
      --field-selector "spec.nodeName=$node" -o jsonpath='{.items[0].metadata.name}')
    [[ -n $agent ]] || fail "no agent on $node"
    own_cid=$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}')
    other=$(sample_pods | awk -v n="$node" '$2 != n {print $1; exit}')
    other_cid=$(admin -n default get pod "$other" -o jsonpath='{.status.containerStatuses[0].containerID}')
    out=$(admin -n kdbg-system exec "$agent" -- kdbg-agent resolve --container-id "$own_cid" \
      --host-root /host --node-name "$node" 2>&1) || fail "agent $agent on $node cannot resolve its own pod/$pod: $out"
    grep -q "node: below this node's pod cgroups /kdbg-$node/kubepods" <<<"$out" ||
      fail "agent $agent on $node: no node scope in the evidence: $out"
    if out=$(admin -n kdbg-system exec "$agent" -- kdbg-agent resolve --container-id "$other_cid" \
      --host-root /host --node-name "$node" 2>&1); then
      fail "agent $agent on $node resolved pod/$other of another node: $out"
    fi
    grep -q "is not on this node ($node): process [0-9]* is in cgroup /kdbg-node-[ab]/kubepods/.*outside this node's pod cgroups /kdbg-$node/kubepods" <<<"$out" ||
      fail "agent $agent on $node refused pod/$other without saying why: $out"
    [[ -f /var/lib/kdbg-agent/$node/recover.lock ]] || fail "agent on $node has no state in /var/lib/kdbg-agent/$node"
    echo "cluster-test: agent $agent on $node resolves pod/$pod, refuses pod/$other: $(head -1 <<<"${out#*: }")"
  done < <(sample_pods)
}

# Starts `kdbg trace` of pod $1 (JSON to $WORK/out, progress to $WORK/err) and waits until it is
# armed; sets KPID.
start_trace() {  # pod
  kdbg_bg "$WORK/out" "$WORK/err" trace "pod/$1" --init "$ROOT/examples/trace.dlv" --engine delve --duration 120s -o json
  KPID=$BGPID
  wait_line "$WORK/out" '"type":"armed"' $KPID 60 || fail "trace of pod/$1 never armed: $(cat "$WORK/err")"
}

# The fault paths that a real cluster drives differently from the sandbox, each on a live trace of
# a sample pod: the CLI killed (SIGKILL), the agent's pod deleted (the kubelet's SIGTERM, then a new
# agent from the DaemonSet), the controller's pod deleted (its Deployment makes another). After each
# the target is released: running, untraced, not restarted, answering.
cmd_faults() {
  check_two_nodes
  local pod node ip before session i agent ctl tpid t0 took
  read -r pod node ip < <(sample_pods)
  # Time to release (the fault to TracerPid 0 with no Delve left) for each fault below.
  tpid=$(host_pid "$node" "$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}' | sed 's|containerd://||')")

  # 1. kill -9 of the CLI: the agent sees its client gone and lets go.
  before=$(restarts "$pod")
  start_trace "$pod"
  session=$(session_of "$WORK/err")
  local forward
  forward=$(pgrep -P $KPID -f 'port-forward' || true)
  [[ -n $forward ]] || fail "no kubectl port-forward child of the CLI ($KPID)"
  t0=$(date +%s.%N)
  kill -9 $KPID
  took=$(wait_released "$tpid" x "$t0")
  wait $KPID 2>/dev/null || true
  # Its kubectl port-forward goes with it (PR_SET_PDEATHSIG), not left running.
  for ((i = 0; i < 20; i++)); do kill -0 "$forward" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$forward" 2>/dev/null && { kill "$forward"; fail "the SIGKILLed CLI left its kubectl port-forward ($forward) running"; }
  curl -s -m 2 -o /dev/null "http://$ip:8080/" || true
  expect_released "$pod" "$node" "$ip" "$before"
  expect_audited "$session" "$pod" CLIENT_GONE
  echo "cluster-test: faults: CLI SIGKILLed mid-trace: pod/$pod released in ${took} s, audited CLIENT_GONE"

  # 2. the agent's pod deleted mid-trace: SIGTERM from the kubelet, sessions ended safely within
  #    the grace period; the CLI is told; the DaemonSet's new agent serves the next session.
  agent=$(admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-agent \
    --field-selector "spec.nodeName=$node" -o jsonpath='{.items[0].metadata.name}')
  before=$(restarts "$pod")
  start_trace "$pod"
  session=$(session_of "$WORK/err")
  t0=$(date +%s.%N)
  admin -n kdbg-system delete pod "$agent" --wait=false >/dev/null
  took=$(wait_released "$tpid" x "$t0")
  for ((i = 0; i < 120; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  kill -0 $KPID 2>/dev/null && fail "the trace did not end within 60 s of deleting agent $agent: $(cat "$WORK/err")"
  wait $KPID || true
  grep '"type":"ended"' "$WORK/out" | grep -E 'AGENT_SHUTDOWN|agent' >/dev/null ||
    fail "the CLI was not told the agent shut down: $(tail -3 "$WORK/out") $(tail -3 "$WORK/err")"
  expect_released "$pod" "$node" "$ip" "$before"
  expect_audited "$session" "$pod" "AGENT_SHUTDOWN|CLIENT_GONE|ERROR"
  agents_settled || fail "the agent DaemonSet did not recover after deleting $agent"
  echo "cluster-test: faults: agent pod $agent deleted mid-trace: pod/$pod released in ${took} s, CLI told, audited $(audit_log | grep "\"session\":\"$session\"" | grep '"kind":"session-end"' | grep -o '"end_reason":"[A-Z_]*"' | tail -1)"

  # 3. the controller's pod deleted mid-trace: the agent loses its client and lets go (the audit
  #    log lived in that pod's emptyDir: gone with it, as values.yaml warns).
  ctl=$(admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-controller -o jsonpath='{.items[0].metadata.name}')
  before=$(restarts "$pod")
  start_trace "$pod"
  t0=$(date +%s.%N)
  admin -n kdbg-system delete pod "$ctl" --wait=false >/dev/null
  took=$(wait_released "$tpid" x "$t0")
  for ((i = 0; i < 120; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  kill -0 $KPID 2>/dev/null && fail "the trace did not end within 60 s of deleting controller $ctl: $(cat "$WORK/err")"
  wait $KPID || true
  expect_released "$pod" "$node" "$ip" "$before"
  admin -n kdbg-system rollout status deploy/kdbg-controller --timeout=120s >/dev/null ||
    fail "the controller Deployment did not recover after deleting $ctl"
  # The next session works through the new controller.
  start_trace "$pod"
  kill -INT $KPID
  for ((i = 0; i < 60; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  wait $KPID || fail "trace through the new controller failed: $(cat "$WORK/err")"
  expect_released "$pod" "$node" "$ip" "$before"
  echo "cluster-test: faults: controller pod $ctl deleted mid-trace: pod/$pod released in ${took} s; a new session works"

  # 4. the traced pod itself deleted (a rollout, a scale-down): the kubelet's SIGTERM reaches the
  #    target through the trace, it exits within its grace period (5 s), the session ends with the
  #    target's exit, no Delve is left, and the Deployment's replacement comes up.
  local cid pid t0
  cid=$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}')
  pid=$(host_pid "$node" "${cid#containerd://}")
  start_trace "$pod"
  t0=$SECONDS
  admin -n default delete pod "$pod" --wait=false >/dev/null
  for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && fail "the traced target (PID $pid) was still running 15 s after its pod was deleted: $(tail -3 "$WORK/err")"
  for ((i = 0; i < 60; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  kill -0 $KPID 2>/dev/null && fail "the trace did not end after its target's pod was deleted: $(cat "$WORK/err")"
  wait $KPID || true
  grep '"type":"ended"' "$WORK/out" | grep '"reason":"target_exited"' >/dev/null ||
    fail "the trace did not end with the target's exit: $(tail -2 "$WORK/out") $(tail -2 "$WORK/err")"
  pgrep -af "dlv.* attach $pid( |$)" && fail "a Delve for the deleted pod's PID $pid is left"
  admin -n default rollout status deploy/hello-world --timeout=120s >/dev/null ||
    fail "deploy/hello-world did not recover after deleting pod/$pod"
  wait_pod_gone "$pod"
  check_two_nodes
  echo "cluster-test: faults: traced pod/$pod deleted: target exited in $((SECONDS - t0)) s ($(grep -o '"message":"[^"]*"' "$WORK/out" | tail -1)), session ended, replacement ready"
}

# The agent pod of node $1, and its container's host PID.
agent_of() { admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-agent --field-selector "spec.nodeName=$1" -o jsonpath='{.items[0].metadata.name}'; }
agent_restarts() { admin -n kdbg-system get pod "$1" -o jsonpath='{.status.containerStatuses[0].restartCount}'; }
agent_host_pid() {  # node agent-pod
  local cid
  cid=$(admin -n kdbg-system get pod "$2" -o jsonpath='{.status.containerStatuses[0].containerID}')
  host_pid "$1" "${cid#containerd://}"
}

# Waits (at most 120 s) until the agent DaemonSet has settled: its current generation rolled out,
# and each node has exactly one agent pod, Ready and not being deleted. Returns 1, saying why on
# stderr, if it does not (no `fail`: restore steps run from the exit trap call it too).
# `kubectl rollout status ds/...` alone does not wait for that: the DaemonSet controller judges a
# node by its oldest agent pod (updateDaemonSetStatus, pkg/controller/daemon/daemon_controller.go,
# Kubernetes 1.36), a deleted pod stays Ready until its container stops (seconds, for an agent
# ending a session), and the replacement is created as soon as the old pod is being deleted. So a
# node whose old pod still terminates counts as updated and available while its new agent is not
# ready yet, and `agent_of` may name the old pod.
agents_settled() {
  local i why
  for ((i = 0; i < 240; i++)); do
    why=$({ admin -n kdbg-system get ds kdbg-agent -o json && admin -n kdbg-system get pods \
      -l app.kubernetes.io/name=kdbg-agent -o json; } | python3 -c '
import json, sys
text, dec, docs, at = sys.stdin.read(), json.JSONDecoder(), [], 0
while len(docs) < 2:
    while at < len(text) and text[at].isspace():
        at += 1
    doc, at = dec.raw_decode(text, at)
    docs.append(doc)
ds, pods = docs[0], docs[1]["items"]
st = ds.get("status", {})
want = st.get("desiredNumberScheduled", 0)
if want == 0:
    print("no agent pod scheduled")
elif ds["metadata"]["generation"] > st.get("observedGeneration", 0):
    print("generation %d not observed yet" % ds["metadata"]["generation"])
elif st.get("updatedNumberScheduled", 0) < want or st.get("numberAvailable", 0) < want:
    print("%d of %d updated, %d available" % (st.get("updatedNumberScheduled", 0), want, st.get("numberAvailable", 0)))
else:
    deleting = [p["metadata"]["name"] for p in pods if p["metadata"].get("deletionTimestamp")]
    unready = [p["metadata"]["name"] for p in pods if not any(
        c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))]
    nodes = {p["spec"].get("nodeName") for p in pods}
    if deleting:
        print("still terminating: " + " ".join(deleting))
    elif unready:
        print("not ready: " + " ".join(unready))
    elif len(pods) != want or len(nodes) != want:
        print("%d agent pods on %d nodes, %d wanted" % (len(pods), len(nodes), want))
') || why="cannot read the agent DaemonSet and its pods"
    [[ -z $why ]] && return 0
    sleep 0.5
  done
  echo "cluster-test: the agent pods did not settle within 120 s ($why): $(admin -n kdbg-system get pods -o wide)" >&2
  return 1
}

# A bounded request loop against a pod (at most $2 requests, 5 per second, each at most 5 s):
# one line per request, "epoch-seconds http-code time" in $WORK/load. Sets LOADPID.
start_load() {  # ip count
  : >"$WORK/load"
  (
    for ((n = 0; n < $2; n++)); do
      printf '%s %s\n' "$(date +%s.%N)" "$(curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' "http://$1:8080/")" >>"$WORK/load"
      sleep 0.2
    done
  ) &
  LOADPID=$!
  BG+=($LOADPID)
}
# Every request the loop sent after epoch $1 was answered (200 within its 5 s): the target kept
# serving through the fault. Prints how many.
expect_served_after() {  # epoch
  local total bad
  total=$(awk -v t="$1" '$1 >= t' "$WORK/load" | wc -l)
  bad=$(awk -v t="$1" '$1 >= t && $2 != 200' "$WORK/load")
  ((total > 0)) || fail "no request sent after the fault"
  [[ -z $bad ]] || fail "the target did not answer every request after the fault: $bad"
  echo "$total"
}

# Waits until the target is released: State not t, TracerPid 0, no Delve naming it; prints the
# seconds since epoch $3.
wait_released() {  # node-pid dummy epoch
  local i st
  for ((i = 0; i < 600; i++)); do
    st=$(awk '/^State:/ {s=$2} /^TracerPid:/ {t=$2} END {print s, t}' "/proc/$1/status")
    [[ $st == [RSD]" 0" ]] && ! pgrep -f "dlv.* attach $1( |$)" >/dev/null && break
    sleep 0.1
  done
  awk -v a="$3" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'
}

# Every packet between the controller's pod and the agent pod of the traced pod's node dropped, in
# the agent pod's own network namespace (`iptables -j DROP` both ways, through nsenter: no FIN, no
# RST reaches either end, as across a cut link or a lost node). Neither end hears anything; the
# agent's keepalive PINGs (common/grpc_limits.h: every 10 s, 10 s to answer) go unanswered, gRPC
# fails its call and the agent ends the session: the target, traced under a bounded request loop,
# is released within ~20 s (not at the lease's end), every request answered, no restart. The
# controller's own keepalive fails its side alike and the CLI ends with a word of it. The rules
# are removed on exit, pass or fail.
cut_rules() {  # -I|-D agent-host-pid ip...
  local op=$1 pid=$2 peer
  shift 2
  for peer in "$@"; do
    nsenter -t "$pid" -n iptables "$op" INPUT -s "$peer" -j DROP &&
      nsenter -t "$pid" -n iptables "$op" OUTPUT -d "$peer" -j DROP || return 1
  done
}
# The IPv4 addresses connected to the agent's gRPC port in its network namespace (the controller
# replicas that call it), from `ss` ("0 0 [::ffff:10.244.2.2]:7443 [::ffff:10.244.1.3]:39556").
agent_peers() {  # agent-host-pid
  nsenter -t "$1" -n ss -Htn state established '( sport = :7443 )' | awk '{print $4}' |
    sed -E 's/^\[(::ffff:)?//; s/\]?:[0-9]+$//' | sort -u
}
cmd_network_cut() {
  check_two_nodes
  local pod node ip before tpid agent apid ctl_ip t0 took served i
  read -r pod node ip < <(sample_pods)
  before=$(restarts "$pod")
  tpid=$(host_pid "$node" "$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}' | sed 's|containerd://||')")
  agent=$(agent_of "$node")
  apid=$(agent_host_pid "$node" "$agent")
  [[ -n $apid ]] || fail "no host PID for agent $agent"
  start_trace "$pod"
  local session
  session=$(session_of "$WORK/err")
  [[ -n $session ]] || fail "no session ID in the CLI's output: $(cat "$WORK/err")"
  start_load "$ip" 300
  # Past the first keepalive PING (10 s): the cut meets the steady state, not a fresh connection.
  sleep 12
  grep -q '"type":"hit"' "$WORK/out" || fail "no hit before the cut: $(cat "$WORK/out" "$WORK/err")"
  # The controller as the agent sees it: the peers of its gRPC port (a controller pod being
  # replaced may still be listed by the API, under another IP).
  ctl_ip=$(agent_peers "$apid" | tr '\n' ' ')
  [[ -n ${ctl_ip// /} ]] || fail "no connection to agent $agent's gRPC port during the trace"
  ON_EXIT+=("cut_rules -D $apid $ctl_ip 2>/dev/null")
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086  # one or more addresses
  cut_rules -I "$apid" $ctl_ip || fail "cannot cut the agent's link to $ctl_ip with iptables"
  took=$(wait_released "$tpid" x "$t0")
  [[ $(awk -v t="$took" 'BEGIN {print (t <= 35)}') == 1 ]] ||
    fail "pod/$pod not released within 35 s of the cut (${took} s): $(tail -3 "$WORK/err")"
  for ((i = 0; i < 120; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  kill -0 $KPID 2>/dev/null && fail "the trace did not end within 60 s of the release: $(cat "$WORK/err")"
  wait $KPID || true
  grep -E '"type":"(ended|error)"' "$WORK/out" >/dev/null || grep -q 'kdbg: error' "$WORK/err" ||
    fail "the CLI was not told the session ended: $(tail -3 "$WORK/out") $(tail -3 "$WORK/err")"
  local told
  told=$({ grep -E '"type":"(ended|error)"' "$WORK/out"; grep 'kdbg: error' "$WORK/err"; } | tail -1 | cut -c1-240)
  # shellcheck disable=SC2086
  cut_rules -D "$apid" $ctl_ip || fail "cannot remove the cut's iptables rules"
  kill "$LOADPID" 2>/dev/null || true
  wait "$LOADPID" 2>/dev/null || true
  served=$(expect_served_after "$t0")
  expect_released "$pod" "$node" "$ip" "$before"
  # This session's end, as the agent saw it: its client gone (not a stop asked for).
  admin -n kdbg-system logs "$agent" | grep '"msg":"session ended"' | grep "\"session\":\"$session\"" |
    grep -q '"reason":"client_gone"' ||
    fail "the agent's log does not end session $session for a lost client: $(admin -n kdbg-system logs "$agent" --tail=20)"
  # The next session works through the same agent once the link is back (the controller's
  # channel reconnects: a connect attempt begun during the cut gives up within 5 s).
  for ((i = 0; i < 30; i++)); do
    "$KDBG" resolve "pod/$pod" >/dev/null 2>"$WORK/resolve.err" && break
    sleep 1
  done
  ((i < 30)) || fail "the agent is not reachable 30 s after the link came back: $(cat "$WORK/resolve.err")"
  start_trace "$pod"
  kill -INT $KPID
  wait $KPID || true
  echo "cluster-test: network-cut: controller ($ctl_ip) <-> agent $agent link dropped mid-trace: pod/$pod released in ${took} s, $served requests after the cut all answered; the CLI was told: $told"
}

# Case 3 of the fault matrix: every process of the agent's container SIGKILLed at once (what the
# OOM killer's group kill or `runc kill --all` does) while a sample is traced under a bounded
# request loop. Delve and the guardian run outside the container's cgroup (<pod cgroup
# root>/kdbg-agent), so neither dies with it: the guardian sees the agent die and ends the session
# by the safe sequence. The target keeps answering every request, is not restarted, TracerPid 0, no
# Delve; the guardian's log records the session ended RECOVERED; the controller, whose stream from
# the agent broke, asks the restarted agent how it ended: the CLI's `ended` event and the audit
# trail say RECOVERED with the guardian's words; the container restarts.
cmd_container_kill() {
  check_two_nodes
  local pod node ip before agent agent_before apid cg tpid dlvpid session t0 served took
  read -r pod node ip < <(sample_pods)
  agent=$(agent_of "$node")
  agent_before=$(agent_restarts "$agent")
  before=$(restarts "$pod")
  start_trace "$pod"
  session=$(session_of "$WORK/err")
  tpid=$(host_pid "$node" "$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}' | sed 's|containerd://||')")
  dlvpid=$(pgrep -f "dlv.* attach $tpid( |$)" | head -1)
  [[ -n $dlvpid ]] || fail "no Delve attached to PID $tpid while tracing"
  apid=$(agent_host_pid "$node" "$agent")
  cg=$(awk -F: '$2 == "devices" {print $3}' "/proc/$apid/cgroup")
  [[ $cg == */kubepods/* ]] || fail "agent PID $apid is not in a pod cgroup: $cg"
  # The fix under test: Delve (and the guardian) are not in the agent container's cgroup.
  grep -qx "$dlvpid" "/sys/fs/cgroup/devices$cg/cgroup.procs" && fail "Delve $dlvpid is in the agent container's cgroup $cg"
  grep -q ":devices:/kdbg-$node/kubepods/kdbg-agent$" "/proc/$dlvpid/cgroup" ||
    fail "Delve $dlvpid is not in /kdbg-$node/kubepods/kdbg-agent: $(grep devices "/proc/$dlvpid/cgroup")"
  local guard
  guard=$(pgrep -f "kdbg-agent guard --parent $apid( |$)" | head -1)
  [[ -n $guard ]] || fail "no guardian for agent PID $apid"
  grep -qx "$guard" "/sys/fs/cgroup/devices$cg/cgroup.procs" && fail "the guardian $guard is in the agent container's cgroup"
  start_load "$ip" 300
  sleep 2
  local procs
  procs=$(cat "/sys/fs/cgroup/devices$cg/cgroup.procs" | tr '\n' ' ')
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  kill -9 $procs
  took=$(wait_released "$tpid" x "$t0")
  sleep 3  # requests keep flowing after the release
  kill "$LOADPID" 2>/dev/null || true
  wait "$LOADPID" 2>/dev/null || true
  served=$(expect_served_after "$t0")
  kill -0 "$dlvpid" 2>/dev/null && fail "Delve $dlvpid still runs after the container kill"
  for ((i = 0; i < 120; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  kill -0 $KPID 2>/dev/null && fail "the trace did not end within 60 s of the container kill: $(cat "$WORK/err")"
  wait $KPID || true
  expect_released "$pod" "$node" "$ip" "$before"
  grep "\"session\":\"$session\"" "/var/lib/kdbg-agent/$node/guard.log" | grep -q 'recovered a session' ||
    fail "the guardian's log has no recovery of session $session: $(tail -3 "/var/lib/kdbg-agent/$node/guard.log")"
  # The controller asked the restarted agent how the session ended: the CLI and the audit have the
  # guardian's end, not the broken stream.
  grep '"type":"ended"' "$WORK/out" | grep '"reason":"recovered"' | grep '"target_traced":false' |
    grep -q "the agent's guardian recovered Delve" ||
    fail "the CLI was not told the guardian ended the session: $(grep '"type":"ended"' "$WORK/out") $(tail -3 "$WORK/err")"
  expect_audited "$session" "$pod" RECOVERED
  admin -n kdbg-system wait --for=condition=Ready "pod/$agent" --timeout=120s >/dev/null ||
    fail "agent $agent not ready again after its container was killed"
  (($(agent_restarts "$agent") == agent_before + 1)) || fail "agent $agent's container did not restart once"
  echo "cluster-test: container-kill: every process of agent $agent's container SIGKILLed mid-trace: pod/$pod released in ${took} s, $served requests after the kill all answered, guardian recovered session $session, CLI and audit say RECOVERED"
}

# Case 2 of the fault matrix: a DaemonSet rollout mid-trace (`helm upgrade` changing the agent's
# pod template: an annotation), under a bounded request loop. The old agent gets the kubelet's
# SIGTERM and ends the session safely within its grace period; the CLI is told; the target keeps
# answering every request; the new agents are ready.
cmd_rollout() {
  check_two_nodes
  local pod node ip before session t0 took served tpid
  read -r pod node ip < <(sample_pods)
  before=$(restarts "$pod")
  tpid=$(host_pid "$node" "$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}' | sed 's|containerd://||')")
  start_trace "$pod"
  session=$(session_of "$WORK/err")
  start_load "$ip" 300
  sleep 2
  t0=$(date +%s.%N)
  "$HELM" --kubeconfig "$KUBECONFIG_ADMIN" upgrade kdbg "$ROOT/charts/kdbg" -n kdbg-system --reuse-values \
    --set-string "agent.podAnnotations.kdbg-test/rollout=$(date +%s)" >/dev/null || fail "helm upgrade failed"
  for ((i = 0; i < 120; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  kill -0 $KPID 2>/dev/null && fail "the trace did not end within 60 s of the rollout: $(cat "$WORK/err")"
  took=$(wait_released "$tpid" x "$t0")
  wait $KPID || true
  grep '"type":"ended"' "$WORK/out" | grep -E 'AGENT_SHUTDOWN|agent' >/dev/null ||
    fail "the CLI was not told the agent shut down: $(tail -3 "$WORK/out") $(tail -3 "$WORK/err")"
  agents_settled || fail "the agent rollout did not finish"
  kill "$LOADPID" 2>/dev/null || true
  wait "$LOADPID" 2>/dev/null || true
  served=$(expect_served_after "$t0")
  expect_released "$pod" "$node" "$ip" "$before"
  expect_audited "$session" "$pod" "AGENT_SHUTDOWN|CLIENT_GONE|ERROR"
  echo "cluster-test: rollout: helm upgrade of the agent's pod template mid-trace: pod/$pod released in ${took} s after the upgrade began, $served requests after it all answered"
}

# The liveness-probe budget (kube/probes.h): a pod of the sample image with a tight liveness probe
# (httpGet / every 2 s, timeout 1 s, failure threshold 2: the kubelet restarts it after a stop of
# 3 s; kdbg's default share, 50%, resumes a stop after 1.5 s). `kdbg resolve` shows the probe;
# `kdbg attach` says the budget; a remote `dlv connect` through the tunnel stops the target at a
# breakpoint in the probe's own handler and holds it 15 s; the agent resumes it (the CLI is told),
# the breakpoint's later stops are continued at once, the client's next command halts the target
# for it and finds its breakpoint kept. Under a bounded request loop every request is answered and
# the pod's restart count stays 0, also 10 s after the session.
cmd_liveness() {
  local dlv image pod=kdbg-liveness node=node-a ip port before i
  dlv=$("$ROOT/scripts/delve" paths | tail -1)
  [[ -x $dlv ]] || fail "no bundled Delve to connect with ($dlv): run scripts/delve"
  image=$(admin -n default get deploy hello-world -o jsonpath='{.spec.template.spec.containers[0].image}')
  admin -n default delete pod "$pod" --ignore-not-found --wait=true --timeout=60s >/dev/null
  # Gone on exit, pass or fail: a bare pod left behind would block the next check's `kubectl drain`
  # (c53: this check failed, then cluster.drain did on "cannot delete Pods that declare no
  # controller: default/kdbg-liveness").
  ON_EXIT+=("admin -n default delete pod $pod --ignore-not-found --wait=true --timeout=60s >/dev/null")
  admin apply -f - >/dev/null <<YAML || fail "cannot create pod/$pod"
apiVersion: v1
kind: Pod
metadata: {name: $pod, namespace: default, labels: {app: kdbg-liveness}}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 5
  containers:
    - name: hello-world
      image: $image
      imagePullPolicy: Never
      env: [{name: HELLO_ADDR, value: ":8080"}]
      ports: [{name: http, containerPort: 8080}]
      livenessProbe:
        httpGet: {path: /, port: http}
        periodSeconds: 2
        timeoutSeconds: 1
        failureThreshold: 2
YAML
  admin -n default wait --for=condition=Ready "pod/$pod" --timeout=120s >/dev/null || fail "pod/$pod not ready"
  ip=$(admin -n default get pod "$pod" -o jsonpath='{.status.podIP}')
  before=$(restarts "$pod")
  [[ $before == 0 ]] || fail "pod/$pod restarted before the test: $before"
  local out
  out=$(timeout 60 "$KDBG" resolve "pod/$pod" 2>&1) || fail "kdbg resolve pod/$pod: $out"
  grep -q 'liveness:   liveness probe httpGet :http/ every 2s, timeout 1s, failure threshold 2: the kubelet restarts the container after a stop of 3s; kdbg resumes a stop after 1.5s (50%)' <<<"$out" ||
    fail "kdbg resolve does not show the liveness budget: $out"

  attach_headless "$pod"
  local apid=$APID
  port=$APORT
  # (the controller's progress lines came as it set the session up, before the CLI served)
  wait_line "$WORK/attach.err" 'the kubelet restarts the container after a stop of 3s; kdbg resumes a stop after 1.5s' $apid 60 ||
    fail "kdbg attach did not show the liveness budget: $(cat "$WORK/attach.err")"
  start_load "$ip" 150
  local t0
  t0=$(date +%s.%N)
  # break, continue (the next request or probe stops there), then hold the stop for 15 s; then
  # list the breakpoints twice: the first command after the resume is answered by kdbg with why
  # (dlv prints "Command failed: kdbg: ..."; the agent halts the target for the client), the
  # second runs; clear and leave.
  { printf 'break main.handleSlash\ncontinue\n'; sleep 15; printf 'breakpoints\nbreakpoints\nclearall\nquit -c\n'; } |
    timeout 90 "$dlv" connect "127.0.0.1:$port" >"$WORK/dlv.out" 2>&1 || fail "dlv connect to pod/$pod failed: $(cat "$WORK/dlv.out")"
  grep -qE '> \[Breakpoint 1\] main\.handleSlash\(\)' "$WORK/dlv.out" || fail "dlv never stopped at the breakpoint: $(cat "$WORK/dlv.out")"
  # `breakpoints` after the hold: still set, and hit again while the client was away (each of those
  # stops continued at once by the agent): "Breakpoint 1 (enabled) at 0x... for main.handleSlash() ./main.go:8 (N)".
  local bphits
  bphits=$(sed -n 's/^Breakpoint 1 (enabled) at .*main\.handleSlash().* (\([0-9]*\))$/\1/p' "$WORK/dlv.out")
  [[ -n $bphits ]] || fail "the client's breakpoint was not kept: $(cat "$WORK/dlv.out")"
  ((bphits >= 3)) || fail "the breakpoint was hit only $bphits times while the client held/was away: $(cat "$WORK/dlv.out")"
  grep -q "Command failed: kdbg: pod default/$pod: the target was stopped for .*every breakpoint is kept" "$WORK/dlv.out" ||
    fail "the dlv client was not told why its stop was resumed: $(cat "$WORK/dlv.out")"
  grep -q 'stop-limit' "$WORK/attach.err" || fail "the CLI was not told of the resume: $(cat "$WORK/attach.err")"
  grep -q 'every breakpoint is kept' "$WORK/attach.err" || fail "the CLI was not told why: $(cat "$WORK/attach.err")"
  sleep 3
  kill "$LOADPID" 2>/dev/null || true
  wait "$LOADPID" 2>/dev/null || true
  local served
  served=$(expect_served_after "$t0")
  kill -INT $apid
  for ((i = 0; i < 60; i++)); do kill -0 $apid 2>/dev/null || break; sleep 0.5; done
  kill -0 $apid 2>/dev/null && { kill -9 $apid; fail "kdbg attach did not end within 30 s of Ctrl-C"; }
  wait $apid || fail "kdbg attach pod/$pod failed: $(cat "$WORK/attach.err")"
  expect_released "$pod" "$node" "$ip" "$before"
  local session
  session=$(session_of "$WORK/attach.err")
  expect_audited "$session" "$pod" "CLIENT_STOP|STOP_REQUESTED"
  sleep 10  # past three budgets: a probe failure count left behind would restart it now
  [[ $(restarts "$pod") == 0 ]] || fail "pod/$pod was restarted by its liveness probe: $(admin -n default describe pod "$pod" | tail -8)"
  admin -n default delete pod "$pod" --wait=false >/dev/null
  echo "cluster-test: liveness: a breakpoint held 15 s in pod/$pod (budget 3 s): resumed by the agent ($(grep -c 'stop-limit' "$WORK/attach.err") notice(s), the dlv client told by its next command), $served requests all answered, restart count 0, breakpoint kept and hit $bphits times"
}

# Agent readiness reflects whether it can debug: `helm upgrade` points the agents at a Delve that
# is not there; the DaemonSet replaces one agent (maxUnavailable 1), which stays not ready, so the
# rollout stops there. `kdbg version` names that agent pod and why it cannot debug, the other agent
# is listed as able; `kdbg resolve` of the sample on that node fails naming the agent and why. Then
# the chart's value is put back and every agent is ready again.
cmd_readiness() {
  check_two_nodes
  local orig broken=/usr/lib/kdbg/delve/v0.0.0/dlv bad="" bad_node="" i out pod node ip
  orig=$("$HELM" --kubeconfig "$KUBECONFIG_ADMIN" get values kdbg -n kdbg-system --all -o json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["agent"]["dlvPath"])') || fail "helm get values failed"
  [[ -n $orig ]] || fail "no agent.dlvPath in the release's values"
  restore_dlv() {
    "$HELM" --kubeconfig "$KUBECONFIG_ADMIN" upgrade kdbg "$ROOT/charts/kdbg" -n kdbg-system --reuse-values \
      --set-string "agent.dlvPath=${orig//,/\\,}" >/dev/null && agents_settled
  }
  ON_EXIT+=(restore_dlv)
  "$HELM" --kubeconfig "$KUBECONFIG_ADMIN" upgrade kdbg "$ROOT/charts/kdbg" -n kdbg-system --reuse-values \
    --set-string "agent.dlvPath=$broken" >/dev/null || fail "helm upgrade failed"
  for ((i = 0; i < 120; i++)); do
    read -r bad bad_node < <(admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-agent -o json |
      python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    args = p["spec"]["containers"][0].get("args", [])
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
    running = any("running" in s.get("state", {}) for s in p.get("status", {}).get("containerStatuses", []))
    if sys.argv[1] in args and running and not ready:
        print(p["metadata"]["name"], p["spec"]["nodeName"])
        break' "$broken") || true
    [[ -n $bad ]] && break
    sleep 1
  done
  [[ -n $bad ]] || fail "no agent pod with Delve at $broken came up running and not ready: $(admin -n kdbg-system get pods -o wide)"
  sleep 3  # the controller's watch sees the pod
  out=$(timeout 60 "$KDBG" version 2>&1) || fail "kdbg version failed: $out"
  grep -qF "on $bad_node (delve unknown) pod $bad: CANNOT DEBUG: Delve not found or not executable at $broken (--dlv)" <<<"$out" ||
    fail "kdbg version does not name agent $bad and why it cannot debug: $out"
  local able why
  why=$(grep -o 'CANNOT DEBUG: .*' <<<"$out" | head -1)
  able=$(grep '^kdbg-agent ' <<<"$out" | grep -vc 'CANNOT DEBUG' || true)
  ((able == 1)) || fail "kdbg version should list the other agent as able to debug: $out"
  read -r pod node ip < <(sample_pods | awk -v n="$bad_node" '$2 == n')
  if out=$(timeout 60 "$KDBG" resolve "pod/$pod" 2>&1); then fail "kdbg resolve of pod/$pod on $bad_node succeeded: $out"; fi
  grep -qF "agent $bad cannot debug: Delve not found or not executable at $broken (--dlv)" <<<"$out" ||
    fail "kdbg resolve does not name the agent that cannot debug and why: $out"
  restore_dlv || fail "could not put agent.dlvPath back to $orig"
  ON_EXIT=()
  out=$(timeout 60 "$KDBG" version 2>&1) || fail "kdbg version failed: $out"
  grep -q 'CANNOT DEBUG' <<<"$out" && fail "an agent still cannot debug after the fix: $out"
  out=$(timeout 60 "$KDBG" resolve "pod/$pod" 2>&1) ||
    fail "kdbg resolve pod/$pod failed after the fix: $out; agent pods: $(admin -n kdbg-system get pods -o wide)"
  echo "cluster-test: readiness: agent $bad on $bad_node without Delve: not ready, named by kdbg version and kdbg resolve ($why); fixed, ready again"
}

# The node of the controller's pod.
controller_node() {
  admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-controller -o jsonpath='{.items[0].spec.nodeName}'
}

# A session's target keeps serving through a fault that does not touch kdbg: the trace goes on
# (hits after the fault), then Ctrl-C ends it: released, not restarted, audited.
expect_trace_survives() {  # pod node ip restarts-before t0 what
  local n0 i
  n0=$(grep -c '"type":"hit"' "$WORK/out")
  for ((i = 0; i < 40; i++)); do
    (($(grep -c '"type":"hit"' "$WORK/out") > n0)) && break
    kill -0 $KPID 2>/dev/null || fail "the trace ended after $6: $(tail -3 "$WORK/out") $(tail -3 "$WORK/err")"
    sleep 0.5
  done
  (($(grep -c '"type":"hit"' "$WORK/out") > n0)) || fail "no hit streamed after $6: $(tail -3 "$WORK/err")"
  kill "$LOADPID" 2>/dev/null || true
  wait "$LOADPID" 2>/dev/null || true
  SERVED=$(expect_served_after "$5")
  local session
  session=$(session_of "$WORK/err")
  kill -INT $KPID
  for ((i = 0; i < 60; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  kill -0 $KPID 2>/dev/null && fail "kdbg did not end within 30 s of Ctrl-C after $6"
  wait $KPID || fail "kdbg trace failed after $6: $(tail -3 "$WORK/err")"
  expect_released "$1" "$2" "$3" "$4"
  expect_audited "$session" "$1" "CLIENT_STOP|STOP_REQUESTED"
}

# Case 5 of the fault matrix: a node's kubelet restarted mid-trace (as `systemctl restart kubelet`
# or a kubelet upgrade does; its pods keep running). (a) the kubelet of the traced pod's node,
# under a bounded request loop: the trace goes on, every request is answered; Ctrl-C ends it,
# released, not restarted, audited. (b) the kubelet of the controller's node, whose restart cuts
# the CLI's port-forward (it runs through that kubelet): the session ends (the controller sees its
# client gone), the target is released.
cmd_kubelet_restart() {
  check_two_nodes
  local pod node ip before t0 took tpid ctl_node
  ctl_node=$(controller_node)
  read -r pod node ip < <(sample_pods | awk -v n="$ctl_node" '$2 != n')
  [[ -n $pod ]] || fail "no sample pod outside the controller's node $ctl_node"
  before=$(restarts "$pod")
  start_trace "$pod"
  start_load "$ip" 300
  sleep 2
  t0=$(date +%s.%N)
  "$ROOT/scripts/cluster" restart-kubelet "$node" >"$WORK/restart.out" 2>&1 || fail "scripts/cluster restart-kubelet $node: $(tail -5 "$WORK/restart.out")"
  expect_trace_survives "$pod" "$node" "$ip" "$before" "$t0" "kubelet-$node restarted"
  echo "cluster-test: kubelet-restart: kubelet of $node restarted mid-trace of pod/$pod: the trace went on, $SERVED requests all answered, released after Ctrl-C"

  # (b) the controller's node: the CLI's port-forward goes through that kubelet.
  read -r pod node ip < <(sample_pods | awk -v n="$ctl_node" '$2 == n')
  before=$(restarts "$pod")
  tpid=$(host_pid "$node" "$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}' | sed 's|containerd://||')")
  start_trace "$pod"
  local session
  session=$(session_of "$WORK/err")
  start_load "$ip" 300
  sleep 2
  t0=$(date +%s.%N)
  "$ROOT/scripts/cluster" restart-kubelet "$ctl_node" >"$WORK/restart.out" 2>&1 || fail "scripts/cluster restart-kubelet $ctl_node: $(tail -5 "$WORK/restart.out")"
  sleep 5
  took=""
  if kill -0 $KPID 2>/dev/null; then
    # The port-forward survived the restart: the session is still there; end it by Ctrl-C.
    kill -INT $KPID
  fi
  for ((i = 0; i < 120; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  kill -0 $KPID 2>/dev/null && fail "the trace did not end within 60 s after kubelet-$ctl_node restarted: $(tail -3 "$WORK/err")"
  wait $KPID || true
  took=$(wait_released "$tpid" x "$t0")
  kill "$LOADPID" 2>/dev/null || true
  wait "$LOADPID" 2>/dev/null || true
  SERVED=$(expect_served_after "$t0")
  expect_released "$pod" "$node" "$ip" "$before"
  expect_audited "$session" "$pod" "CLIENT_GONE|CLIENT_STOP|STOP_REQUESTED"
  echo "cluster-test: kubelet-restart: kubelet of the controller's node $ctl_node restarted mid-trace of pod/$pod: session ended ($(audit_log | grep "\"session\":\"$session\"" | grep -o '"end_reason":"[A-Z_]*"' | tail -1)), released ${took} s after the restart, $SERVED requests all answered"
}

# Case 6 of the fault matrix: a node drained (`kubectl drain`, DaemonSets ignored) while a pod on
# another node is traced under a bounded request loop: the drained node's sample is evicted, the
# trace on the other node goes on, every request to it is answered; then the node is uncordoned
# and the Deployment spreads again. The controller's node is the one kept (draining it is case 4).
cmd_drain() {
  check_two_nodes
  local pod node ip before t0 ctl_node drained
  ctl_node=$(controller_node)
  read -r pod node ip < <(sample_pods | awk -v n="$ctl_node" '$2 == n')
  drained=$(sample_pods | awk -v n="$ctl_node" '$2 != n {print $2; exit}')
  [[ -n $pod && -n $drained ]] || fail "need a sample on the controller's node $ctl_node and one elsewhere"
  before=$(restarts "$pod")
  start_trace "$pod"
  start_load "$ip" 300
  sleep 2
  t0=$(date +%s.%N)
  ON_EXIT+=("admin uncordon $drained >/dev/null")
  admin drain "$drained" --ignore-daemonsets --delete-emptydir-data --timeout=120s >"$WORK/drain.out" 2>&1 ||
    fail "kubectl drain $drained failed: $(tail -5 "$WORK/drain.out")"
  [[ -z $(sample_pods | awk -v n="$drained" '$2 == n') ]] || fail "a sample pod is still on the drained node $drained"
  expect_trace_survives "$pod" "$node" "$ip" "$before" "$t0" "$drained was drained"
  admin uncordon "$drained" >/dev/null || fail "kubectl uncordon $drained failed"
  ON_EXIT=()
  admin -n default rollout status deploy/hello-world --timeout=120s >/dev/null || fail "deploy/hello-world did not recover after the drain"
  local i
  for ((i = 0; i < 60; i++)); do
    [[ $(sample_pods | awk '{print $2}' | sort -u | tr '\n' ' ') == "node-a node-b " ]] && break
    sleep 1
  done
  check_two_nodes
  echo "cluster-test: drain: $drained drained while pod/$pod on $node was traced: the trace went on, $SERVED requests all answered, released after Ctrl-C; uncordoned, samples spread again"
}

# `kdbg attach --headless` of pod $1 with a real `dlv connect` through the tunnel that sets a
# tracepoint in the handler and continues (the target runs, each request prints on the client) and
# stays connected for up to $2 seconds. Sets APID (the CLI), DPID (the dlv client), APORT.
start_attach_client() {  # pod seconds
  local i dlv
  dlv=$("$ROOT/scripts/delve" paths | tail -1)
  attach_headless "$1"
  : >"$WORK/dlv.out"  # not the previous case's: the wait below reads it
  { printf 'trace main.handleSlash\ncontinue\n'; sleep "$2"; } |
    timeout $(($2 + 30)) "$dlv" connect "127.0.0.1:$APORT" >"$WORK/dlv.out" 2>&1 &
  DPID=$!
  BG+=($DPID)
  for ((i = 0; i < 40; i++)); do
    grep -q '> goroutine(.*main\.handleSlash' "$WORK/dlv.out" && return 0
    curl -s -m 2 -o /dev/null "http://$(admin -n default get pod "$1" -o jsonpath='{.status.podIP}'):8080/" || true
    sleep 0.5
  done
  fail "the dlv client's tracepoint never printed a request: $(cat "$WORK/dlv.out")"
}

# Case 7 of the fault matrix: the faults during `kdbg attach` with a remote dlv client connected
# (tracing the handler, its continue pending), each under a bounded request loop: every request
# answered, then the target released (running, TracerPid 0, no Delve), not restarted, the session's
# end audited. (1) the CLI SIGKILLed; (2) the agent's pod deleted; (3) every process of the agent's
# container SIGKILLed; (4) the kubelet of the target's node restarted (the session goes on: the
# client keeps tracing, then Ctrl-C ends it); (5) the controller's pod deleted (last: its audit log
# goes with it).
cmd_attach_faults() {
  check_two_nodes
  local pod node ip before session t0 took served tpid agent cg procs i ctl_node t_served=""
  ctl_node=$(controller_node)
  read -r pod node ip < <(sample_pods | awk -v n="$ctl_node" '$2 != n')
  [[ -n $pod ]] || fail "no sample pod outside the controller's node $ctl_node"
  tpid=$(host_pid "$node" "$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}' | sed 's|containerd://||')")
  attach_fault_end() {  # what reasons
    # Time to release first (the fault at $t0 to TracerPid 0, no Delve): the CLI may end later
    # (after a container kill it waits for the restarted agent's answer).
    took=$(wait_released "$tpid" x "$t0")
    for ((i = 0; i < 120; i++)); do kill -0 $APID 2>/dev/null || break; sleep 0.5; done
    kill -0 $APID 2>/dev/null && fail "kdbg attach did not end within 60 s after $1: $(tail -3 "$WORK/attach.err")"
    wait $APID 2>/dev/null || true
    sleep 3  # requests keep flowing after the release
    kill "$LOADPID" 2>/dev/null || true
    wait "$LOADPID" 2>/dev/null || true
    served=$(expect_served_after "${t_served:-$t0}")
    t_served=""
    for ((i = 0; i < 60; i++)); do kill -0 $DPID 2>/dev/null || break; sleep 0.5; done
    kill $DPID 2>/dev/null || true
    expect_released "$pod" "$node" "$ip" "$before"
    [[ -z $2 ]] || expect_audited "$session" "$pod" "$2"
    echo "cluster-test: attach-faults: $1 with dlv connected: pod/$pod released in ${took} s, $served requests all answered$([[ -z $2 ]] || echo ", audited $(audit_log | grep "\"session\":\"$session\"" | grep '"kind":"session-end"' | grep -o '"end_reason":"[A-Z_]*"' | tail -1)")"
  }

  # (1) the CLI SIGKILLed.
  before=$(restarts "$pod")
  start_attach_client "$pod" 120
  session=$(session_of "$WORK/attach.err")
  start_load "$ip" 300
  sleep 2
  t0=$(date +%s.%N)
  kill -9 $APID
  attach_fault_end "the CLI SIGKILLed" CLIENT_GONE

  # (2) the agent's pod deleted.
  agent=$(agent_of "$node")
  start_attach_client "$pod" 120
  session=$(session_of "$WORK/attach.err")
  start_load "$ip" 300
  sleep 2
  t0=$(date +%s.%N)
  admin -n kdbg-system delete pod "$agent" --wait=false >/dev/null
  attach_fault_end "agent pod $agent deleted" "AGENT_SHUTDOWN|CLIENT_GONE|ERROR"
  agents_settled || fail "the agent DaemonSet did not recover"

  # (3) every process of the agent's container SIGKILLed (the OOM group kill).
  agent=$(agent_of "$node")
  admin -n kdbg-system wait --for=condition=Ready "pod/$agent" --timeout=120s >/dev/null || fail "agent $agent not ready"
  start_attach_client "$pod" 120
  session=$(session_of "$WORK/attach.err")
  cg=$(awk -F: '$2 == "devices" {print $3}' "/proc/$(agent_host_pid "$node" "$agent")/cgroup")
  start_load "$ip" 300
  sleep 2
  procs=$(tr '\n' ' ' <"/sys/fs/cgroup/devices$cg/cgroup.procs")
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  kill -9 $procs
  attach_fault_end "every process of agent $agent's container SIGKILLed" RECOVERED
  grep -q "kdbg: ended: the agent died; its guardian or restarted agent ended the session safely.*the agent's guardian recovered Delve" "$WORK/attach.err" ||
    fail "kdbg attach did not say the guardian ended the session: $(tail -3 "$WORK/attach.err")"
  grep "\"session\":\"$session\"" "/var/lib/kdbg-agent/$node/guard.log" | grep -q 'recovered a session' ||
    fail "the guardian did not recover attach session $session: $(tail -3 "/var/lib/kdbg-agent/$node/guard.log")"
  admin -n kdbg-system wait --for=condition=Ready "pod/$agent" --timeout=120s >/dev/null || fail "agent $agent not ready again"

  # (4) the kubelet of the target's node restarted: the session goes on.
  start_attach_client "$pod" 120
  session=$(session_of "$WORK/attach.err")
  start_load "$ip" 300
  sleep 2
  t0=$(date +%s.%N)
  t_served=$t0  # every request from the restart on must be answered
  "$ROOT/scripts/cluster" restart-kubelet "$node" >"$WORK/restart.out" 2>&1 || fail "restart-kubelet $node: $(tail -5 "$WORK/restart.out")"
  local n0
  n0=$(grep -c '> goroutine(.*main\.handleSlash' "$WORK/dlv.out")
  for ((i = 0; i < 40; i++)); do
    (($(grep -c '> goroutine(.*main\.handleSlash' "$WORK/dlv.out") > n0)) && break
    sleep 0.5
  done
  (($(grep -c '> goroutine(.*main\.handleSlash' "$WORK/dlv.out") > n0)) || fail "the dlv client traced nothing after kubelet-$node restarted: $(tail -3 "$WORK/dlv.out")"
  kill -0 $APID 2>/dev/null || fail "kdbg attach ended when kubelet-$node restarted: $(tail -3 "$WORK/attach.err")"
  t0=$(date +%s.%N)  # released counted from the Ctrl-C
  kill -INT $APID
  attach_fault_end "kubelet-$node restarted (session went on; released from the Ctrl-C)" "CLIENT_STOP|STOP_REQUESTED"

  # (5) the controller's pod deleted.
  local ctl
  ctl=$(admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-controller -o jsonpath='{.items[0].metadata.name}')
  start_attach_client "$pod" 120
  start_load "$ip" 300
  sleep 2
  t0=$(date +%s.%N)
  admin -n kdbg-system delete pod "$ctl" --wait=false >/dev/null
  attach_fault_end "controller pod $ctl deleted" ""
  admin -n kdbg-system rollout status deploy/kdbg-controller --timeout=120s >/dev/null || fail "the controller did not recover"
}

# The README's demo, run against this cluster (scripts/demo --cluster): it must end 0, show a
# trace hit, the resolve and the dlv session, and leave the cluster up as it found it.
cmd_demo() {
  check_two_nodes
  KDBG_DEMO_NO_BUILD=1 timeout 600 "$ROOT/scripts/demo" --cluster >"$WORK/demo.out" 2>&1 ||
    fail "scripts/demo --cluster failed: $(tail -30 "$WORK/demo.out")"
  grep -q 'handleSlash' "$WORK/demo.out" || fail "the demo showed no trace hit: $(cat "$WORK/demo.out")"
  grep -q 'debuggable: yes' "$WORK/demo.out" || fail "the demo's resolve did not show a debuggable target: $(cat "$WORK/demo.out")"
  grep -qE 'dlv> .*10\.244\.[0-9]+\.1:[0-9]+' "$WORK/demo.out" || fail "the demo's dlv session printed no r.RemoteAddr: $(cat "$WORK/demo.out")"
  "$ROOT/scripts/cluster" status >/dev/null 2>&1 || fail "the demo took down a cluster it did not bring up"
  echo "cluster-test: scripts/demo --cluster: trace, resolve and dlv connect shown, cluster left up"
}

# The second install path: helm uninstall, then `kubectl apply -f deploy/manifests/kdbg.yaml`
# unchanged (scripts/cluster install-manifests), and the product works through it.
cmd_manifests() {
  "$ROOT/scripts/cluster" uninstall || fail "scripts/cluster uninstall failed"
  "$ROOT/scripts/cluster" install-manifests || fail "scripts/cluster install-manifests failed"
  admin -n kdbg-system get ds kdbg-agent -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}' |
    grep -qx kubectl || fail "the agent DaemonSet is not the one kubectl applied"
  cmd_resolve
  cmd_trace
  cmd_isolation
}

case ${1:-} in
  resolve) cmd_resolve ;;
  trace) cmd_trace ;;
  attach) cmd_attach ;;
  sessions) cmd_sessions ;;
  denied) cmd_denied ;;
  attach-rbac) cmd_attach_rbac ;;
  isolation) cmd_isolation ;;
  faults) cmd_faults ;;
  network-cut) cmd_network_cut ;;
  container-kill) cmd_container_kill ;;
  rollout) cmd_rollout ;;
  liveness) cmd_liveness ;;
  readiness) cmd_readiness ;;
  kubelet-restart) cmd_kubelet_restart ;;
  drain) cmd_drain ;;
  attach-faults) cmd_attach_faults ;;
  demo) cmd_demo ;;
  manifests) cmd_manifests ;;
  fanout-*) . "$ROOT/tests/cluster/fanout-cases.sh"; "cmd_${1//-/_}" ;;  # sessions over several pods
  ebpf-*) . "$ROOT/tests/cluster/ebpf-cases.sh"; "cmd_${1//-/_}" ;;  # the eBPF engine (its own file)
  *) echo "usage: $0 resolve|trace|attach|sessions|denied|attach-rbac|isolation|faults|network-cut|container-kill|rollout|liveness|readiness|kubelet-restart|drain|attach-faults|demo|manifests|fanout-trace|fanout-ends|fanout-pod-gone|ebpf-trace|ebpf-off" >&2; exit 2 ;;
esac
