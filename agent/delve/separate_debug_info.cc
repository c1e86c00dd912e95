#include "agent/delve/separate_debug_info.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace kdbg::delve {
namespace {

std::string YamlQuoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

std::string SeparateDebugInfoDir(const std::string& executable) {
  return absl::StrCat(executable, ".dlv");
}

absl::Status PrepareSeparateDebugInfo(const std::string& dir, const std::string& executable,
                                      const std::string& target_exe) {
  RemoveSeparateDebugInfo(dir);
  for (const std::string& d : {dir, dir + "/dlv", dir + "/debug"}) {
    if (::mkdir(d.c_str(), 0700) != 0) return ErrnoToStatus(errno, absl::StrCat("mkdir ", d));
  }
  {
    std::ofstream config(dir + "/dlv/config.yml");
    config << "# Written by kdbg-agent for one session: Delve finds the debug binary here.\n"
           << "debug-info-directories: [" << YamlQuoted(dir + "/debug") << "]\n";
    if (!config) return absl::InternalError(absl::StrCat("cannot write ", dir, "/dlv/config.yml"));
  }
  char buf[4096];
  ssize_t n = ::readlink(target_exe.c_str(), buf, sizeof buf - 1);
  std::string target_exe_link = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  absl::string_view link = target_exe_link;
  absl::ConsumeSuffix(&link, " (deleted)");
  std::string base(
      link.substr(link.rfind('/') == absl::string_view::npos ? 0 : link.rfind('/') + 1));
  for (const std::string& name : {std::string("exe"), base}) {
    if (name.empty()) continue;
    std::string path = absl::StrCat(dir, "/debug/", name, ".debug");
    if (::symlink(executable.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      return ErrnoToStatus(errno, absl::StrCat("symlink ", path));
    }
  }
  return absl::OkStatus();
}

void RemoveSeparateDebugInfo(const std::string& dir) {
  // Only what PrepareSeparateDebugInfo creates; links are unlinked, never followed.
  std::string debug = dir + "/debug";
  if (DIR* d = ::opendir(debug.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") ::unlink(absl::StrCat(debug, "/", name).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(debug.c_str());
  ::unlink((dir + "/dlv/config.yml").c_str());
  ::rmdir((dir + "/dlv").c_str());
  // Delve >= 1.2x built with Go >= 1.23 writes Go telemetry counters under its config home
  // ($XDG_CONFIG_HOME/go/telemetry/local/dlv@...count): remove that tree too (symlinks inside are
  // removed, never followed).
  std::error_code ec;
  std::filesystem::remove_all(dir + "/go", ec);
  ::rmdir(dir.c_str());
}

}  // namespace kdbg::delve
