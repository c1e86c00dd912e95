// Which engine runs a trace session: `kdbg trace --engine auto|ebpf|delve` (TraceSpec.engine).
//   delve  the Delve engine.
//   ebpf   the eBPF engine, or its error (which script line keeps it out and why, or why this node
//          cannot run it).
//   auto   (also empty) the eBPF engine when the whole script qualifies and the node supports
//          it, else Delve. A script Delve would refuse the same way (malformed, unknown location)
//          is refused at once.
// The ArmedEvent says which engine runs (`engine`) and, when auto chose Delve, why
// (`engine_note`, e.g. "trace.dlv:3: conditions (`cond`) run on Delve"). Attach sessions always
// run on Delve.
//
// Thread safety: as the wrapped factories (both are thread-safe).
#pragma once

#include <memory>

#include "agent/delve/debug_session.h"

namespace kdbg::ebpf {

std::unique_ptr<agent::DebugSessionFactory> NewEngineChoosingFactory(
    std::shared_ptr<agent::DebugSessionFactory> delve,
    std::shared_ptr<agent::DebugSessionFactory> ebpf);

}  // namespace kdbg::ebpf
