#include "agent/service/health_server.h"

#include <dirent.h>
#include <unistd.h>

#include <cctype>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "httplib.h"

namespace kdbg::agent {

HealthServer::HealthServer(AgentMetrics* metrics, std::function<absl::Status()> ready,
                           std::function<std::string()> ebpf_problem)
    : metrics_(metrics),
      ready_(std::move(ready)),
      ebpf_problem_(std::move(ebpf_problem)),
      server_(std::make_unique<httplib::Server>()) {
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    absl::Status st = ready_ ? ready_() : absl::OkStatus();
    if (st.ok()) {
      std::string ebpf = ebpf_problem_ ? ebpf_problem_() : std::string();
      res.set_content(
          ebpf.empty() ? "ready\n" : absl::StrCat("ready; eBPF engine unavailable: ", ebpf, "\n"),
          "text/plain");
    } else {
      res.status = 503;
      res.set_content(absl::StrCat("not ready: ", st.message(), "\n"), "text/plain");
    }
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_->RenderPrometheus(), "text/plain; version=0.0.4");
  });
}

HealthServer::~HealthServer() { Stop(); }

absl::StatusOr<int> HealthServer::Start(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(host_port.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--health-listen \"", host_port, "\" is not HOST:PORT"));
  }
  std::string host = host_port.substr(0, colon);
  if (port == 0) {
    port = server_->bind_to_any_port(host);
  } else if (!server_->bind_to_port(host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot bind the health endpoint to ", host_port,
                                               " (in use, or not an address of this host)"));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return port;
}

void HealthServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

absl::Status CheckAgentReady(const std::string& dlv, const std::string& proc_root) {
  for (absl::string_view one : absl::StrSplit(dlv, ',', absl::SkipWhitespace())) {
    std::string path(absl::StripAsciiWhitespace(one));
    if (::access(path.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("Delve not found or not executable at ", path, " (--dlv)"));
    }
  }
  DIR* d = ::opendir(proc_root.c_str());
  if (d == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the process table at ", proc_root, " (--proc-root)"));
  }
  bool any = false;
  while (dirent* e = ::readdir(d)) {
    if (std::isdigit(static_cast<unsigned char>(e->d_name[0]))) {
      any = true;
      break;
    }
  }
  ::closedir(d);
  if (!any)
    return absl::FailedPreconditionError(
        absl::StrCat(proc_root, " lists no processes (--proc-root)"));
  return absl::OkStatus();
}

}  // namespace kdbg::agent
