#include "cli/app.h"

#include <sstream>

#include "gtest/gtest.h"

namespace kdbg::cli {
namespace {

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

CliRun RunWith(const std::vector<std::string>& argv, bool* opened = nullptr) {
  std::ostringstream out, err;
  AppEnv env;
  env.command.out = &out;
  env.command.err = &err;
  env.command.cli_version = "9.9.9";
  env.getenv = [](const std::string&) { return std::string(); };
  env.command.open_cluster =
      [opened](const GlobalOptions&) -> absl::StatusOr<std::unique_ptr<Cluster>> {
    if (opened != nullptr) *opened = true;
    return absl::NotFoundError("no kubeconfig: test");
  };
  int code = RunApp(argv, std::move(env));
  return {code, out.str(), err.str()};
}

TEST(AppTest, HelpForEveryCommandHasExamples) {
  for (std::string cmd : {"trace", "attach", "funcs", "resolve", "sessions", "stop", "version"}) {
    CliRun r = RunWith({"kdbg", cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Examples:"), std::string::npos) << cmd << ": " << r.out;
  }
  CliRun top = RunWith({"kdbg", "--help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.out.find("--controller-ca"), std::string::npos) << top.out;
}

TEST(AppTest, KubectlPluginNameInHelp) {
  CliRun r = RunWith({"/usr/local/bin/kubectl-kdbg", "trace", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("kubectl kdbg trace pod/hello-world"), std::string::npos) << r.out;
}

TEST(AppTest, UsageErrorsAreOneLineAndExit2) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"kdbg"},
        {"kdbg", "trace", "pod/x"},
        {"kdbg", "frobnicate"},
        {"kdbg", "trace", "pod/x", "--init", "f", "-o", "yaml"},
        {"kdbg", "sessions", "-A", "-n", "x"},
        {"kdbg", "trace", "pod/x", "--init", "f", "--duration", "soon"},
        {"kdbg", "trace", "pod/x", "main", "--init", "f"},
        {"kdbg", "trace", "pod/x", "--init", "f", "--print", "r"},
        {"kdbg", "trace", "pod/x", "main", "--max-funcs", "101"},
        {"kdbg", "trace", "pod/x", "main", "--stats", "-o", "json"},
        {"kdbg", "funcs"},
        {"kdbg", "sessions", "-o", "xml"}}) {
    bool opened = false;
    CliRun r = RunWith(argv, &opened);
    EXPECT_EQ(r.code, 2) << argv.back() << r.err;
    EXPECT_FALSE(opened);
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    EXPECT_EQ(r.err.rfind("kdbg: error: ", 0), 0u) << r.err;
  }
}

TEST(AppTest, CommandErrorsAreOneLineAndJsonObjects) {
  CliRun r = RunWith({"kdbg", "resolve", "pod/x", "-o", "json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kdbg: error: no kubeconfig: test\n");
  EXPECT_EQ(r.out,
            "{\"type\":\"error\",\"code\":\"NOT_FOUND\",\"message\":\"no kubeconfig: test\"}\n");
  CliRun bad = RunWith({"kdbg", "resolve", "cronjob/x"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("kdbg does not trace a \"cronjob\""), std::string::npos) << bad.err;
  EXPECT_EQ(bad.out, "");
}

TEST(AppTest, GlobalFlagsAfterTheCommand) {
  CliRun r = RunWith({"kdbg", "sessions", "--kubeconfig", "/x", "--context", "c", "-A"});
  EXPECT_EQ(r.code, 1) << r.err;  // parsed, then failed in open_cluster
  EXPECT_EQ(r.err, "kdbg: error: no kubeconfig: test\n");
}

// --print repeats, one expression each: a REGEXP after it stays the REGEXP.
TEST(AppTest, PrintIsRepeatableAndTakesOneWordEach) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"kdbg", "trace", "pod/x", "main", "--print", "a", "--print", "b"},
        {"kdbg", "trace", "pod/x", "--print", "a", "main", "--stack", "3"}}) {
    bool opened = false;
    CliRun r = RunWith(argv, &opened);
    EXPECT_EQ(r.code, 1) << r.err;  // parsed, then failed in open_cluster
    EXPECT_TRUE(opened) << r.err;
  }
}

TEST(AppTest, MissingTraceScript) {
  CliRun r = RunWith({"kdbg", "trace", "pod/x", "--init", "/nonexistent/trace.txt"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot read the trace script /nonexistent/trace.txt"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace kdbg::cli
