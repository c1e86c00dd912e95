#include "agent/service/recovered_sessions.h"

#include <sys/stat.h>
#include <utime.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::agent {
namespace {

kdbg::v1::EndedEvent Recovered(const std::string& message) {
  kdbg::v1::EndedEvent e;
  e.set_reason(kdbg::v1::END_REASON_RECOVERED);
  e.set_target_alive(true);
  e.set_target_traced(false);
  e.set_message(message);
  return e;
}

TEST(RecoveredSessionsTest, RecordedEndIsFoundByItsSessionIdOnly) {
  const std::string root = kdbg::testing::MakeTempDir("recovered");
  RecoveredSessions records(root + "/recovered");  // created by the first Record
  EXPECT_FALSE(records.Find("3f9c0a7d12e4b856").has_value());
  ASSERT_TRUE(records.Record("3f9c0a7d12e4b856", Recovered("the agent's guardian recovered")).ok());
  std::optional<kdbg::v1::EndedEvent> got = records.Find("3f9c0a7d12e4b856");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->reason(), kdbg::v1::END_REASON_RECOVERED);
  EXPECT_TRUE(got->target_alive());
  EXPECT_FALSE(got->target_traced());
  EXPECT_EQ(got->message(), "the agent's guardian recovered");
  EXPECT_FALSE(records.Find("0000000000000000").has_value());
  struct stat st {};
  ASSERT_EQ(::stat((root + "/recovered").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // No temporary file left; a second record of the same session replaces the first.
  ASSERT_TRUE(records.Record("3f9c0a7d12e4b856", Recovered("second")).ok());
  EXPECT_EQ(records.Find("3f9c0a7d12e4b856")->message(), "second");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(root + "/recovered")) {
    EXPECT_EQ(e.path().filename().string(), "3f9c0a7d12e4b856.ended");
    ++files;
  }
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(root);
}

TEST(RecoveredSessionsTest, IdsThatCouldBePathsAreRefusedAndGarbageIsNotAnEnd) {
  const std::string root = kdbg::testing::MakeTempDir("recovered");
  RecoveredSessions records(root);
  for (const std::string& bad :
       std::vector<std::string>{"", "../x", "a/b", ".hidden", std::string(65, 'a'), "a b"}) {
    EXPECT_EQ(records.Record(bad, Recovered("x")).code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_FALSE(records.Find(bad).has_value()) << bad;
  }
  {
    std::ofstream f(root + "/junk.ended");
    f << "\xff\xff\xff\xff not a protobuf";
  }
  EXPECT_FALSE(records.Find("junk").has_value());
  std::filesystem::remove_all(root);
}

TEST(RecoveredSessionsTest, SweepDeletesOnlyOldRecords) {
  const std::string root = kdbg::testing::MakeTempDir("recovered");
  RecoveredSessions records(root);
  ASSERT_TRUE(records.Record("old", Recovered("old")).ok());
  ASSERT_TRUE(records.Record("new", Recovered("new")).ok());
  const absl::Time now = absl::Now();
  struct utimbuf two_hours_ago {};
  two_hours_ago.actime = two_hours_ago.modtime = absl::ToTimeT(now - absl::Hours(2));
  ASSERT_EQ(::utime((root + "/old.ended").c_str(), &two_hours_ago), 0);
  EXPECT_EQ(records.Sweep(now, kRecoveredSessionTtl), 1);
  EXPECT_FALSE(records.Find("old").has_value());
  EXPECT_TRUE(records.Find("new").has_value());
  EXPECT_EQ(RecoveredSessions(root + "/missing").Sweep(now, absl::Hours(1)), 0);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace kdbg::agent
