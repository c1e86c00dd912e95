#include "agent/delve/rpc_connection.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/status.h"
#include "common/stream_connect.h"

namespace kdbg::delve {
namespace {

class SocketRpcConnection final : public RpcConnection {
 public:
  SocketRpcConnection(UniqueFd fd, UniqueFd wake) : fd_(std::move(fd)), wake_(std::move(wake)) {
    buffer_.reserve(16 * 1024);
  }

  absl::Status Send(absl::string_view message) override {
    // One write for message + newline: the request is small, a copy is cheaper than two syscalls.
    out_.assign(message.data(), message.size());
    out_.push_back('\n');
    size_t sent = 0;
    while (sent < out_.size()) {
      ssize_t n = ::send(fd_.get(), out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {  // SO_SNDTIMEO passed without progress
          return absl::DeadlineExceededError(
              "Delve stopped reading its connection (a request could not be sent in time)");
        }
        return absl::UnavailableError(
            absl::StrCat("Delve connection lost while sending: ", std::strerror(errno)));
      }
      sent += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<absl::string_view> ReadMessage(absl::Duration timeout) override {
    // Drop the message returned by the previous call.
    if (consumed_ > 0) {
      buffer_.erase(0, consumed_);
      consumed_ = 0;
      scanned_ = 0;
    }
    absl::Time deadline = MonotonicNow() + timeout;
    while (true) {
      size_t nl = buffer_.find('\n', scanned_);
      if (nl != std::string::npos) {
        consumed_ = nl + 1;
        return absl::string_view(buffer_.data(), nl);
      }
      scanned_ = buffer_.size();
      absl::Duration left = deadline - MonotonicNow();
      if (left < absl::ZeroDuration()) left = absl::ZeroDuration();
      pollfd p[2] = {{fd_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
      int ms = timeout == absl::InfiniteDuration()
                   ? -1
                   : static_cast<int>(absl::ToInt64Milliseconds(left + absl::Microseconds(999)));
      int r = ::poll(p, 2, ms);
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, "poll on the Delve connection");
      }
      if (p[1].revents & POLLIN) {
        uint64_t v;
        ssize_t ignored = ::read(wake_.get(), &v, sizeof(v));
        (void)ignored;
        return absl::CancelledError("read from Delve interrupted");
      }
      if (r == 0) {
        return absl::DeadlineExceededError(
            absl::StrCat("no reply from Delve within ", absl::FormatDuration(timeout)));
      }
      size_t old = buffer_.size();
      buffer_.resize(old + 16 * 1024);
      ssize_t n = ::recv(fd_.get(), buffer_.data() + old, 16 * 1024, 0);
      if (n <= 0) {
        buffer_.resize(old);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        return absl::UnavailableError(
            n == 0 ? "Delve closed the connection"
                   : absl::StrCat("Delve connection lost: ", std::strerror(errno)));
      }
      buffer_.resize(old + static_cast<size_t>(n));
    }
  }

  void Interrupt() override {
    uint64_t one = 1;
    ssize_t ignored = ::write(wake_.get(), &one, sizeof(one));
    (void)ignored;
  }

 private:
  UniqueFd fd_;
  UniqueFd wake_;
  std::string buffer_;
  std::string out_;
  size_t consumed_ = 0;
  size_t scanned_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RpcConnection>> SocketRpcDialer::Dial(const std::string& address) {
  absl::StatusOr<UniqueFd> fd = ConnectStream(address, send_timeout_);
  if (!fd.ok()) {
    if (absl::IsUnavailable(fd.status())) {
      return absl::UnavailableError(absl::StrCat("Delve: ", fd.status().message()));
    }
    return fd.status();
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return ErrnoToStatus(errno, "eventfd");
  return std::unique_ptr<RpcConnection>(new SocketRpcConnection(std::move(*fd), std::move(wake)));
}

}  // namespace kdbg::delve
