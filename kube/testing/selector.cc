#include "kube/testing/selector.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace kdbg::kube {
absl::StatusOr<PodFieldSelector> PodFieldSelector::Parse(absl::string_view text) {
  PodFieldSelector sel;
  if (absl::StripAsciiWhitespace(text).empty()) return sel;
  for (absl::string_view raw : absl::StrSplit(text, ',')) {
    absl::string_view t = absl::StripAsciiWhitespace(raw);
    Term term;
    size_t pos;
    size_t len;
    if ((pos = t.find("!=")) != absl::string_view::npos) {
      term.negate = true;
      len = 2;
    } else if ((pos = t.find("==")) != absl::string_view::npos) {
      len = 2;
    } else if ((pos = t.find('=')) != absl::string_view::npos) {
      len = 1;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid field selector: '", t, "'; expected field=value"));
    }
    term.field = std::string(absl::StripAsciiWhitespace(t.substr(0, pos)));
    term.value = std::string(absl::StripAsciiWhitespace(t.substr(pos + len)));
    if (term.field != "metadata.name" && term.field != "metadata.namespace" &&
        term.field != "spec.nodeName" && term.field != "status.phase") {
      return absl::InvalidArgumentError(absl::StrCat("field label not supported: ", term.field));
    }
    sel.terms_.push_back(std::move(term));
  }
  return sel;
}

bool PodFieldSelector::Matches(const Pod& pod) const {
  for (const Term& t : terms_) {
    const std::string* v = nullptr;
    if (t.field == "metadata.name") v = &pod.name;
    if (t.field == "metadata.namespace") v = &pod.namespace_;
    if (t.field == "spec.nodeName") v = &pod.node_name;
    if (t.field == "status.phase") v = &pod.phase;
    bool eq = v != nullptr && *v == t.value;
    if (eq == t.negate) return false;
  }
  return true;
}

absl::StatusOr<PodSelector> PodSelector::Parse(absl::string_view labels, absl::string_view fields) {
  PodSelector sel;
  KDBG_ASSIGN_OR_RETURN(sel.labels_, LabelSelector::Parse(labels));
  KDBG_ASSIGN_OR_RETURN(sel.fields_, PodFieldSelector::Parse(fields));
  return sel;
}

}  // namespace kdbg::kube
