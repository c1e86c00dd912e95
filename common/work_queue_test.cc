#include "common/work_queue.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kdbg {
namespace {

TEST(WorkQueue, RunsInPostingOrderOnOneThread) {
  std::vector<int> order;
  {
    WorkQueue q(1);
    for (int i = 0; i < 100; ++i) q.Post([&order, i] { order.push_back(i); });
  }  // the destructor runs what was posted
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(WorkQueue, TasksRunConcurrentlyOnSeveralThreads) {
  WorkQueue q(2);
  absl::Notification first_running, second_ran;
  // The first task blocks until the second ran: only possible with two threads.
  q.Post([&] {
    first_running.Notify();
    second_ran.WaitForNotification();
  });
  first_running.WaitForNotification();
  q.Post([&] { second_ran.Notify(); });
  EXPECT_TRUE(second_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST(WorkQueue, ZeroThreadsStillRuns) {
  std::atomic<int> ran{0};
  {
    WorkQueue q(0);
    q.Post([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 1);
}

TEST(WorkQueue, DestructorDrainsTasksPostedByTasks) {
  std::atomic<int> ran{0};
  {
    WorkQueue q(1);
    q.Post([&] {
      ++ran;
      q.Post([&] { ++ran; });
    });
  }
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace kdbg
