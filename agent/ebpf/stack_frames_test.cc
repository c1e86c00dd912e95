// StackFrames on a real Go 1.26 optimized build (tests/targets/values): how a hit's PC and its
// callers' return addresses become Delve's frames. The frames' equality with Delve's on a live
// target is EbpfEngineTest.StacksAreWhatDelveReports.
#include "agent/ebpf/stack_frames.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace kdbg::ebpf {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Lines(const std::vector<kdbg::v1::StackFrame>& frames) {
  std::vector<std::string> out;
  out.reserve(frames.size());
  for (const auto& f : frames) {
    out.push_back(absl::StrCat(f.function(), " ", f.line(), " ", f.pc()));
  }
  return out;
}

struct Values {
  std::unique_ptr<StackFrames> frames;
  uint64_t stamp = 0;   // main.stamp's entry
  uint64_t site = 0;    // where wrapStamp is inlined in serveNested
  int site_line = 0;    // the line of that address
  uint64_t goexit = 0;  // runtime.goexit's entry
  int goexit_line = 0;  // its line (asm_amd64.s)
  uint64_t serve = 0;   // main.serveNested's entry
  int serve_line = 0;   // its first line
};

Values Open(uint64_t bias) {
  Values v;
  auto dwarf = gobinary::DwarfReader::Open(kdbg::testing::TargetPath("values"));
  EXPECT_TRUE(dwarf.ok()) << dwarf.status();
  if (!dwarf.ok()) return v;
  auto stamp = (*dwarf)->FindFunction("main.stamp");
  auto serve = (*dwarf)->FindFunction("main.serveNested");
  auto goexit = (*dwarf)->FindFunction("runtime.goexit");
  auto calls = (*dwarf)->InlinedCalls("main.wrapStamp");
  EXPECT_TRUE(stamp.ok() && serve.ok() && goexit.ok() && calls.size() == 1);
  if (!stamp.ok() || !serve.ok() || !goexit.ok() || calls.size() != 1) return v;
  v.stamp = stamp->entry;
  v.serve = serve->entry;
  v.serve_line = serve->line;
  v.goexit = goexit->entry;
  v.goexit_line = goexit->line;
  v.site = calls[0].callee.entry;
  auto pos = (*dwarf)->LineAt(v.site);
  EXPECT_TRUE(pos.ok()) << pos.status();
  if (pos.ok()) v.site_line = pos->second;
  v.frames = std::make_unique<StackFrames>(*std::move(dwarf), bias);
  return v;
}

// The hit's own frame at its PC; a caller at its return address minus one, where serveNested
// holds wrapStamp's inlined code: two frames at one PC, the inlined one at the code's line and
// serveNested at its call of wrapStamp (353); runtime.goexit ends the stack. PCs are run-time.
TEST(StackFramesTest, NamesFramesAsDelve) {
  const uint64_t bias = 0x1000;
  Values v = Open(bias);
  ASSERT_NE(v.frames, nullptr);
  const std::vector<uint64_t> returns = {v.site + 1 + bias, v.goexit + 1 + bias, v.serve + bias};
  EXPECT_THAT(
      Lines(v.frames->Frames(v.stamp, returns, 10)),
      ElementsAre(absl::StrCat("main.stamp 359 ", v.stamp + bias),
                  absl::StrCat("main.wrapStamp ", v.site_line, " ", v.site + 1 + bias),
                  absl::StrCat("main.serveNested 353 ", v.site + 1 + bias),
                  absl::StrCat("runtime.goexit ", v.goexit_line, " ", v.goexit + 1 + bias)));
  // N + 1 frames, the last physical frame whole: one asked for past the hit's gives three.
  EXPECT_EQ(v.frames->Frames(v.stamp, returns, 1).size(), 3u);
  EXPECT_EQ(v.frames->Frames(v.stamp, returns, 0).size(), 1u);
  // The top frame is not moved back, and neither is a caller's return address at its function's
  // entry (a frame no CALL made), where no inlined call is looked for.
  EXPECT_THAT(Lines(v.frames->Frames(v.serve, {}, 3)),
              ElementsAre(absl::StrCat("main.serveNested ", v.serve_line, " ", v.serve + bias)));
  EXPECT_THAT(Lines(v.frames->Frames(v.stamp, {v.serve + bias}, 3)),
              ElementsAre(absl::StrCat("main.stamp 359 ", v.stamp + bias),
                          absl::StrCat("main.serveNested ", v.serve_line, " ", v.serve + bias)));
  // No function holds it: one unnamed frame, and nothing after it.
  std::vector<kdbg::v1::StackFrame> unknown =
      v.frames->Frames(v.stamp, {bias + 1, v.goexit + 1 + bias}, 10);
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[1].function(), "");
  EXPECT_EQ(unknown[1].file(), "?");
  EXPECT_EQ(unknown[1].line(), -1);
}

}  // namespace
}  // namespace kdbg::ebpf
