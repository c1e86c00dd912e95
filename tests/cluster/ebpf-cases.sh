# The non-stopping eBPF engine on the real cluster, sourced by tests/cluster/cluster-test.sh for the
# checks named ebpf-*; uses its helpers (admin, sample_pods, wait_line, expect_released, restarts,
# expect_audited, agent_of, agent_host_pid, start_load, expect_served_after, host_pid, fail, BG,
# WORK).
#
#   ebpf-off    the chart with agent.ebpf=false: version, --engine ebpf and auto say why (below)
#   ebpf-trace  every agent says the eBPF engine is available (`kdbg version`); a sample pod traced
#               with `--engine ebpf` (function entry, r.RemoteAddr and r.Method printed) under a
#               bounded request loop: the engine is eBPF, the values are the host's requests, the
#               target is never ptraced (TracerPid sampled every 0.1 s: 0 throughout) and the
#               kernel shows the uprobe (`bpftool perf show`: the agent's perf event on
#               /proc/PID/exe, int3 at the probed address in the target's memory); then the agent's
#               pod deleted and at once every process of its container SIGKILLed mid-trace: the
#               kernel removes the uprobe (no perf event left, the original byte back), the target
#               keeps answering every request, its restart count is unchanged, the CLI ends, the
#               controller audits the session's end; the replacement agent is ready and says
#               eBPF is available.

# The perf events carrying a uprobe on /proc/$1/exe, one "pid fd offset" line each (bpftool perf
# show -j: [{"pid":4242,"fd":12,"prog_id":57,"fd_type":"uprobe","filename":"/proc/77/exe",
# "offset":1234}, ...]; the filename is the path the agent attached through).
# A failing or missing bpftool fails the check with its own words (scripts/deps installs it).
ebpf_uprobes_on() {  # target-pid
  local json
  command -v bpftool >/dev/null || fail "bpftool is not installed (scripts/deps installs Debian's bpftool)"
  json=$(bpftool -j perf show 2>"$WORK/bpftool.err") || fail "bpftool perf show failed: $(cat "$WORK/bpftool.err")"
  [[ -n $json ]] || fail "bpftool perf show printed nothing: $(cat "$WORK/bpftool.err")"
  python3 -c '
import json, sys
want = "/proc/%s/exe" % sys.argv[1]
for e in json.loads(sys.argv[2]) or []:
    if e.get("fd_type") == "uprobe" and e.get("filename") == want:
        print(e["pid"], e["fd"], e["offset"])
' "$1" "$json"
}

# The byte at file offset $2 of $1's executable, read from the process's memory (its r-xp mapping
# of that file), as two hex digits: cc while a uprobe sits there.
ebpf_code_byte() {  # target-pid file-offset
  local addr
  addr=$(python3 - "$1" "$2" <<'EOF'
import os, sys
pid, off = sys.argv[1], int(sys.argv[2])
exe = os.readlink("/proc/%s/exe" % pid)
for line in open("/proc/%s/maps" % pid):
    f = line.split()
    if len(f) < 6 or "x" not in f[1] or f[5] != exe:
        continue
    start, end = (int(x, 16) for x in f[0].split("-"))
    moff = int(f[2], 16)
    if moff <= off < moff + (end - start):
        print(start + off - moff)
        break
EOF
)
  [[ -n $addr ]] || fail "file offset $2 is not in an executable mapping of PID $1"
  dd if="/proc/$1/mem" bs=1 count=1 skip="$addr" iflag=skip_bytes status=none | od -An -tx1 | tr -d ' \n'
}

# What the kernel still has, for a failure message: BPF links, perf events with a program, and
# the processes holding a perf event or BPF link descriptor.
ebpf_kernel_state() {
  echo "bpftool link show:"; bpftool link show 2>&1 | head -20
  echo "bpftool perf show:"; bpftool perf show 2>&1 | head -20
  echo "holders:"
  local f
  for f in /proc/[0-9]*/fd/*; do
    case $(readlink "$f" 2>/dev/null) in
      *perf_event* | *bpf-link* | *bpf_link*) echo "$f -> $(readlink "$f") ($(tr '\0' ' ' <"${f%/fd/*}/cmdline" 2>/dev/null | cut -c1-80))" ;;
    esac
  done 2>/dev/null | head -20
}

# Every agent answers `kdbg version` without an "eBPF engine unavailable" note.
ebpf_expect_available() {
  local v
  v=$(timeout 60 "$KDBG" version 2>&1) || fail "kdbg version: $v"
  (($(grep -c '^kdbg-agent ' <<<"$v") >= 2)) || fail "kdbg version lists fewer than 2 agents: $v"
  grep -q 'eBPF engine unavailable' <<<"$v" && fail "an agent says the eBPF engine cannot run: $v"
  return 0
}

cmd_ebpf_trace() {
  check_two_nodes
  ebpf_expect_available
  local pod node ip before agent apid cg tpid session t0 served i
  read -r pod node ip < <(sample_pods)
  agent=$(agent_of "$node")
  before=$(restarts "$pod")
  tpid=$(host_pid "$node" "$(admin -n default get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}' | sed 's|containerd://||')")
  [[ -n $tpid ]] || fail "no host PID for pod/$pod"
  printf 'trace handleSlash main.handleSlash\non handleSlash print r.RemoteAddr\non handleSlash print r.Method\n' >"$WORK/ebpf.dlv"
  kdbg_bg "$WORK/out" "$WORK/err" trace "pod/$pod" --init "$WORK/ebpf.dlv" --engine ebpf --duration 120s -o json
  KPID=$BGPID
  wait_line "$WORK/out" '"type":"armed"' $KPID 60 || fail "--engine ebpf never armed on pod/$pod: $(cat "$WORK/err")"
  session=$(session_of "$WORK/err")
  grep -q '"engine":"ebpf"' "$WORK/out" || fail "the armed event does not name the eBPF engine: $(grep '"type":"armed"' "$WORK/out")"
  # TracerPid of the target every 0.1 s until told to stop: any non-zero value is written down.
  : >"$WORK/tracer"
  ON_EXIT+=("touch '$WORK/tracer.stop'")  # a failing check still ends the loop at once
  (
    for ((n = 0; n < 1800; n++)); do  # at most ~3 min
      [[ -e $WORK/tracer.stop ]] && break
      awk '/^TracerPid:/ && $2 != 0 {print $2}' "/proc/$tpid/status" >>"$WORK/tracer" 2>/dev/null || true
      sleep 0.1
    done
  ) &
  local tracer_loop=$!
  BG+=($tracer_loop)
  start_load "$ip" 200
  for ((i = 0; i < 40; i++)); do
    (($(grep -c '"type":"hit"' "$WORK/out") >= 5)) && break
    kill -0 $KPID 2>/dev/null || break
    sleep 0.5
  done
  (($(grep -c '"type":"hit"' "$WORK/out") >= 5)) || fail "fewer than 5 hits streamed on eBPF: $(tail -5 "$WORK/out") $(tail -5 "$WORK/err")"
  local hit
  hit=$(grep -m1 '"type":"hit"' "$WORK/out")
  grep -q '"function":"main.handleSlash"' <<<"$hit" || fail "hit not in main.handleSlash: $hit"
  grep -qE '"r.RemoteAddr":"\\"10\.244\.[0-9]+\.1:[0-9]+\\""' <<<"$hit" || fail "hit does not print r.RemoteAddr of the host's request: $hit"
  grep -q '"r.Method":"\\"GET\\""' <<<"$hit" || fail "hit does not print r.Method \"GET\": $hit"
  # Every parameter, as the Delve engine lists and prints them (w through its itab symbol).
  grep -qE '"args":\{"w":"net/http\.ResponseWriter\(\(\*net/http\.response\)\(0x[0-9a-f]+\)\)","r":"\(\*net/http\.Request\)\(0x[0-9a-f]+\)"\}' <<<"$hit" ||
    fail "hit's args are not w and r as the Delve engine prints them: $hit"
  # The kernel's view: the agent holds a uprobe perf event on the target, and the target's code
  # has the int3 at that offset.
  local probes off apid_probe
  probes=$(ebpf_uprobes_on "$tpid")
  [[ -n $probes ]] || fail "bpftool perf show lists no uprobe on /proc/$tpid/exe while tracing"
  read -r apid_probe _ off <<<"$(head -1 <<<"$probes")"
  apid=$(agent_host_pid "$node" "$agent")
  [[ $apid_probe == "$apid" ]] || fail "the uprobe on /proc/$tpid/exe is held by PID $apid_probe, not the agent ($apid)"
  [[ $(ebpf_code_byte "$tpid" "$off") == cc ]] || fail "no int3 at file offset $off of PID $tpid while traced"
  # Mid-trace: the agent's pod deleted and, before it can end anything, every process of its
  # container SIGKILLed.
  cg=$(awk -F: '$2 == "devices" {print $3}' "/proc/$apid/cgroup")
  [[ $cg == */kubepods/* ]] || fail "agent PID $apid is not in a pod cgroup: $cg"
  local procs
  procs=$(tr '\n' ' ' <"/sys/fs/cgroup/devices$cg/cgroup.procs")
  t0=$(date +%s.%N)
  admin -n kdbg-system delete pod "$agent" --wait=false >/dev/null
  # shellcheck disable=SC2086
  kill -9 $procs
  local left  # an assignment, so that a failing bpftool ends the check (set -e)
  for ((i = 0; i < 100; i++)); do
    left=$(ebpf_uprobes_on "$tpid")
    [[ -z $left ]] && break
    sleep 0.1
  done
  [[ -z $left ]] || fail "a uprobe on /proc/$tpid/exe is left 10 s after the agent was killed: $left; $(ebpf_kernel_state)"
  # The kernel removes the breakpoint when the last reference to the perf event goes (the dead
  # agent's descriptors, then the BPF link's deferred release): bounded wait for the byte.
  for ((i = 0; i < 100; i++)); do
    [[ $(ebpf_code_byte "$tpid" "$off") != cc ]] && break
    sleep 0.1
  done
  local took
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  [[ $(ebpf_code_byte "$tpid" "$off") != cc ]] ||
    fail "the int3 at file offset $off of PID $tpid is left 10 s after the agent was killed; agent PID $apid: $(grep -E '^(State|Name)' "/proc/$apid/status" 2>&1 | tr '\n' ' '); $(ebpf_kernel_state)"
  for ((i = 0; i < 120; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  kill -0 $KPID 2>/dev/null && fail "the trace did not end within 60 s of the agent's kill: $(tail -3 "$WORK/err")"
  wait $KPID || true
  sleep 2  # requests keep flowing after the kill
  kill "$LOADPID" 2>/dev/null || true
  wait "$LOADPID" 2>/dev/null || true
  touch "$WORK/tracer.stop"
  wait $tracer_loop 2>/dev/null || true
  [[ -s $WORK/tracer ]] && fail "the target was ptraced during the eBPF session: TracerPid $(sort -u "$WORK/tracer" | tr '\n' ' ')"
  served=$(expect_served_after "$t0")
  local all
  all=$(wc -l <"$WORK/load")
  [[ -z $(awk '$2 != 200' "$WORK/load") ]] || fail "the target did not answer every request: $(awk '$2 != 200' "$WORK/load" | head -3)"
  expect_released "$pod" "$node" "$ip" "$before"
  expect_audited "$session" "$pod" "ERROR|AGENT_SHUTDOWN|RECOVERED"
  # The DaemonSet's replacement agent, ready and able to run eBPF.
  local old=$agent
  for ((i = 0; i < 120; i++)); do
    agent=$(agent_of "$node" 2>/dev/null || true)
    [[ -n $agent && $agent != "$old" ]] && admin -n kdbg-system wait --for=condition=Ready "pod/$agent" --timeout=1s >/dev/null 2>&1 && break
    sleep 0.5
  done
  admin -n kdbg-system wait --for=condition=Ready "pod/$agent" --timeout=30s >/dev/null ||
    fail "no ready replacement agent on $node"
  ebpf_expect_available
  # How often the guardian had to clear a probe a kill during the detach left (informative).
  local cleared
  cleared=$(grep -c 'cleared a uprobe' "/var/lib/kdbg-agent/$node/guard.log" 2>/dev/null || true)
  echo "cluster-test: ebpf-trace pod/$pod on $node: $(grep -c '"type":"hit"' "$WORK/out") hits on eBPF, TracerPid 0 throughout, agent pod deleted + container SIGKILLed: uprobe gone in ${took} s (guardian cleared ${cleared:-0} recorded probes), $served requests after the kill ($all in all) answered, restarts unchanged, session $session audited"
}

# ebpf-off: the chart installed with agent.ebpf=false (no CAP_SYS_ADMIN, nor BPF/PERFMON): every
# agent says why the eBPF engine cannot run (`kdbg version`: the kernel's refusal of its self-test,
# here loading the program: "Operation not permitted"),
# `--engine ebpf` is refused with those words and leaves no session, `--engine auto` runs the same
# script on Delve and says which reason kept eBPF out; the chart is put back (agent.ebpf=true) and
# the agents say eBPF is available again.
ebpf_set_chart() {  # true|false
  "$HELM" --kubeconfig "$KUBECONFIG_ADMIN" upgrade kdbg "$ROOT/charts/kdbg" -n kdbg-system --reuse-values \
    --set "agent.ebpf=$1" >/dev/null || fail "helm upgrade --set agent.ebpf=$1 failed"
  agents_settled || fail "the agents did not roll out with agent.ebpf=$1"
}

cmd_ebpf_off() {
  check_two_nodes
  local pod node ip v rc i
  read -r pod node ip < <(sample_pods)
  ON_EXIT+=("ebpf_set_chart true")
  ebpf_set_chart false
  for ((i = 0; i < 60; i++)); do
    v=$(timeout 60 "$KDBG" version 2>&1 || true)
    (($(grep -cE 'eBPF engine unavailable: .*(Operation not permitted|Permission denied)' <<<"$v") >= 2)) && break
    sleep 1
  done
  (($(grep -cE 'eBPF engine unavailable: .*(Operation not permitted|Permission denied)' <<<"$v") >= 2)) ||
    fail "kdbg version does not say, for both agents, that the eBPF engine cannot run: $v"
  grep -q 'CAP_SYS_ADMIN' <<<"$v" || fail "kdbg version does not name CAP_SYS_ADMIN: $v"
  printf 'trace handleSlash main.handleSlash\non handleSlash print r.RemoteAddr\n' >"$WORK/ebpf.dlv"
  rc=0
  timeout 60 "$KDBG" trace "pod/$pod" --init "$WORK/ebpf.dlv" --engine ebpf --duration 10s -o json \
    >"$WORK/out" 2>"$WORK/err" || rc=$?
  ((rc != 0)) || fail "--engine ebpf without CAP_SYS_ADMIN succeeded: $(cat "$WORK/out")"
  grep -qE 'Operation not permitted|Permission denied' "$WORK/err" || fail "--engine ebpf refused without the kernel's words: $(cat "$WORK/err")"
  local list
  list=$(timeout 60 "$KDBG" sessions -o json) || fail "kdbg sessions failed"
  grep -q "$pod" <<<"$list" && fail "a session on pod/$pod is left after the refusal: $list"
  kdbg_bg "$WORK/out" "$WORK/err" trace "pod/$pod" --init "$WORK/ebpf.dlv" --engine auto --duration 60s -o json
  KPID=$BGPID
  wait_line "$WORK/out" '"type":"armed"' $KPID 60 || fail "--engine auto never armed: $(cat "$WORK/err")"
  grep '"type":"armed"' "$WORK/out" | grep -q '"engine":"delve"' || fail "auto did not fall back to Delve: $(grep armed "$WORK/out")"
  grep '"type":"armed"' "$WORK/out" | grep -qE 'Operation not permitted|Permission denied' || fail "auto's armed line does not say why eBPF was not used: $(grep armed "$WORK/out")"
  for ((i = 0; i < 20; i++)); do
    grep -q '"type":"hit"' "$WORK/out" && break
    curl -s -m 2 "http://$ip:8080/" >/dev/null || true
    sleep 0.5
  done
  grep -q '"type":"hit"' "$WORK/out" || fail "no hit on Delve: $(tail -3 "$WORK/out")"
  kill -INT $KPID
  for ((i = 0; i < 60; i++)); do kill -0 $KPID 2>/dev/null || break; sleep 0.5; done
  wait $KPID || true
  ebpf_set_chart true
  for ((i = 0; i < 60; i++)); do
    v=$(timeout 60 "$KDBG" version 2>&1 || true)
    (($(grep -c '^kdbg-agent ' <<<"$v") >= 2)) && ! grep -q 'not ready\|eBPF engine unavailable' <<<"$v" && break
    sleep 1
  done
  ebpf_expect_available
  echo "cluster-test: ebpf-off: agent.ebpf=false: kdbg version names the refusal for both agents, --engine ebpf refused with the kernel's words, auto ran on Delve saying why; agent.ebpf=true: available again"
}
