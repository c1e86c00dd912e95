#include "tests/integration/agent/agent_process.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/delve/json_access.h"
#include "common/clock.h"
#include "common/pidfd.h"
#include "common/proc_reader.h"
#include "common/tls.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace kdbg::testing {

absl::StatusOr<std::unique_ptr<AgentProcess>> AgentProcess::Start(TestPki* pki,
                                                                  const Options& options) {
  std::unique_ptr<AgentProcess> a(new AgentProcess());
  a->dir_ = MakeTempDir("kdbg-agent-it-");
  a->state_dir_ = options.state_dir.empty() ? a->dir_ : options.state_dir;
  auto server = pki->Issue({"kdbg-agent", {"localhost"}, {"127.0.0.1"}});
  if (!server.ok()) return server.status();
  a->port_ = FreePort();
  a->health_port_ = FreePort();
  SpawnOptions so;
  so.argv = {BinaryDir() + "/agent/kdbg-agent",
             "serve",
             "--listen",
             a->address(),
             "--tls-cert",
             server->cert_path,
             "--tls-key",
             server->key_path,
             "--tls-ca",
             pki->ca().cert_path,
             "--node-name",
             "node-it",
             "--state-dir",
             a->state_dir_,
             "--health-listen",
             absl::StrCat("127.0.0.1:", a->health_port_),
             "--max-sessions",
             absl::StrCat(options.max_sessions),
             "--lease-default",
             options.lease_default,
             "--shutdown-grace",
             "15s",
             "--log-format",
             "json",
             "--allow-host-pid",
             "--dlv",
             absl::StrJoin(BundledDelvePaths(), ",")};
  if (options.event_queue > 0) {
    so.argv.push_back("--event-queue");
    so.argv.push_back(absl::StrCat(options.event_queue));
  }
  so.stderr_path = a->dir_ + "/agent.log";
  so.destroy_grace = absl::Seconds(30);
  so.sigkill_on_destroy = false;
  auto p = ChildProcess::Spawn(so);
  if (!p.ok()) return p.status();
  a->process_ = std::move(*p);

  // Ready when Version answers over mTLS.
  auto client = pki->Issue({"kdbg-controller"});
  if (!client.ok()) return client.status();
  absl::Time deadline = kdbg::MonotonicNow() + absl::Seconds(20);
  for (;;) {
    auto stub = a->Stub(&*client, pki);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    kdbg::v1::VersionInfo v;
    if (stub->Version(&ctx, {}, &v).ok()) break;
    if (!a->process_->Running() || kdbg::MonotonicNow() > deadline) {
      return absl::UnavailableError(
          absl::StrCat("kdbg-agent serve did not come up; its log:\n", a->Logs()));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return a;
}

AgentProcess::~AgentProcess() {
  if (process_ != nullptr && process_->Running()) {
    (void)process_->Terminate(absl::Seconds(30), /*kill_after_grace=*/false);
  }
  process_.reset();
  // The guardian wakes when the agent exits, even cleanly, and builds the engine (which creates
  // <state>/delve): let it finish before anyone removes the state directory.
  pid_t guard = 0;
  try {
    guard = GuardianPid();
  } catch (
      ...) {  // only std::bad_alloc could come from reading the log: a destructor must not throw
  }
  if (guard > 0) {
    auto cmdline = ReadSmallFile(absl::StrCat("/proc/", guard, "/cmdline"));
    if (cmdline.ok() && absl::StrContains(*cmdline, "guard")) {
      if (auto fd = PidfdOpen(guard); fd.ok()) PidfdWaitExit(fd->get(), absl::Seconds(30));
    }
  }
  std::error_code ec;
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir_, ec);
}

pid_t AgentProcess::GuardianPid() const {
  // One JSON object per line (--log-format json):
  // {"ts":...,"msg":"guardian started","guard_pid":12793,"outside_container_cgroup":false}
  std::ifstream in(dir_ + "/agent.log");
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (delve::jsonx::Str(j, "msg") == "guardian started") {
      return static_cast<pid_t>(delve::jsonx::Int(j, "guard_pid"));
    }
  }
  return 0;
}

std::string AgentProcess::Logs() const {
  std::ifstream in(dir_ + "/agent.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::unique_ptr<kdbg::v1::Agent::Stub> AgentProcess::Stub(const CertFiles* cert,
                                                          const TestPki* roots) const {
  tls::ClientTlsFiles files{roots->ca().cert_path, cert ? cert->cert_path : "",
                            cert ? cert->key_path : ""};
  auto ch = tls::MakeSecureChannel(address(), files, "localhost");
  return kdbg::v1::Agent::NewStub(*ch);
}

}  // namespace kdbg::testing
