// Status helpers for absl::Status / absl::StatusOr. Abseil 20220623 (Debian 12) ships no status
// macros, so kdbg defines its own, once, here.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define KDBG_STATUS_CONCAT_INNER_(a, b) a##b
#define KDBG_STATUS_CONCAT_(a, b) KDBG_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if it is not OK.
#define KDBG_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status kdbg_status_ = (expr);        \
    if (!kdbg_status_.ok()) return kdbg_status_; \
  } while (false)

// KDBG_ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error returns its
// status, else moves the value into `lhs` (which may be a declaration: `auto x`).
#define KDBG_ASSIGN_OR_RETURN(lhs, expr) \
  KDBG_ASSIGN_OR_RETURN_IMPL_(KDBG_STATUS_CONCAT_(kdbg_statusor_, __LINE__), lhs, expr)
// `statusor` and `lhs` name or declare variables, so they cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define KDBG_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)   \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
// NOLINTEND(bugprone-macro-parentheses)

namespace kdbg {

// Returns `status` with `prefix: ` prepended to its message, keeping its code.
inline absl::Status Annotate(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, ": ", status.message()));
}

// Maps errno to the most specific absl code, with `what` and strerror in the message.
absl::Status ErrnoToStatus(int err, absl::string_view what);

}  // namespace kdbg
