#include "agent/service/recovered_sessions.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fd.h"

namespace kdbg::agent {
namespace {

constexpr char kSuffix[] = ".ended";
constexpr size_t kMaxRecordBytes = 64 * 1024;

// IDs the controller or the agent generate (16 hex digits), and the short names tests use: never
// a path.
bool SafeSessionId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status RecoveredSessions::Record(const std::string& session_id,
                                       const kdbg::v1::EndedEvent& ended) const {
  if (!SafeSessionId(session_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a session ID: \"", session_id.substr(0, 64), "\""));
  }
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno(absl::StrCat("cannot create ", dir_));
  }
  const std::string tmp = absl::StrCat(dir_, "/.", session_id, ".tmp");
  const std::string path = absl::StrCat(dir_, "/", session_id, kSuffix);
  std::string bytes;
  if (!ended.SerializeToString(&bytes)) return absl::InternalError("cannot serialize the end");
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) return Errno(absl::StrCat("cannot write ", tmp));
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        absl::Status s = Errno(absl::StrCat("cannot write ", tmp));
        ::unlink(tmp.c_str());
        return s;
      }
      done += static_cast<size_t>(n);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = Errno(absl::StrCat("cannot rename ", tmp, " to ", path));
    ::unlink(tmp.c_str());
    return s;
  }
  return absl::OkStatus();
}

std::optional<kdbg::v1::EndedEvent> RecoveredSessions::Find(const std::string& session_id) const {
  if (!SafeSessionId(session_id)) return std::nullopt;
  const std::string path = absl::StrCat(dir_, "/", session_id, kSuffix);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return std::nullopt;
  std::string bytes;
  char buf[4096];
  while (bytes.size() <= kMaxRecordBytes) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  kdbg::v1::EndedEvent ended;
  if (bytes.size() > kMaxRecordBytes || !ended.ParseFromString(bytes)) return std::nullopt;
  return ended;
}

int RecoveredSessions::Sweep(absl::Time now, absl::Duration max_age) const {
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return 0;
  std::vector<std::string> old;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const bool record = absl::EndsWith(name, kSuffix);
    const bool tmp = absl::StartsWith(name, ".") && absl::EndsWith(name, ".tmp");
    if (!record && !tmp) continue;
    std::string path = absl::StrCat(dir_, "/", name);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (absl::FromTimeT(st.st_mtime) < now - max_age) old.push_back(std::move(path));
  }
  ::closedir(d);
  int removed = 0;
  for (const std::string& p : old) removed += ::unlink(p.c_str()) == 0 ? 1 : 0;
  return removed;
}

}  // namespace kdbg::agent
