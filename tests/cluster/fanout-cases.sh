# Sessions over several pods on the real cluster (`kdbg trace deploy/hello-world`, replicas on
# node-a and node-b), sourced by tests/cluster/cluster-test.sh for the checks named fanout-*; uses
# its helpers (admin, sample_pods, wait_line, expect_released, restarts, audit_log, fail, BG, WORK).
#
#   fanout-trace  both replicas armed in one stream, hits from each pod's own requests carrying
#                 its pod, Ctrl-C: every part ends by the safe end on its node, summary per pod,
#                 both targets released (running, TracerPid 0, no Delve, not restarted), each part
#                 audited
#   fanout-ends   the other ends, each on a live two-node session: --duration, the total
#                 --max-hits reached (hits from both pods' requests), the total rate
#                 (--rate-limit-total: at most its worth shown, the rest counted), kdbg stop of the
#                 session from another CLI, lease expiry, the CLI SIGKILLed, the controller's pod
#                 deleted; after each, both targets released and each part's end audited with its
#                 reason (after the controller's pod is deleted, by each agent's log: the audit
#                 log lived in that pod's emptyDir)
#   fanout-pod-gone  one traced replica's pod deleted mid-session (as a scale-down or rollout
#                 does): its part ends with the target's exit and the stream says so on that
#                 pod's own ended line; the other part goes on (new hits) until Ctrl-C; the
#                 Deployment's replacement pod does not join; both parts audited

# Starts `kdbg trace deploy/hello-world ARGS...` in the background; waits until both parts armed.
fanout_start() {
  kdbg_bg "$WORK/fout" "$WORK/ferr" trace deploy/hello-world --init "$ROOT/examples/trace.dlv" --engine delve -o json "$@"
  KPID=$BGPID
  local i
  for ((i = 0; i < 120; i++)); do
    (($(grep -c '"type":"armed"' "$WORK/fout") >= 2)) && break
    kill -0 $KPID 2>/dev/null || break
    sleep 0.5
  done
  (($(grep -c '"type":"armed"' "$WORK/fout") >= 2)) ||
    fail "trace deploy/hello-world: not both parts armed: $(cat "$WORK/fout" "$WORK/ferr")"
  FSESSION=$(grep -m1 '"type":"armed"' "$WORK/fout" | sed -n 's/.*"session":"\([0-9a-f]*\)".*/\1/p')
  [[ -n $FSESSION ]] || fail "no session in the armed lines: $(head -3 "$WORK/fout")"
}

# Waits (bounded) for the CLI to exit; its status in FRC.
fanout_wait() {  # seconds
  local i
  for ((i = 0; i < $1 * 2; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  kill -0 $KPID 2>/dev/null && { kill -INT $KPID; fail "kdbg did not end within $1 s: $(tail -5 "$WORK/ferr")"; }
  FRC=0
  wait $KPID || FRC=$?
}

# The closing summary (the ended line without "pod").
fanout_summary() { grep '"type":"ended"' "$WORK/fout" | grep '"pods":\[' | tail -1 || true; }

# Both replicas released, with the restart counts taken before.
fanout_released() {  # "pod node ip restarts" lines
  local pod node ip before
  while read -r pod node ip before; do
    expect_released "$pod" "$node" "$ip" "$before"
  done <<<"$1"
}

fanout_pods_with_restarts() {
  local pod node ip
  while read -r pod node ip; do echo "$pod $node $ip $(restarts "$pod")"; done < <(sample_pods)
}

cmd_fanout_trace() {
  check_two_nodes
  local pods
  pods=$(fanout_pods_with_restarts)
  fanout_start --duration 120s
  local pod node ip before i
  while read -r pod node ip before; do
    for ((i = 0; i < 40; i++)); do
      (($(grep '"type":"hit"' "$WORK/fout" | grep -c "\"pod\":\"$pod\"") >= 2)) && break
      curl -s -m 2 "http://$ip:8080/" >/dev/null || true
      sleep 0.5
    done
    (($(grep '"type":"hit"' "$WORK/fout" | grep -c "\"pod\":\"$pod\"") >= 2)) ||
      fail "fewer than 2 hits of pod/$pod in the merged stream: $(tail -5 "$WORK/fout")"
  done <<<"$pods"
  kill -INT $KPID
  fanout_wait 60
  ((FRC == 0)) || fail "kdbg trace deploy/hello-world exited $FRC after Ctrl-C: $(tail -8 "$WORK/ferr")"
  local summary
  summary=$(fanout_summary)
  [[ -n $summary ]] || fail "no closing summary: $(tail -5 "$WORK/fout")"
  (($(grep -o '"outcome":"ended"' <<<"$summary" | wc -l) == 2)) || fail "summary: not 2 parts ended: $summary"
  grep -q '"target_traced":true' <<<"$summary" && fail "summary: a target still traced: $summary"
  fanout_released "$pods"
  local n=1
  while read -r pod node ip before; do
    expect_audited "$FSESSION-$n" "$pod" "CLIENT_STOP|STOP_REQUESTED"
    n=$((n + 1))
  done < <(sort <<<"$pods")
  echo "cluster-test: fanout-trace: deploy/hello-world on both nodes, $(grep -c '"type":"hit"' "$WORK/fout") hits, Ctrl-C, both released, both parts audited"
}

cmd_fanout_ends() {
  check_two_nodes
  local pods summary
  # --duration: every part ends on its own agent's clock.
  pods=$(fanout_pods_with_restarts)
  fanout_start --duration 8s
  fanout_wait 60
  ((FRC == 0)) || fail "--duration: exit $FRC: $(tail -5 "$WORK/ferr")"
  summary=$(fanout_summary)
  grep -q '"reason":"duration"' <<<"$summary" || fail "--duration: summary: $summary"
  fanout_released "$pods"
  fanout_parts_audited DURATION
  echo "cluster-test: fanout-ends: --duration: both parts ended, released, audited DURATION"

  # The total --max-hits: the controller counts hits over both pods, drops the rest and stops
  # every part through its agent.
  pods=$(fanout_pods_with_restarts)
  fanout_start --max-hits 3 --duration 120s
  local pod node ip before i
  for ((i = 0; i < 40; i++)); do
    kill -0 $KPID 2>/dev/null || break
    while read -r pod node ip before; do curl -s -m 2 "http://$ip:8080/" >/dev/null || true; done <<<"$pods"
    sleep 0.5
  done
  fanout_wait 60
  ((FRC == 0)) || fail "--max-hits 3: exit $FRC: $(tail -5 "$WORK/ferr")"
  summary=$(fanout_summary)
  grep -q '"reason":"max_hits"' <<<"$summary" || fail "--max-hits 3: summary: $summary"
  (($(grep -c '"type":"hit"' "$WORK/fout") == 3)) || fail "--max-hits 3: $(grep -c '"type":"hit"' "$WORK/fout") hits printed"
  fanout_released "$pods"
  fanout_parts_audited "STOP_REQUESTED|MAX_HITS"
  echo "cluster-test: fanout-ends: --max-hits 3 over both pods: 3 hits, both parts stopped, released, audited"

  # The total rate (--rate-limit-total 2): both pods' requests together exceed it; the stream
  # shows at most 2 a second (plus the first second's 2) and counts the rest, in notices on stderr
  # that add up to the summary's count; every request (and readiness probe) is shown or counted.
  pods=$(fanout_pods_with_restarts)
  fanout_start --rate-limit-total 2 --duration 120s
  local t0=$SECONDS sent=0
  for ((i = 0; i < 10; i++)); do
    while read -r pod node ip before; do
      curl -s -m 2 "http://$ip:8080/" >/dev/null && sent=$((sent + 1))
    done <<<"$pods"
    sleep 0.1
  done
  sleep 2
  kill -INT $KPID
  fanout_wait 60
  local took=$((SECONDS - t0 + 1))
  ((FRC == 0)) || fail "--rate-limit-total 2: exit $FRC: $(tail -5 "$WORK/ferr")"
  summary=$(fanout_summary)
  local shown over noticed
  shown=$(grep -c '"type":"hit"' "$WORK/fout" || true)
  over=$(sed -n 's/.*"hits_over_total_rate":\([0-9]*\).*"pods".*/\1/p' <<<"$summary")
  [[ -n $over ]] || fail "--rate-limit-total 2: no hits_over_total_rate in the summary: $summary"
  noticed=$(sed -n 's/^kdbg: total-rate-limited: \([0-9]*\) hits\{0,1\} not relayed.*/\1/p' "$WORK/ferr" | awk '{s += $1} END {print s + 0}')
  # Each pod's readiness probe (GET / every 2 s, tests/cluster/hello-world.yaml) is a hit too: up
  # to one a second over both pods besides the requests sent here.
  ((shown + over >= sent && shown + over <= sent + took + 2)) ||
    fail "--rate-limit-total 2: $shown shown + $over counted for $sent requests (and at most $((took + 2)) probes) in ${took} s: $summary"
  ((shown <= 2 * (took + 1))) || fail "--rate-limit-total 2: $shown hits shown in ${took} s"
  ((over > 0)) || fail "--rate-limit-total 2: nothing over the rate with $sent requests: $summary"
  ((noticed == over)) || fail "--rate-limit-total 2: notices say ${noticed:-0}, the summary $over: $(grep total-rate "$WORK/ferr")"
  fanout_released "$pods"
  fanout_parts_audited "CLIENT_STOP|STOP_REQUESTED"
  echo "cluster-test: fanout-ends: --rate-limit-total 2 over both pods: $sent requests, $shown shown in ${took} s, $over counted over the rate (notices agree), released, audited"

  # kdbg stop SESSION from another CLI: every part stopped.
  pods=$(fanout_pods_with_restarts)
  fanout_start --duration 120s
  timeout 60 "$KDBG" stop "$FSESSION" >"$WORK/stop" 2>&1 || fail "kdbg stop $FSESSION: $(cat "$WORK/stop")"
  grep -q 'pod/' "$WORK/stop" || fail "kdbg stop did not list the parts: $(cat "$WORK/stop")"
  fanout_wait 60
  summary=$(fanout_summary)
  (($(grep -o '"reason":"stop_requested"' <<<"$summary" | wc -l) >= 2)) || fail "kdbg stop: summary: $summary"
  fanout_released "$pods"
  fanout_parts_audited STOP_REQUESTED
  echo "cluster-test: fanout-ends: kdbg stop $FSESSION: both parts stopped, released, audited STOP_REQUESTED"

  # Lease expiry: each agent ends its part at the lease.
  pods=$(fanout_pods_with_restarts)
  fanout_start --lease 10s
  fanout_wait 60
  summary=$(fanout_summary)
  grep -q '"reason":"lease_expired"' <<<"$summary" || fail "lease: summary: $summary"
  fanout_released "$pods"
  fanout_parts_audited LEASE_EXPIRED
  echo "cluster-test: fanout-ends: lease expiry: both parts ended, released, audited LEASE_EXPIRED"

  # The CLI SIGKILLed: the controller sees its client gone and cancels every part.
  pods=$(fanout_pods_with_restarts)
  fanout_start --duration 120s
  kill -9 $KPID
  wait $KPID 2>/dev/null || true
  fanout_released "$pods"
  fanout_parts_audited CLIENT_GONE
  echo "cluster-test: fanout-ends: CLI SIGKILLed: both parts ended (CLIENT_GONE), released"

  # The controller's pod deleted: every agent loses its client and ends its part.
  local ctl
  ctl=$(admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-controller -o jsonpath='{.items[0].metadata.name}')
  pods=$(fanout_pods_with_restarts)
  fanout_start --duration 120s
  admin -n kdbg-system delete pod "$ctl" --wait=false >/dev/null
  fanout_wait 90
  fanout_released "$pods"
  # The audit log went with the controller's pod (its emptyDir): each agent's log records its
  # part's end, as a lost client's.
  fanout_parts_logged client_gone
  admin -n kdbg-system rollout status deploy/kdbg-controller --timeout=120s >/dev/null ||
    fail "the controller Deployment did not recover after deleting $ctl"
  echo "cluster-test: fanout-ends: controller pod $ctl deleted: both parts ended (agents' logs: client_gone), released"
}

# The index (1-based) of pod $1's part: parts are numbered in the order the CLI lists the pods
# (sorted by name).
fanout_part_of() { sample_pods | awk '{print $1}' | sort | grep -nx "$1" | cut -d: -f1; }

# Waits (bounded) until pod $1 has at least $2 hits in the merged stream, sending requests to $3.
fanout_hits_of() { grep '"type":"hit"' "$WORK/fout" | grep -c "\"pod\":\"$1\"" || true; }
fanout_await_hits() {  # pod count ip
  local i
  for ((i = 0; i < 40; i++)); do
    (($(fanout_hits_of "$1") >= $2)) && return 0
    curl -s -m 2 "http://$3:8080/" >/dev/null || true
    sleep 0.5
  done
  fail "pod/$1: fewer than $2 hits in the merged stream: $(tail -5 "$WORK/fout")"
}

cmd_fanout_pod_gone() {
  check_two_nodes
  local pods gone gnode gip gbefore keep knode kip kbefore cid pid gn kn
  pods=$(fanout_pods_with_restarts)
  read -r gone gnode gip gbefore < <(sed -n 1p <<<"$pods")
  read -r keep knode kip kbefore < <(sed -n 2p <<<"$pods")
  gn=$(fanout_part_of "$gone")
  kn=$(fanout_part_of "$keep")
  cid=$(admin -n default get pod "$gone" -o jsonpath='{.status.containerStatuses[0].containerID}')
  pid=$(host_pid "$gnode" "${cid#containerd://}")
  fanout_start --duration 120s
  fanout_await_hits "$keep" 1 "$kip"
  local t0=$SECONDS
  admin -n default delete pod "$gone" --wait=false >/dev/null
  # Its part ends with the target's exit, on its own line; the CLI goes on.
  local i line
  for ((i = 0; i < 60; i++)); do
    line=$(grep '"type":"ended"' "$WORK/fout" | grep "\"pod\":\"$gone\"" || true)
    [[ -n $line ]] && break
    kill -0 $KPID 2>/dev/null || break
    sleep 0.5
  done
  [[ -n $line ]] || fail "no ended line for pod/$gone within 30 s of deleting it: $(tail -5 "$WORK/fout") $(tail -5 "$WORK/ferr")"
  grep -q '"reason":"target_exited"' <<<"$line" || fail "pod/$gone's part did not end with its target's exit: $line"
  local took=$((SECONDS - t0))
  kill -0 $KPID 2>/dev/null || fail "the session ended with pod/$gone's part: $(tail -5 "$WORK/ferr")"
  pgrep -af "dlv.* attach $pid( |$)" && fail "a Delve for the deleted pod's PID $pid is left"
  # The other part goes on: new hits from pod/$keep after the deletion.
  local n
  n=$(fanout_hits_of "$keep")
  fanout_await_hits "$keep" $((n + 2)) "$kip"
  # The replacement pod comes up and does not join.
  admin -n default rollout status deploy/hello-world --timeout=120s >/dev/null ||
    fail "deploy/hello-world did not recover after deleting pod/$gone"
  wait_pod_gone "$gone"
  local new
  new=$(sample_pods | awk -v k="$keep" '$1 != k {print $1}')
  [[ -n $new ]] || fail "no replacement pod for pod/$gone"
  curl -s -m 2 "http://$(sample_pods | awk -v p="$new" '$1 == p {print $3}'):8080/" >/dev/null || true
  sleep 1
  grep -q "\"pod\":\"$new\"" "$WORK/fout" && fail "the replacement pod/$new joined the session: $(grep "$new" "$WORK/fout" | head -2)"
  kill -0 $KPID 2>/dev/null || fail "the session ended before Ctrl-C: $(tail -5 "$WORK/ferr")"
  kill -INT $KPID
  fanout_wait 60
  ((FRC == 0)) || fail "exit $FRC after Ctrl-C: $(tail -8 "$WORK/ferr")"
  local summary
  summary=$(fanout_summary)
  [[ -n $summary ]] || fail "no closing summary: $(tail -5 "$WORK/fout")"
  (($(grep -o '"outcome":"ended"' <<<"$summary" | wc -l) == 2)) || fail "summary: not 2 parts ended: $summary"
  grep -q '"reason":"target_exited"' <<<"$summary" || fail "summary: pod/$gone not target_exited: $summary"
  grep -q '"target_traced":true' <<<"$summary" && fail "summary: a target still traced: $summary"
  expect_released "$keep" "$knode" "$kip" "$kbefore"
  fanout_audited "$FSESSION-$gn" TARGET_EXITED
  expect_audited "$FSESSION-$kn" "$keep" "CLIENT_STOP|STOP_REQUESTED"
  check_two_nodes
  echo "cluster-test: fanout-pod-gone: pod/$gone deleted mid-session: its part ended (target_exited) ${took} s later on its own line; pod/$keep went on ($(fanout_hits_of "$keep") hits), the replacement pod/$new did not join; Ctrl-C: pod/$keep released; both parts audited"
}

# The audit trail has part $1's end with END_REASON_<$2> (without the pod's Events: the pod may
# be gone).
fanout_audited() {  # part-session reason
  local i
  for ((i = 0; i < 40; i++)); do
    audit_log | grep "\"session\":\"$1\"" | grep '"kind":"session-end"' | grep -qE "\"end_reason\":\"END_REASON_($2)\"" && return 0
    sleep 0.25
  done
  fail "no audit session-end with END_REASON_$2 for part $1: $(audit_log | grep "$1" | tail -2)"
}

# Every part of session $FSESSION (one per sample pod) audited with END_REASON_<$1>.
fanout_parts_audited() {  # reason
  local n
  for ((n = 1; n <= $(sample_pods | wc -l); n++)); do fanout_audited "$FSESSION-$n" "$1"; done
}

# Every part of session $FSESSION ended with reason $1 (lower case) by its node's agent's log.
fanout_parts_logged() {  # reason
  local n i agent node logs
  for ((n = 1; n <= $(sample_pods | wc -l); n++)); do
    for ((i = 0; i < 40; i++)); do
      logs=""
      for node in node-a node-b; do
        agent=$(admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-agent \
          --field-selector "spec.nodeName=$node" -o jsonpath='{.items[0].metadata.name}')
        logs+=$(admin -n kdbg-system logs "$agent" 2>/dev/null | grep 'session ended' | grep "$FSESSION-$n\b" || true)
      done
      grep -q "$1" <<<"$logs" && break
      sleep 0.25
    done
    grep -q "$1" <<<"$logs" || fail "no agent logged part $FSESSION-$n ended $1: $logs"
  done
}
