// Shell completion: the candidates for each position, workloads from pod names and labels, the
// scripts, and the command line's own definition read through `kdbg __complete`.
#include "cli/completion.h"

#include <sstream>

#include "cli/app.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kdbg::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class FakeSource final : public CompletionSource {
 public:
  std::string DefaultNamespace() override { return "default"; }
  std::vector<std::string> Namespaces() override { return {"default", "kube-system", "shop"}; }
  std::vector<std::string> Pods(const std::string& ns) override {
    asked_ns = ns;
    if (ns == "shop") return {"web-7d9f8c-abcde", "db-0"};
    return {"hello-world"};
  }
  std::vector<std::string> Workloads(const std::string& ns) override {
    return ns == "shop" ? std::vector<std::string>{"deploy/web", "sts/db"}
                        : std::vector<std::string>{};
  }
  std::vector<std::string> Containers(const std::string& ns, const std::string& pod) override {
    return {ns + ":" + pod + ":app", ns + ":" + pod + ":envoy"};
  }
  std::vector<std::string> Sessions() override { return {"3f2a9c1e", "77aa00bb"}; }
  std::string asked_ns;
};

CompletionSpec Spec() {
  CompletionSpec spec;
  spec.global_flags = {"--context", "--kubeconfig"};
  spec.global_value_flags = {"--context", "--kubeconfig"};
  CompletionCommand trace;
  trace.name = "trace";
  trace.flags = {"--container", "--duration", "--namespace", "--output",
                 "--stats",     "-c",         "-n",          "-o"};
  trace.value_flags = {"--container", "--duration", "--namespace", "--output", "-c", "-n", "-o"};
  trace.flag_values["-o"] = {"text", "json"};
  trace.positionals = {"TARGET", "REGEXP"};
  CompletionCommand stop;
  stop.name = "stop";
  stop.positionals = {"SESSION-ID"};
  CompletionCommand completion;
  completion.name = "completion";
  completion.positionals = {"SHELL"};
  completion.positional_values = {"bash", "zsh", "fish"};
  spec.commands = {trace, stop, completion};
  return spec;
}

TEST(Completion, CommandsThenFlagsThenValues) {
  FakeSource src;
  EXPECT_THAT(Complete(Spec(), {""}, src), ElementsAre("completion", "stop", "trace"));
  EXPECT_THAT(Complete(Spec(), {"tr"}, src), ElementsAre("trace"));
  EXPECT_THAT(Complete(Spec(), {"--"}, src), ElementsAre("--context", "--kubeconfig"));
  EXPECT_THAT(Complete(Spec(), {"trace", "--d"}, src), ElementsAre("--duration"));
  EXPECT_THAT(Complete(Spec(), {"trace", "pod/x", "-o", ""}, src), ElementsAre("json", "text"));
  EXPECT_THAT(Complete(Spec(), {"trace", "-n", ""}, src),
              ElementsAre("default", "kube-system", "shop"));
  EXPECT_THAT(Complete(Spec(), {"trace", "--duration", ""}, src), IsEmpty()) << "free value";
  EXPECT_THAT(Complete(Spec(), {"completion", ""}, src), ElementsAre("bash", "fish", "zsh"));
}

TEST(Completion, TargetsArePodsAndWorkloadsOfTheNamespaceGiven) {
  FakeSource src;
  EXPECT_THAT(Complete(Spec(), {"trace", ""}, src), ElementsAre("hello-world"));
  EXPECT_EQ(src.asked_ns, "default");
  EXPECT_THAT(Complete(Spec(), {"trace", "-n", "shop", ""}, src),
              ElementsAre("db-0", "deploy/web", "sts/db", "web-7d9f8c-abcde"));
  EXPECT_THAT(Complete(Spec(), {"trace", "--namespace=shop", "pod/w"}, src),
              ElementsAre("pod/web-7d9f8c-abcde"));
  EXPECT_THAT(Complete(Spec(), {"--context", "prod", "trace", "-n", "shop", "dep"}, src),
              ElementsAre("deploy/web"));
  EXPECT_THAT(Complete(Spec(), {"trace", "-n", "shop", "db-0", "-c", ""}, src),
              ElementsAre("shop:db-0:app", "shop:db-0:envoy"));
  EXPECT_THAT(Complete(Spec(), {"trace", "hello-world", ""}, src), IsEmpty())
      << "REGEXP is free text";
  EXPECT_THAT(Complete(Spec(), {"stop", ""}, src), ElementsAre("3f2a9c1e", "77aa00bb"));
}

TEST(Completion, WorkloadsFromTheLabelsTheirControllersSet) {
  EXPECT_EQ(WorkloadOfPod("web-7d9f8c5b4-x2k9p", {{"pod-template-hash", "7d9f8c5b4"}}),
            "deploy/web");
  EXPECT_EQ(WorkloadOfPod("db-0", {{"statefulset.kubernetes.io/pod-name", "db-0"}}), "sts/db");
  EXPECT_EQ(WorkloadOfPod("node-exporter-4xk2z", {{"pod-template-generation", "1"}}),
            "ds/node-exporter");
  EXPECT_EQ(WorkloadOfPod("hello-world", {{"app", "hello"}}), "");
  EXPECT_EQ(WorkloadOfPod("odd", {{"pod-template-hash", "zz"}}), "");
}

TEST(Completion, ScriptsCallTheHiddenCommandUnderATimeout) {
  auto bash = CompletionScript("bash", "kdbg");
  ASSERT_TRUE(bash.ok());
  EXPECT_THAT(*bash, HasSubstr("timeout 2 kdbg __complete \"${COMP_WORDS[@]:1:COMP_CWORD}\""));
  EXPECT_THAT(*bash, HasSubstr("complete -o default -F _kdbg_complete kdbg kubectl-kdbg"));
  auto zsh = CompletionScript("zsh", "kdbg");
  ASSERT_TRUE(zsh.ok());
  EXPECT_THAT(*zsh, HasSubstr("compdef _kdbg_complete kdbg kubectl-kdbg"));
  auto fish = CompletionScript("fish", "kubectl-kdbg");
  ASSERT_TRUE(fish.ok());
  EXPECT_THAT(*fish, HasSubstr("timeout 2 kubectl-kdbg __complete"));
  EXPECT_FALSE(CompletionScript("tcsh", "kdbg").ok());
}

// Through the command line itself: its commands and flags, no cluster needed for them.
TEST(Completion, TheCommandLinesOwnCommandsAndFlags) {
  auto run = [](const std::vector<std::string>& argv) {
    std::ostringstream out, err;
    AppEnv env;
    env.command.out = &out;
    env.command.err = &err;
    env.getenv = [](const std::string&) { return std::string(); };
    env.command.open_cluster =
        [](const GlobalOptions&) -> absl::StatusOr<std::unique_ptr<Cluster>> {
      return absl::NotFoundError("no kubeconfig: test");
    };
    EXPECT_EQ(RunApp(argv, std::move(env)), 0);
    return out.str();
  };
  std::string commands = run({"kdbg", "__complete", ""});
  for (const char* c : {"attach\n", "completion\n", "funcs\n", "resolve\n", "sessions\n", "stop\n",
                        "trace\n", "version\n"}) {
    EXPECT_THAT(commands, HasSubstr(c));
  }
  EXPECT_THAT(commands, ::testing::Not(HasSubstr("__complete")));
  EXPECT_EQ(run({"kdbg", "__complete", "trace", "--ma"}),
            "--max-funcs\n--max-hits\n--max-hits-per-pod\n--max-pods\n");
  EXPECT_EQ(run({"kdbg", "__complete", "sessions", "-o", ""}), "json\ntext\nwide\nyaml\n");
  EXPECT_EQ(run({"kdbg", "__complete", "trace", "pod/x", "--engine", "e"}), "ebpf\n");
  EXPECT_EQ(run({"kdbg", "__complete", "trace", ""}), "") << "no cluster: no pods, no error";
  EXPECT_EQ(run({"kubectl_complete-kdbg", "tr"}), "trace\n:0\n");
}

}  // namespace
}  // namespace kdbg::cli
