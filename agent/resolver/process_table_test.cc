#include "agent/resolver/process_table.h"

#include <map>

#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::agent {
namespace {

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

TEST(ParseStatus, TracerAndNestedNamespaces) {
  ProcessInfo p;
  ParseStatus("Name:\thello\nTracerPid:\t4100\nNSpid:\t870\t42\t1\nNSpgid:\t870\t42\t1\n", &p);
  EXPECT_EQ(p.tracer_pid, 4100);
  EXPECT_EQ(p.nspid, (std::vector<pid_t>{870, 42, 1}));
}

TEST(ParseCmdline, NulSeparated) {
  EXPECT_EQ(ParseCmdline(std::string("/bin/sh\0-c\0a b\0", 14)),
            (std::vector<std::string>{"/bin/sh", "-c", "a b"}));
  EXPECT_EQ(ParseCmdline(std::string("x\0y", 3)), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(ParseCmdline("").empty());
}

std::string Tree(const std::string& name) {
  return kdbg::testing::SourceDir() + "/agent/resolver/testdata/trees/" + name + "/proc";
}

TEST(DirProcessTable, ScansAndInspectsARecordedTree) {
  auto table = NewDirProcessTable(Tree("kind-nested") + "/");
  std::map<pid_t, std::string> seen;
  ASSERT_TRUE(
      table->ScanCgroups([&](pid_t pid, absl::string_view text) { seen[pid] = std::string(text); })
          .ok());
  EXPECT_EQ(seen.size(), 5u);  // "self" and "sys" are not processes
  ASSERT_TRUE(seen.count(870));
  EXPECT_NE(seen[870].find("/kubepods/besteffort/pod"), std::string::npos);
  auto p = table->Inspect(870);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->ppid, 850);
  EXPECT_EQ(p->start_time_ticks, 80u);
  EXPECT_EQ(p->exe, "/hello-world");
  EXPECT_EQ(p->cmdline, std::vector<std::string>{"/hello-world"});
  EXPECT_EQ(p->nspid, (std::vector<pid_t>{870, 42, 1}));
  EXPECT_EQ(table->ExePath(870), Tree("kind-nested") + "/870/exe");
  EXPECT_EQ(table->Inspect(99999).status().code(), absl::StatusCode::kNotFound);
  auto scope = table->ReadFile("sys/kernel/yama/ptrace_scope");
  ASSERT_TRUE(scope.ok());
  EXPECT_EQ(*scope, "1\n");
}

TEST(DirProcessTable, MissingRootIsAnError) {
  auto table = NewDirProcessTable("/nonexistent/proc");
  EXPECT_FALSE(table->ScanCgroups([](pid_t, absl::string_view) {}).ok());
}

}  // namespace
}  // namespace kdbg::agent
