#include "agent/delve/delve_home.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "agent/delve/separate_debug_info.h"
#include "common/status.h"

namespace kdbg::delve {
namespace {

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

std::string DelveHomeDir(const std::string& work_dir, const std::string& session_id,
                         const std::string& executable) {
  if (!executable.empty()) return SeparateDebugInfoDir(executable);
  return absl::StrCat(work_dir, "/", session_id, kDelveHomeSuffix);
}

std::string DelveSocketPath(const std::string& work_dir, const std::string& session_id) {
  return absl::StrCat(work_dir, "/", session_id, kDelveSocketSuffix);
}

absl::Status PrepareDelveHome(const std::string& dir, const std::string& executable,
                              const std::string& target_exe) {
  if (!executable.empty()) {
    KDBG_RETURN_IF_ERROR(PrepareSeparateDebugInfo(dir, executable, target_exe));
  } else {
    RemoveDelveHome(dir);
    for (const std::string& d : {dir, dir + "/dlv"}) {
      if (::mkdir(d.c_str(), 0700) != 0) return ErrnoToStatus(errno, absl::StrCat("mkdir ", d));
    }
    KDBG_RETURN_IF_ERROR(WriteFile(
        dir + "/dlv/config.yml",
        "# Written by kdbg-agent for one session (Delve writes a default config otherwise).\n"));
  }
  for (const std::string& d : {dir + "/go", dir + "/go/telemetry"}) {
    if (::mkdir(d.c_str(), 0700) != 0) return ErrnoToStatus(errno, absl::StrCat("mkdir ", d));
  }
  return WriteFile(dir + "/go/telemetry/mode", "off\n");
}

std::vector<std::string> DelveHomeEnv(const std::string& dir) {
  return {absl::StrCat("XDG_CONFIG_HOME=", dir), "GOTELEMETRY=off"};
}

void RemoveDelveHome(const std::string& dir) {
  // remove_all never follows symbolic links: the debug links go, the upload they name stays.
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace kdbg::delve
