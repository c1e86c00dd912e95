#include "tests/support/http_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/status.h"

namespace kdbg::testing {

absl::StatusOr<HttpResult> HttpGet(const std::string& host, int port, const std::string& path,
                                   absl::Duration timeout) {
  absl::Time deadline = kdbg::MonotonicNow() + timeout;
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return ErrnoToStatus(errno, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad IPv4 address ", host));
  }
  auto wait_for = [&](short events) -> absl::Status {
    absl::Duration left = deadline - kdbg::MonotonicNow();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("HTTP GET timed out");
    pollfd p{fd.get(), events, 0};
    int r = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r == 0) return absl::DeadlineExceededError("HTTP GET timed out");
    return absl::OkStatus();
  };
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    if (errno != EINPROGRESS) return ErrnoToStatus(errno, "connect");
    KDBG_RETURN_IF_ERROR(wait_for(POLLOUT));
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return ErrnoToStatus(err, "connect");
  }
  HttpResult result;
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len);
  result.local_port = ntohs(local.sin_port);

  std::string req = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host, ":", port, "\r\n\r\n");
  size_t sent = 0;
  while (sent < req.size()) {
    KDBG_RETURN_IF_ERROR(wait_for(POLLOUT));
    ssize_t n = ::send(fd.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return ErrnoToStatus(errno, "send");
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[4096];
  while (true) {
    KDBG_RETURN_IF_ERROR(wait_for(POLLIN));
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return ErrnoToStatus(errno, "recv");
    if (n == 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  // "HTTP/1.0 200 OK\r\n..."
  size_t sp = resp.find(' ');
  if (sp == std::string::npos || !absl::SimpleAtoi(resp.substr(sp + 1, 3), &result.status)) {
    return absl::DataLossError(absl::StrCat("not an HTTP response: ", resp.substr(0, 40)));
  }
  size_t body = resp.find("\r\n\r\n");
  if (body != std::string::npos) result.body = resp.substr(body + 4);
  return result;
}

absl::Status WaitForHttp(const std::string& host, int port, absl::Duration timeout) {
  absl::Time deadline = kdbg::MonotonicNow() + timeout;
  absl::Status last = absl::DeadlineExceededError("no attempt");
  while (kdbg::MonotonicNow() < deadline) {
    auto r = HttpGet(host, port, "/", absl::Seconds(1));
    if (r.ok() && r->status == 200) return absl::OkStatus();
    last = r.ok() ? absl::UnavailableError(absl::StrCat("HTTP ", r->status)) : r.status();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("target at ", host, ":", port, " never answered: ", last.message()));
}

}  // namespace kdbg::testing
