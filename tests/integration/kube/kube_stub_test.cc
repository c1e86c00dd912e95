// kube::HttpClient against kube-apiserver-stub over real TLS: every endpoint, the error mapping,
// a watch seeing a pod file added, kubeconfig + exec plugin end to end, and an unreachable server.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/child_process.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "kube/http_client.h"
#include "kube/rest_config.h"
#include "tests/support/test_env.h"

namespace kdbg::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  std::filesystem::rename(tmp, path);
}

constexpr char kConfig[] = R"(
pods_dir: pods
users:
  - token: alice-token
    username: alice@example.com
    uid: "1001"
    groups: ["developers"]
  - token: bob-token
    username: bob
    groups: []
  - token: controller-token
    username: system:serviceaccount:kdbg-system:kdbg-controller
    groups: ["system:serviceaccounts"]
rules:
  - subjects: ["developers"]
    verbs: ["get", "list", "watch"]
    resources: ["pods"]
    groups: [""]
    namespaces: ["*"]
    name: view
  - subjects: ["alice@example.com"]
    verbs: ["create"]
    resources: ["debugsessions"]
    groups: ["kdbg.io"]
    namespaces: ["default"]
    name: "RoleBinding \"kdbg-users\" of ClusterRole \"kdbg-user\""
  - subjects: ["bob"]
    verbs: ["get"]
    resources: ["pods"]
    groups: [""]
    namespaces: ["kube-system"]
    name: bob-kube-system
  - subjects: ["system:serviceaccount:kdbg-system:kdbg-controller"]
    verbs: ["create", "get", "list", "watch"]
    resources: ["events", "tokenreviews", "subjectaccessreviews", "pods"]
    groups: ["", "authentication.k8s.io", "authorization.k8s.io"]
    name: kdbg-controller
)";

// One stub over TLS with a throwaway CA, for the whole suite.
class StubEnv {
 public:
  absl::Status Start() {
    dir_ = kdbg::testing::MakeTempDir("kdbg-kube-stub-");
    std::filesystem::create_directories(dir_ + "/pods");
    auto run = [&](const std::vector<std::string>& argv) { return RunCommand(argv).status(); };
    std::string d = dir_ + "/";
    std::ofstream(d + "san.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    for (auto& argv : std::vector<std::vector<std::string>>{
             {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=kdbg-test-ca",
              "-keyout", d + "ca.key", "-out", d + "ca.crt"},
             {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-subj", "/CN=kube-apiserver", "-keyout", d + "server.key", "-out",
              d + "server.csr"},
             {"openssl", "x509", "-req", "-in", d + "server.csr", "-CA", d + "ca.crt", "-CAkey",
              d + "ca.key", "-CAcreateserial", "-days", "2", "-extfile", d + "san.ext", "-out",
              d + "server.crt"},
             {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=other-ca",
              "-keyout", d + "other.key", "-out", d + "other.crt"}}) {
      if (auto s = run(argv); !s.ok()) return s;
    }
    std::ofstream(d + "stub.yaml") << kConfig;
    std::string fixtures = kdbg::testing::TestdataDir("kube") + "/pods/";
    std::filesystem::copy_file(fixtures + "docker-minikube-simple.json", d + "pods/myapp.json");
    std::filesystem::copy_file(
        fixtures + "containerd-aks-kube-proxy-hostnetwork-init-container.json",
        d + "pods/kube-proxy.json");
    std::filesystem::copy_file(fixtures + "containerd-aks-ama-logs-daemonset-3-containers.json",
                               d + "pods/ama-logs.json");
    SpawnOptions opts;
    opts.argv = {kdbg::testing::BinaryDir() + "/tests/fakes/kube-apiserver/kube-apiserver-stub",
                 "--config",
                 d + "stub.yaml",
                 "--tls-cert",
                 d + "server.crt",
                 "--tls-key",
                 d + "server.key",
                 "--listen",
                 "127.0.0.1:0",
                 "--port-file",
                 d + "port"};
    opts.stdout_path = d + "stub.out";
    opts.stderr_path = d + "stub.err";
    auto child = ChildProcess::Spawn(opts);
    if (!child.ok()) return child.status();
    stub_ = std::move(*child);
    absl::Time deadline = kdbg::MonotonicNow() + absl::Seconds(20);
    while (kdbg::MonotonicNow() < deadline) {
      std::string port = ReadFile(d + "port");
      if (!port.empty()) {
        port_ = std::stoi(port);
        return absl::OkStatus();
      }
      if (!stub_->Running()) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::UnavailableError("stub did not start: " + ReadFile(d + "stub.err"));
  }
  void Stop() {
    if (stub_ != nullptr) (void)stub_->Terminate(absl::Seconds(5));
    stub_.reset();
    if (!dir_.empty() && !::testing::Test::HasFailure()) std::filesystem::remove_all(dir_);
  }

  RestConfig Config(const std::string& token) const {
    RestConfig rc;
    rc.server = absl::StrCat("https://127.0.0.1:", port_);
    rc.ca_pem = ReadFile(dir_ + "/ca.crt");
    rc.bearer_token = token;
    rc.timeout = absl::Seconds(10);
    return rc;
  }
  const std::string& dir() const { return dir_; }
  int port() const { return port_; }

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> stub_;
};

StubEnv* env = nullptr;

class KubeStubTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    env = new StubEnv;
    start_status_ = new absl::Status(env->Start());
  }
  static void TearDownTestSuite() {
    env->Stop();
    delete env;
    env = nullptr;
    delete start_status_;
  }
  void SetUp() override {
    KDBG_REQUIRE_REAL(std::filesystem::exists(kdbg::testing::BinaryDir() +
                                              "/tests/fakes/kube-apiserver/kube-apiserver-stub"),
                      "kube-apiserver-stub built");
    ASSERT_TRUE(start_status_->ok()) << *start_status_;
  }
  std::unique_ptr<Client> As(const std::string& token) {
    return NewHttpClient(env->Config(token), RealClock::Get());
  }
  static absl::Status* start_status_;
};
absl::Status* KubeStubTest::start_status_ = nullptr;

TEST_F(KubeStubTest, GetPod) {
  auto pod = As("alice-token")->GetPod("default", "myapp");
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->name, "myapp");
  EXPECT_EQ(pod->containers[0].name, "myapp");
  EXPECT_FALSE(pod->resource_version.empty());
}

TEST_F(KubeStubTest, NotFoundHasApiServerMessage) {
  auto pod = As("alice-token")->GetPod("default", "abc");
  ASSERT_EQ(pod.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(pod.status().message(), "pods \"abc\" not found");
}

TEST_F(KubeStubTest, ForbiddenHasApiServerMessage) {
  auto bob = As("bob-token");
  auto pod = bob->GetPod("default", "myapp");
  ASSERT_EQ(pod.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(pod.status().message(),
            "pods \"myapp\" is forbidden: User \"bob\" cannot get resource \"pods\" in API group "
            "\"\" in the namespace \"default\"");
  EXPECT_TRUE(bob->GetPod("kube-system", "kube-proxy-fqhfk").ok());
  auto list = bob->ListPods("kube-system", {});
  ASSERT_EQ(list.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(list.status().message(),
            "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in "
            "the namespace \"kube-system\"");
}

TEST_F(KubeStubTest, UnknownTokenIsUnauthenticated) {
  auto pod = As("nope")->GetPod("default", "myapp");
  ASSERT_EQ(pod.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(pod.status().message(), "Unauthorized");
}

TEST_F(KubeStubTest, ListWithSelectors) {
  auto alice = As("alice-token");
  std::string rv;
  auto all = alice->ListPods("", {}, &rv);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_GE(all->size(), 3u);
  EXPECT_FALSE(rv.empty());
  auto ks = alice->ListPods("kube-system", {});
  ASSERT_TRUE(ks.ok());
  std::vector<std::string> names;
  for (const Pod& p : *ks) names.push_back(p.name);
  EXPECT_THAT(names, UnorderedElementsAre("kube-proxy-fqhfk", "ama-logs-24r5w"));

  auto by_label = alice->ListPods("", {"component in (kube-proxy, other)", ""});
  ASSERT_TRUE(by_label.ok()) << by_label.status();
  ASSERT_EQ(by_label->size(), 1u);
  EXPECT_EQ((*by_label)[0].name, "kube-proxy-fqhfk");

  const Pod& ama = (*ks)[0].name == "ama-logs-24r5w" ? (*ks)[0] : (*ks)[1];
  auto by_node =
      alice->ListPods("", {"", "spec.nodeName=" + ama.node_name + ",metadata.name=ama-logs-24r5w"});
  ASSERT_TRUE(by_node.ok()) << by_node.status();
  ASSERT_EQ(by_node->size(), 1u);
  auto by_phase = alice->ListPods("default", {"", "status.phase!=Running"});
  ASSERT_TRUE(by_phase.ok());
  EXPECT_TRUE(by_phase->empty());

  auto bad = alice->ListPods("", {"", "spec.host=x"});
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "field label not supported: spec.host");
}

TEST_F(KubeStubTest, TokenReview) {
  auto controller = As("controller-token");
  auto alice = controller->ReviewToken("alice-token");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_TRUE(alice->authenticated);
  EXPECT_EQ(alice->username, "alice@example.com");
  EXPECT_EQ(alice->uid, "1001");
  EXPECT_THAT(alice->groups, ElementsAre("developers", "system:authenticated"));
  auto nobody = controller->ReviewToken("forged");
  ASSERT_TRUE(nobody.ok()) << nobody.status();
  EXPECT_FALSE(nobody->authenticated);
  EXPECT_THAT(nobody->error, HasSubstr("invalid bearer token"));
  // Callers without the right get the API server's 403.
  auto denied = As("bob-token")->ReviewToken("alice-token");
  ASSERT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.status().message(),
              HasSubstr("cannot create resource \"tokenreviews\" in API group "
                        "\"authentication.k8s.io\" at the cluster scope"));
}

TEST_F(KubeStubTest, SubjectAccessReview) {
  auto controller = As("controller-token");
  auto alice = controller->ReviewToken("alice-token");
  ASSERT_TRUE(alice.ok());
  ResourceAttributes attrs{.namespace_ = "default",
                           .verb = "create",
                           .group = "kdbg.io",
                           .resource = "debugsessions",
                           .name = "myapp"};
  auto allowed = controller->ReviewAccess(*alice, attrs);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_TRUE(allowed->allowed);
  EXPECT_EQ(allowed->reason,
            "RBAC: allowed by RoleBinding \"kdbg-users\" of ClusterRole "
            "\"kdbg-user\" to User \"alice@example.com\"");
  attrs.namespace_ = "kube-system";
  auto other_ns = controller->ReviewAccess(*alice, attrs);
  ASSERT_TRUE(other_ns.ok());
  EXPECT_FALSE(other_ns->allowed);
  // Group membership counts.
  UserInfo dev{.username = "carol", .groups = {"developers"}};
  auto carol = controller->ReviewAccess(
      dev, {.namespace_ = "x", .verb = "watch", .group = "", .resource = "pods"});
  ASSERT_TRUE(carol.ok());
  EXPECT_TRUE(carol->allowed);
  EXPECT_THAT(carol->reason, HasSubstr("to Group \"developers\""));
}

TEST_F(KubeStubTest, EventsAreStored) {
  EventSpec ev;
  ev.namespace_ = "default";
  ev.involved_name = "myapp";
  ev.involved_uid = "uid-1";
  ev.reason = "DebugSessionStarted";
  ev.message = "alice@example.com started a trace session";
  ASSERT_TRUE(As("controller-token")->CreateEvent(ev).ok());
  EXPECT_EQ(As("bob-token")->CreateEvent(ev).code(), absl::StatusCode::kPermissionDenied);

  httplib::SSLClient raw("127.0.0.1", env->port());
  raw.set_ca_cert_path(env->dir() + "/ca.crt");
  raw.enable_server_certificate_verification(true);
  auto res =
      raw.Get("/api/v1/namespaces/default/events", {{"Authorization", "Bearer controller-token"}});
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr(R"("reason":"DebugSessionStarted")"));
  EXPECT_THAT(res->body, HasSubstr(R"("name":"myapp.)"));
  auto unknown =
      raw.Get("/apis/kdbg.io/v1/nothing", {{"Authorization", "Bearer controller-token"}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr(R"("reason":"NotFound")"));
}

TEST_F(KubeStubTest, WatchSeesPodFileAddedModifiedDeleted) {
  auto alice = As("alice-token");
  std::string rv;
  ASSERT_TRUE(alice->ListPods("default", {}, &rv).ok());
  std::vector<std::string> seen;
  std::thread watcher([&] {
    auto s = alice->WatchPods("default", {}, rv, [&](const WatchEvent& ev) {
      seen.push_back(ev.type + " " + ev.pod.name);
      return seen.size() < 3;
    });
    EXPECT_TRUE(s.ok()) << s;
  });
  std::string pod =
      ReadFile(kdbg::testing::TestdataDir("kube") + "/pods/docker-gke-node-simple.json");
  std::string path = env->dir() + "/pods/added.json";
  WriteFile(path, pod);
  // Give the watch a moment to report ADDED before the next change (events are ordered anyway).
  absl::SleepFor(absl::Milliseconds(300));
  std::string modified = pod;
  modified.replace(modified.find("\"Running\""), 9, "\"Failed\"");
  WriteFile(path, modified);
  absl::SleepFor(absl::Milliseconds(300));
  std::filesystem::remove(path);
  watcher.join();
  EXPECT_THAT(seen, ElementsAre("ADDED nginx-7fb78fb6d8-2w75j", "MODIFIED nginx-7fb78fb6d8-2w75j",
                                "DELETED nginx-7fb78fb6d8-2w75j"));
}

TEST_F(KubeStubTest, WatchFromTooOldVersionIsOutOfRange) {
  auto s = As("alice-token")->WatchPods("default", {}, "1", [](const WatchEvent&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
}

TEST_F(KubeStubTest, KubeconfigWithExecPluginEndToEnd) {
  std::string plugin = env->dir() + "/plugin.sh";
  std::ofstream(plugin) << "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                           "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"alice-token\"}}'\n";
  chmod(plugin.c_str(), 0755);
  std::string kubeconfig = env->dir() + "/kubeconfig";
  std::ofstream(kubeconfig) << absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: stub
clusters:
- name: stub
  cluster: {server: "https://127.0.0.1:)",
                                            env->port(), R"(", certificate-authority: ca.crt}
contexts:
- name: stub
  context: {cluster: stub, user: alice, namespace: default}
users:
- name: alice
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: )",
                                            plugin, R"(
      interactiveMode: Never
)");
  auto rc = LoadKubeconfig({.explicit_path = kubeconfig});
  ASSERT_TRUE(rc.ok()) << rc.status();
  auto pod = NewHttpClient(*rc, RealClock::Get())->GetPod(rc->namespace_, "myapp");
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->name, "myapp");
}

TEST_F(KubeStubTest, WrongCaFailsVerification) {
  RestConfig rc = env->Config("alice-token");
  rc.ca_pem = ReadFile(env->dir() + "/other.crt");
  auto pod = NewHttpClient(rc, RealClock::Get())->GetPod("default", "myapp");
  ASSERT_EQ(pod.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(pod.status().message(), HasSubstr("TLS verification"));
}

TEST_F(KubeStubTest, WithItsOwnCaTheSystemBundleIsNotTrusted) {
  // The stub's CA in the system bundle (OpenSSL's default verify file, SSL_CERT_FILE), another CA
  // in the kubeconfig: as kubectl, only the kubeconfig's CA is trusted, so the server is refused.
  // (httplib adds the system bundle unless given a CA path: every public CA was trusted, and its
  // parsing cost ~25 ms of CPU per client.)
  const char* old = std::getenv("SSL_CERT_FILE");
  std::string saved = old != nullptr ? old : "";
  ::setenv("SSL_CERT_FILE", (env->dir() + "/ca.crt").c_str(), 1);
  RestConfig rc = env->Config("alice-token");
  rc.ca_pem = ReadFile(env->dir() + "/other.crt");
  auto pod = NewHttpClient(rc, RealClock::Get())->GetPod("default", "myapp");
  // Control: with no CA of its own the client uses the system bundle, which now holds the stub's.
  RestConfig system = env->Config("alice-token");
  system.ca_pem.clear();
  auto via_system = NewHttpClient(system, RealClock::Get())->GetPod("default", "myapp");
  if (old != nullptr) {
    ::setenv("SSL_CERT_FILE", saved.c_str(), 1);
  } else {
    ::unsetenv("SSL_CERT_FILE");
  }
  ASSERT_EQ(pod.status().code(), absl::StatusCode::kUnavailable) << pod.status();
  EXPECT_THAT(pod.status().message(), HasSubstr("TLS verification"));
  ASSERT_TRUE(via_system.ok()) << via_system.status();
  EXPECT_EQ(via_system->name, "myapp");
}

TEST_F(KubeStubTest, UnreachableServerIsUnavailableQuickly) {
  RestConfig rc = env->Config("alice-token");
  rc.server = absl::StrCat("https://127.0.0.1:", kdbg::testing::FreePort());
  absl::Time t0 = kdbg::MonotonicNow();
  auto pod = NewHttpClient(rc, RealClock::Get())->GetPod("default", "myapp");
  absl::Duration took = kdbg::MonotonicNow() - t0;
  ASSERT_EQ(pod.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(pod.status().message(), HasSubstr("cannot reach the Kubernetes API at " + rc.server));
  EXPECT_LT(took, absl::Seconds(2));  // three attempts with 100 + 200 ms backoff
}

}  // namespace
}  // namespace kdbg::kube
