#include "agent/delve/safe_end.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/delve/json_access.h"

namespace kdbg::delve {

using nlohmann::json;

std::optional<int> ParseExitedError(const std::string& message) {
  size_t at = message.find("has exited with status ");
  if (at == std::string::npos) return std::nullopt;
  absl::string_view rest = absl::string_view(message).substr(at + 23);
  size_t end = 0;
  while (end < rest.size() &&
         (std::isdigit(static_cast<unsigned char>(rest[end])) || rest[end] == '-'))
    ++end;
  int status = 0;
  if (!absl::SimpleAtoi(rest.substr(0, end), &status)) return std::nullopt;
  return status;
}

std::optional<int> ExitStatusOf(const absl::StatusOr<json>& reply) {
  if (!reply.ok()) return ParseExitedError(std::string(reply.status().message()));
  const json& st = DelveClient::StopState(*reply);
  if (!jsonx::Bool(st, "exited")) return std::nullopt;
  return static_cast<int>(jsonx::Int(st, "exitStatus"));
}

absl::StatusOr<json> ReceivePending(DelveClient& c, absl::Duration timeout) {
  while (true) {
    auto r = c.Receive(timeout);
    if (r.ok() || !absl::IsCancelled(r.status())) return r;
  }
}

std::vector<uint64_t> AddressesWithoutInt3(const ProcReader& proc, pid_t pid,
                                           const std::vector<uint64_t>& addrs) {
  std::vector<uint64_t> out;
  for (uint64_t addr : addrs) {
    if (addr == 0) continue;
    absl::StatusOr<std::string> byte = proc.ReadMemory(pid, addr, 1);
    if (byte.ok() && byte->size() == 1 && static_cast<unsigned char>((*byte)[0]) != 0xCC) {
      out.push_back(addr);
    }
  }
  return out;
}

namespace {

// The addresses of a physical breakpoint (ListBreakpoints "All": true) without their int3 in
// the stopped target. Watchpoints (debug registers) and disabled breakpoints have none.
std::vector<uint64_t> MissingInt3s(const json& bp, pid_t target, const ProcReader& proc) {
  if (jsonx::Bool(bp, "disabled") || !jsonx::Str(bp, "WatchExpr").empty() ||
      jsonx::Int(bp, "WatchType") != 0) {
    return {};
  }
  std::vector<uint64_t> addrs;
  for (const json& a : jsonx::Arr(bp, "addrs")) addrs.push_back(jsonx::UintValue(a));
  if (addrs.empty()) addrs.push_back(jsonx::Uint(bp, "addr"));
  return AddressesWithoutInt3(proc, target, addrs);
}

// Notes an exit reported either as a State or as Delve's error text.
bool NoteExit(const absl::StatusOr<json>& r, SafeEndResult* out) {
  std::optional<int> status = ExitStatusOf(r);
  if (!status) return false;
  out->target_exited = true;
  out->exit_status = *status;
  return true;
}

bool IsDeadline(const absl::Status& s) { return absl::IsDeadlineExceeded(s); }
template <typename T>
bool IsDeadline(const absl::StatusOr<T>& s) {
  return absl::IsDeadlineExceeded(s.status());
}

// Halts through `side` only if Delve says the process runs. Returns whether it halted.
bool HaltIfRunning(DelveClient& side, const SafeEndTimeouts& t, SafeEndResult* out) {
  auto st = side.State(/*non_blocking=*/true, t.call);
  if (!st.ok()) {
    if (!NoteExit(st, out)) out->problems.push_back(absl::StrCat("state: ", st.status().message()));
    return false;
  }
  if (st->value("exited", false)) {
    NoteExit(json{{"State", *st}}, out);
    return false;
  }
  if (!st->value("Running", false)) return false;
  auto h = side.Call("RPCServer.Command", DelveClient::CommandParams("halt"), t.call);
  if (!h.ok() && !NoteExit(h, out)) {
    out->problems.push_back(absl::StrCat("halt: ", h.status().message()));
  }
  return true;
}

// Delve answers most calls only while the process is stopped. A remote client (attach mode) may
// resume it at any moment, even after step 2; then the call waits. Give it a second, halt if the
// process runs, and ask again (the late answer to the first ask is skipped by id).
template <typename Fn>
auto WhileStopped(DelveClient& side, const Clock& clock, const SafeEndTimeouts& t,
                  SafeEndResult* out, Fn call) -> decltype(call(absl::Seconds(1))) {
  absl::Duration step = std::min(absl::Seconds(1), t.call);
  absl::Time deadline = clock.MonotonicNow() + t.call;
  // Each call waits up to `step` of real time on its socket; the attempt bound keeps the loop
  // finite even under a clock that does not move (a test's FakeClock).
  absl::Duration remainder;
  const int64_t max_attempts = absl::IDivDuration(t.call, step, &remainder) + 1;
  for (int64_t attempt = 1;; ++attempt) {
    auto r = call(step);
    if (!IsDeadline(r) || clock.MonotonicNow() >= deadline || attempt >= max_attempts) return r;
    HaltIfRunning(side, t, out);
  }
}

}  // namespace

SafeEndResult RunSafeEnd(DelveClient& main, DelveClient& side, pid_t target, ProcReader& proc,
                         Clock& clock, const SafeEndTimeouts& t,
                         const std::vector<std::string>& extra_names) {
  SafeEndResult out;
  // 1-2. Let the pending continue come back by itself; halt only a running process.
  if (main.pending()) {
    auto r = ReceivePending(main, t.halt);
    if (!r.ok() && absl::IsDeadlineExceeded(r.status())) {
      HaltIfRunning(side, t, &out);
      r = ReceivePending(main, t.call);
    }
    if (r.ok()) {
      if (!NoteExit(r, &out)) out.last_stop = std::move(*r);
    } else if (!NoteExit(r, &out)) {
      out.problems.push_back(absl::StrCat("pending continue: ", r.status().message()));
    }
  }
  // Someone else (a remote client in attach mode) may have the process running.
  if (!out.target_exited) HaltIfRunning(side, t, &out);
  if (out.target_exited) {
    // Nothing left to protect; Detach lets Delve exit.
    (void)main.Detach(t.call);
    return out;
  }

  // 3. Clear every user breakpoint.
  auto list =
      WhileStopped(side, clock, t, &out, [&](absl::Duration d) { return main.ListBreakpoints(d); });
  if (list.ok()) {
    // The list is of physical breakpoints ("All": true): a logical one at several addresses (a
    // function's body and the calls the compiler inlined) is listed once per address, and
    // cleared, every address at once, by one ClearBreakpoint; a failed one is tried again at its
    // next entry.
    absl::flat_hash_set<int> cleared;
    for (const json& bp : *list) {
      int id = static_cast<int>(jsonx::Int(bp, "id"));
      if (id <= 0) continue;
      // Judged before any clear: the target is stopped, so every breakpoint's int3 is in place.
      for (uint64_t addr : MissingInt3s(bp, target, proc)) {
        std::string name = jsonx::Str(bp, "name");
        out.problems.push_back(absl::StrCat(
            "breakpoint ", id, name.empty() ? "" : absl::StrCat(" (", name, ")"), " at 0x",
            absl::Hex(addr), " was no longer in the target's code: ", kInt3RemovedWhy,
            ", and its hits after that were lost"));
      }
    }
    for (const json& bp : *list) {
      int id = static_cast<int>(jsonx::Int(bp, "id"));
      if (id <= 0 || cleared.contains(id)) continue;
      absl::Status s = WhileStopped(side, clock, t, &out,
                                    [&](absl::Duration d) { return main.ClearBreakpoint(id, d); });
      if (s.ok()) {
        cleared.insert(id);
        ++out.cleared;
      } else {
        out.problems.push_back(absl::StrCat("clear breakpoint ", id, ": ", s.message()));
      }
    }
  } else {
    out.problems.push_back(absl::StrCat("list breakpoints: ", list.status().message()));
  }
  for (const std::string& name : extra_names) (void)main.ClearBreakpointByName(name, t.call);

  // 4. Drain a pending SIGTRAP (a halt that met a stopped thread) before detaching delivers it.
  for (int attempt = 0; attempt < t.drain_attempts; ++attempt) {
    auto pending = proc.SigtrapPending(target);
    if (!pending.ok() || !*pending) break;
    if (!main.Send("RPCServer.Command", DelveClient::CommandParams("continue")).ok()) break;
    auto r = ReceivePending(main, t.drain_wait);
    if (!r.ok() && absl::IsDeadlineExceeded(r.status())) {
      HaltIfRunning(side, t, &out);
      r = ReceivePending(main, t.call);
    }
    if (NoteExit(r, &out)) return out;
    if (attempt + 1 == t.drain_attempts) {
      out.problems.push_back("SIGTRAP still pending after draining");
    }
  }

  // 5. Detach without killing.
  absl::Status d =
      WhileStopped(side, clock, t, &out, [&](absl::Duration to) { return main.Detach(to); });
  if (d.ok()) {
    out.detached = true;
  } else {
    // Detach on an exited process reports the exit.
    if (auto status = ParseExitedError(std::string(d.message()))) {
      out.target_exited = true;
      out.exit_status = *status;
    } else if (!absl::IsUnavailable(d)) {
      out.problems.push_back(absl::StrCat("detach: ", d.message()));
    } else {
      out.detached = true;  // Delve exits right after answering; a lost reply is still a detach
    }
  }
  return out;
}

}  // namespace kdbg::delve
