#include "script/trace_script.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kdbg::script {
namespace {

bool ValidName(absl::string_view name) {
  int digits = 0;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
    if (std::isdigit(static_cast<unsigned char>(c))) ++digits;
  }
  return !name.empty() && digits != static_cast<int>(name.size());
}

// Splits off the first blank-separated word.
absl::string_view NextWord(absl::string_view* rest) {
  *rest = absl::StripLeadingAsciiWhitespace(*rest);
  size_t end = 0;
  while (end < rest->size() && !absl::ascii_isspace(static_cast<unsigned char>((*rest)[end])))
    ++end;
  absl::string_view word = rest->substr(0, end);
  *rest = absl::StripLeadingAsciiWhitespace(rest->substr(end));
  return word;
}

bool IsRefusedCommand(absl::string_view cmd) {
  static const char* const kRefused[] = {"call",
                                         "set",
                                         "restart",
                                         "r",
                                         "rebuild",
                                         "exit",
                                         "quit",
                                         "q",
                                         "kill",
                                         "step",
                                         "s",
                                         "next",
                                         "n",
                                         "stepout",
                                         "so",
                                         "step-instruction",
                                         "si",
                                         "rev",
                                         "rewind",
                                         "checkpoint",
                                         "check",
                                         "dump",
                                         "source",
                                         "transcript",
                                         "print",
                                         "p",
                                         "display",
                                         "goroutine",
                                         "gr",
                                         "frame",
                                         "up",
                                         "down",
                                         "deferred",
                                         "config",
                                         "clear",
                                         "clearall",
                                         "toggle",
                                         "condition",
                                         "watch",
                                         "restart",
                                         "disassemble",
                                         "locals",
                                         "args",
                                         "vars",
                                         "regs",
                                         "stack",
                                         "bt",
                                         "list",
                                         "ls",
                                         "threads",
                                         "thread",
                                         "tr",
                                         "goroutines",
                                         "grs",
                                         "funcs",
                                         "types",
                                         "sources",
                                         "libraries",
                                         "examinemem",
                                         "x",
                                         "edit",
                                         "ed",
                                         "breakpoints",
                                         "bp",
                                         "whatis",
                                         "help",
                                         "h"};
  for (const char* r : kRefused) {
    if (cmd == r) return true;
  }
  return false;
}

}  // namespace

std::string CanonicalCommand(absl::string_view word) {
  if (word == "trace" || word == "t") return "trace";
  if (word == "break" || word == "b") return "break";
  if (word == "on") return "on";
  if (word == "cond" || word == "condition") return "cond";
  if (word == "continue" || word == "c") return "continue";
  return "";
}

std::string CanonicalAction(absl::string_view word) {
  if (word == "print" || word == "p") return "print";
  if (word == "stack" || word == "bt") return "stack";
  return "";
}

absl::StatusOr<TraceScript> ParseTraceScript(absl::string_view text,
                                             absl::string_view script_name) {
  TraceScript script;
  int line_no = 0;
  int continue_line = 0;
  auto error = [&](absl::string_view reason) {
    return absl::InvalidArgumentError(absl::StrCat(script_name, ":", line_no, ": ", reason));
  };
  auto find_bp = [&](absl::string_view ref) -> ScriptBreakpoint* {
    int number = 0;
    if (absl::SimpleAtoi(ref, &number)) {
      if (number >= 1 && number <= static_cast<int>(script.breakpoints.size())) {
        return &script.breakpoints[static_cast<size_t>(number - 1)];
      }
      return nullptr;
    }
    for (ScriptBreakpoint& bp : script.breakpoints) {
      if (bp.name == ref) return &bp;
    }
    return nullptr;
  };
  auto unknown_bp = [&](absl::string_view ref) {
    return error(absl::StrCat("no tracepoint or breakpoint \"", ref,
                              "\": define it with `trace` or `break` on an earlier line"));
  };
  auto too_long = [&](absl::string_view expr) {
    return error(absl::StrCat("expression of ", expr.size(), " bytes; the limit is ",
                              kMaxExpressionBytes, ": print a shorter expression"));
  };
  if (text.size() > kMaxScriptBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(script_name, ": ", text.size(), " bytes; a trace script may hold at most ",
                     kMaxScriptBytes, " bytes: trace fewer places in one session"));
  }

  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    if (continue_line != 0) {
      return error(absl::StrCat("nothing may follow `continue` (line ", continue_line,
                                "): the session runs the program after the last line"));
    }
    absl::string_view rest = line;
    absl::string_view cmd = NextWord(&rest);
    const std::string command = CanonicalCommand(cmd);
    if (!command.empty()) {
      ScriptCommand record;
      record.line = line_no;
      record.word = std::string(cmd);
      record.command = command;
      script.commands.push_back(std::move(record));
    }

    if (command == "trace" || command == "break") {
      std::vector<absl::string_view> args = absl::StrSplit(rest, ' ', absl::SkipWhitespace());
      ScriptBreakpoint bp;
      bp.line = line_no;
      bp.stops = command == "break";
      if (args.size() == 1) {
        bp.location = std::string(args[0]);
        bp.name = absl::StrCat("bp", script.breakpoints.size() + 1);
      } else if (args.size() == 2) {
        if (!ValidName(args[0])) {
          return error(
              absl::StrCat("bad name \"", args[0], "\": use letters and digits, not only digits"));
        }
        bp.name = std::string(args[0]);
        bp.named = true;
        bp.location = std::string(args[1]);
      } else {
        return error(absl::StrCat("usage: ", cmd, " [name] <location>"));
      }
      if (script.breakpoints.size() >= kMaxTracepoints) {
        return error(absl::StrCat("more than ", kMaxTracepoints,
                                  " tracepoints and breakpoints: trace fewer places in one "
                                  "session"));
      }
      if (find_bp(bp.name) != nullptr) {
        return error(absl::StrCat("name \"", bp.name, "\" is already used"));
      }
      script.breakpoints.push_back(std::move(bp));
    } else if (command == "on") {
      absl::string_view ref = NextWord(&rest);
      absl::string_view what = NextWord(&rest);
      if (ref.empty() || what.empty())
        return error("usage: on <bp> print <expr> | on <bp> stack [depth]");
      ScriptBreakpoint* bp = find_bp(ref);
      if (bp == nullptr) return unknown_bp(ref);
      const std::string action = CanonicalAction(what);
      script.commands.back().action = action;
      script.commands.back().action_word = std::string(what);
      if (action == "print") {
        if (rest.empty()) return error("usage: on <bp> print <expr>");
        if (rest.size() > kMaxExpressionBytes) return too_long(rest);
        bp->prints.emplace_back(rest);
        bp->print_lines.push_back(line_no);
      } else if (action == "stack") {
        int depth = 10;
        if (!rest.empty() && (!absl::SimpleAtoi(rest, &depth) || depth < 1 || depth > 100)) {
          return error(absl::StrCat("bad stack depth \"", rest, "\": use a number from 1 to 100"));
        }
        bp->stack_depth = depth;
        bp->stack_line = line_no;
      } else {
        return error(absl::StrCat("`on ", ref, " ", what,
                                  "` is not supported: use `on <bp> print <expr>` or "
                                  "`on <bp> stack [depth]`"));
      }
    } else if (command == "cond") {
      absl::string_view first = NextWord(&rest);
      if (first == "-hitcount") {
        absl::string_view ref = NextWord(&rest);
        absl::string_view op = NextWord(&rest);
        absl::string_view n = NextWord(&rest);
        int64_t value = 0;
        if (ref.empty() || n.empty() || !rest.empty()) {
          return error("usage: cond -hitcount <bp> <op> <n>");
        }
        if (op != "==" && op != "!=" && op != "<" && op != "<=" && op != ">" && op != ">=" &&
            op != "%") {
          return error(
              absl::StrCat("bad hit count operator \"", op, "\": use one of == != < <= > >= %"));
        }
        if (!absl::SimpleAtoi(n, &value) || value < 0) {
          return error(absl::StrCat("bad hit count \"", n, "\": use a non-negative number"));
        }
        // Delve takes `% 0` and divides by zero at the first hit (proc.checkHitCond), a panic
        // of the debugger while the target is stopped at its breakpoint.
        if (op == "%" && value == 0) {
          return error(
              "bad hit count \"0\" for %: nothing divides by 0; use a number from 1 "
              "(% 1 is every hit)");
        }
        ScriptBreakpoint* bp = find_bp(ref);
        if (bp == nullptr) return unknown_bp(ref);
        bp->hit_cond = absl::StrCat(op, " ", value);
        bp->cond_line = line_no;
      } else {
        if (first.empty() || rest.empty()) return error("usage: cond <bp> <expr>");
        if (rest.size() > kMaxExpressionBytes) return too_long(rest);
        ScriptBreakpoint* bp = find_bp(first);
        if (bp == nullptr) return unknown_bp(first);
        bp->cond = std::string(rest);
        bp->cond_line = line_no;
      }
    } else if (command == "continue") {
      if (!rest.empty()) return error("`continue` takes no arguments here");
      continue_line = line_no;
    } else if (IsRefusedCommand(cmd)) {
      return error(absl::StrCat("command \"", cmd,
                                "\" is not allowed in a trace script (it could stop or change the "
                                "target); allowed: trace, break, on, cond, continue"));
    } else {
      return error(
          absl::StrCat("unknown command \"", cmd, "\"; allowed: trace, break, on, cond, continue"));
    }
  }
  if (script.breakpoints.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(script_name, ": no tracepoint: add a line like `trace main.go:10`"));
  }
  return script;
}

}  // namespace kdbg::script
