#include "cli/controller.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/ide_config.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace kdbg::cli {
namespace {

TEST(ControllerTest, ParsePortForwardLine) {
  EXPECT_EQ(ParsePortForwardLine("Forwarding from 127.0.0.1:41234 -> 8443"), 41234);
  EXPECT_EQ(ParsePortForwardLine("Forwarding from [::1]:41234 -> 8443"), 0);
  EXPECT_EQ(ParsePortForwardLine("Handling connection for 41234"), 0);
  EXPECT_EQ(ParsePortForwardLine("Forwarding from 127.0.0.1:x -> 8443"), 0);
}

// ConnectAhead against a real gRPC server on loopback.
std::unique_ptr<grpc::Server> StartLoopbackServer(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

TEST(ControllerTest, ConnectAheadLeavesTheChannelReady) {
  int port = 0;
  v1::Controller::Service unimplemented;  // a server needs one service; only the connection counts
  std::unique_ptr<grpc::Server> server = StartLoopbackServer(&unimplemented, &port);
  ASSERT_NE(server, nullptr);
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  EXPECT_EQ(ConnectAhead(*channel, absl::Seconds(10), [] { return true; }), GRPC_CHANNEL_READY);
  EXPECT_EQ(channel->GetState(/*try_to_connect=*/false), GRPC_CHANNEL_READY);
  server->Shutdown();
}

TEST(ControllerTest, ConnectAheadReturnsOnAFailedConnectBeforeItsLimit) {
  // A port nobody listens on: bound, never listened.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", ntohs(a.sin_port)),
                                     grpc::InsecureChannelCredentials());
  absl::Time start = kdbg::MonotonicNow();
  EXPECT_EQ(ConnectAhead(*channel, absl::Seconds(20), [] { return true; }),
            GRPC_CHANNEL_TRANSIENT_FAILURE);
  EXPECT_LT(kdbg::MonotonicNow() - start, absl::Seconds(10));
  ::close(fd);
}

TEST(ControllerTest, ConnectAheadStopsWhenTheCallerNoLongerWaits) {
  int port = 0;
  v1::Controller::Service unimplemented;
  std::unique_ptr<grpc::Server> server = StartLoopbackServer(&unimplemented, &port);
  ASSERT_NE(server, nullptr);
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  int asked = 0;
  grpc_connectivity_state s = ConnectAhead(*channel, absl::Seconds(10), [&asked] {
    ++asked;
    return false;
  });
  EXPECT_EQ(asked, 1);
  EXPECT_NE(s, GRPC_CHANNEL_READY);  // returned before any wait
  server->Shutdown();
}

TEST(ControllerTest, PortForwardThatFailsIsUnavailableWithItsOutput) {
  EndpointOptions o;
  o.kubectl = "/bin/sh";
  o.kubectl_args = {"-c", "echo 'error: services \"kdbg-controller\" not found'; exit 1", "sh"};
  auto e = FindController(o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(e.status().message().find("services \"kdbg-controller\" not found"), std::string::npos)
      << e.status();
}

TEST(ControllerTest, PortForwardFoundAndOwned) {
  EndpointOptions o;
  o.kubectl = "/bin/sh";
  o.kubectl_args = {"-c", "echo 'Forwarding from 127.0.0.1:40001 -> 8443'; exec sleep 30", "sh"};
  auto e = FindController(o);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->address, "127.0.0.1:40001");
  EXPECT_EQ(e->tls_name, kControllerTlsName);
  ASSERT_NE(e->port_forward, nullptr);
  EXPECT_TRUE(e->port_forward->Running());
}

TEST(ControllerTest, GiveUpAbandonsASlowPortForwardAndStopsIt) {
  EndpointOptions o;
  o.kubectl = "/bin/sh";
  o.kubectl_args = {"-c", "echo $$ > \"$0\"; exec sleep 30",
                    ::testing::TempDir() + "/give_up_pf.pid"};
  const absl::Time start = kdbg::MonotonicNow();
  o.give_up = [start] { return kdbg::MonotonicNow() - start > absl::Milliseconds(200); };
  auto e = FindController(o);
  const absl::Duration took = kdbg::MonotonicNow() - start;
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kCancelled) << e.status();
  EXPECT_LT(took, absl::Seconds(5)) << "waited for the port-forward's 20 s timeout";
  std::ifstream in(::testing::TempDir() + "/give_up_pf.pid");
  int pid = 0;
  ASSERT_TRUE(in >> pid);
  // The port-forward is stopped (SIGTERM, then reaped by its owner) when the wait is abandoned.
  EXPECT_NE(::kill(pid, 0), 0) << "port-forward " << pid << " still running";
}

TEST(ControllerTest, GiveUpNeverTrueWaitsForThePortForward) {
  EndpointOptions o;
  o.kubectl = "/bin/sh";
  o.kubectl_args = {
      "-c", "sleep 0.3; echo 'Forwarding from 127.0.0.1:40002 -> 8443'; exec sleep 30", "sh"};
  o.give_up = [] { return false; };
  auto e = FindController(o);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->address, "127.0.0.1:40002");
}

TEST(ControllerTest, UnavailableAnsweredByTheControllerIsNotWordedAsUnreachable) {
  grpc::Status answered = ToGrpcStatus(absl::UnavailableError("no ready kdbg agent on node n2"));
  std::string text = DescribeRpcError(answered, "trace", "127.0.0.1:7444");
  EXPECT_EQ(text,
            "trace: no ready kdbg agent on node n2 (the controller at 127.0.0.1:7444 answered; "
            "retry when that is fixed)");
  grpc::Status transport(grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses");
  EXPECT_FALSE(AnsweredByKdbg(transport));
  text = DescribeRpcError(transport, "trace", "127.0.0.1:7444");
  EXPECT_NE(text.find("cannot reach the controller at 127.0.0.1:7444"), std::string::npos) << text;
  // The same failure once the stream had named its session: the controller was lost mid-session.
  grpc::Status cut(grpc::StatusCode::UNAVAILABLE, "keepalive watchdog timeout");
  EXPECT_EQ(DescribeRpcError(cut, "trace", "127.0.0.1:7444", "3f2a9c41d0e8b7a6"),
            "trace: lost the controller at 127.0.0.1:7444 during session 3f2a9c41d0e8b7a6 "
            "(keepalive watchdog timeout); the controller ends the session once it sees this "
            "connection gone (after a network cut, within about 20 s) and the agent releases the "
            "target: check with `kdbg sessions`");
}

// The controller's refusals carry what to do (ControllerIntegrationTest.DeniedUser...): the CLI
// adds nothing, so no hint is doubled or given where it does not apply.
TEST(ControllerTest, PermissionDeniedIsTheControllersOwnWords) {
  grpc::Status rbac = ToGrpcStatus(absl::PermissionDeniedError(
      "user \"bob\" may not create debugsessions.kdbg.io \"web-1\" in namespace \"shop\": no "
      "RBAC rule allows it; ask for the `create debugsessions.kdbg.io` right in that namespace "
      "(ClusterRole kdbg-user, or kdbg-tracer to trace only)"));
  EXPECT_EQ(DescribeRpcError(rbac, "trace", "127.0.0.1:7444"),
            absl::StrCat("trace: permission denied: ", rbac.error_message()));
  grpc::Status sub = ToGrpcStatus(absl::PermissionDeniedError(
      "user \"bob\" may not create debugsessions.kdbg.io/attach \"web-1\" in namespace \"shop\": "
      "no RBAC rule allows it; the kdbg policy gives `kdbg attach` ..."));
  EXPECT_EQ(DescribeRpcError(sub, "attach", "127.0.0.1:7444"),
            absl::StrCat("attach: permission denied: ", sub.error_message()));
  grpc::Status ns = ToGrpcStatus(absl::PermissionDeniedError(
      "namespace \"kube-system\" is protected by the kdbg policy and can never be debugged"));
  EXPECT_EQ(DescribeRpcError(ns, "trace", "127.0.0.1:7444"),
            absl::StrCat("trace: permission denied: ", ns.error_message()));
}

TEST(ControllerTest, ExplicitAddressNeedsNoKubectl) {
  EndpointOptions o;
  o.address = "10.0.0.1:8443";
  o.kubectl = "/nonexistent";
  auto e = FindController(o);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->address, "10.0.0.1:8443");
  EXPECT_EQ(e->port_forward, nullptr);
}

TEST(ControllerTest, HostPortAndInstructions) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(ParseHostPort("127.0.0.1:2345", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 2345);
  EXPECT_FALSE(ParseHostPort("2345", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("127.0.0.1:99999", &host, &port).ok());
  std::string text =
      AttachInstructions("127.0.0.1", 2345, "default/hello-world",
                         VsCodeConfiguration("kdbg: default/hello-world", "127.0.0.1", 2345,
                                             SourceMapping{"/home/me/hello", "/src/hello"}));
  EXPECT_NE(text.find("  dlv connect 127.0.0.1:2345\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\"request\": \"attach\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"mode\": \"remote\""), std::string::npos) << text;
  EXPECT_NE(text.find("    \"port\": 2345,\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    \"substitutePath\": [\n"), std::string::npos) << text;
  // Delve 1.27's `quit` asks "Would you like to kill the process? [Y/n]": the way out that
  // keeps the target running is said first, and that the kill would be refused.
  EXPECT_NE(text.find("Leave dlv with `clearall` then `quit -c` (the target runs on)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kdbg refuses a debugger's request to kill the pod's process"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace kdbg::cli
