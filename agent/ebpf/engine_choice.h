// Which engine runs a trace session: `kdbg trace --engine auto|ebpf|delve` (TraceSpec.engine).
//   delve  the Delve engine.
//   ebpf   the eBPF engine, or its error (which script line keeps it out and why, or why this node
//          cannot run it).
//   auto   (also empty) the eBPF engine when the whole script qualifies and the node supports
//          it, else Delve. A script Delve would refuse the same way (malformed, unknown location)
//          is refused at once, and so is one the eBPF engine compiled far enough to find a field
//          the value's type does not have (plan.h, IsScriptMistake: "... which has no field
//          RemoteAdr (did you mean RemoteAddr?); fix the script ..."), which on Delve would
//          stop the target at every hit to print that error. (--engine delve runs such a script
//          as `dlv trace` would.) When Delve refuses too (e.g. a Go version outside the bundled
//          Delve's range), the error gives both reasons: "<Delve's> (eBPF engine not used: ...)".
// The bundled Delve's Go range gates the Delve engine only (the session manager lets an
// unsupported Go through when the session may run on eBPF); the eBPF engine needs Go >= 1.17.
// The ArmedEvent says which engine runs (`engine`) and, when auto chose Delve, why
// (`engine_note`, e.g. "trace.dlv:3: stacks (`on .. stack`) run on Delve"). Attach sessions always
// run on Delve.
//
// Delve's breakpoints and the eBPF engine's uprobes never meet in processes of one build on the
// node (build_claims.h: the kernel would take Delve's int3s for uprobes and drop their hits
// silently). While sessions of one engine hold a build (Go build ID), the other engine is
// refused there with FailedPrecondition naming the holding session (`kdbg stop` it, or use the
// same engine); `auto` then runs on Delve when Delve holds it (engine_note says why), and an
// eBPF claim is made only once the script qualifies (TraceSpec.before_probing). A session
// releases its claim as its EndedEvent goes out (its safe end done: a client that ends a session
// and at once debugs the build with the other engine is not refused), or, if it left the target
// traced, when it is destroyed; a failed start at once.
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
