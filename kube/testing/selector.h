// Label and field selectors, as the API server evaluates them for ?labelSelector= and
// ?fieldSelector=. Shared by the in-memory fake client and the API stub.
//
// Label selector grammar (k8s.io/apimachinery/pkg/labels), comma-separated requirements, all ANDed:
//   app=web   app==web   app!=web   tier in (frontend, backend)   env notin (prod)   app   !app
// Field selectors for pods support exactly the fields kdbg uses, with = / == / !=:
//   metadata.name, metadata.namespace, spec.nodeName, status.phase
// Anything else is InvalidArgument "field label not supported: <field>" (the API server's words).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/objects.h"

namespace kdbg::kube {

struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = Op::kEquals;
  std::vector<std::string> values;
};

class LabelSelector {
 public:
  // Empty text selects everything. InvalidArgument names the offending requirement.
  static absl::StatusOr<LabelSelector> Parse(absl::string_view text);
  bool Matches(const std::map<std::string, std::string>& labels) const;
  const std::vector<LabelRequirement>& requirements() const { return reqs_; }

 private:
  std::vector<LabelRequirement> reqs_;
};

class PodFieldSelector {
 public:
  static absl::StatusOr<PodFieldSelector> Parse(absl::string_view text);
  bool Matches(const Pod& pod) const;

 private:
  struct Term {
    std::string field;
    std::string value;
    bool negate = false;
  };
  std::vector<Term> terms_;
};

// Both selectors at once; for ListOptions.
class PodSelector {
 public:
  static absl::StatusOr<PodSelector> Parse(absl::string_view labels, absl::string_view fields);
  bool Matches(const Pod& pod) const { return labels_.Matches(pod.labels) && fields_.Matches(pod); }

 private:
  LabelSelector labels_;
  PodFieldSelector fields_;
};

}  // namespace kdbg::kube
