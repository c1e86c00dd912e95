#include "common/stream_connect.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kdbg {

namespace {

constexpr absl::string_view kUnixPrefix = "unix:";

absl::Status BadAddress(absl::string_view address) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad address \"", address, "\" (want unix:PATH, IPV4:PORT or [IPV6]:PORT)"));
}

// The address of the Unix socket at `path` (which CheckUnixSocketPath accepted).
sockaddr_un UnixAddress(absl::string_view path) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, path.data(), path.size());
  return un;
}

}  // namespace

size_t MaxUnixSocketPath() { return sizeof(sockaddr_un::sun_path) - 1; }

absl::Status CheckUnixSocketPath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("empty Unix socket path");
  if (path.size() > MaxUnixSocketPath()) {
    return absl::InvalidArgumentError(absl::StrCat("the Unix socket path \"", path, "\" is ",
                                                   path.size(), " bytes, over the ",
                                                   MaxUnixSocketPath(), " a socket address holds"));
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> ConnectStream(absl::string_view address, absl::Duration send_timeout) {
  sockaddr_storage ss{};
  socklen_t ss_len = 0;
  bool tcp = true;
  if (absl::StartsWith(address, kUnixPrefix)) {
    absl::string_view path = address.substr(kUnixPrefix.size());
    KDBG_RETURN_IF_ERROR(CheckUnixSocketPath(path));
    sockaddr_un un = UnixAddress(path);
    std::memcpy(&ss, &un, sizeof un);
    ss_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    tcp = false;
  } else {
    size_t colon = address.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
        port <= 0 || port > 65535) {
      return BadAddress(address);
    }
    std::string host(address.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
      a6->sin6_family = AF_INET6;
      a6->sin6_port = htons(static_cast<uint16_t>(port));
      if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a6->sin6_addr) != 1) {
        return BadAddress(address);
      }
      ss_len = sizeof(sockaddr_in6);
    } else {
      auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
      a4->sin_family = AF_INET;
      a4->sin_port = htons(static_cast<uint16_t>(port));
      if (::inet_pton(AF_INET, host.c_str(), &a4->sin_addr) != 1) return BadAddress(address);
      ss_len = sizeof(sockaddr_in);
    }
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoToStatus(errno, "socket");
  if (send_timeout > absl::ZeroDuration()) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(absl::ToInt64Seconds(send_timeout));
    tv.tv_usec = static_cast<suseconds_t>(absl::ToInt64Microseconds(send_timeout) % 1000000);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), ss_len) != 0) {
    return absl::UnavailableError(absl::StrCat("connect to ", address, ": ", std::strerror(errno)));
  }
  if (tcp) {
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

bool UnixSocketServed(absl::string_view path) {
  if (!CheckUnixSocketPath(path).ok()) return false;
  sockaddr_un un = UnixAddress(path);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return true;  // cannot tell: keep it
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un) == 0) return true;
  return errno != ECONNREFUSED && errno != ENOENT;
}

}  // namespace kdbg
