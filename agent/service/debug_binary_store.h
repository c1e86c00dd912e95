// DebugBinaryStore: the unstripped binaries users send with `kdbg trace|attach --debug-binary FILE`
// for targets built with -ldflags='-s -w' (no DWARF: Delve then reads symbols from the upload,
// `dlv attach PID FILE`).
//
// Files live in one private directory (mode 0700, files 0600, created with O_EXCL|O_NOFOLLOW):
//   <dir>/<upload id>.partial   while bytes arrive (an Upload)
//   <dir>/<upload id>           once complete and checked, until the session using it ends
//   <dir>/<upload id>.dlv/      made by the Delve engine while a session reads it (its Delve
//                               config pointing at the file; agent/delve/separate_debug_info.h)
// Nothing else is ever written there, so whatever a previous agent left is stale: Open() deletes
// it all (a killed agent's uploads and partial files).
//
// Lifetime, whatever happens:
//   - an Upload destroyed before Commit succeeds (call cancelled, cut off, refused) deletes its
//     partial file;
//   - a committed upload waits at most `claim_timeout` for the Trace/Attach call that names it;
//     ExpireUnclaimed() (run with the lease checks) deletes it after that;
//   - Claim() hands it to a session as a shared DebugBinary; the last reference going away (the
//     session ended, failed or was refused) deletes the file.
//
// Checks at Commit, each a refusal that deletes the file:
//   size       exactly the header's size, never more than the cap (the controller's policy value
//              passed per upload, bounded by the store's own max_size)
//   ELF        the reader (agent/resolver/binary_info.h) must open it as ELF
//   Go         it must carry a Go version (.go.buildinfo) and a build ID (.note.go.buildid)
//   DWARF      it must have debug info, or it cannot help
//   build ID   equal to the target's (the "Go build ID" `go tool buildid FILE` prints)
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::agent {

// The agent's own bound on one upload, whatever the controller's policy says.
inline constexpr int64_t kDebugBinaryHardCap = int64_t{4} << 30;  // 4 GiB

// One complete, checked upload. Destroying the last reference deletes the file.
class DebugBinary {
 public:
  DebugBinary(std::string id, std::string path, kdbg::v1::DebugBinaryUploaded facts)
      : id_(std::move(id)), path_(std::move(path)), facts_(std::move(facts)) {}
  ~DebugBinary();
  DebugBinary(const DebugBinary&) = delete;
  DebugBinary& operator=(const DebugBinary&) = delete;

  const std::string& id() const { return id_; }
  const std::string& path() const { return path_; }
  const std::string& build_id() const { return facts_.build_id(); }
  const kdbg::v1::DebugBinaryUploaded& facts() const { return facts_; }

 private:
  const std::string id_;
  const std::string path_;
  const kdbg::v1::DebugBinaryUploaded facts_;
};

class DebugBinaryStore {
 public:
  // Reads the ELF facts of a file (the real one: agent/resolver/binary_info.h's ElfBinaryReader).
  using Inspector = std::function<absl::StatusOr<kdbg::v1::BinaryInfo>(const std::string& path)>;

  struct Options {
    std::string dir;  // e.g. <state-dir>/debug-binaries; created if missing
    int64_t max_size = kDebugBinaryHardCap;
    absl::Duration claim_timeout = absl::Minutes(1);
    Inspector inspect;
    Clock* clock = nullptr;  // default: RealClock
  };

  // Who uploads for which target; Claim() must name the same.
  struct Owner {
    std::string user;
    std::string target;  // container ID (or "pid N")
  };

  // Creates the directory (0700) and deletes every file in it (stale uploads of an earlier agent);
  // `removed` (optional) gets how many.
  static absl::StatusOr<std::unique_ptr<DebugBinaryStore>> Open(Options options,
                                                                int* removed = nullptr);
  ~DebugBinaryStore();  // deletes every upload it still holds

  // One upload in progress. Destroying it before a successful Commit deletes its partial file.
  class Upload {
   public:
    ~Upload();
    const std::string& id() const { return id_; }
    int64_t received() const { return received_; }
    // Appends a chunk. InvalidArgument once more bytes arrive than the header announced.
    absl::Status Append(absl::string_view data);
    // Checks the file (see the header comment) against `target_build_id` (the target's) and
    // keeps it for Claim(). On error the file is deleted. `target_desc` names the target in
    // messages ("pid 4242 (/app/hello)").
    absl::StatusOr<kdbg::v1::DebugBinaryUploaded> Commit(const std::string& target_build_id,
                                                         const std::string& target_desc);

   private:
    friend class DebugBinaryStore;
    Upload(DebugBinaryStore* store, std::string id, std::string path, int fd,
           kdbg::v1::DebugBinaryHeader header, Owner owner);
    DebugBinaryStore* const store_;
    const std::string id_;
    const std::string path_;  // the .partial file
    int fd_;
    const kdbg::v1::DebugBinaryHeader header_;
    const Owner owner_;
    int64_t received_ = 0;
    bool committed_ = false;
  };

  // Starts an upload. `max_size` is the caller's cap (the controller's policy; 0: the store's);
  // the header's size above it: ResourceExhausted naming the cap. InvalidArgument for a header
  // without a size.
  absl::StatusOr<std::unique_ptr<Upload>> Begin(const kdbg::v1::DebugBinaryHeader& header,
                                                int64_t max_size, Owner owner);

  // Hands a committed upload to a session. NotFound when unknown (never uploaded, already used,
  // expired, or the agent restarted); PermissionDenied for another user or target.
  absl::StatusOr<std::shared_ptr<DebugBinary>> Claim(const std::string& id, const Owner& owner);

  // Deletes committed uploads nobody claimed within claim_timeout. Returns how many.
  int ExpireUnclaimed();

  const std::string& dir() const { return options_.dir; }
  // Uploads in progress or waiting to be claimed.
  int pending() const;

 private:
  explicit DebugBinaryStore(Options options);
  struct Waiting {
    std::shared_ptr<DebugBinary> binary;
    Owner owner;
    absl::Time deadline;
  };

  const Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  int uploading_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kdbg::agent
