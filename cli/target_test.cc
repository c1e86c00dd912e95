#include "cli/target.h"

#include "gtest/gtest.h"

namespace kdbg::cli {
namespace {

TEST(TargetTest, ParseTarget) {
  EXPECT_EQ(*ParseTarget("pod/hello-world"), "hello-world");
  EXPECT_EQ(*ParseTarget("pods/hello-world"), "hello-world");
  EXPECT_EQ(*ParseTarget("hello-world"), "hello-world");
  EXPECT_EQ(ParseTarget("deployment/web").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("pod/").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTarget("Web_1").status().code(), absl::StatusCode::kInvalidArgument);
}

// Container choice: kube/containers_test.cc (one rule for the CLI and the controller).

}  // namespace
}  // namespace kdbg::cli
