#include "common/log.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace kdbg::log {
namespace {

const absl::Time kTime = absl::FromUnixMillis(1764000000123);

TEST(Log, TextRecordQuotesValuesWithSpaces) {
  std::string r = FormatRecord(Format::kText, kTime, Level::kWarning, "session ended",
                               {{"session", "ab12"}, {"reason", "lease expired"}, {"pid", 42}});
  EXPECT_EQ(r,
            "2025-11-24T16:00:00.123Z WARNING session ended session=ab12 "
            "reason=\"lease expired\" pid=42\n");
}

TEST(Log, JsonRecordKeepsTypes) {
  std::string r = FormatRecord(Format::kJson, kTime, Level::kInfo, "hit",
                               {{"pid", 42}, {"ok", true}, {"who", "a\"b"}});
  ASSERT_EQ(r.back(), '\n');
  auto j = nlohmann::json::parse(r);
  EXPECT_EQ(j["ts"], "2025-11-24T16:00:00.123Z");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "hit");
  EXPECT_EQ(j["pid"], 42);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["who"], "a\"b");
}

TEST(Log, ParseLevel) {
  Level l;
  ASSERT_TRUE(ParseLevel("warn", &l));
  EXPECT_EQ(l, Level::kWarning);
  EXPECT_FALSE(ParseLevel("loud", &l));
}

}  // namespace
}  // namespace kdbg::log
