#include "agent/service/agent_config.h"

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace kdbg::agent {
namespace {

TEST(AgentConfigTest, DefaultsAndFlags) {
  auto c =
      ParseAgentConfig({"--listen", "127.0.0.2:7443", "--node-name", "node-a", "--tls-cert",
                        "a.crt", "--allowed-client", "ctl-a", "--allowed-client", "ctl-b",
                        "--lease-default", "90s", "--log-format", "json", "--max-sessions", "3"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "127.0.0.2:7443");
  EXPECT_EQ(c->node_name, "node-a");
  EXPECT_EQ(c->tls_cert, "a.crt");
  EXPECT_EQ(c->allowed_clients, (std::vector<std::string>{"ctl-a", "ctl-b"}));
  EXPECT_EQ(c->lease_default, absl::Seconds(90));
  EXPECT_EQ(c->lease_max, absl::Hours(1));
  EXPECT_EQ(c->log_format, "json");
  EXPECT_EQ(c->max_sessions, 3);
  EXPECT_EQ(c->dlv, "/usr/lib/kdbg/delve/v1.26.2/dlv,/usr/lib/kdbg/delve/v1.27.2/dlv");

  auto d = ParseAgentConfig({"--node-name", "n"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->allowed_clients, (std::vector<std::string>{"kdbg-controller"}));
  EXPECT_EQ(d->event_queue, 0);

  EXPECT_EQ(d->delve_max_hits_per_second, 0);
  auto cap = ParseAgentConfig({"--node-name", "n", "--delve-max-hits-per-second", "5000"});
  ASSERT_TRUE(cap.ok()) << cap.status();
  EXPECT_EQ(cap->delve_max_hits_per_second, 5000);
  auto negative = ParseAgentConfig({"--node-name", "n", "--delve-max-hits-per-second", "-1"});
  EXPECT_NE(negative.status().message().find("--delve-max-hits-per-second"), std::string::npos)
      << negative.status();

  auto q = ParseAgentConfig({"--node-name", "n", "--event-queue", "16"});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->event_queue, 16);
  auto bad = ParseAgentConfig({"--node-name", "n", "--event-queue", "-1"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("--event-queue"), std::string::npos) << bad.status();
}

TEST(AgentConfigTest, YamlFileWithFlagsWinning) {
  std::string path = ::testing::TempDir() + "/agent.yaml";
  {
    std::ofstream out(path);
    out << "listen: 0.0.0.0:9000\nnode-name: from-file\nlease-max: 2h\nallowed-client: [a, b]\n"
           "health-listen: ''\nmax-sessions: 7\n";
  }
  auto c = ParseAgentConfig({"--config", path, "--node-name", "from-flag"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->node_name, "from-flag");
  EXPECT_EQ(c->lease_max, absl::Hours(2));
  EXPECT_EQ(c->allowed_clients, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c->health_listen, "");
  EXPECT_EQ(c->max_sessions, 7);
  std::remove(path.c_str());
}

TEST(AgentConfigTest, ErrorsNameTheProblem) {
  auto bad_format = ParseAgentConfig({"--log-format", "xml"});
  ASSERT_FALSE(bad_format.ok());
  EXPECT_NE(bad_format.status().message().find("--log-format"), absl::string_view::npos);
  auto bad_dur = ParseAgentConfig({"--lease-max", "forever"});
  ASSERT_FALSE(bad_dur.ok());
  EXPECT_NE(bad_dur.status().message().find("--lease-max"), absl::string_view::npos);
  EXPECT_FALSE(ParseAgentConfig({"--no-such-flag"}).ok());
  EXPECT_FALSE(ParseAgentConfig({"--lease-default", "2h", "--lease-max", "1h"}).ok());
  AgentConfig c;
  auto unknown = ApplyYamlConfig("listne: x\n", &c);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("unknown config key \"listne\""), absl::string_view::npos);
  EXPECT_FALSE(ApplyYamlConfig("listen: [unclosed\n", &c).ok());
  auto help = ParseAgentConfig({"--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->help);
  EXPECT_NE(help->help_text.find("--allowed-client"), std::string::npos);
}

}  // namespace
}  // namespace kdbg::agent
