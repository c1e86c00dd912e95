// Field selectors (and label selectors, the one grammar of kube/selector.h), as the API server
// evaluates them for ?labelSelector= and ?fieldSelector=. Shared by the in-memory fake client and
// the API stub.
//
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
#include "kube/selector.h"

namespace kdbg::kube {

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
