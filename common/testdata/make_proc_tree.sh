#!/bin/bash
# Builds proc/, the recorded /proc tree common/proc_reader_test.cc reads with the real reader (as a
# node's agent reads the host's /proc under --proc-root). The files follow the kernel's formats
# field for field (lines as Linux 6.1 writes them, trimmed); the processes are made up: a Go target
# traced by Delve (4242, two threads, a SIGTRAP pending on thread 4243 only, comm with spaces and
# parentheses), its Delve (4250) and a zombie (4300). Re-run after editing; the output is committed.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf proc && mkdir proc
stat() {  # PID COMM STATE PPID START
  echo "$1 ($2) $3 $4 $1 $1 0 -1 4194560 1201 0 0 0 12 3 0 0 20 0 9 0 $5 1234567 1500 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0" > proc/$1/stat
}
mkdir -p proc/4242/task/4242 proc/4242/task/4243 proc/4250/task/4250 proc/4300 proc/self proc/sys/kernel/yama
stat 4242 "hello (world) x" t 4230 987654
printf 'Name:\thello (world) x\nUmask:\t0022\nState:\tt (tracing stop)\nTgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t4230\nTracerPid:\t4250\nUid:\t0\t0\t0\t0\nNSpid:\t4242\t1\nNSpgid:\t4242\t1\nSigQ:\t1/95402\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nCapEff:\t000001ffffffffff\n' > proc/4242/status
printf 'Name:\thello (world) x\nState:\tt (tracing stop)\nPid:\t4242\nTracerPid:\t4250\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n' > proc/4242/task/4242/status
printf 'Name:\thello (world) x\nState:\tt (tracing stop)\nPid:\t4243\nTracerPid:\t4250\nSigPnd:\t0000000000000010\nShdPnd:\t0000000000000000\n' > proc/4242/task/4243/status
printf '/hello-world\0-addr\0:8080\0' > proc/4242/cmdline
printf 'PATH=/usr/bin\0HOME=/root\0' > proc/4242/environ
printf '0::/kubepods/besteffort/poda36d0c1d-0b26-4451-8d80-9c195e004afa/5dd96d5394ca930a854a390ea46f7515a8bc930123eb3251ba20f2708a38fc61\n' > proc/4242/cgroup
ln -s /hello-world proc/4242/exe
stat 4250 dlv S 1 990000
printf 'Name:\tdlv\nState:\tS (sleeping)\nPid:\t4250\nPPid:\t1\nTracerPid:\t0\nNSpid:\t4250\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n' > proc/4250/status
printf 'Name:\tdlv\nState:\tS (sleeping)\nPid:\t4250\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n' > proc/4250/task/4250/status
printf 'dlv\0attach\0004242\0--headless\0--listen=127.0.0.1:4000\0' > proc/4250/cmdline
printf 'KDBG_DELVE_OWNER=/var/lib/kdbg/delve\0KDBG_SESSION_ID=s1\0KDBG_DELVE_PARENT=900\0' > proc/4250/environ
printf '0::/system.slice/kdbg-agent.service\n' > proc/4250/cgroup
ln -s /usr/bin/dlv proc/4250/exe
stat 4300 defunct Z 4242 999000
printf 'Name:\tdefunct\nState:\tZ (zombie)\nPid:\t4300\nPPid:\t4242\nTracerPid:\t0\n' > proc/4300/status
: > proc/4300/cmdline
printf 'Name:\tkdbg-agent\nState:\tR (running)\nCapEff:\t000001ffffffffff\n' > proc/self/status
echo 1 > proc/sys/kernel/yama/ptrace_scope
