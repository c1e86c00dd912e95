#include "common/thread_name.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kdbg {
namespace {

std::string CommOf(pid_t tid) {
  std::ifstream f(absl::StrCat("/proc/self/task/", tid, "/comm"));
  std::string comm;
  std::getline(f, comm);
  return comm;
}

// The name is what /proc (and so top -H, ps -L) shows for that thread alone, cut to the kernel's
// 15 bytes.
TEST(ThreadNameTest, NamesOnlyTheCallingThreadAndCutsAtFifteenBytes) {
  const std::string main_before = CommOf(static_cast<pid_t>(::syscall(SYS_gettid)));
  std::string seen;
  std::thread t([&] {
    SetCurrentThreadName("kdbg-delve-loop-and-more");
    seen = CommOf(static_cast<pid_t>(::syscall(SYS_gettid)));
  });
  t.join();
  EXPECT_EQ(seen, "kdbg-delve-loop");
  EXPECT_EQ(CommOf(static_cast<pid_t>(::syscall(SYS_gettid))), main_before);
}

}  // namespace
}  // namespace kdbg
