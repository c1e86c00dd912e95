#include "kube/selector.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "kube/names.h"
#include "nlohmann/json.hpp"

namespace kdbg::kube {
namespace {

// [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63 characters (labels' names and values).
bool IsQualifiedNamePart(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

absl::Status CheckKey(absl::string_view key, absl::string_view req) {
  absl::string_view name = key;
  auto slash = key.find('/');
  if (slash != absl::string_view::npos) {
    absl::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (!IsDns1123Subdomain(prefix)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unable to parse requirement \"", req, "\": key \"", key,
          "\": the prefix before '/' must be a DNS subdomain (lower case, e.g. example.com)"));
    }
  }
  if (!IsQualifiedNamePart(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unable to parse requirement \"", req, "\": key \"", key,
        "\" is not a label name (at most 63 characters of A-Z a-z 0-9 - _ ., starting and ending "
        "with a letter or digit)"));
  }
  return absl::OkStatus();
}

absl::Status CheckValue(absl::string_view value, absl::string_view req) {
  if (value.empty() || IsQualifiedNamePart(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "unable to parse requirement \"", req, "\": value \"", value,
      "\" is not a label value (empty, or at most 63 characters of A-Z a-z 0-9 - _ ., starting "
      "and ending with a letter or digit)"));
}

// Tokens of the text form, as apimachinery's lexer cuts them.
struct Token {
  enum Kind { kEnd, kIdent, kNot, kEq, kDoubleEq, kNotEq, kOpen, kClose, kComma, kGt, kLt } kind;
  std::string text;
  size_t start = 0;  // offset in the input
};

bool Special(char c) {
  return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

std::vector<Token> Lex(absl::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t{Token::kIdent, "", i};
    auto two = [&](char next) { return i + 1 < s.size() && s[i + 1] == next; };
    if (c == '!' && two('=')) {
      t.kind = Token::kNotEq;
      i += 2;
    } else if (c == '=' && two('=')) {
      t.kind = Token::kDoubleEq;
      i += 2;
    } else if (Special(c)) {
      t.kind = c == '!'   ? Token::kNot
               : c == '=' ? Token::kEq
               : c == '(' ? Token::kOpen
               : c == ')' ? Token::kClose
               : c == ',' ? Token::kComma
               : c == '>' ? Token::kGt
                          : Token::kLt;
      ++i;
    } else {
      size_t j = i;
      while (j < s.size() && !Special(s[j]) &&
             !absl::ascii_isspace(static_cast<unsigned char>(s[j]))) {
        ++j;
      }
      t.text = std::string(s.substr(i, j - i));
      i = j;
    }
    out.push_back(std::move(t));
  }
  out.push_back(Token{Token::kEnd, "", s.size()});
  return out;
}

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text), toks_(Lex(text)) {}

  absl::StatusOr<std::vector<LabelRequirement>> All() {
    std::vector<LabelRequirement> reqs;
    while (true) {
      size_t start = Peek().start;
      KDBG_ASSIGN_OR_RETURN(LabelRequirement r, One());
      const Token& t = Peek();
      absl::string_view req = Slice(start, t.start);
      KDBG_RETURN_IF_ERROR(CheckKey(r.key, req));
      for (const std::string& v : r.values) KDBG_RETURN_IF_ERROR(CheckValue(v, req));
      reqs.push_back(std::move(r));
      if (t.kind == Token::kEnd) return reqs;
      if (t.kind != Token::kComma) return Bad(start, "expected ',' between requirements");
      Next();
    }
  }

 private:
  const Token& Peek() const { return toks_[pos_]; }
  const Token& Next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }
  absl::string_view Slice(size_t from, size_t to) const {
    return absl::StripAsciiWhitespace(text_.substr(from, to - from));
  }
  // The requirement that starts at `start`, up to the next top-level ',' (for messages).
  absl::Status Bad(size_t start, absl::string_view why) const {
    size_t end = start;
    int depth = 0;
    while (end < text_.size() && (text_[end] != ',' || depth > 0)) {
      if (text_[end] == '(') ++depth;
      if (text_[end] == ')') --depth;
      ++end;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("unable to parse requirement \"", Slice(start, end), "\": ", why));
  }

  absl::StatusOr<LabelRequirement> One() {
    const size_t start = Peek().start;
    LabelRequirement r;
    if (Peek().kind == Token::kNot) {
      Next();
      if (Peek().kind != Token::kIdent) return Bad(start, "expected a key after '!'");
      r.key = Next().text;
      r.op = LabelRequirement::Op::kDoesNotExist;
      return r;
    }
    if (Peek().kind != Token::kIdent) return Bad(start, "expected a key");
    r.key = Next().text;
    const Token& op = Peek();
    switch (op.kind) {
      case Token::kEnd:
      case Token::kComma:
        r.op = LabelRequirement::Op::kExists;
        return r;
      case Token::kEq:
      case Token::kDoubleEq:
      case Token::kNotEq: {
        r.op = op.kind == Token::kNotEq ? LabelRequirement::Op::kNotEquals
                                        : LabelRequirement::Op::kEquals;
        Next();
        if (Peek().kind == Token::kIdent) {
          r.values.push_back(Next().text);
        } else if (Peek().kind == Token::kEnd || Peek().kind == Token::kComma) {
          r.values.emplace_back();  // "app=": the label is present and empty
        } else {
          return Bad(start, "expected a value");
        }
        return r;
      }
      case Token::kGt:
      case Token::kLt:
        return Bad(start, "the numeric operators > and < are not supported by kdbg");
      case Token::kIdent:
        if (op.text == "in" || op.text == "notin") {
          r.op = op.text == "in" ? LabelRequirement::Op::kIn : LabelRequirement::Op::kNotIn;
          Next();
          if (Peek().kind != Token::kOpen) {
            return Bad(start, absl::StrCat("expected '(' after ", op.text));
          }
          Next();
          while (true) {
            if (Peek().kind == Token::kIdent) {
              r.values.push_back(Next().text);
            } else if (Peek().kind == Token::kComma || Peek().kind == Token::kClose) {
              r.values.emplace_back();  // "in (a,,b)" / "in (a,)": an empty value, as kubectl
            } else {
              return Bad(start, "expected a value or ')'");
            }
            if (Peek().kind == Token::kClose) {
              Next();
              break;
            }
            if (Peek().kind != Token::kComma) return Bad(start, "expected ',' or ')'");
            Next();
          }
          if (r.values.size() == 1 && r.values[0].empty()) {
            return Bad(start, absl::StrCat("'", op.text, "' needs at least one value"));
          }
          return r;
        }
        return Bad(start, absl::StrCat("unexpected \"", op.text,
                                       "\": expected =, ==, !=, in, notin, ',' or the end"));
      default:
        return Bad(start, "expected =, ==, !=, in, notin, ',' or the end");
    }
  }

  absl::string_view text_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
};

using Json = nlohmann::json;

}  // namespace

absl::StatusOr<LabelSelector> LabelSelector::Parse(absl::string_view text) {
  LabelSelector sel;
  if (absl::StripAsciiWhitespace(text).empty()) return sel;
  KDBG_ASSIGN_OR_RETURN(sel.reqs_, Parser(text).All());
  return sel;
}

absl::StatusOr<LabelSelector> LabelSelector::FromJson(absl::string_view json) {
  Json j = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !(j.is_object() || j.is_null())) {
    return absl::InvalidArgumentError("a label selector must be a JSON object");
  }
  LabelSelector sel;
  if (j.is_null()) return sel;
  auto bad = [](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid label selector: ", why));
  };
  if (auto ml = j.find("matchLabels"); ml != j.end() && !ml->is_null()) {
    if (!ml->is_object()) return bad("matchLabels is not an object");
    for (auto it = ml->begin(); it != ml->end(); ++it) {
      if (!it.value().is_string())
        return bad(absl::StrCat("matchLabels.", it.key(), " is not a string"));
      LabelRequirement r{it.key(), LabelRequirement::Op::kEquals, {it.value().get<std::string>()}};
      std::string text = absl::StrCat(r.key, "=", r.values[0]);
      KDBG_RETURN_IF_ERROR(CheckKey(r.key, text));
      KDBG_RETURN_IF_ERROR(CheckValue(r.values[0], text));
      sel.reqs_.push_back(std::move(r));
    }
  }
  if (auto me = j.find("matchExpressions"); me != j.end() && !me->is_null()) {
    if (!me->is_array()) return bad("matchExpressions is not a list");
    for (const Json& e : *me) {
      if (!e.is_object() || !e.contains("key") || !e["key"].is_string() ||
          !e.contains("operator") || !e["operator"].is_string()) {
        return bad("a matchExpressions entry needs a key and an operator");
      }
      LabelRequirement r;
      r.key = e["key"].get<std::string>();
      const std::string op = e["operator"].get<std::string>();
      if (op == "In") {
        r.op = LabelRequirement::Op::kIn;
      } else if (op == "NotIn") {
        r.op = LabelRequirement::Op::kNotIn;
      } else if (op == "Exists") {
        r.op = LabelRequirement::Op::kExists;
      } else if (op == "DoesNotExist") {
        r.op = LabelRequirement::Op::kDoesNotExist;
      } else {
        return bad(absl::StrCat("operator \"", op, "\" of key ", r.key,
                                " (expected In, NotIn, Exists or DoesNotExist)"));
      }
      if (auto vals = e.find("values"); vals != e.end() && !vals->is_null()) {
        if (!vals->is_array()) return bad(absl::StrCat("values of key ", r.key, " is not a list"));
        for (const Json& v : *vals) {
          if (!v.is_string())
            return bad(absl::StrCat("a value of key ", r.key, " is not a string"));
          r.values.push_back(v.get<std::string>());
        }
      }
      const bool set_op = r.op == LabelRequirement::Op::kIn || r.op == LabelRequirement::Op::kNotIn;
      if (set_op && r.values.empty()) {
        return bad(absl::StrCat("operator ", op, " of key ", r.key, " needs values"));
      }
      if (!set_op && !r.values.empty()) {
        return bad(absl::StrCat("operator ", op, " of key ", r.key, " takes no values"));
      }
      std::string text = absl::StrCat(r.key, " ", op);
      KDBG_RETURN_IF_ERROR(CheckKey(r.key, text));
      for (const std::string& v : r.values) KDBG_RETURN_IF_ERROR(CheckValue(v, text));
      sel.reqs_.push_back(std::move(r));
    }
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

std::string LabelSelector::ToString() const {
  std::vector<std::string> parts;
  for (const LabelRequirement& r : reqs_) {
    switch (r.op) {
      case LabelRequirement::Op::kEquals:
        parts.push_back(absl::StrCat(r.key, "=", r.values.empty() ? "" : r.values[0]));
        break;
      case LabelRequirement::Op::kNotEquals:
        parts.push_back(absl::StrCat(r.key, "!=", r.values.empty() ? "" : r.values[0]));
        break;
      case LabelRequirement::Op::kIn:
        parts.push_back(absl::StrCat(r.key, " in (", absl::StrJoin(r.values, ","), ")"));
        break;
      case LabelRequirement::Op::kNotIn:
        parts.push_back(absl::StrCat(r.key, " notin (", absl::StrJoin(r.values, ","), ")"));
        break;
      case LabelRequirement::Op::kExists:
        parts.push_back(r.key);
        break;
      case LabelRequirement::Op::kDoesNotExist:
        parts.push_back(absl::StrCat("!", r.key));
        break;
    }
  }
  return absl::StrJoin(parts, ",");
}

}  // namespace kdbg::kube
