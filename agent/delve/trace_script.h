// The trace-script grammar lives in script/trace_script.h (library kdbg_script), shared with the
// controller's policy check. These names keep the engine's spelling (delve::TraceScript, ...).
#pragma once

#include "script/trace_script.h"

namespace kdbg::delve {

using script::ParseTraceScript;
using script::ScriptBreakpoint;
using script::TraceScript;

}  // namespace kdbg::delve
