#include "common/byte_size.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kdbg {

absl::StatusOr<int64_t> ParseByteSize(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  size_t digits = 0;
  while (digits < t.size() && absl::ascii_isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
  absl::string_view suffix = t.substr(digits);
  int64_t multiplier = 0;
  struct Unit {
    const char* name;
    int64_t value;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"Ki", int64_t{1} << 10},
      {"Mi", int64_t{1} << 20},
      {"Gi", int64_t{1} << 30},
      {"Ti", int64_t{1} << 40},
      {"k", 1000},
      {"K", 1000},
      {"M", 1000 * 1000},
      {"G", 1000 * 1000 * 1000},
      {"T", int64_t{1000} * 1000 * 1000 * 1000},
  };
  for (const Unit& u : kUnits) {
    if (suffix == u.name) multiplier = u.value;
  }
  uint64_t n = 0;
  if (digits == 0 || multiplier == 0 || !absl::SimpleAtoi(t.substr(0, digits), &n) ||
      n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / multiplier)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a size in bytes (e.g. 512Mi, 1Gi, 100M, 1048576)"));
  }
  return static_cast<int64_t>(n) * multiplier;
}

std::string HumanSize(int64_t bytes) {
  static constexpr const char* kNames[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return absl::StrCat(bytes, bytes == 1 ? " byte" : " bytes");
  double v = static_cast<double>(bytes);
  int unit = -1;
  while (v >= 1024 && unit < 3) {
    v /= 1024;
    ++unit;
  }
  if (v == static_cast<double>(static_cast<int64_t>(v))) {
    return absl::StrCat(static_cast<int64_t>(v), " ", kNames[unit]);
  }
  return absl::StrFormat("%.1f %s", v, kNames[unit]);
}

}  // namespace kdbg
