#include "proto/words.h"

#include <cctype>

namespace kdbg::v1 {
namespace {

std::string FromName(const std::string& name, const std::string& prefix, int value) {
  if (name.empty() || name.compare(0, prefix.size(), prefix) != 0) {
    return "unknown-" + std::to_string(value);
  }
  std::string word = name.substr(prefix.size());
  for (char& c : word) {
    c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return word;
}

}  // namespace

std::string Word(SessionMode mode) {
  return FromName(SessionMode_Name(mode), "SESSION_MODE_", mode);
}

std::string Word(SessionState state) {
  return FromName(SessionState_Name(state), "SESSION_STATE_", state);
}

std::string Word(NoticeKind kind) { return FromName(NoticeKind_Name(kind), "NOTICE_KIND_", kind); }

}  // namespace kdbg::v1
