#!/bin/bash
# Builds the recorded /proc trees (and host roots with runtime state files) used by
# resolver_test.cc, one directory per node layout. Each process gets stat, status, cmdline, cgroup
# and an exe symlink naming the binary as the host's /proc shows it; formats are the kernel's.
# Re-run after editing: ./make_trees.sh (from this directory). Output is committed.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf trees && mkdir trees

# proc TREE PID PPID STATE START TRACER NSPID EXE CGROUP_TEXT ARGV...
proc() {
  local tree=$1 pid=$2 ppid=$3 state=$4 start=$5 tracer=$6 nspid=$7 exe=$8 cg=$9
  shift 9
  local d=trees/$tree/proc/$pid comm
  mkdir -p "$d"
  comm=$(basename -- "${1:-zombie}" | cut -c1-15)
  echo "$pid ($comm) $state $ppid $pid $pid 0 -1 4194560 120 0 0 0 5 3 0 0 20 0 8 0 $start 730000000 1500 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0" > "$d/stat"
  printf 'Name:\t%s\nUmask:\t0022\nState:\t%s (sleeping)\nTgid:\t%s\nNgid:\t0\nPid:\t%s\nPPid:\t%s\nTracerPid:\t%s\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNSpid:\t%s\nNSpgid:\t%s\nCapEff:\t000001ffffffffff\n' \
    "$comm" "$state" "$pid" "$pid" "$ppid" "$tracer" "$nspid" "$nspid" > "$d/status"
  printf '%s\0' "$@" > "$d/cmdline"
  printf '%s' "$cg" > "$d/cgroup"
  [ -n "$exe" ] && ln -s "$exe" "$d/exe"
  return 0
}
# host facts the resolver reads from the proc root
hostfacts() {  # TREE PTRACE_SCOPE CAPEFF
  mkdir -p trees/$1/proc/sys/kernel/yama trees/$1/proc/self
  echo "$2" > trees/$1/proc/sys/kernel/yama/ptrace_scope
  printf 'Name:\tkdbg-agent\nCapEff:\t%s\n' "$3" > trees/$1/proc/self/status
}
v1() {  # cgroup v1 hybrid file naming PATH on every controller, plus a 0:: line
  local p=$1 u=${2:-$1}
  printf '12:pids:%s\n11:hugetlb:%s\n7:memory:%s\n4:cpu,cpuacct:%s\n1:name=systemd:%s\n0::%s\n' "$p" "$p" "$p" "$p" "$p" "$u"
}
v2() { printf '0::%s\n' "$1"; }

A=5dd96d5394ca930a854a390ea46f7515a8bc930123eb3251ba20f2708a38fc61   # app container
S=1f0c7b4a2d1e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6   # pod sandbox
B=d6d725b909f37c3e232aadfbafa950a58bfe7baa579ba8c47a12be88bb921607   # second container
POD=a36d0c1d-0b26-4451-8d80-9c195e004afa
SHIM="/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id $S -address /run/containerd/containerd.sock"

# 1. containerd, cgroupfs driver, v1 hybrid (0:: does not name the container), CRI-style pod shim
#    serving pause + app; init.pid and runc state.json agree.
T=containerd-cgroupfs-v1
proc $T 1 0 S 10 0 1 /usr/lib/systemd/systemd "$(v1 /init.scope)" /sbin/init
proc $T 900 1 S 100 0 900 /usr/bin/containerd "$(v1 /system.slice/containerd.service)" /usr/bin/containerd
proc $T 4200 1 S 500 0 4200 /usr/bin/containerd-shim-runc-v2 "$(v1 /system.slice/containerd.service)" $SHIM
proc $T 4210 4200 S 510 0 "4210	1" /pause "$(v1 /kubepods/besteffort/pod$POD/$S /)" /pause
proc $T 4242 4200 S 600 0 "4242	1" /hello-world "$(v1 /kubepods/besteffort/pod$POD/$A /)" /hello-world
proc $T 4300 1 S 700 0 4300 /usr/bin/bash "$(v1 /user.slice/user-0.slice/session-1.scope)" -bash
mkdir -p trees/$T/host/run/containerd/io.containerd.runtime.v2.task/k8s.io/$A trees/$T/host/run/containerd/runc/k8s.io/$A
echo 4242 > trees/$T/host/run/containerd/io.containerd.runtime.v2.task/k8s.io/$A/init.pid
echo "{\"id\":\"$A\",\"init_process_pid\":4242,\"init_process_start\":600,\"created\":\"2026-11-24T01:00:00Z\"}" > trees/$T/host/run/containerd/runc/k8s.io/$A/state.json
hostfacts $T 1 000001ffffffffff

# 2. CRI-O, systemd driver, cgroup v2, crun; conmon in its crio-conmon scope; app behind tini.
T=crio-systemd-v2-tini
SL=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod042efd86_1f3b_4f2f_8736_f31c58e95bbc.slice
proc $T 1 0 S 10 0 1 /usr/lib/systemd/systemd "$(v2 /init.scope)" /sbin/init
proc $T 3000 1 S 400 0 3000 /usr/bin/conmon "$(v2 $SL/crio-conmon-$A.scope)" /usr/bin/conmon -b /run/containers/storage/overlay-containers/$A/userdata -c $A
proc $T 3010 3000 S 410 0 "3010	1" /usr/bin/tini "$(v2 $SL/crio-$A.scope)" /usr/bin/tini -- /app/server
proc $T 3011 3010 S 420 0 "3011	7" /app/server "$(v2 $SL/crio-$A.scope)" /app/server --port 8080
mkdir -p trees/$T/host/run/crun/$A trees/$T/host/run/containers/storage/overlay-containers/$A/userdata
echo "{\"pid\":3010,\"process-start-time\":410,\"cgroup-path\":\"$SL/crio-$A.scope\"}" > trees/$T/host/run/crun/$A/status
echo 3010 > trees/$T/host/run/containers/storage/overlay-containers/$A/userdata/pidfile
echo 3000 > trees/$T/host/run/containers/storage/overlay-containers/$A/userdata/conmon.pid
hostfacts $T 1 000001ffffffffff

# 3. Docker (cri-dockerd), systemd driver, v1; the old docker-containerd-shim names the container.
T=docker-systemd-v1
SL=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod2c48913c-b29f-11e7-9350-020968147796.slice
proc $T 1 0 S 10 0 1 /usr/lib/systemd/systemd "$(v1 /init.scope)" /sbin/init
proc $T 2000 1 S 300 0 2000 /usr/bin/docker-containerd-shim "$(v1 /system.slice/docker.service)" docker-containerd-shim $A /var/run/docker/libcontainerd/$A docker-runc
proc $T 2001 2000 S 310 0 "2001	1" /bin/sh "$(v1 $SL/docker-$A.scope /)" /bin/sh -c "/app/server"
proc $T 2002 2001 S 320 0 "2002	6" /app/server "$(v1 $SL/docker-$A.scope /)" /app/server
mkdir -p trees/$T/host/var/lib/docker/containers/$A
echo "{\"ID\":\"$A\",\"State\":{\"Running\":true,\"Pid\":2001}}" > trees/$T/host/var/lib/docker/containers/$A/config.v2.json
hostfacts $T 1 000001ffffffffff

# 4. kind: a node in a Docker container, pods' cgroups nested under /docker/<node>.
T=kind-nested
N=93529524695bb00d91c1f6dba692ea8d3550c3b94fb2463af7bc9ec82f992d26
proc $T 1 0 S 10 0 1 /usr/lib/systemd/systemd "$(v1 /init.scope)" /sbin/init
proc $T 800 1 S 50 0 "800	1" /usr/local/bin/containerd "$(v1 /docker/$N/system.slice/containerd.service)" /usr/local/bin/containerd
proc $T 850 800 S 60 0 "850	40" /usr/local/bin/containerd-shim-runc-v2 "$(v1 /docker/$N/system.slice/containerd.service)" $SHIM
proc $T 860 850 S 70 0 "860	41	1" /pause "$(v1 /docker/$N/kubepods/besteffort/pod$POD/$S /docker/$N/system.slice/containerd.service)" /pause
proc $T 870 850 S 80 0 "870	42	1" /hello-world "$(v1 /docker/$N/kubepods/besteffort/pod$POD/$A /docker/$N/system.slice/containerd.service)" /hello-world
hostfacts $T 1 000001ffffffffff

# 5. The agent in a private cgroup namespace whose root is the container's: no line names it.
#    containerd's init.pid points at the init; a child shares its cgroup; another process
#    elsewhere also reads "0::/" but is not a descendant.
T=private-cgroupns
proc $T 1 0 S 10 0 1 /usr/lib/systemd/systemd "$(v2 /../..)" /sbin/init
proc $T 4200 1 S 500 0 4200 /usr/bin/containerd-shim-runc-v2 "$(v2 /../../system.slice/containerd.service)" $SHIM
proc $T 4242 4200 S 600 0 "4242	1" /bin/sh "$(v2 /)" /bin/sh -c /hello-world
proc $T 4243 4242 S 610 0 "4243	2" /hello-world "$(v2 /)" /hello-world
proc $T 5000 1 S 700 0 "5000	1" /other "$(v2 /)" /other
mkdir -p trees/$T/host/run/containerd/io.containerd.runtime.v2.task/k8s.io/$A
echo 4242 > trees/$T/host/run/containerd/io.containerd.runtime.v2.task/k8s.io/$A/init.pid
hostfacts $T 1 000001ffffffffff

# 6. PID reuse: runc says init 4242 started at 599, the process 4242 now started at 600;
#    no cgroup line names the container (the container is gone).
T=pid-reused
proc $T 1 0 S 10 0 1 /usr/lib/systemd/systemd "$(v1 /init.scope)" /sbin/init
proc $T 4242 1 S 600 0 4242 /usr/bin/sleep "$(v1 /user.slice)" sleep 1000
mkdir -p trees/$T/host/run/containerd/runc/k8s.io/$A
echo "{\"id\":\"$A\",\"init_process_pid\":4242,\"init_process_start\":599}" > trees/$T/host/run/containerd/runc/k8s.io/$A/state.json
hostfacts $T 1 000001ffffffffff

# 7. Two Go programs behind a shell, one container (containerd 1.4 systemd colon form).
T=two-go-colon
C=/system.slice/containerd.service/kubepods-besteffort-pod2105e389_7471_476e_a50f_6074cef29bbd.slice:cri-containerd:$A
proc $T 1 0 S 10 0 1 /usr/lib/systemd/systemd "$(v1 /init.scope)" /sbin/init
proc $T 4200 1 S 500 0 4200 /usr/bin/containerd-shim-runc-v2 "$(v1 /system.slice/containerd.service)" $SHIM
proc $T 4242 4200 S 600 0 "4242	1" /bin/sh "$(v1 $C)" /bin/sh -c "/hello-world & /sidecar"
proc $T 4250 4242 S 610 0 "4250	5" /hello-world "$(v1 $C)" /hello-world
proc $T 4251 4242 S 611 0 "4251	6" /sidecar "$(v1 $C)" /sidecar
hostfacts $T 1 000001ffffffffff

# 8. Preconditions: the same pod shape with a traced target (TracerPid), a zombie, pause only,
#    a gVisor shim, Yama scope 3, no CAP_SYS_PTRACE, and a target running as UID 65532 beside
#    an agent without (otheruid) and with (otheruid-caps) CAP_DAC_READ_SEARCH and CAP_KILL.
for T in traced zombie pause-only gvisor yama3 nocap otheruid otheruid-caps; do
  proc $T 1 0 S 10 0 1 /usr/lib/systemd/systemd "$(v2 /init.scope)" /sbin/init
  proc $T 4100 1 S 400 0 4100 /usr/bin/dlv "$(v2 /user.slice)" dlv attach 4242 --headless
  shim=$SHIM; [ $T = gvisor ] && shim="/usr/bin/containerd-shim-runsc-v1 -namespace k8s.io -id $S"
  proc $T 4200 1 S 500 0 4200 "${shim%% *}" "$(v2 /system.slice/containerd.service)" $shim
  proc $T 4210 4200 S 510 0 "4210	1" /pause "$(v2 /kubepods/besteffort/pod$POD/$S)" /pause
  hostfacts $T 1 000001ffffffffff
done
proc traced 4242 4200 t 600 4100 "4242	1" /hello-world "$(v2 /kubepods/besteffort/pod$POD/$A)" /hello-world
proc zombie 4242 4200 Z 600 0 "4242	1" "" "$(v2 /kubepods/besteffort/pod$POD/$A)"
proc gvisor 4242 4200 S 600 0 "4242	1" /hello-world "$(v2 /kubepods/besteffort/pod$POD/$A)" /hello-world
proc yama3 4242 4200 S 600 0 "4242	1" /hello-world "$(v2 /kubepods/besteffort/pod$POD/$A)" /hello-world
proc nocap 4242 4200 S 600 0 "4242	1" /hello-world "$(v2 /kubepods/besteffort/pod$POD/$A)" /hello-world
hostfacts yama3 3 000001ffffffffff
hostfacts nocap 2 00000000a80425fb
for T in otheruid otheruid-caps; do
  proc $T 4242 4200 S 600 0 "4242	1" /hello-world "$(v2 /kubepods/besteffort/pod$POD/$A)" /hello-world
  sed -i 's/^Uid:.*/Uid:\t65532\t65532\t65532\t65532/; s/^Gid:.*/Gid:\t65532\t65532\t65532\t65532/' trees/$T/proc/4242/status
done
hostfacts otheruid 1 0000000000080000
hostfacts otheruid-caps 1 0000000000080024

# 8b. One machine hosting two kubelets (scripts/cluster: cgroupRoot /kdbg-node-a, /kdbg-node-b):
#     the agent (self) is a pod of node-a; the app container A runs on node-a, B on node-b.
T=two-kubelets
proc $T 1 0 S 10 0 1 /usr/lib/systemd/systemd "$(v1 /init.scope)" /sbin/init
proc $T 4200 1 S 500 0 4200 /usr/bin/containerd-shim-runc-v2 "$(v1 /)" $SHIM
proc $T 4242 4200 S 600 0 "4242	1" /hello-world "$(v1 /kdbg-node-a/kubepods/besteffort/pod$POD/$A)" /hello-world
proc $T 4300 1 S 700 0 4300 /usr/bin/containerd-shim-runc-v2 "$(v1 /)" $SHIM
proc $T 4342 4300 S 800 0 "4342	1" /hello-world "$(v1 /kdbg-node-b/kubepods/besteffort/pod$POD/$B)" /hello-world
hostfacts $T 1 000001ffffffffff
v1 /kdbg-node-a/kubepods/burstable/pod0c8f9b3e-7d1a-4f5e-9b2c-3a4d5e6f7a8b/7e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c6b5a49382716051f2e3d4c5b6a7 > trees/$T/proc/self/cgroup

# 9. A container still starting: its init is still runc's own re-exec ("runc init", a Go program
#    itself, comm "runc:[2:INIT]" on a real node), not yet the container's program.
T=runc-init-starting
proc $T 1 0 S 10 0 1 /usr/lib/systemd/systemd "$(v2 /init.scope)" /sbin/init
proc $T 4200 1 S 500 0 4200 /usr/bin/containerd-shim-runc-v2 "$(v2 /system.slice/containerd.service)" $SHIM
proc $T 4210 4200 S 510 0 "4210	1" /pause "$(v2 /kubepods/besteffort/pod$POD/$S)" /pause
proc $T 4242 4200 S 600 0 "4242	1" /usr/bin/runc "$(v2 /kubepods/besteffort/pod$POD/$A)" runc init
hostfacts $T 1 000001ffffffffff
echo done
