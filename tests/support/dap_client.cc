#include "tests/support/dap_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace kdbg::testing {

absl::StatusOr<DapClient> DapClient::Connect(const std::string& host, int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad IPv4 address ", host));
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    return absl::UnavailableError(
        absl::StrCat("connect ", host, ":", port, ": ", std::strerror(errno)));
  }
  return DapClient(std::move(fd));
}

absl::StatusOr<int> DapClient::Send(const std::string& command, const nlohmann::json& arguments) {
  nlohmann::json m = {{"seq", ++seq_}, {"type", "request"}, {"command", command}};
  if (!arguments.is_null()) m["arguments"] = arguments;
  std::string body = m.dump();
  std::string msg = absl::StrCat("Content-Length: ", body.size(), "\r\n\r\n", body);
  size_t off = 0;
  while (off < msg.size()) {
    ssize_t n = ::send(fd_.get(), msg.data() + off, msg.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    off += static_cast<size_t>(n);
  }
  return seq_;
}

std::optional<nlohmann::json> DapClient::Read(absl::Time deadline) {
  while (true) {
    size_t header_end = buffer_.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      size_t length = 0;
      std::string header = absl::AsciiStrToLower(buffer_.substr(0, header_end));
      size_t at = header.find("content-length:");
      if (at == std::string::npos) return std::nullopt;
      size_t eol = header.find("\r\n", at);
      std::string digits(absl::StripAsciiWhitespace(
          header.substr(at + 15, eol == std::string::npos ? std::string::npos : eol - at - 15)));
      if (!absl::SimpleAtoi(digits, &length)) return std::nullopt;
      if (buffer_.size() >= header_end + 4 + length) {
        std::string body = buffer_.substr(header_end + 4, length);
        buffer_.erase(0, header_end + 4 + length);
        nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
        if (j.is_discarded()) return std::nullopt;
        return j;
      }
    }
    absl::Duration left = deadline - kdbg::MonotonicNow();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
    char b[8192];
    ssize_t n = ::read(fd_.get(), b, sizeof b);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buffer_.append(b, static_cast<size_t>(n));
  }
}

absl::StatusOr<nlohmann::json> DapClient::Request(const std::string& command,
                                                  const nlohmann::json& arguments,
                                                  absl::Duration timeout) {
  absl::StatusOr<int> seq = Send(command, arguments);
  if (!seq.ok()) return seq.status();
  absl::Time deadline = kdbg::MonotonicNow() + timeout;
  while (auto m = Read(deadline)) {
    if (m->value("type", "") == "event") {
      events_.push_back(*m);
      continue;
    }
    if (m->value("type", "") == "response" && m->value("request_seq", -1) == *seq) {
      if (!m->value("success", false)) {
        return absl::FailedPreconditionError(absl::StrCat("DAP ", command, " failed: ", m->dump()));
      }
      return *m;
    }
  }
  return absl::DeadlineExceededError(absl::StrCat("no DAP response to ", command));
}

std::optional<nlohmann::json> DapClient::WaitEvent(const std::string& event,
                                                   absl::Duration timeout) {
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if (it->value("event", "") == event) {
      nlohmann::json j = *it;
      events_.erase(it);
      return j;
    }
  }
  absl::Time deadline = kdbg::MonotonicNow() + timeout;
  while (auto m = Read(deadline)) {
    if (m->value("event", "") == event) return m;
    if (m->value("type", "") == "event") events_.push_back(*m);
  }
  return std::nullopt;
}

std::string ApplySubstitutePath(const nlohmann::json& configuration, const std::string& path) {
  if (!configuration.contains("substitutePath")) return path;
  for (const auto& rule : configuration["substitutePath"]) {
    std::string from = rule.value("from", "");
    std::string to = rule.value("to", "");
    if (from.empty()) continue;
    if (path == from) return to;
    if (path.rfind(from, 0) == 0 && (from.back() == '/' || path[from.size()] == '/')) {
      return to + path.substr(from.size());
    }
  }
  return path;
}

}  // namespace kdbg::testing
