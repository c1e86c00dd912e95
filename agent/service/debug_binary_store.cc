#include "agent/service/debug_binary_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/byte_size.h"
#include "common/log.h"
#include "common/status.h"

namespace kdbg::agent {
namespace {

std::string NewUploadId() {
  std::random_device rd;
  return absl::StrFormat("%08x%08x%08x%08x", rd(), rd(), rd(), rd());
}

void Unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    log::Warning("cannot delete a debug binary", {{"path", path}, {"error", std::strerror(errno)}});
  }
}

std::string Named(const kdbg::v1::DebugBinaryHeader& h) {
  return h.file_name().empty() ? "debug binary" : absl::StrCat("debug binary ", h.file_name());
}

}  // namespace

DebugBinary::~DebugBinary() {
  Unlink(path_);
  log::Info("debug binary deleted", {{"upload", id_}, {"path", path_}});
}

DebugBinaryStore::DebugBinaryStore(Options options) : options_(std::move(options)) {}

DebugBinaryStore::~DebugBinaryStore() {
  absl::MutexLock lock(&mu_);
  waiting_.clear();  // the DebugBinary destructors delete the files
}

absl::StatusOr<std::unique_ptr<DebugBinaryStore>> DebugBinaryStore::Open(Options options,
                                                                         int* removed) {
  if (options.dir.empty()) return absl::InvalidArgumentError("no directory for debug binaries");
  if (!options.inspect) return absl::InvalidArgumentError("no ELF inspector for debug binaries");
  if (options.clock == nullptr) options.clock = RealClock::Get();
  for (size_t slash = options.dir.find('/', 1); slash != std::string::npos;
       slash = options.dir.find('/', slash + 1)) {
    ::mkdir(options.dir.substr(0, slash).c_str(), 0700);  // parents (the state dir); may exist
  }
  if (::mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, absl::StrCat("create ", options.dir));
  }
  struct stat st {};
  if (::lstat(options.dir.c_str(), &st) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("stat ", options.dir));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(options.dir, " is not a directory"));
  }
  ::chmod(options.dir.c_str(), 0700);
  // Everything here is ours and stale: a previous agent's uploads (complete or partial) and the
  // Delve config directories its sessions had beside them.
  int n = 0;
  if (DIR* d = ::opendir(options.dir.c_str())) {
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    for (const std::string& name : names) {
      // Files, and the engine's per-session directories (NAME.dlv/, links never followed).
      std::string path = absl::StrCat(options.dir, "/", name);
      std::error_code ec;
      if (std::filesystem::remove_all(path, ec) > 0 && !ec) {
        ++n;
        log::Info("stale debug binary deleted", {{"path", path}});
      }
    }
  }
  if (removed != nullptr) *removed = n;
  return std::unique_ptr<DebugBinaryStore>(new DebugBinaryStore(std::move(options)));
}

absl::StatusOr<std::unique_ptr<DebugBinaryStore::Upload>> DebugBinaryStore::Begin(
    const kdbg::v1::DebugBinaryHeader& header, int64_t max_size, Owner owner) {
  if (header.size() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(Named(header), ": the upload's first message must give its size in bytes"));
  }
  int64_t cap = options_.max_size;
  if (max_size > 0 && max_size < cap) cap = max_size;
  if (header.size() > cap) {
    return absl::ResourceExhaustedError(absl::StrCat(Named(header), " (", HumanSize(header.size()),
                                                     ") is larger than the cap of ", HumanSize(cap),
                                                     " for debug binaries; nothing was uploaded"));
  }
  std::string id = NewUploadId();
  std::string path = absl::StrCat(options_.dir, "/", id, ".partial");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("create ", path));
  {
    absl::MutexLock lock(&mu_);
    ++uploading_;
  }
  log::Info("debug binary upload started", {{"upload", id},
                                            {"file", header.file_name()},
                                            {"size", static_cast<long long>(header.size())},
                                            {"user", owner.user},
                                            {"target", owner.target}});
  return std::unique_ptr<Upload>(
      new Upload(this, std::move(id), std::move(path), fd, header, std::move(owner)));
}

DebugBinaryStore::Upload::Upload(DebugBinaryStore* store, std::string id, std::string path, int fd,
                                 kdbg::v1::DebugBinaryHeader header, Owner owner)
    : store_(store),
      id_(std::move(id)),
      path_(std::move(path)),
      fd_(fd),
      header_(std::move(header)),
      owner_(std::move(owner)) {}

DebugBinaryStore::Upload::~Upload() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    Unlink(path_);
    log::Info("debug binary upload abandoned; partial file deleted",
              {{"upload", id_},
               {"received", static_cast<long long>(received_)},
               {"size", static_cast<long long>(header_.size())}});
  }
  absl::MutexLock lock(&store_->mu_);
  --store_->uploading_;
}

absl::Status DebugBinaryStore::Upload::Append(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError("the upload is closed");
  if (static_cast<int64_t>(data.size()) > header_.size() - received_) {
    return absl::InvalidArgumentError(absl::StrCat(Named(header_),
                                                   ": more bytes arrived than the announced ",
                                                   header_.size(), "; nothing was kept"));
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Annotate(ErrnoToStatus(errno, "write"),
                      absl::StrCat("storing ", Named(header_), " on the node"));
    }
    data.remove_prefix(static_cast<size_t>(n));
    received_ += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<kdbg::v1::DebugBinaryUploaded> DebugBinaryStore::Upload::Commit(
    const std::string& target_build_id, const std::string& target_desc) {
  if (fd_ < 0) return absl::FailedPreconditionError("the upload is closed");
  const std::string name = Named(header_);
  if (received_ != header_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the upload of ", name, " was cut off after ", received_, " of ",
                     header_.size(), " bytes; nothing was kept: run the command again"));
  }
  ::close(fd_);
  fd_ = -1;
  absl::StatusOr<kdbg::v1::BinaryInfo> info = store_->options_.inspect(path_);
  if (!info.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is not an ELF executable (", info.status().message(),
                     "): pass the unstripped Go binary of the target's build"));
  }
  if (info->go_version().empty() || info->build_id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name,
        " is not a Go program (no Go build info or .note.go.buildid): pass the unstripped "
        "Go binary of the target's build"));
  }
  if (info->build_id() != target_build_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        name, " has Go build ID ", info->build_id(), " but the target, ", target_desc,
        ", has build ID ", target_build_id.empty() ? "(none)" : target_build_id,
        ": pass the unstripped binary of the very build the target runs (`go tool buildid FILE` "
        "prints a file's build ID)"));
  }
  if (!info->has_dwarf()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name,
        " has the target's build ID but no debug info (DWARF) either: it is stripped too; "
        "pass the binary as built before -ldflags='-s -w' or strip removed its DWARF"));
  }
  std::string final_path = absl::StrCat(store_->options_.dir, "/", id_);
  if (::rename(path_.c_str(), final_path.c_str()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("rename ", path_));
  }
  committed_ = true;
  kdbg::v1::DebugBinaryUploaded facts;
  facts.set_upload_id(id_);
  facts.set_build_id(info->build_id());
  facts.set_size(received_);
  facts.set_go_version(info->go_version());
  auto binary = std::make_shared<DebugBinary>(id_, final_path, facts);
  {
    absl::MutexLock lock(&store_->mu_);
    store_->waiting_[id_] = Waiting{
        binary, owner_, store_->options_.clock->MonotonicNow() + store_->options_.claim_timeout};
  }
  log::Info("debug binary stored", {{"upload", id_},
                                    {"path", final_path},
                                    {"build_id", info->build_id()},
                                    {"size", static_cast<long long>(received_)}});
  return facts;
}

absl::StatusOr<std::shared_ptr<DebugBinary>> DebugBinaryStore::Claim(const std::string& id,
                                                                     const Owner& owner) {
  std::shared_ptr<DebugBinary> binary;
  {
    absl::MutexLock lock(&mu_);
    auto it = waiting_.find(id);
    if (it == waiting_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no debug binary upload ", id,
                       " on this node (it was used by another session, waited more than ",
                       absl::FormatDuration(options_.claim_timeout),
                       " unclaimed, or the agent restarted): run the command again"));
    }
    if (it->second.owner.user != owner.user || it->second.owner.target != owner.target) {
      return absl::PermissionDeniedError(absl::StrCat(
          "debug binary upload ", id, " was made by another user or for another target"));
    }
    binary = std::move(it->second.binary);
    waiting_.erase(it);
  }
  return binary;
}

int DebugBinaryStore::ExpireUnclaimed() {
  std::vector<std::shared_ptr<DebugBinary>> expired;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = options_.clock->MonotonicNow();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (now >= it->second.deadline) {
        log::Info("debug binary unclaimed; deleting", {{"upload", it->first}});
        expired.push_back(std::move(it->second.binary));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return static_cast<int>(expired.size());  // files deleted here, outside the lock
}

int DebugBinaryStore::pending() const {
  absl::MutexLock lock(&mu_);
  return uploading_ + static_cast<int>(waiting_.size());
}

}  // namespace kdbg::agent
