// Label selectors: the one grammar kdbg reads them in, for `kdbg trace -l ...`, for a workload's
// `spec.selector`, and for the in-memory API (kube/testing/selector.h) and the API stub.
//
// Text form (kubectl -l, ?labelSelector=; k8s.io/apimachinery/pkg/labels): comma-separated
// requirements, all ANDed, blanks around tokens ignored:
//   app=web   app==web   app!=web   tier in (frontend, backend)   env notin (prod)   app   !app
// Keys are qualified names ("app", "app.kubernetes.io/name": an optional DNS-1123 subdomain
// prefix and '/', then at most 63 characters of [A-Za-z0-9-_.] starting and ending with an
// alphanumeric); values are empty or the same 63-character form. `in`/`notin` take one or more
// values in parentheses. kubectl's numeric `gt`/`lt` (`x>1`) are not supported (InvalidArgument
// saying so).
//
// Object form (spec.selector of a Deployment, StatefulSet, DaemonSet, ReplicaSet or Job):
//   {"matchLabels": {"app": "web"},
//    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
//                         {"key": "canary", "operator": "DoesNotExist"}]}
// Operators In, NotIn, Exists, DoesNotExist. An empty or absent selector selects everything here
// (callers that must not act on everything check Empty()).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kdbg::kube {

struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = Op::kEquals;
  std::vector<std::string> values;
};

class LabelSelector {
 public:
  // Empty text selects everything. InvalidArgument "unable to parse requirement \"...\": why"
  // naming the offending requirement (kubectl's wording).
  static absl::StatusOr<LabelSelector> Parse(absl::string_view text);
  // A workload's spec.selector, as JSON text. InvalidArgument when it is not a selector object or
  // a key, value or operator is invalid.
  static absl::StatusOr<LabelSelector> FromJson(absl::string_view json);

  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool Empty() const { return reqs_.empty(); }
  const std::vector<LabelRequirement>& requirements() const { return reqs_; }
  // The canonical text form, accepted by Parse and by the API server's ?labelSelector=
  // ("app=web,tier in (a,b),!canary").
  std::string ToString() const;

  void Add(LabelRequirement r) { reqs_.push_back(std::move(r)); }

 private:
  std::vector<LabelRequirement> reqs_;
};

}  // namespace kdbg::kube
