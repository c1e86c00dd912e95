#include "proto/words.h"

#include "gtest/gtest.h"

namespace kdbg::v1 {
namespace {

// The words are a contract (docs/cli.md, metrics labels, audit lines): each one pinned here.
TEST(WordsTest, EveryValueHasItsWord) {
  EXPECT_EQ(Word(SESSION_MODE_TRACE), "trace");
  EXPECT_EQ(Word(SESSION_MODE_ATTACH), "attach");
  EXPECT_EQ(Word(SESSION_MODE_UNSPECIFIED), "unspecified");
  EXPECT_EQ(Word(SESSION_STATE_ATTACHING), "attaching");
  EXPECT_EQ(Word(SESSION_STATE_TRACING), "tracing");
  EXPECT_EQ(Word(SESSION_STATE_ATTACHED), "attached");
  EXPECT_EQ(Word(SESSION_STATE_ENDING), "ending");
  EXPECT_EQ(Word(NOTICE_KIND_PROGRESS), "progress");
  EXPECT_EQ(Word(NOTICE_KIND_READY), "ready");
  EXPECT_EQ(Word(NOTICE_KIND_RATE_LIMITED), "rate-limited");
  EXPECT_EQ(Word(NOTICE_KIND_TOTAL_RATE_LIMITED), "total-rate-limited");
  EXPECT_EQ(Word(NOTICE_KIND_EVENTS_DROPPED), "events-dropped");
  EXPECT_EQ(Word(NOTICE_KIND_BREAKPOINT_CONTINUED), "breakpoint-continued");
  EXPECT_EQ(Word(NOTICE_KIND_INTERNAL_BREAKPOINT), "internal-breakpoint");
  EXPECT_EQ(Word(NOTICE_KIND_CONTINUE_ERROR), "continue-error");
  EXPECT_EQ(Word(NOTICE_KIND_BREAKPOINT_LOST), "breakpoint-lost");
  EXPECT_EQ(Word(NOTICE_KIND_KILL_REFUSED), "kill-refused");
  EXPECT_EQ(Word(NOTICE_KIND_BREAKPOINTS_DISABLED), "breakpoints-disabled");
  EXPECT_EQ(Word(NOTICE_KIND_BREAKPOINTS_ENABLED), "breakpoints-enabled");
}

TEST(WordsTest, ValuesFromANewerPeer) {
  EXPECT_EQ(Word(static_cast<NoticeKind>(99)), "unknown-99");
  EXPECT_EQ(Word(static_cast<SessionState>(42)), "unknown-42");
}

}  // namespace
}  // namespace kdbg::v1
