#include "cli/commands.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/command_util.h"
#include "cli/quick_trace.h"
#include "cli/sessions_view.h"
#include "cli/supervisor.h"
#include "cli/trace_stats.h"
#include "common/status.h"
#include "google/protobuf/arena.h"

namespace kdbg::cli {

using internal::Connection;
using internal::Console;

namespace {

constexpr absl::Duration kUnaryTimeout = absl::Seconds(30);
// The controller holds a session for this long without the CLI; the stream renews it.

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the trace script ", path, ": check the path given to --init"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Basename(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

absl::Status ParseHostPort(const std::string& text, std::string* host, int* port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(text.substr(colon + 1), port) ||
      *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not HOST:PORT (e.g. 127.0.0.1:2345)"));
  }
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::OkStatus();
}

std::string AttachInstructions(const std::string& host, int port, const std::string& pod_ref,
                               const std::string& vscode_configuration) {
  std::string addr = absl::StrCat(host, ":", port);
  std::string indented;
  for (absl::string_view line : absl::StrSplit(vscode_configuration, '\n')) {
    absl::StrAppend(&indented, "  ", line, "\n");
  }
  return absl::StrCat(
      "Delve is listening for you on ", addr, " (tunnelled to ", pod_ref, ").\n", "Connect with:\n",
      "  dlv connect ", addr, "\n",
      "or add to .vscode/launch.json (kdbg attach --vscode writes it):\n", indented,
      "Leave dlv with `clearall` then `quit -c` (the target runs on); kdbg refuses a "
      "debugger's request to kill the pod's process (dlv's `quit` asks \"kill the process?\", "
      "default yes). Press Ctrl-C here to end the session.\n");
}

int RunTrace(const GlobalOptions& g, const TraceCommandOptions& o, const CommandEnv& env) {
  Console console(env, g.format);
  absl::StatusOr<std::string> script;
  std::string script_name = "quick-trace";
  if (!o.init_file.empty()) {
    script = ReadFile(o.init_file);
    if (!script.ok()) return console.Fail(script.status());
    script_name = Basename(o.init_file);
  }
  auto conn = internal::Connect(g, &o.target, env, console);
  if (!conn.ok()) return console.Fail(conn.status());
  if (o.init_file.empty()) {
    script = internal::ExpandQuickTrace(o, *conn, console);  // cli/quick_trace.h
    if (!script.ok()) return console.Fail(script.status());
  }

  kdbg::v1::ControllerTraceRequest req;
  *req.mutable_target() = conn->target;
  req.mutable_options()->set_script(*script);
  req.mutable_options()->set_script_name(script_name);
  req.mutable_options()->set_duration_ms(absl::ToInt64Milliseconds(o.duration));
  req.mutable_options()->set_max_hits(o.max_hits);
  req.mutable_options()->set_max_hits_per_second(o.rate_limit);
  req.mutable_options()->set_allow_unsupported_go(o.allow_unsupported_go);
  req.mutable_options()->set_engine(o.engine);
  req.mutable_options()->set_no_returns(o.no_returns);
  req.mutable_options()->set_batch_events(true);  // unpacked below
  req.set_lease_ms(absl::ToInt64Milliseconds(o.lease));
  if (conn->many) {
    // One session over several pods: the controller authorizes each and opens one part per pod.
    for (const kube::Pod& p : conn->pods) req.add_pods(p.name);
    req.set_selection(conn->selection);
    req.set_max_hits_per_pod(o.max_hits_per_pod);
    req.set_max_hits_per_second_total(o.rate_limit_total);
    if (!o.debug_binary.empty()) {
      return console.Fail(absl::InvalidArgumentError(
          absl::StrCat("--debug-binary works with one pod; trace one of ", conn->selection,
                       "'s pods as pod/NAME (they run the same build)")));
    }
  } else if (o.max_hits_per_pod > 0) {
    return console.Fail(absl::InvalidArgumentError(
        "--max-hits-per-pod is for a workload or -l selector; for one pod use --max-hits"));
  } else if (o.rate_limit_total > 0) {
    return console.Fail(absl::InvalidArgumentError(
        "--rate-limit-total is for a workload or -l selector; for one pod use --rate-limit"));
  }
  if (!o.debug_binary.empty()) {
    auto uploaded = internal::UploadDebugBinary(kdbg::v1::SESSION_MODE_TRACE, o.debug_binary, *conn,
                                                env, console);
    if (!uploaded.ok()) return console.Fail(uploaded.status());
    req.set_debug_binary_id(uploaded->upload_id());
  }

  grpc::ClientContext context;
  PrepareContext(&context, conn->token);
  console.Err(
      absl::StrCat("kdbg: asking the controller at ", conn->endpoint.Describe(), " to trace\n"));
  internal::StreamSupervisor supervisor(*conn, &context, env, console);
  supervisor.Start();
  auto reader = conn->stub->Trace(&context, req);

  // Each message is read into an Event on an arena whose first block is kept across messages: a
  // batch of hundreds of hits (docs/ebpf-engine.md) is parsed without a malloc per field and freed
  // at once, not object by object. Nothing read outlives its loop turn but copies.
  std::vector<char> arena_block(size_t{1} << 20);
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = arena_block.data();
  arena_options.initial_block_size = arena_block.size();
  google::protobuf::Arena arena(arena_options);
  std::optional<kdbg::v1::EndedEvent> ended;
  bool error_event = false;
  int64_t hits = 0;
  // Several pods: each part's ended and failed lines carry its pod; the session's own end is the
  // closing EndedEvent without one.
  bool part_failed = false;
  std::unique_ptr<internal::StatsPrinter> stats;  // --stats: cli/trace_stats.h
  if (o.stats) stats = std::make_unique<internal::StatsPrinter>(console, o.stats_terminal);
  while (true) {
    arena.Reset();
    kdbg::v1::Event& event = *google::protobuf::Arena::CreateMessage<kdbg::v1::Event>(&arena);
    if (!reader->Read(&event)) break;
    if (!event.session_id().empty()) supervisor.SetSessionId(event.session_id());
    if (event.has_batch()) {
      // Hits the agent sent as one message: printed with one write.
      Rendered all;
      for (const kdbg::v1::Event& e : event.batch().events()) {
        if (e.has_hit() && !e.hit().returned()) ++hits;
        if (stats != nullptr && stats->Feed(e)) continue;
        Rendered r = RenderEvent(e, g.format);
        all.out += r.out;
        all.err += r.err;
      }
      console.Print(all);
      continue;
    }
    if (event.has_hit() && !event.hit().returned()) ++hits;
    if (event.has_ended() && event.pod().empty()) ended = event.ended();
    if (event.has_error()) (event.pod().empty() ? error_event : part_failed) = true;
    if (stats != nullptr && stats->Feed(event)) continue;
    console.Print(RenderEvent(event, g.format));
  }
  grpc::Status status = reader->Finish();
  supervisor.Finish();
  if (stats != nullptr) stats->Finish();

  if (supervisor.forced()) {
    console.Err("kdbg: quit at once; the agent still ends the session safely on its own\n");
    return 130;
  }
  if (!ended && supervisor.stop_ended()) {
    ended = supervisor.stop_ended();
    kdbg::v1::Event e;
    *e.mutable_ended() = *ended;
    e.set_time_unix_nanos(absl::ToUnixNanos(absl::Now()));
    console.Print(RenderEvent(e, g.format));
  }
  if (ended && conn->many) {
    // Several pods: 0 only when every pod armed and every part ended cleanly (the summary says
    // which did not).
    if (part_failed || ended->target_traced()) return 1;
    for (const kdbg::v1::PodOutcome& p : ended->pods()) {
      if (p.outcome() != "ended") return 1;
    }
    if (supervisor.stop_requested()) return 0;
    return CleanEnd(*ended) ? 0 : 1;
  }
  if (ended) {
    if (supervisor.stop_requested()) return 0;
    return CleanEnd(*ended) ? 0 : 1;
  }
  if (supervisor.stop_requested()) {
    kdbg::v1::Event e;
    e.mutable_ended()->set_reason(kdbg::v1::END_REASON_CLIENT_GONE);
    e.mutable_ended()->set_hits(hits);
    e.mutable_ended()->set_message(
        "stopped before the controller confirmed; the agent ends the session safely when it sees "
        "the client gone");
    e.set_time_unix_nanos(absl::ToUnixNanos(absl::Now()));
    console.Print(RenderEvent(e, g.format));
    return 0;
  }
  if (error_event) return 1;
  if (!status.ok()) {
    return console.Fail(internal::RpcStatus(status, "trace", *conn, supervisor.session_id()));
  }
  return console.Fail("UNAVAILABLE",
                      "the controller closed the trace stream without saying why it ended; check "
                      "`kdbg sessions` and the controller's logs");
}

int RunResolve(const GlobalOptions& g, const TargetOptions& o, const CommandEnv& env) {
  Console console(env, g.format);
  auto conn = internal::Connect(g, &o, env, console, "resolve");
  if (!conn.ok()) return console.Fail(conn.status());
  kdbg::v1::ControllerResolveRequest req;
  *req.mutable_target() = conn->target;
  kdbg::v1::ControllerResolveResponse resp;
  grpc::ClientContext context;
  PrepareContext(&context, conn->token, kUnaryTimeout);
  grpc::Status status = conn->stub->Resolve(&context, req, &resp);
  if (!status.ok()) return console.Fail(internal::RpcStatus(status, "resolve", *conn));
  console.Out(g.format == OutputFormat::kJson ? ResolveJson(resp, conn->target)
                                              : ResolveText(resp, conn->target));
  if (!resp.target().debuggable()) {
    console.Err(absl::StrCat("kdbg: not debuggable: ", resp.target().problem(), "\n"));
    return 1;
  }
  return 0;
}

int RunSessions(const GlobalOptions& g, const SessionsCommandOptions& o, const CommandEnv& env) {
  const bool all_namespaces = o.all_namespaces;
  Console console(env, g.format);
  auto conn = internal::Connect(g, nullptr, env, console);
  if (!conn.ok()) return console.Fail(conn.status());
  kdbg::v1::ControllerListSessionsRequest req;
  if (all_namespaces) {
    req.set_all_namespaces(true);
  } else {
    req.set_namespace_(g.namespace_.empty() ? conn->cluster->Namespace() : g.namespace_);
  }
  kdbg::v1::ControllerListSessionsResponse resp;
  grpc::ClientContext context;
  PrepareContext(&context, conn->token, kUnaryTimeout);
  grpc::Status status = conn->stub->ListSessions(&context, req, &resp);
  if (!status.ok()) return console.Fail(internal::RpcStatus(status, "list sessions", *conn));
  PrintSessions(resp, o, req.namespace_(), absl::ToUnixNanos(absl::Now()), console);
  return 0;
}

int RunStop(const GlobalOptions& g, const std::string& session_id, const CommandEnv& env) {
  Console console(env, g.format);
  auto conn = internal::Connect(g, nullptr, env, console);
  if (!conn.ok()) return console.Fail(conn.status());
  kdbg::v1::ControllerStopSessionRequest req;
  req.set_session_id(session_id);
  kdbg::v1::ControllerStopSessionResponse resp;
  grpc::ClientContext context;
  PrepareContext(&context, conn->token, kUnaryTimeout);
  grpc::Status status = conn->stub->StopSession(&context, req, &resp);
  if (!status.ok()) {
    return console.Fail(
        internal::RpcStatus(status, absl::StrCat("stop session ", session_id), *conn));
  }
  kdbg::v1::Event e;
  e.set_session_id(session_id);
  *e.mutable_ended() = resp.ended();
  Rendered r = RenderEvent(e, g.format);
  if (g.format == OutputFormat::kText) {
    r.out = r.err;  // the answer to `kdbg stop` is the summary itself
    r.err.clear();
  }
  console.Print(r);
  return 0;
}

int RunVersion(const GlobalOptions& g, const CommandEnv& env) {
  Console console(env, OutputFormat::kText);
  console.Out(VersionText(env.cli_version, nullptr));
  auto conn = internal::Connect(g, nullptr, env, console);
  if (!conn.ok()) return console.Fail(conn.status());
  kdbg::v1::ControllerVersionRequest req;
  kdbg::v1::ControllerVersionResponse resp;
  grpc::ClientContext context;
  PrepareContext(&context, conn->token, kUnaryTimeout);
  grpc::Status status = conn->stub->Version(&context, req, &resp);
  if (!status.ok()) return console.Fail(internal::RpcStatus(status, "controller version", *conn));
  std::string text = VersionText(env.cli_version, &resp);
  console.Out(text.substr(text.find('\n') + 1));
  return 0;
}

}  // namespace kdbg::cli
