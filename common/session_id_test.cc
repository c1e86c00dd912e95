#include "common/session_id.h"

#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace kdbg {
namespace {

TEST(NewSessionId, SixteenHexDigits) {
  std::string id = NewSessionId();
  ASSERT_EQ(id.size(), 16u);
  for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
}

TEST(NewSessionId, UniqueAcrossThreads) {
  absl::Mutex mu;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        std::string id = NewSessionId();
        absl::MutexLock lock(&mu);
        ids.insert(id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), 4000u);
}

}  // namespace
}  // namespace kdbg
