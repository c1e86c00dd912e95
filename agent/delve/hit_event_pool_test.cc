#include "agent/delve/hit_event_pool.h"

#include <string>

#include "gtest/gtest.h"

namespace kdbg::agent {
namespace {

// A hit as the eBPF session fills one.
void Fill(kdbg::v1::Event* e, const std::string& value) {
  e->set_session_id("s1");
  e->set_time_unix_nanos(42);
  kdbg::v1::HitEvent* h = e->mutable_hit();
  h->set_tracepoint("handleSlash");
  h->set_function("main.handleSlash");
  h->set_goroutine(7);
  kdbg::v1::Variable* v = h->add_vars();
  v->set_name("r.RemoteAddr");
  v->set_type("string");
  v->set_value(value);
}

TEST(HitEventPoolTest, AnEventGivenBackComesBackClearWithItsMemory) {
  HitEventPool pool;
  kdbg::v1::Event e = pool.Take();
  ASSERT_TRUE(e.has_hit());
  Fill(&e, "\"127.0.0.1:53422 and a value longer than a short string\"");
  const kdbg::v1::Variable* var = &e.hit().vars(0);
  const std::string* value = &var->value();
  (void)e.ByteSizeLong();  // as the stream's write does
  pool.Give(std::move(e));
  EXPECT_EQ(pool.size(), 1u);

  kdbg::v1::Event again = pool.Take();
  EXPECT_EQ(pool.size(), 0u);
  // Nothing of the last hit is left...
  EXPECT_EQ(again.session_id(), "");
  EXPECT_EQ(again.time_unix_nanos(), 0);
  ASSERT_TRUE(again.has_hit());
  EXPECT_EQ(again.hit().tracepoint(), "");
  EXPECT_EQ(again.hit().goroutine(), 0);
  EXPECT_EQ(again.hit().vars_size(), 0);
  // ...but its memory: the variable and its string are the same objects, ready for the next.
  kdbg::v1::Variable* reused = again.mutable_hit()->add_vars();
  EXPECT_EQ(reused, var);
  EXPECT_EQ(&reused->value(), value);
  EXPECT_EQ(reused->value(), "");
}

TEST(HitEventPoolTest, KeepsOnlyHitsItHandedOutWithinItsBounds) {
  HitEventPool pool;
  kdbg::v1::Event built;  // not from the pool (the Delve engine's hits): never kept
  Fill(&built, "1");
  pool.Give(std::move(built));
  EXPECT_EQ(pool.size(), 0u);

  kdbg::v1::Event large = pool.Take();
  Fill(&large, std::string(HitEventPool::kMaxPooledBytes, 'x'));
  (void)large.ByteSizeLong();
  pool.Give(std::move(large));  // its strings would keep that size: freed
  EXPECT_EQ(pool.size(), 0u);

  kdbg::v1::Event notice = pool.Take();
  notice.mutable_notice()->set_message("not a hit");
  pool.Give(std::move(notice));
  EXPECT_EQ(pool.size(), 0u);

  // A batch written: each of its hits, as many as are out.
  kdbg::v1::Event batch;
  for (int i = 0; i < 3; ++i) {
    kdbg::v1::Event h = pool.Take();
    Fill(&h, std::to_string(i));
    *batch.mutable_batch()->add_events() = std::move(h);
  }
  kdbg::v1::Event extra;
  Fill(&extra, "3");
  *batch.mutable_batch()->add_events() = std::move(extra);
  (void)batch.ByteSizeLong();
  pool.GiveHits(std::move(batch));
  // Three taken here (and two given back refused above, still counted out): four of four kept.
  EXPECT_EQ(pool.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pool.Take().hit().vars_size(), 0);
}

}  // namespace
}  // namespace kdbg::agent
