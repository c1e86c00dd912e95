#include "bench/delve/load_gen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"

namespace kdbg::bench {
namespace {

int Connect(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Reads one response; returns false on error. `buf` carries bytes past the response.
bool ReadResponse(int fd, std::string* buf) {
  char tmp[4096];
  while (true) {
    size_t hdr_end = buf->find("\r\n\r\n");
    if (hdr_end != std::string::npos) {
      size_t cl = 0;
      std::string lower = absl::AsciiStrToLower(buf->substr(0, hdr_end));
      size_t at = lower.find("content-length:");
      if (at != std::string::npos) {
        size_t eol = lower.find("\r\n", at);
        std::string v(absl::StripAsciiWhitespace(lower.substr(at + 15, eol - at - 15)));
        (void)absl::SimpleAtoi(v, &cl);
      }
      size_t total = hdr_end + 4 + cl;
      if (buf->size() >= total) {
        bool ok = buf->compare(0, 12, "HTTP/1.1 200") == 0;
        buf->erase(0, total);
        return ok;
      }
    }
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf->append(tmp, static_cast<size_t>(n));
  }
}

}  // namespace

LoadResult RunLoad(const std::string& host, int port, int connections, absl::Duration duration,
                   bool keep_alive) {
  std::atomic<int64_t> requests{0}, errors{0};
  absl::Time start = kdbg::MonotonicNow();
  absl::Time end = start + duration;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(std::max(connections, 0)));
  const std::string req = absl::StrCat("GET / HTTP/1.1\r\nHost: ", host, "\r\n",
                                       keep_alive ? "" : "Connection: close\r\n", "\r\n");
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&] {
      int fd = -1;
      std::string buf;
      while (kdbg::MonotonicNow() < end) {
        if (fd < 0) {
          fd = Connect(host, port);
          buf.clear();
          if (fd < 0) {
            errors.fetch_add(1);
            absl::SleepFor(absl::Milliseconds(10));
            continue;
          }
        }
        if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()) ||
            !ReadResponse(fd, &buf)) {
          errors.fetch_add(1);
          ::close(fd);
          fd = -1;
          continue;
        }
        requests.fetch_add(1);
        if (!keep_alive) {
          ::close(fd);
          fd = -1;
        }
      }
      if (fd >= 0) ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  LoadResult r;
  r.requests = requests.load();
  r.errors = errors.load();
  r.seconds = absl::ToDoubleSeconds(kdbg::MonotonicNow() - start);
  return r;
}

LoadResult SegmentedLoad::Run(const std::string& host, int port, int connections,
                              absl::Duration duration, bool keep_alive) {
  LoadResult total;
  for (std::vector<double>& by_run : rps_) {
    LoadResult part = RunLoad(host, port, connections, duration, keep_alive);
    by_run.push_back(part.rps());
    total.requests += part.requests;
    total.errors += part.errors;
    total.seconds += part.seconds;
  }
  return total;
}

std::vector<double> SegmentedLoad::Medians() const {
  std::vector<double> out;
  out.reserve(rps_.size());
  for (std::vector<double> v : rps_) {
    std::sort(v.begin(), v.end());
    out.push_back(v.empty() ? 0 : v[v.size() / 2]);  // the upper median, as the bench programs
  }
  return out;
}

}  // namespace kdbg::bench
