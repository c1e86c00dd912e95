#include "kube/testing/selector.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace kdbg::kube {
namespace {

// Splits on commas that are not inside parentheses ("a in (x,y),b=c" -> 2 parts).
std::vector<std::string> SplitTopLevel(absl::string_view text) {
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  parts.push_back(cur);
  return parts;
}

absl::Status BadLabel(absl::string_view req, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("unable to parse requirement \"", req, "\": ", why));
}

absl::StatusOr<LabelRequirement> ParseRequirement(absl::string_view raw) {
  absl::string_view req = absl::StripAsciiWhitespace(raw);
  if (req.empty()) return BadLabel(raw, "empty requirement");
  LabelRequirement r;
  // Set-based: "key in (a,b)" / "key notin (a,b)".
  for (auto [word, op] : {std::pair{" notin ", LabelRequirement::Op::kNotIn},
                          std::pair{" in ", LabelRequirement::Op::kIn}}) {
    size_t pos = req.find(word);
    if (pos == absl::string_view::npos) continue;
    r.key = std::string(absl::StripAsciiWhitespace(req.substr(0, pos)));
    r.op = op;
    absl::string_view set = absl::StripAsciiWhitespace(req.substr(pos + strlen(word)));
    if (!absl::ConsumePrefix(&set, "(") || !absl::ConsumeSuffix(&set, ")")) {
      return BadLabel(req, "expected a parenthesised set of values");
    }
    for (absl::string_view v : absl::StrSplit(set, ',')) {
      v = absl::StripAsciiWhitespace(v);
      if (!v.empty()) r.values.emplace_back(v);
    }
    if (r.key.empty()) return BadLabel(req, "missing key");
    return r;
  }
  size_t pos;
  if ((pos = req.find("!=")) != absl::string_view::npos) {
    r.op = LabelRequirement::Op::kNotEquals;
    r.key = std::string(absl::StripAsciiWhitespace(req.substr(0, pos)));
    r.values.emplace_back(absl::StripAsciiWhitespace(req.substr(pos + 2)));
  } else if ((pos = req.find("==")) != absl::string_view::npos) {
    r.key = std::string(absl::StripAsciiWhitespace(req.substr(0, pos)));
    r.values.emplace_back(absl::StripAsciiWhitespace(req.substr(pos + 2)));
  } else if ((pos = req.find('=')) != absl::string_view::npos) {
    r.key = std::string(absl::StripAsciiWhitespace(req.substr(0, pos)));
    r.values.emplace_back(absl::StripAsciiWhitespace(req.substr(pos + 1)));
  } else if (absl::ConsumePrefix(&req, "!")) {
    r.op = LabelRequirement::Op::kDoesNotExist;
    r.key = std::string(absl::StripAsciiWhitespace(req));
  } else {
    r.op = LabelRequirement::Op::kExists;
    r.key = std::string(req);
  }
  if (r.key.empty()) return BadLabel(raw, "missing key");
  if (r.key.find_first_of(" ()") != std::string::npos) return BadLabel(raw, "invalid key");
  return r;
}

}  // namespace

absl::StatusOr<LabelSelector> LabelSelector::Parse(absl::string_view text) {
  LabelSelector sel;
  if (absl::StripAsciiWhitespace(text).empty()) return sel;
  for (const std::string& part : SplitTopLevel(text)) {
    KDBG_ASSIGN_OR_RETURN(LabelRequirement r, ParseRequirement(part));
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const LabelRequirement& r : reqs_) {
    auto it = labels.find(r.key);
    bool has = it != labels.end();
    auto in_values = [&] {
      return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    };
    switch (r.op) {
      case LabelRequirement::Op::kEquals:
      case LabelRequirement::Op::kIn:
        if (!in_values()) return false;
        break;
      case LabelRequirement::Op::kNotEquals:
      case LabelRequirement::Op::kNotIn:
        // As in apimachinery: a missing key satisfies != and notin.
        if (in_values()) return false;
        break;
      case LabelRequirement::Op::kExists:
        if (!has) return false;
        break;
      case LabelRequirement::Op::kDoesNotExist:
        if (has) return false;
        break;
    }
  }
  return true;
}

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
