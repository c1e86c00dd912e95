// The one generator of session IDs: the controller names each session it opens, and the agent and
// the Delve engine name a session started without one (tests, benchmarks, a bare agent).
//
// An ID is 16 lower-case hex digits ("3f9c0a7d12e4b856"): 64 bits from the kernel's random source,
// so IDs from independent controllers, agents and restarts do not collide in practice. Thread-safe.
#pragma once

#include <string>

namespace kdbg {

std::string NewSessionId();

}  // namespace kdbg
