#include "common/byte_size.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg {
namespace {

TEST(ByteSizeTest, ParsesQuantities) {
  EXPECT_EQ(*ParseByteSize("536870912"), 536870912);
  EXPECT_EQ(*ParseByteSize("512Mi"), int64_t{512} << 20);
  EXPECT_EQ(*ParseByteSize("1Gi"), int64_t{1} << 30);
  EXPECT_EQ(*ParseByteSize("64Ki"), 65536);
  EXPECT_EQ(*ParseByteSize("500M"), 500000000);
  EXPECT_EQ(*ParseByteSize(" 2G "), 2000000000);
}

TEST(ByteSizeTest, RefusesNonSizes) {
  for (const char* bad : {"", "Mi", "-1", "1.5Gi", "12 MB", "10Xi", "99999999999999999999"}) {
    auto s = ParseByteSize(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("512Mi"));
  }
}

TEST(ByteSizeTest, HumanSizes) {
  EXPECT_EQ(HumanSize(17), "17 bytes");
  EXPECT_EQ(HumanSize(1), "1 byte");
  EXPECT_EQ(HumanSize(int64_t{512} << 20), "512 MiB");
  EXPECT_EQ(HumanSize((int64_t{3} << 30) / 2), "1.5 GiB");
  EXPECT_EQ(HumanSize(812 * 1024), "812 KiB");
}

}  // namespace
}  // namespace kdbg
