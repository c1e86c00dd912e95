// The live process table: libproc2 for the per-process facts, direct reads for the rest.
#include <libproc2/pids.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "agent/resolver/process_table.h"

namespace kdbg::agent {
namespace {

enum Item : int { kPid, kPpid, kBegan, kState, kCmd, kCmdline, kExe, kNumItems };

class LiveProcessTable : public ProcessTable {
 public:
  LiveProcessTable() : dir_(NewDirProcessTable("/proc")) {}
  ~LiveProcessTable() override {
    if (info_ != nullptr) procps_pids_unref(&info_);
  }

  absl::Status ScanCgroups(const std::function<void(pid_t, absl::string_view)>& fn) override {
    // libproc2 cannot read cgroup alone (it always reads stat too), so the wide scan reads
    // /proc/PID/cgroup directly: one file per process, the floor.
    return dir_->ScanCgroups(fn);
  }

  absl::StatusOr<ProcessInfo> Inspect(pid_t pid) override {
    ProcessInfo info;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (info_ == nullptr) {
        enum pids_item items[kNumItems] = {PIDS_ID_PID, PIDS_ID_PPID,   PIDS_TICS_BEGAN, PIDS_STATE,
                                           PIDS_CMD,    PIDS_CMDLINE_V, PIDS_EXE};
        if (int rc = procps_pids_new(&info_, items, kNumItems); rc < 0) {
          info_ = nullptr;
          return absl::InternalError(absl::StrCat("libproc2: procps_pids_new failed (", rc, ")"));
        }
      }
      unsigned wanted = static_cast<unsigned>(pid);
      pids_fetch* fetch = procps_pids_select(info_, &wanted, 1, PIDS_SELECT_PID);
      if (fetch == nullptr || fetch->counts->total < 1) {
        return absl::NotFoundError(absl::StrCat("process ", pid, " not found (it exited?)"));
      }
      pids_stack* s = fetch->stacks[0];
      info.pid = PIDS_VAL(kPid, s_int, s, info_);
      info.ppid = PIDS_VAL(kPpid, s_int, s, info_);
      info.start_time_ticks = PIDS_VAL(kBegan, ull_int, s, info_);
      info.state = PIDS_VAL(kState, s_ch, s, info_);
      info.comm = PIDS_VAL(kCmd, str, s, info_);
      // libproc2 gives "-" / "[comm]" for unreadable values; keep "" for those.
      char** argv = PIDS_VAL(kCmdline, strv, s, info_);
      for (char** a = argv; a != nullptr && *a != nullptr; ++a) info.cmdline.emplace_back(*a);
      if (info.cmdline.size() == 1 && info.cmdline[0] == "[" + info.comm + "]")
        info.cmdline.clear();
      const char* exe = PIDS_VAL(kExe, str, s, info_);
      info.exe = (exe != nullptr && absl::string_view(exe) != "-") ? exe : "";
    }
    if (info.pid != pid) return absl::NotFoundError(absl::StrCat("process ", pid, " not found"));
    std::string base = absl::StrCat("/proc/", pid, "/");
    if (auto st = ReadSmallFile(base + "status"); st.ok()) ParseStatus(*st, &info);
    if (auto cg = ReadSmallFile(base + "cgroup"); cg.ok()) info.cgroup = std::move(*cg);
    return info;
  }

  std::string ExePath(pid_t pid) const override { return dir_->ExePath(pid); }
  absl::StatusOr<std::string> ReadFile(absl::string_view relative) const override {
    return dir_->ReadFile(relative);
  }
  const std::string& root() const override { return dir_->root(); }

 private:
  std::unique_ptr<ProcessTable> dir_;
  std::mutex mu_;
  pids_info* info_ = nullptr;
};

}  // namespace

std::unique_ptr<ProcessTable> NewLiveProcessTable() { return std::make_unique<LiveProcessTable>(); }

}  // namespace kdbg::agent
