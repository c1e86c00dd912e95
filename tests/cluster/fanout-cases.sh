# Sessions over several pods on the real cluster (`kdbg trace deploy/hello-world`, replicas on
# node-a and node-b), sourced by tests/cluster/cluster-test.sh for the checks named fanout-*; uses
# its helpers (admin, sample_pods, wait_line, expect_released, restarts, audit_log, fail, BG, WORK).
#
#   fanout-trace  both replicas armed in one stream, hits from each pod's own requests carrying
#                 its pod, Ctrl-C: every part ends by the safe end on its node, summary per pod,
#                 both targets released (running, TracerPid 0, no Delve, not restarted), each part
#                 audited
#   fanout-ends   the other ends, each on a live two-node session: --duration, kdbg stop of the
#                 session from another CLI, lease expiry, the CLI SIGKILLed, the controller's pod
#                 deleted; after each, both targets released

# Starts `kdbg trace deploy/hello-world ARGS...` in the background; waits until both parts armed.
fanout_start() {
  : >"$WORK/fout"
  "$KDBG" trace deploy/hello-world --init "$ROOT/examples/trace.dlv" -o json "$@" \
    >"$WORK/fout" 2>"$WORK/ferr" &
  KPID=$!
  BG+=($KPID)
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
  echo "cluster-test: fanout-ends: --duration: both parts ended, released"

  # kdbg stop SESSION from another CLI: every part stopped.
  pods=$(fanout_pods_with_restarts)
  fanout_start --duration 120s
  timeout 60 "$KDBG" stop "$FSESSION" >"$WORK/stop" 2>&1 || fail "kdbg stop $FSESSION: $(cat "$WORK/stop")"
  grep -q 'pod/' "$WORK/stop" || fail "kdbg stop did not list the parts: $(cat "$WORK/stop")"
  fanout_wait 60
  summary=$(fanout_summary)
  (($(grep -o '"reason":"stop_requested"' <<<"$summary" | wc -l) >= 2)) || fail "kdbg stop: summary: $summary"
  fanout_released "$pods"
  echo "cluster-test: fanout-ends: kdbg stop $FSESSION: both parts stopped, released"

  # Lease expiry: each agent ends its part at the lease.
  pods=$(fanout_pods_with_restarts)
  fanout_start --lease 10s
  fanout_wait 60
  summary=$(fanout_summary)
  grep -q '"reason":"lease_expired"' <<<"$summary" || fail "lease: summary: $summary"
  fanout_released "$pods"
  echo "cluster-test: fanout-ends: lease expiry: both parts ended, released"

  # The CLI SIGKILLed: the controller sees its client gone and cancels every part.
  pods=$(fanout_pods_with_restarts)
  fanout_start --duration 120s
  kill -9 $KPID
  wait $KPID 2>/dev/null || true
  fanout_released "$pods"
  local n=1 pod node ip before
  while read -r pod node ip before; do
    expect_audited "$FSESSION-$n" "$pod" "CLIENT_GONE"
    n=$((n + 1))
  done < <(sort <<<"$pods")
  echo "cluster-test: fanout-ends: CLI SIGKILLed: both parts ended (CLIENT_GONE), released"

  # The controller's pod deleted: every agent loses its client and ends its part.
  local ctl
  ctl=$(admin -n kdbg-system get pods -l app.kubernetes.io/name=kdbg-controller -o jsonpath='{.items[0].metadata.name}')
  pods=$(fanout_pods_with_restarts)
  fanout_start --duration 120s
  admin -n kdbg-system delete pod "$ctl" --wait=false >/dev/null
  fanout_wait 90
  fanout_released "$pods"
  admin -n kdbg-system rollout status deploy/kdbg-controller --timeout=120s >/dev/null ||
    fail "the controller Deployment did not recover after deleting $ctl"
  echo "cluster-test: fanout-ends: controller pod $ctl deleted: both parts ended, released"
}
