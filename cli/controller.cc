#include "cli/controller.h"

#include <csignal>

#include <poll.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "common/tls.h"

namespace kdbg::cli {

std::string Endpoint::Describe() const {
  if (port_forward) {
    return absl::StrCat(address, " (kubectl port-forward to service ", kControllerNamespace, "/",
                        kControllerService, ")");
  }
  return address;
}

int ParsePortForwardLine(const std::string& line) {
  absl::string_view rest = line;
  if (!absl::ConsumePrefix(&rest, "Forwarding from 127.0.0.1:")) return 0;
  auto arrow = rest.find(" -> ");
  if (arrow == absl::string_view::npos) return 0;
  int port = 0;
  if (!absl::SimpleAtoi(rest.substr(0, arrow), &port) || port <= 0 || port > 65535) return 0;
  return port;
}

absl::StatusOr<Endpoint> FindController(const EndpointOptions& options) {
  Endpoint endpoint;
  if (!options.address.empty()) {
    endpoint.address = options.address;
    return endpoint;
  }
  SpawnOptions spawn;
  spawn.argv.push_back(options.kubectl);
  spawn.argv.insert(spawn.argv.end(), options.kubectl_args.begin(), options.kubectl_args.end());
  for (const char* arg : {"port-forward", "-n", kControllerNamespace}) spawn.argv.push_back(arg);
  spawn.argv.push_back(absl::StrCat("service/", kControllerService));
  spawn.argv.push_back(absl::StrCat(":", kControllerServicePort));
  spawn.capture_stdout = true;
  spawn.stderr_to_stdout = true;
  spawn.new_session = true;  // our Ctrl-C handling decides when it stops, not the terminal
  // A CLI killed outright (SIGKILL, OOM) must not leave its port-forward running: the commands
  // call this from the main thread, which lives as long as the CLI.
  spawn.parent_death_signal = SIGTERM;
  spawn.destroy_grace = absl::Seconds(2);
  auto child = ChildProcess::Spawn(spawn);
  if (!child.ok()) {
    return absl::UnavailableError(
        absl::StrCat("no --controller or $KDBG_CONTROLLER given, and `", options.kubectl,
                     " port-forward` to find the controller in the cluster could not start: ",
                     child.status().message(), "; install kubectl or pass --controller HOST:PORT"));
  }
  std::string output;
  std::string said;  // kubectl's other lines, quoted in the error
  absl::Time deadline = MonotonicNow() + options.port_forward_timeout;
  int fd = (*child)->stdout_fd();
  while (true) {
    size_t nl;
    while ((nl = output.find('\n')) != std::string::npos) {
      std::string line = output.substr(0, nl);
      output.erase(0, nl + 1);
      int port = ParsePortForwardLine(line);
      if (port != 0) {
        endpoint.address = absl::StrCat("127.0.0.1:", port);
        endpoint.tls_name = kControllerTlsName;
        endpoint.port_forward = std::move(*child);
        return endpoint;
      }
      if (!line.empty()) absl::StrAppend(&said, line, " ");
    }
    if (options.give_up && options.give_up()) {
      return absl::CancelledError("stopped waiting for the controller's port-forward");
    }
    absl::Duration left = deadline - MonotonicNow();
    if (left <= absl::ZeroDuration()) break;
    if (options.give_up) left = std::min(left, absl::Milliseconds(20));
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0 && options.give_up && MonotonicNow() < deadline) continue;
    if (r <= 0) break;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, n);
  }
  absl::StrAppend(&said, output);
  return absl::UnavailableError(absl::StrCat(
      "could not reach the controller through `kubectl port-forward -n ", kControllerNamespace,
      " service/", kControllerService, "`", said.empty() ? "" : ": ", said,
      "; check that kdbg is installed in the cluster, or pass --controller HOST:PORT"));
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> DialController(const Endpoint& endpoint,
                                                              const std::string& ca_path) {
  tls::ClientTlsFiles files;
  files.ca_path = ca_path;
  auto channel = tls::MakeSecureChannel(endpoint.address, files, endpoint.tls_name);
  if (!channel.ok()) return Annotate(channel.status(), "controller CA (--controller-ca)");
  return channel;
}

grpc_connectivity_state ConnectAhead(grpc::Channel& channel, absl::Duration limit,
                                     const std::function<bool()>& keep_going) {
  const absl::Time deadline = absl::Now() + limit;
  while (true) {
    grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY || state == GRPC_CHANNEL_TRANSIENT_FAILURE ||
        state == GRPC_CHANNEL_SHUTDOWN || !keep_going()) {
      return state;
    }
    absl::Time now = absl::Now();
    if (now >= deadline) return state;
    // Returns early on a state change; polls the channel's socket meanwhile.
    channel.WaitForStateChange(state,
                               absl::ToChronoTime(std::min(deadline, now + absl::Milliseconds(2))));
  }
}

void PrepareContext(grpc::ClientContext* context, const std::string& token,
                    absl::Duration timeout) {
  if (!token.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  if (timeout > absl::ZeroDuration()) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  }
}

std::string DescribeRpcError(const grpc::Status& status, const std::string& what,
                             const std::string& controller, const std::string& session_id) {
  std::string msg = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (AnsweredByKdbg(status)) {
        // The controller answered: what it could not reach (an agent, the API server) is in its
        // own words, and it is worth retrying once that is back.
        return absl::StrCat(what, ": ", msg, " (the controller at ", controller,
                            " answered; retry when that is fixed)");
      }
      if (!session_id.empty()) {
        // e.g. "keepalive watchdog timeout" after a network cut, "Socket closed" after a crash.
        return absl::StrCat(what, ": lost the controller at ", controller, " during session ",
                            session_id, " (", msg,
                            "); the controller ends the session once it sees this connection "
                            "gone (after a network cut, within about 20 s) and the agent "
                            "releases the target: check with `kdbg sessions`");
      }
      return absl::StrCat(what, ": cannot reach the controller at ", controller, " (", msg,
                          "); check --controller / $KDBG_CONTROLLER and --controller-ca");
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::StrCat(what, ": the controller did not accept your credentials (", msg,
                          "); refresh them (e.g. log in again) and retry");
    case grpc::StatusCode::PERMISSION_DENIED:
      // The controller's refusal says what to do (the right to ask for, the policy rule, the
      // protected namespace): nothing is added here.
      return absl::StrCat(what, ": permission denied: ", msg);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat(what, ": the controller at ", controller, " did not answer in time (",
                          msg, ")");
    default:
      return absl::StrCat(what, ": ", msg.empty() ? "failed" : msg);
  }
}

}  // namespace kdbg::cli
