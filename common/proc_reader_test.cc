#include "common/proc_reader.h"

#include <sys/auxv.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/testing/fake_proc_reader.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg {
namespace {

// Trimmed from a real /proc/PID/status of a target halted by Delve with a stale SIGTRAP.
constexpr char kStatus[] =
    "Name:\thello-world\nUmask:\t0022\nState:\tt (tracing stop)\nTgid:\t4242\nPid:\t4242\n"
    "PPid:\t1\nTracerPid:\t4250\nSigQ:\t1/95402\nSigPnd:\t0000000000000000\n"
    "ShdPnd:\t0000000000000010\nSigBlk:\t0000000000000000\n";

TEST(ParseProcStatus, StateTracerSignalsAndNamespaces) {
  auto st = ParseProcStatus(kStatus);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->state, 't');
  EXPECT_TRUE(st->stopped());
  EXPECT_FALSE(st->zombie());
  EXPECT_EQ(st->tracer_pid, 4250);
  EXPECT_EQ(st->shd_pnd & kSigtrapBit, kSigtrapBit);
  EXPECT_EQ(st->sig_pnd, 0u);
  EXPECT_FALSE(ParseProcStatus("Name:\tx\n").ok());
  auto nested = ParseProcStatus("State:\tS\nTracerPid:\t4100\nNSpid:\t870\t42\t1\nNSpgid:\t870\n");
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(nested->tracer_pid, 4100);
  EXPECT_EQ(nested->nspid, (std::vector<pid_t>{870, 42, 1}));
}

TEST(ParseStat, CommWithSpacesAndParentheses) {
  ProcessInfo p;
  ASSERT_TRUE(ParseStat("4242 (a) b (c)) S 4230 4242 4242 0 -1 4194560 120 0 0 0 5 3 0 0 20 0 8 0 "
                        "1234567 730000000 1500 18446744073709551615",
                        &p)
                  .ok());
  EXPECT_EQ(p.pid, 4242);
  EXPECT_EQ(p.comm, "a) b (c)");
  EXPECT_EQ(p.state, 'S');
  EXPECT_EQ(p.ppid, 4230);
  EXPECT_EQ(p.start_time_ticks, 1234567u);
  EXPECT_FALSE(ParseStat("4242 no comm", &p).ok());
  EXPECT_FALSE(ParseStat("4242 (x) S 1", &p).ok());
}

TEST(ParseStartTicks, PastParenthesesInTheName) {
  constexpr char kStat[] =
      "4242 (hello (world) x) S 1 4242 4242 0 -1 4194560 1201 0 0 0 12 3 0 0 20 0 9 0 "
      "987654 1234567 1500 18446744073709551615";
  auto t = ParseStartTicks(kStat);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, 987654u);
  EXPECT_FALSE(ParseStartTicks("4242 (x) S 1").ok());
}

TEST(ParseNulSeparated, CmdlineAndEnviron) {
  EXPECT_EQ(ParseNulSeparated(std::string("/bin/sh\0-c\0a b\0", 14)),
            (std::vector<std::string>{"/bin/sh", "-c", "a b"}));
  EXPECT_EQ(ParseNulSeparated(std::string("x\0y", 3)), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(ParseNulSeparated("").empty());
}

// The real reader over the recorded tree beside it (testdata/make_proc_tree.sh), as an agent reads
// the host's /proc mounted at --proc-root.
std::string Tree() { return kdbg::testing::TestdataDir("common") + "/proc"; }

// auxv as the kernel writes it: {type, value} pairs of native words, ending with AT_NULL.
TEST(ParseAuxvValue, FindsTheEntryBeforeAtNull) {
  auto pairs = [](const std::vector<std::pair<uint64_t, uint64_t>>& kv) {
    std::string out;
    for (auto [k, v] : kv) {
      out.append(reinterpret_cast<const char*>(&k), 8);
      out.append(reinterpret_cast<const char*>(&v), 8);
    }
    return out;
  };
  const std::string auxv =
      pairs({{33, 0x7ffd1000}, {6, 4096}, {9, 0x55e1c7a61e40}, {0, 0}, {9, 1}});
  auto entry = ParseAuxvValue(auxv, kAuxvEntry);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(*entry, 0x55e1c7a61e40u);
  EXPECT_EQ(ParseAuxvValue(pairs({{6, 4096}, {0, 0}, {9, 1}}), kAuxvEntry).status().code(),
            absl::StatusCode::kNotFound);  // nothing past AT_NULL
  EXPECT_EQ(ParseAuxvValue(auxv.substr(0, 20), kAuxvEntry).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The live file of this process: AT_ENTRY is where the kernel loaded its entry point.
TEST(ParseAuxvValue, OfThisProcess) {
  auto auxv = NewProcReader()->ReadFile("self/auxv");
  ASSERT_TRUE(auxv.ok()) << auxv.status();
  auto entry = ParseAuxvValue(*auxv, kAuxvEntry);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(*entry, ::getauxval(AT_ENTRY));  // what the kernel gave this process
}

TEST(ProcReader, InspectsARecordedTree) {
  auto proc = NewProcReader(Tree() + "/");
  EXPECT_EQ(proc->root(), Tree());
  auto p = proc->Inspect(4242);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->pid, 4242);
  EXPECT_EQ(p->ppid, 4230);
  EXPECT_EQ(p->comm, "hello (world) x");
  EXPECT_EQ(p->state, 't');
  EXPECT_EQ(p->start_time_ticks, 987654u);
  EXPECT_EQ(p->tracer_pid, 4250);
  EXPECT_EQ(p->nspid, (std::vector<pid_t>{4242, 1}));
  EXPECT_EQ(p->cmdline, (std::vector<std::string>{"/hello-world", "-addr", ":8080"}));
  EXPECT_EQ(p->exe, "/hello-world");
  EXPECT_NE(p->cgroup.find("/kubepods/besteffort/pod"), std::string::npos);
  EXPECT_EQ(proc->ExePath(4242), Tree() + "/4242/exe");
  auto gone = proc->Inspect(99999);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("process 99999 is gone"), absl::string_view::npos);
  auto z = proc->Status(4300);
  ASSERT_TRUE(z.ok());
  EXPECT_TRUE(z->zombie());
  EXPECT_EQ(*proc->StartTicks(4250), 990000u);
}

TEST(ProcReader, ListsAndScansProcessesOnly) {
  auto proc = NewProcReader(Tree());
  std::vector<pid_t> pids = proc->ListPids();
  std::sort(pids.begin(), pids.end());
  EXPECT_EQ(pids, (std::vector<pid_t>{4242, 4250, 4300}));  // not "self" or "sys"
  std::map<pid_t, std::string> seen;
  ASSERT_TRUE(
      proc->ScanCgroups([&](pid_t pid, absl::string_view text) { seen[pid] = std::string(text); })
          .ok());
  EXPECT_EQ(seen.size(), 2u);  // the zombie has no cgroup file
  EXPECT_EQ(seen[4250], "0::/system.slice/kdbg-agent.service\n");
  EXPECT_FALSE(
      NewProcReader("/nonexistent/proc")->ScanCgroups([](pid_t, absl::string_view) {}).ok());
  EXPECT_TRUE(NewProcReader("/nonexistent/proc")->ListPids().empty());
}

TEST(ProcReader, SigtrapPendingOnOneThreadOnly) {
  auto proc = NewProcReader(Tree());
  auto pending = proc->SigtrapPending(4242);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_TRUE(*pending);  // thread 4243's SigPnd, not the process's ShdPnd
  auto quiet = proc->SigtrapPending(4250);
  ASSERT_TRUE(quiet.ok()) << quiet.status();
  EXPECT_FALSE(*quiet);
  EXPECT_EQ(proc->SigtrapPending(4300).status().code(), absl::StatusCode::kNotFound);  // no tasks
  EXPECT_EQ(proc->Status(7).status().code(), absl::StatusCode::kNotFound);
}

TEST(ProcReader, CmdlineEnvironAndHostFiles) {
  auto proc = NewProcReader(Tree());
  auto argv = proc->Cmdline(4250);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(*argv, (std::vector<std::string>{"dlv", "attach", "4242", "--headless",
                                             "--listen=127.0.0.1:4000"}));
  auto env = proc->Environ(4250);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->at(1), "KDBG_SESSION_ID=s1");
  EXPECT_EQ(proc->Cmdline(4300)->size(), 0u);
  EXPECT_EQ(proc->Environ(99999).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*proc->ReadFile("sys/kernel/yama/ptrace_scope"), "1\n");
  EXPECT_EQ(proc->ReadFile("nope").status().code(), absl::StatusCode::kNotFound);
}

// The process's own memory through /proc/PID/mem: what the eBPF engine reads of a target after a
// hit (a runtime-made itab's type word), without stopping or tracing it.
TEST(ProcReader, ReadsAProcesssMemory) {
  static const char kBytes[] = "kdbg memory\x01\x02";
  auto proc = NewProcReader();
  const auto address = reinterpret_cast<uint64_t>(kBytes);
  auto got = proc->ReadMemory(::getpid(), address, sizeof(kBytes));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, std::string(kBytes, sizeof(kBytes)));
  auto unmapped = proc->ReadMemory(::getpid(), 0x10, 8);  // the zero page is never mapped
  EXPECT_EQ(unmapped.status().code(), absl::StatusCode::kOutOfRange) << unmapped.status();
  auto gone = NewProcReader("/nonexistent/proc")->ReadMemory(::getpid(), address, 8);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound) << gone.status();
}

TEST(FakeProcReader, AnswersFromMemory) {
  kdbg::testing::FakeProcReader fake;
  {
    absl::MutexLock l(&fake.mu);
    fake.any_pid_status.reset();
    kdbg::testing::FakeProcess p;
    p.info.cmdline = {"dlv", "attach", "42"};
    p.info.cgroup = "0::/x\n";
    p.status.tracer_pid = 9;
    fake.processes[77] = p;
    fake.sigtrap_checks_left_pending = 1;
  }
  EXPECT_EQ(fake.ListPids(), std::vector<pid_t>{77});
  EXPECT_EQ(fake.Inspect(77)->tracer_pid, 9);
  EXPECT_EQ(fake.Cmdline(77)->at(1), "attach");
  EXPECT_TRUE(*fake.SigtrapPending(77));
  EXPECT_FALSE(*fake.SigtrapPending(77));
  EXPECT_EQ(fake.Status(78).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kdbg
