// The words kdbg prints, logs and audits for the protocol's enums, derived in one way from the enum
// value names of proto/kdbg/v1/types.proto: the name without its prefix, in lower case, with '-'
// for '_' (docs/cli.md quotes them; keep the enum names stable, they are the words):
//   SessionMode   SESSION_MODE_TRACE                -> "trace"
//   SessionState  SESSION_STATE_ATTACHING           -> "attaching"
//   NoticeKind    NOTICE_KIND_RATE_LIMITED          -> "rate-limited"
// An unnamed value (a newer peer's) reads "unknown-N"; the zero value reads "unspecified".
#pragma once

#include <string>

#include "kdbg/v1/types.pb.h"

namespace kdbg::v1 {

std::string Word(SessionMode mode);
std::string Word(SessionState state);
std::string Word(NoticeKind kind);

}  // namespace kdbg::v1
