#include "controller/event_peek.h"

#include <string>
#include <vector>

#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"

namespace kdbg::controller {
namespace {

v1::Event Hit(const std::string& value, bool returned = false) {
  v1::Event e;
  e.set_session_id("0123456789abcdef");
  e.set_time_unix_nanos(1764000000000000000);
  v1::HitEvent* h = e.mutable_hit();
  h->set_tracepoint("handleSlash");
  h->set_goroutine(42);
  h->set_function("main.handleSlash");
  h->set_file("/src/hello-world/main.go");
  h->set_line(11);
  h->set_hit_count(7);
  h->set_returned(returned);
  v1::Variable* v = returned ? h->add_results() : h->add_vars();
  v->set_name(returned ? "~r0" : "r.RemoteAddr");
  v->set_value(value);
  v->set_type("string");
  return e;
}

// The bytes cut into slices of `piece` bytes, as gRPC hands a message over when it arrived in
// several reads.
grpc::ByteBuffer InSlices(const grpc::ByteBuffer& whole, size_t piece) {
  grpc::Slice one;
  EXPECT_TRUE(whole.DumpToSingleSlice(&one).ok());
  std::string bytes(reinterpret_cast<const char*>(one.begin()), one.size());
  std::vector<grpc::Slice> slices;
  for (size_t at = 0; at < bytes.size(); at += piece) slices.emplace_back(bytes.substr(at, piece));
  return grpc::ByteBuffer(slices.data(), slices.size());
}

TEST(EventPeekTest, CountsCallsNotReturnsInAHitAndInABatch) {
  auto lone = PeekEvent(SerializeEvent(Hit("\"127.0.0.1:5000\"")));
  ASSERT_TRUE(lone.ok()) << lone.status();
  EXPECT_EQ(lone->hits, 1);
  EXPECT_FALSE(lone->armed.has_value());
  EXPECT_FALSE(lone->ended.has_value());

  auto ret = PeekEvent(SerializeEvent(Hit("42", /*returned=*/true)));
  ASSERT_TRUE(ret.ok()) << ret.status();
  EXPECT_EQ(ret->hits, 0);

  v1::Event batch;
  batch.set_session_id("0123456789abcdef");
  for (int i = 0; i < 300; ++i) {
    *batch.mutable_batch()->add_events() = Hit(std::to_string(i), /*returned=*/i % 3 == 2);
  }
  const grpc::ByteBuffer bytes = SerializeEvent(batch);
  for (size_t piece : {bytes.Length(), size_t{1}, size_t{7}, size_t{4096}}) {
    auto p = PeekEvent(InSlices(bytes, piece));
    ASSERT_TRUE(p.ok()) << "slices of " << piece << ": " << p.status();
    EXPECT_EQ(p->hits, 200) << "slices of " << piece;
  }
  // The buffer is relayed as it was: peeking does not consume it.
  v1::Event back;
  ASSERT_TRUE(ParseBytes(bytes, &back));
  EXPECT_EQ(back.batch().events_size(), 300);
  EXPECT_EQ(back.batch().events(298).hit().vars(0).value(), "298");
  EXPECT_EQ(back.batch().events(299).hit().results(0).value(), "299");
}

TEST(EventPeekTest, ReadsTheArmedAndEndedEventsWhole) {
  v1::Event armed;
  armed.mutable_armed()->set_host_pid(4242);
  armed.mutable_armed()->add_tracepoints()->set_name("handleSlash");
  auto a = PeekEvent(SerializeEvent(armed));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(a->armed.has_value());
  EXPECT_EQ(a->armed->host_pid(), 4242);
  EXPECT_EQ(a->armed->tracepoints(0).name(), "handleSlash");
  EXPECT_EQ(a->hits, 0);

  v1::Event ended;
  ended.mutable_ended()->set_reason(v1::END_REASON_MAX_HITS);
  ended.mutable_ended()->set_hits(17);
  ended.mutable_ended()->set_target_alive(true);
  ended.mutable_ended()->set_message("target running, detached cleanly");
  auto e = PeekEvent(SerializeEvent(ended));
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_TRUE(e->ended.has_value());
  EXPECT_EQ(e->ended->reason(), v1::END_REASON_MAX_HITS);
  EXPECT_EQ(e->ended->hits(), 17);
  EXPECT_EQ(e->ended->message(), "target running, detached cleanly");

  v1::Event notice;
  notice.mutable_notice()->set_kind(v1::NOTICE_KIND_RATE_LIMITED);
  notice.mutable_notice()->set_message("tracepoint handleSlash exceeded 1000 hits per second");
  auto n = PeekEvent(SerializeEvent(notice));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->hits, 0);
  EXPECT_FALSE(n->armed.has_value());
  EXPECT_FALSE(n->ended.has_value());
}

TEST(EventPeekTest, SkipsFieldsOfANewerAgent) {
  v1::Event e = Hit("\"x\"");
  // A field this controller does not know, at the top and inside the hit: a newer agent's.
  v1::Event::GetReflection()->MutableUnknownFields(&e)->AddLengthDelimited(99, "future");
  v1::HitEvent::GetReflection()->MutableUnknownFields(e.mutable_hit())->AddVarint(98, 1);
  auto p = PeekEvent(SerializeEvent(e));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->hits, 1);
}

TEST(EventPeekTest, RefusesBytesThatAreNotAnEvent) {
  v1::Event batch;
  for (int i = 0; i < 3; ++i) *batch.mutable_batch()->add_events() = Hit("\"x\"");
  grpc::Slice whole;
  ASSERT_TRUE(SerializeEvent(batch).DumpToSingleSlice(&whole).ok());
  std::string bytes(reinterpret_cast<const char*>(whole.begin()), whole.size());

  // Cut short inside the last hit.
  grpc::Slice cut(bytes.substr(0, bytes.size() - 5));
  auto p = PeekEvent(grpc::ByteBuffer(&cut, 1));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("not a well-formed kdbg.v1.Event"), std::string::npos);

  // Field number 0 is never valid.
  grpc::Slice zero(std::string("\x00\x01", 2));
  EXPECT_FALSE(PeekEvent(grpc::ByteBuffer(&zero, 1)).ok());
  // A length past the end.
  grpc::Slice long_hit(std::string("\x5a\x7f\x01", 3));  // field 11, length 127, 1 byte
  EXPECT_FALSE(PeekEvent(grpc::ByteBuffer(&long_hit, 1)).ok());
}

}  // namespace
}  // namespace kdbg::controller
