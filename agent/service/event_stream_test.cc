#include "agent/service/event_stream.h"

#include "agent/delve/debug_session.h"
#include "gtest/gtest.h"

namespace kdbg::agent {
namespace {

constexpr size_t kAnySize = size_t{1} << 30;

kdbg::v1::Event Hit(int n) {
  kdbg::v1::Event e;
  e.set_session_id("s1");
  e.mutable_hit()->set_hit_count(n);
  return e;
}

TEST(EventStreamTest, DeliversInOrderThenFinishes) {
  EventStream s(8);
  int wakeups = 0;
  s.SetWakeup([&] { ++wakeups; });
  kdbg::v1::Event armed;
  armed.mutable_armed()->set_host_pid(42);
  s.Push(armed);
  s.Push(Hit(1));
  s.Close(grpc::Status::OK);
  s.Push(Hit(2));  // after Close: ignored
  EXPECT_EQ(wakeups, 3);
  auto a = s.Pop();
  ASSERT_EQ(a.kind, EventStream::Item::Kind::kEvent);
  EXPECT_EQ(a.event.armed().host_pid(), 42);
  auto h = s.Pop();
  ASSERT_EQ(h.kind, EventStream::Item::Kind::kEvent);
  EXPECT_EQ(h.event.hit().hit_count(), 1);
  auto f = s.Pop();
  ASSERT_EQ(f.kind, EventStream::Item::Kind::kFinish);
  EXPECT_TRUE(f.status.ok());
  EXPECT_EQ(s.Pop().kind, EventStream::Item::Kind::kFinish);
}

TEST(EventStreamTest, DropsOnlyHitsPastCapacityAndSaysSo) {
  EventStream s(2);
  for (int i = 1; i <= 5; ++i) s.Push(Hit(i));
  kdbg::v1::Event ended;
  ended.mutable_ended()->set_hits(5);
  s.Push(ended);  // control events are never dropped
  EXPECT_EQ(s.dropped(), 3);
  auto notice = s.Pop();
  ASSERT_EQ(notice.kind, EventStream::Item::Kind::kEvent);
  ASSERT_TRUE(notice.event.has_notice());
  EXPECT_EQ(notice.event.notice().kind(), kdbg::v1::NOTICE_KIND_EVENTS_DROPPED);
  EXPECT_EQ(notice.event.notice().message().rfind("3 hit events dropped", 0), 0u)
      << notice.event.notice().message();
  EXPECT_EQ(s.Pop().event.hit().hit_count(), 1);
  EXPECT_EQ(s.Pop().event.hit().hit_count(), 2);
  EXPECT_TRUE(s.Pop().event.has_ended());
  EXPECT_EQ(s.Pop().kind, EventStream::Item::Kind::kEmpty);
}

TEST(EventStreamTest, PopBatchPacksConsecutiveHitsInOrder) {
  EventStream s(16);
  kdbg::v1::Event armed;
  armed.mutable_armed()->set_host_pid(42);
  s.Push(armed);
  for (int i = 1; i <= 5; ++i) s.Push(Hit(i));
  kdbg::v1::Event notice;
  notice.mutable_notice()->set_message("n");
  s.Push(notice);
  s.Push(Hit(6));
  s.Close(grpc::Status::OK);
  EXPECT_TRUE(s.PopBatch(3, kAnySize).event.has_armed());  // control events come alone
  auto b1 = s.PopBatch(3, kAnySize);
  ASSERT_TRUE(b1.event.has_batch()) << b1.event.DebugString();
  EXPECT_EQ(b1.event.session_id(), "s1");
  ASSERT_EQ(b1.event.batch().events_size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b1.event.batch().events(i).hit().hit_count(), i + 1);
  auto b2 = s.PopBatch(3, kAnySize);
  ASSERT_EQ(b2.event.batch().events_size(), 2);
  EXPECT_EQ(b2.event.batch().events(1).hit().hit_count(), 5);
  EXPECT_TRUE(s.PopBatch(3, kAnySize).event.has_notice());  // a batch never crosses another event
  auto lone = s.PopBatch(3, kAnySize);
  ASSERT_TRUE(lone.event.has_hit());  // a lone hit comes as itself
  EXPECT_EQ(lone.event.hit().hit_count(), 6);
  EXPECT_EQ(s.PopBatch(3, kAnySize).kind, EventStream::Item::Kind::kFinish);
}

TEST(EventStreamTest, PopBatchKeepsABatchWithinItsBytesUnlessOneHitIsLarger) {
  EventStream s(16);
  auto big = [](int n, size_t bytes) {
    kdbg::v1::Event e = Hit(n);
    e.mutable_hit()->add_args()->set_value(std::string(bytes, 'x'));
    return e;
  };
  for (int i = 1; i <= 4; ++i) s.Push(big(i, 1000));  // ~1,020 bytes each in a batch
  s.Push(big(5, 5000));
  s.Push(big(6, 1000));
  auto b1 = s.PopBatch(16, 2500);
  ASSERT_EQ(b1.event.batch().events_size(), 2) << "two fit in 2,500 bytes, three do not";
  EXPECT_LE(b1.event.batch().ByteSizeLong(), 2500u);
  EXPECT_EQ(s.PopBatch(16, 2500).event.batch().events_size(), 2);
  // The 5,000-byte hit alone is over the bound: it goes, alone, as itself.
  auto lone = s.PopBatch(16, 2500);
  ASSERT_TRUE(lone.event.has_hit()) << lone.event.ShortDebugString().substr(0, 200);
  EXPECT_EQ(lone.event.hit().hit_count(), 5);
  EXPECT_EQ(s.PopBatch(16, 2500).event.hit().hit_count(), 6);
}

TEST(EventStreamTest, AnEventBunchWakesTheConsumerOnceAfterItsLastEvent) {
  EventStream s(16);
  int wakeups = 0;
  size_t queued_at_wakeup = 0;
  s.SetWakeup([&] {
    ++wakeups;
    queued_at_wakeup = s.size();
  });
  {
    EventBunch outer;
    {
      EventBunch inner;  // nested: only the outermost end wakes
      for (int i = 1; i <= 3; ++i) s.Push(Hit(i));
    }
    s.Push(Hit(4));
    EXPECT_EQ(wakeups, 0);
  }
  EXPECT_EQ(wakeups, 1);
  EXPECT_EQ(queued_at_wakeup, 4u);
  auto b = s.PopBatch(16, kAnySize);
  ASSERT_EQ(b.event.batch().events_size(), 4);
  s.Push(Hit(5));  // no bunch: woken at once
  EXPECT_EQ(wakeups, 2);
}

TEST(EventStreamTest, ErrorStatusComesAfterTheQueuedEvents) {
  EventStream s(4);
  kdbg::v1::Event err;
  err.mutable_error()->set_code("NOT_FOUND");
  s.Push(err);
  s.Close(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such container"));
  s.Close(grpc::Status::OK);  // the first status wins
  EXPECT_TRUE(s.Pop().event.has_error());
  auto f = s.Pop();
  ASSERT_EQ(f.kind, EventStream::Item::Kind::kFinish);
  EXPECT_EQ(f.status.error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace kdbg::agent
