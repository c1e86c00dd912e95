#include "agent/service/stream_pump.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/stream_connect.h"

namespace kdbg::agent {

StreamPump::StreamPump(std::string address, Callbacks callbacks)
    : address_(std::move(address)),
      callbacks_(std::move(callbacks)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

std::shared_ptr<StreamPump> StreamPump::Start(const std::string& address, Callbacks callbacks) {
  std::shared_ptr<StreamPump> pump(new StreamPump(address, std::move(callbacks)));
  std::thread([pump] { pump->Run(); }).detach();
  return pump;
}

bool StreamPump::Send(const std::string& data) {
  bool room;
  {
    absl::MutexLock lock(&mu_);
    if (terminal_ || aborted_ || close_write_) return true;
    outbound_ += data;
    room = outbound_.size() < kMaxOutbound;
    if (!room) send_paused_ = true;
  }
  Wake();
  return room;
}

void StreamPump::CloseWrite() {
  {
    absl::MutexLock lock(&mu_);
    close_write_ = true;
  }
  Wake();
}

void StreamPump::Abort(const std::string& why) {
  {
    absl::MutexLock lock(&mu_);
    if (aborted_) return;
    aborted_ = true;
    abort_reason_ = why;
  }
  Wake();
}

StreamPump::Chunk StreamPump::Take() {
  Chunk c;
  bool resumed = false;
  {
    absl::MutexLock lock(&mu_);
    if (inbound_.empty()) return c;
    c = std::move(inbound_.front());
    inbound_.pop_front();
    size_t before = inbound_bytes_;
    inbound_bytes_ -= c.data.size();
    resumed = before >= kMaxInbound && inbound_bytes_ < kMaxInbound;
  }
  if (resumed) Wake();  // the pump stopped reading at the high-water mark
  return c;
}

size_t StreamPump::pending_inbound() const {
  absl::MutexLock lock(&mu_);
  return inbound_bytes_;
}

size_t StreamPump::pending_outbound() const {
  absl::MutexLock lock(&mu_);
  return outbound_.size();
}

void StreamPump::Wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
}

void StreamPump::Notify() {
  if (callbacks_.on_data) callbacks_.on_data();
}

void StreamPump::PushTerminal(bool error, const std::string& message) {
  {
    absl::MutexLock lock(&mu_);
    if (terminal_) return;
    terminal_ = true;
    Chunk c;
    c.empty = false;
    c.error = error;
    c.done = !error;
    c.message = message;
    inbound_.push_back(std::move(c));
  }
  Notify();
}

void StreamPump::Run() {
  absl::StatusOr<UniqueFd> connected = ConnectStream(address_, absl::ZeroDuration());
  if (!connected.ok()) {
    return PushTerminal(true, absl::StrCat("Delve: ", connected.status().message()));
  }
  UniqueFd sock = std::move(*connected);
  int nonblocking = 1;
  ::ioctl(sock.get(), FIONBIO, &nonblocking);

  bool peer_open = true;  // Delve may still send
  bool shut_wr = false;   // we half-closed toward Delve
  std::string buf(kReadSize, '\0');
  for (;;) {
    bool want_read, want_write, close_write, aborted, resume_sender = false;
    std::string why;
    {
      absl::MutexLock lock(&mu_);
      aborted = aborted_;
      why = abort_reason_;
      want_read = peer_open && inbound_bytes_ < kMaxInbound;
      want_write = !outbound_.empty();
      close_write = close_write_;
    }
    if (aborted) return PushTerminal(true, why);
    if (close_write && !want_write && !shut_wr) {
      ::shutdown(sock.get(), SHUT_WR);
      shut_wr = true;
    }
    if (!peer_open && shut_wr) return PushTerminal(false, "");

    pollfd fds[2] = {
        {sock.get(), static_cast<short>((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0)), 0},
        {wake_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return PushTerminal(true, absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &v, sizeof(v));
    }
    if (want_read && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::recv(sock.get(), buf.data(), buf.size(), 0);
      if (n > 0) {
        {
          absl::MutexLock lock(&mu_);
          Chunk c;
          c.empty = false;
          c.data.assign(buf.data(), static_cast<size_t>(n));
          inbound_bytes_ += c.data.size();
          inbound_.push_back(std::move(c));
        }
        Notify();
      } else if (n == 0) {
        peer_open = false;
        {
          absl::MutexLock lock(&mu_);
          Chunk c;
          c.empty = false;
          c.eof = true;
          inbound_.push_back(std::move(c));
        }
        Notify();
      } else if (errno != EAGAIN && errno != EINTR) {
        return PushTerminal(
            true, absl::StrCat("connection to Delve at ", address_, ": ", std::strerror(errno)));
      }
    } else if (!want_read && (fds[0].revents & (POLLERR | POLLHUP)) && !want_write) {
      // Nothing to read or write but the socket broke: report it rather than spin.
      return PushTerminal(true, absl::StrCat("connection to Delve at ", address_, " broke"));
    }
    if (want_write && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      std::string pending;
      {
        absl::MutexLock lock(&mu_);
        pending = outbound_.substr(0, 256 * 1024);
      }
      ssize_t n = ::send(sock.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return PushTerminal(
            true, absl::StrCat("sending to Delve at ", address_, ": ", std::strerror(errno)));
      }
      if (n > 0) {
        absl::MutexLock lock(&mu_);
        outbound_.erase(0, static_cast<size_t>(n));
        if (send_paused_ && outbound_.size() < kMaxOutbound / 2) {
          send_paused_ = false;
          resume_sender = true;
        }
      }
    }
    if (resume_sender && callbacks_.on_send_space) callbacks_.on_send_space();
  }
}

}  // namespace kdbg::agent
