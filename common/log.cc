#include "common/log.h"

#include <unistd.h>

#include <atomic>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

namespace kdbg::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kText)};
std::atomic<int> g_fd{2};

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string TextValue(const Field& f) {
  if (const auto* s = std::get_if<std::string>(&f.value)) {
    bool quote = s->empty() || s->find_first_of(" \t\"=") != std::string::npos;
    // `replace`: a value that is not UTF-8 (a hostile Delve's reply quoted in a notice) must not
    // make dump() throw: that would end the agent.
    return quote ? nlohmann::json(*s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                 : *s;
  }
  if (const auto* i = std::get_if<int64_t>(&f.value)) return absl::StrCat(*i);
  if (const auto* d = std::get_if<double>(&f.value)) return absl::StrCat(*d);
  return std::get<bool>(f.value) ? "true" : "false";
}

}  // namespace

std::string FormatRecord(Format format, absl::Time time, Level level, std::string_view msg,
                         const std::vector<Field>& fields) {
  std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  if (format == Format::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = ts;
    j["level"] = LevelName(level);
    j["msg"] = std::string(msg);
    for (const Field& f : fields) {
      std::visit([&](const auto& v) { j[f.key] = v; }, f.value);
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  std::string out =
      absl::StrCat(ts, " ", absl::AsciiStrToUpper(LevelName(level)), " ", std::string(msg));
  for (const Field& f : fields) absl::StrAppend(&out, " ", f.key, "=", TextValue(f));
  out += "\n";
  return out;
}

bool ParseLevel(std::string_view text, Level* level) {
  if (text == "debug")
    *level = Level::kDebug;
  else if (text == "info")
    *level = Level::kInfo;
  else if (text == "warning" || text == "warn")
    *level = Level::kWarning;
  else if (text == "error")
    *level = Level::kError;
  else
    return false;
  return true;
}

void Configure(Level min_level, Format format, int fd) {
  g_min_level = static_cast<int>(min_level);
  g_format = static_cast<int>(format);
  g_fd = fd;
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load()) return;
  std::string record = FormatRecord(static_cast<Format>(g_format.load()), absl::Now(), level, msg,
                                    std::vector<Field>(fields));
  // One write per record keeps lines whole across threads; a short write to a log is not retried.
  ssize_t ignored = ::write(g_fd.load(), record.data(), record.size());
  (void)ignored;
}

}  // namespace kdbg::log
