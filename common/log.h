// Leveled, structured logging: human text for terminals, JSON Lines for machines.
//
//   kdbg::log::Info("session started", {{"session", id}, {"pid", pid}});
// text:  2026-11-24T10:00:00.123Z INFO session started session=ab12 pid=4242
// json:  {"ts":"2026-11-24T10:00:00.123Z","level":"info","msg":"session
// started","session":"ab12","pid":4242}
//
// Thread-safe: each record is written with one write(2) to the sink's file descriptor.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/time/time.h"

namespace kdbg::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class Format { kText, kJson };

// One key=value of a record. Integers and booleans stay typed in JSON output.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  std::string key;
  std::variant<std::string, int64_t, double, bool> value;
};

// Formats one record; exposed for tests.
std::string FormatRecord(Format format, absl::Time time, Level level, std::string_view msg,
                         const std::vector<Field>& fields);

// Parses "debug", "info", "warning"/"warn", "error"; returns false on anything else.
bool ParseLevel(std::string_view text, Level* level);

// Process-wide configuration: minimum level, format and output fd (default: info, text, stderr).
// Call once at start-up, before other threads log.
void Configure(Level min_level, Format format, int fd = 2);

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, msg, f);
}
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, msg, f);
}
inline void Warning(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kWarning, msg, f);
}
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kError, msg, f);
}

}  // namespace kdbg::log
