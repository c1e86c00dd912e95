// Reading Delve's JSON without exceptions. nlohmann's `.value()`, `.get<>()` and `.at()` throw
// `type_error` when a field has another type than expected, and a newer Delve may change or add
// fields (DELVE.md: API v2 only grew from 1.20 to 1.27, but nothing promises that); an exception
// escaping the continue loop would leave breakpoints in the target. Every access in agent/delve
// goes through these: each returns `fallback` when `j` is not an object, the key is missing or its
// value has another type. Numbers of any JSON number type are converted (a float to an integer by
// truncation; a float out of the integer's range, or NaN, is `fallback`: converting it would be
// undefined behaviour, found by fuzz/delve_reply.cc). Unknown keys are simply never read.
#pragma once

#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"

namespace kdbg::delve::jsonx {

using json = nlohmann::json;

inline const json* Find(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

inline std::string Str(const json& j, const char* key, const std::string& fallback = "") {
  const json* v = Find(j, key);
  return v != nullptr && v->is_string() ? v->get_ref<const std::string&>() : fallback;
}

inline int64_t Int(const json& j, const char* key, int64_t fallback = 0) {
  const json* v = Find(j, key);
  if (v == nullptr || !v->is_number()) return fallback;
  if (v->is_number_unsigned()) return static_cast<int64_t>(v->get<uint64_t>());
  if (v->is_number_integer()) return v->get<int64_t>();
  const double d = v->get<double>();
  // [-2^63, 2^63): the doubles that truncate to an int64_t (the comparison is false for NaN).
  return d >= -9223372036854775808.0 && d < 9223372036854775808.0 ? static_cast<int64_t>(d)
                                                                  : fallback;
}

inline uint64_t Uint(const json& j, const char* key, uint64_t fallback = 0) {
  const json* v = Find(j, key);
  if (v == nullptr || !v->is_number()) return fallback;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer()) return static_cast<uint64_t>(v->get<int64_t>());
  const double d = v->get<double>();
  // (-1, 2^64): the doubles that truncate to a uint64_t.
  return d > -1.0 && d < 18446744073709551616.0 ? static_cast<uint64_t>(d) : fallback;
}

inline bool Bool(const json& j, const char* key, bool fallback = false) {
  const json* v = Find(j, key);
  return v != nullptr && v->is_boolean() ? v->get<bool>() : fallback;
}

// The object at `key`, or a shared null value (itself safe to pass to these functions).
inline const json& Obj(const json& j, const char* key) {
  static const json kNull;
  const json* v = Find(j, key);
  return v != nullptr && v->is_object() ? *v : kNull;
}

// The array at `key`, or a shared empty array.
inline const json& Arr(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json* v = Find(j, key);
  return v != nullptr && v->is_array() ? *v : kEmpty;
}

// An element of an array as an unsigned number (Delve's "pcs": [7012345, ...]); fallback otherwise.
inline uint64_t UintValue(const json& v, uint64_t fallback = 0) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0)
    return static_cast<uint64_t>(v.get<int64_t>());
  return fallback;
}

}  // namespace kdbg::delve::jsonx
