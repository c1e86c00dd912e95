#include "cli/quick_trace.h"

#include <cctype>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "cli/command_util.h"
#include "nlohmann/json.hpp"

namespace kdbg::cli {

namespace {

constexpr absl::Duration kListTimeout = absl::Seconds(30);

// The part of a Go name after its package: "(*Cart).Add" for "github.com/a/cart.(*Cart).Add".
std::string AfterPackage(const std::string& name) {
  size_t bracket = name.find('[');
  std::string head = name.substr(0, bracket);
  size_t slash = head.rfind('/');
  size_t dot = head.find('.', slash == std::string::npos ? 0 : slash + 1);
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

}  // namespace

std::string TracepointName(const std::string& function) {
  std::string rest = AfterPackage(function);
  size_t bracket = rest.find('[');
  if (bracket != std::string::npos) rest = rest.substr(0, bracket);
  std::string name;
  for (char c : rest) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) name.push_back(c);
  }
  bool digits = !name.empty();
  for (char c : name) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (name.empty() || digits) name = absl::StrCat("f", name);
  return name;
}

absl::StatusOr<std::string> QuickTraceScript(const std::string& regexp,
                                             const std::vector<std::string>& functions,
                                             const std::vector<std::string>& prints,
                                             int stack_depth) {
  if (functions.empty()) return absl::InvalidArgumentError("no function to trace");
  for (const std::string& p : prints) {
    if (p.find_first_of("\r\n") != std::string::npos || absl::StripAsciiWhitespace(p).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--print \"", absl::CEscape(p), "\": give one Go expression on one line"));
    }
  }
  std::string script = absl::StrCat("# kdbg trace ", regexp, "\n");
  std::set<std::string> used;
  for (const std::string& f : functions) {
    std::string base = TracepointName(f);
    std::string name = base;
    for (int i = 2; used.count(name) != 0; ++i) name = absl::StrCat(base, i);
    used.insert(name);
    absl::StrAppend(&script, "trace ", name, " ", f, "\n");
    for (const std::string& p : prints) {
      absl::StrAppend(&script, "on ", name, " print ", absl::StripAsciiWhitespace(p), "\n");
    }
    if (stack_depth > 0) absl::StrAppend(&script, "on ", name, " stack ", stack_depth, "\n");
  }
  return script;
}

std::string TooManyFunctionsMessage(const std::string& regexp, const std::string& target,
                                    const kdbg::v1::FunctionList& list, int max_funcs) {
  std::string first;
  int n = 0;
  for (const auto& f : list.functions()) {
    if (n == kRefusalListed) break;
    absl::StrAppend(&first, n == 0 ? "" : ", ", f.name());
    ++n;
  }
  return absl::StrCat(
      "\"", regexp, "\" matches ", list.total(), " functions of ", target,
      "; a quick trace arms at most ", max_funcs, " (--max-funcs, up to ", kMaxMaxFuncs,
      "): narrow the pattern (e.g. anchor it: '^main\\.handle') or "
      "list them with `kdbg funcs ",
      target, " '", regexp, "'`; the first ", n, ": ", first, list.total() > n ? ", ..." : "");
}

std::string FunctionsText(const kdbg::v1::FunctionList& list) {
  std::string out;
  for (const auto& f : list.functions()) absl::StrAppend(&out, f.name(), "\n");
  return out;
}

std::string FunctionsJson(const kdbg::v1::FunctionList& list) {
  std::string out;
  for (const auto& f : list.functions()) {
    nlohmann::json j;
    j["type"] = "function";
    j["name"] = f.name();
    j["address"] = absl::StrFormat("0x%x", f.address());
    j["size"] = f.size();
    if (f.address() == 0) j["inlined_at_every_call"] = true;  // no code of its own
    absl::StrAppend(&out, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "\n");
  }
  return out;
}

namespace internal {

namespace {

absl::StatusOr<kdbg::v1::FunctionList> ListFunctions(const Connection& conn,
                                                     const kdbg::v1::FunctionQuery& query) {
  kdbg::v1::ControllerListFunctionsRequest req;
  *req.mutable_target() = conn.target;
  // A workload or -l selector: its pods run the same build; the first one's symbols stand for all.
  if (conn.many && !conn.pods.empty()) req.mutable_target()->set_pod(conn.pods.front().name);
  *req.mutable_query() = query;
  kdbg::v1::FunctionList resp;
  grpc::ClientContext context;
  PrepareContext(&context, conn.token, kListTimeout);
  grpc::Status status = conn.stub->ListFunctions(&context, req, &resp);
  if (!status.ok()) return RpcStatus(status, "list the target's functions", conn);
  return resp;
}

std::string PodRef(const Connection& c) {
  if (c.many) return c.selection;
  return absl::StrCat("pod/", c.target.pod());
}

}  // namespace

absl::StatusOr<std::string> ExpandQuickTrace(const TraceCommandOptions& o, const Connection& conn,
                                             Console& console) {
  kdbg::v1::FunctionQuery q;
  q.set_regexp(o.regexp);
  q.set_limit(std::max(o.max_funcs, kRefusalListed));
  q.set_exclude_runtime(true);
  absl::StatusOr<kdbg::v1::FunctionList> list = ListFunctions(conn, q);
  if (!list.ok()) return list.status();
  std::string target = PodRef(conn);
  if (list->total() == 0) {
    q.set_exclude_runtime(false);
    q.set_limit(1);
    absl::StatusOr<kdbg::v1::FunctionList> with_runtime = ListFunctions(conn, q);
    if (with_runtime.ok() && with_runtime->total() > 0) {
      return absl::NotFoundError(absl::StrCat(
          "\"", o.regexp, "\" matches only functions of the Go runtime (", with_runtime->total(),
          ", e.g. ", with_runtime->functions(0).name(),
          "), which a quick trace never arms: they run the scheduler and the allocator. Name one "
          "in a trace script (--init) if you must"));
    }
    return absl::NotFoundError(absl::StrCat("no function of ", target, " matches \"", o.regexp,
                                            "\" (Go's regexp syntax, unanchored, on names like "
                                            "main.handleSlash); list them with `kdbg funcs ",
                                            target, "`"));
  }
  if (list->total() > o.max_funcs) {
    return absl::FailedPreconditionError(
        TooManyFunctionsMessage(o.regexp, target, *list, o.max_funcs));
  }
  std::vector<std::string> names;
  for (const auto& f : list->functions()) names.push_back(f.name());
  std::string shown;
  for (size_t i = 0; i < names.size(); ++i) absl::StrAppend(&shown, i == 0 ? "" : ", ", names[i]);
  console.Err(absl::StrCat("kdbg: \"", o.regexp, "\" matches ", names.size(),
                           names.size() == 1 ? " function: " : " functions: ", shown, "\n"));
  return QuickTraceScript(o.regexp, names, o.prints, o.stack_depth);
}

}  // namespace internal

int RunFuncs(const GlobalOptions& g, const FuncsCommandOptions& o, const CommandEnv& env) {
  internal::Console console(env, g.format);
  auto conn = internal::Connect(g, &o.target, env, console);
  if (!conn.ok()) return console.Fail(conn.status());
  kdbg::v1::FunctionQuery q;
  q.set_regexp(o.regexp);
  q.set_offset(o.offset);
  q.set_limit(o.limit);
  q.set_exclude_runtime(!o.runtime);
  absl::StatusOr<kdbg::v1::FunctionList> list = internal::ListFunctions(*conn, q);
  if (!list.ok()) return console.Fail(list.status());
  console.Out(g.format == OutputFormat::kJson ? FunctionsJson(*list) : FunctionsText(*list));
  int64_t shown = list->functions_size();
  std::string what = o.regexp.empty() ? std::string("functions")
                                      : absl::StrCat("functions match \"", o.regexp, "\"");
  std::string summary = absl::StrCat("kdbg: ", list->total(), " ", what,
                                     o.runtime ? "" : " (runtime packages left out: --runtime)");
  if (shown < list->total()) {
    absl::StrAppend(&summary, "; shown ", o.offset + (shown > 0 ? 1 : 0), "-", o.offset + shown,
                    ": --offset ", o.offset + shown, " for the next");
  }
  console.Err(summary + "\n");
  return 0;
}

}  // namespace kdbg::cli
