#include "common/session_id.h"

#include <random>

#include "absl/strings/str_format.h"

namespace kdbg {

std::string NewSessionId() {
  // One engine per thread, seeded once from the kernel; no lock on the hot path.
  static thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                          std::random_device{}()};
  return absl::StrFormat("%016x", rng());
}

}  // namespace kdbg
