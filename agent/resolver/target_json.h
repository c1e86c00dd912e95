// ResolvedTarget as JSON (the `kdbg-agent resolve -o json` contract) and as text for people.
//   {"host_pid":4242,"container_id":"<64 hex>","runtime":"containerd","evidence":["cgroup: ..."],
//    "binary":{"path":"/hello-world","go_version":"go1.19.8","module_path":"example.com/hello",
//              "build_id":"...","has_dwarf":true,"optimized":false,"stripped":false},
//    "debuggable":true,"problem":"","start_time_ticks":123,"cmdline":["/hello-world"],
//    "node_name":"node-a","container_pid":1}
// Errors: {"error":{"code":"NOT_FOUND","message":"..."}}
#pragma once

#include <string>

#include "absl/status/status.h"
#include "kdbg/v1/types.pb.h"
#include "nlohmann/json.hpp"

namespace kdbg::agent {

nlohmann::json ResolvedTargetToJson(const kdbg::v1::ResolvedTarget& t);
nlohmann::json ResolveErrorToJson(const absl::Status& status);
std::string ResolvedTargetToText(const kdbg::v1::ResolvedTarget& t);

}  // namespace kdbg::agent
