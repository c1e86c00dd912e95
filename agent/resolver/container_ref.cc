#include "agent/resolver/container_ref.h"

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kdbg::agent {
namespace {

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return !s.empty();
}

bool IsFullId(absl::string_view s) { return s.size() == 64 && IsHex(s); }

// One known way a runtime names a container's cgroup: "<prefix><64 hex><suffix>".
struct SegmentLayout {
  absl::string_view prefix;
  absl::string_view suffix;
  absl::string_view runtime;
  absl::string_view layout;
  CgroupRole role;
};

// Order matters: "crio-conmon-" before "crio-". The bare-ID entry comes last.
constexpr std::array<SegmentLayout, 10> kLayouts = {{
    {"cri-containerd-", ".scope", "containerd", "systemd cri-containerd", CgroupRole::kContainer},
    {"crio-conmon-", ".scope", "cri-o", "systemd crio-conmon", CgroupRole::kMonitor},
    {"crio-", ".scope", "cri-o", "systemd crio", CgroupRole::kContainer},
    {"docker-", ".scope", "docker", "systemd docker", CgroupRole::kContainer},
    {"libpod-", ".scope", "podman", "systemd libpod", CgroupRole::kContainer},
    {"crio-conmon-", "", "cri-o", "cgroupfs crio-conmon", CgroupRole::kMonitor},
    {"crio-", "", "cri-o", "cgroupfs crio", CgroupRole::kContainer},
    {"docker-", "", "docker", "cgroupfs docker", CgroupRole::kContainer},
    {"cri-containerd-", "", "containerd", "cgroupfs cri-containerd", CgroupRole::kContainer},
    {"", "", "", "cgroupfs", CgroupRole::kContainer},
}};

// containerd 1.4's systemd form: "<slice>:<runtime>:<id>".
std::optional<CgroupMatch> MatchColonSegment(absl::string_view seg) {
  std::vector<absl::string_view> parts = absl::StrSplit(seg, ':');
  if (parts.size() != 3 || !IsFullId(parts[2])) return std::nullopt;
  CgroupMatch m;
  m.id = std::string(parts[2]);
  if (parts[1] == "cri-containerd") {
    m.runtime = "containerd";
  } else if (parts[1] == "crio") {
    m.runtime = "cri-o";
  } else if (parts[1] == "docker") {
    m.runtime = "docker";
  }
  m.layout = absl::StrCat("systemd colon ", parts[1]);
  return m;
}

std::optional<CgroupMatch> MatchSegment(absl::string_view seg) {
  if (seg.find(':') != absl::string_view::npos) return MatchColonSegment(seg);
  for (const SegmentLayout& l : kLayouts) {
    if (seg.size() != l.prefix.size() + 64 + l.suffix.size()) continue;
    if (!absl::StartsWith(seg, l.prefix) || !absl::EndsWith(seg, l.suffix)) continue;
    absl::string_view id = seg.substr(l.prefix.size(), 64);
    if (!IsFullId(id)) continue;
    CgroupMatch m;
    m.id = std::string(id);
    m.runtime = std::string(l.runtime);
    m.layout = std::string(l.layout);
    m.role = l.role;
    return m;
  }
  return std::nullopt;
}

// "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid_with_underscores>.slice" (systemd).
std::string PodUidOf(absl::string_view seg) {
  if (absl::EndsWith(seg, ".slice")) seg.remove_suffix(6);
  size_t at = seg.rfind("pod");
  if (at == absl::string_view::npos || (at != 0 && seg[at - 1] != '-')) return "";
  absl::string_view uid = seg.substr(at + 3);
  if (uid.size() < 32) return "";
  for (char c : uid) {
    if (!(IsHex(absl::string_view(&c, 1)) || c == '-' || c == '_')) return "";
  }
  return absl::StrReplaceAll(uid, {{"_", "-"}});
}

}  // namespace

absl::StatusOr<ContainerRef> ParseContainerRef(absl::string_view text) {
  ContainerRef ref;
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  size_t sep = rest.find("://");
  if (sep != absl::string_view::npos) {
    absl::string_view scheme = rest.substr(0, sep);
    if (scheme == "containerd" || scheme == "cri-o" || scheme == "docker") {
      ref.runtime = std::string(scheme);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown container runtime \"", scheme, "\" in container ID \"", text,
                       "\": expected containerd://, cri-o:// or docker:// followed by the hex ID"));
    }
    rest = rest.substr(sep + 3);
  }
  std::string id = absl::AsciiStrToLower(rest);
  if (id.size() < 12 || id.size() > 64 || !IsHex(id)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed container ID \"", text,
                                                   "\": expected <runtime>://<64 hex> as in the "
                                                   "pod's status.containerStatuses[].containerID"));
  }
  ref.id = std::move(id);
  return ref;
}

std::vector<CgroupLine> ParseCgroupFile(absl::string_view text) {
  std::vector<CgroupLine> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    size_t a = line.find(':');
    if (a == absl::string_view::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == absl::string_view::npos) continue;
    CgroupLine l;
    l.hierarchy = std::string(line.substr(0, a));
    l.controllers = std::string(line.substr(a + 1, b - a - 1));
    l.path = std::string(absl::StripTrailingAsciiWhitespace(line.substr(b + 1)));
    lines.push_back(std::move(l));
  }
  return lines;
}

std::optional<CgroupMatch> MatchCgroupPath(absl::string_view path) {
  std::vector<absl::string_view> segs = absl::StrSplit(path, '/', absl::SkipEmpty());
  for (size_t i = segs.size(); i-- > 0;) {
    std::optional<CgroupMatch> m = MatchSegment(segs[i]);
    if (!m) continue;
    // The pod UID, if any, sits in the segments above the container's.
    for (size_t j = i; j-- > 0;) {
      std::string uid = PodUidOf(segs[j]);
      if (!uid.empty()) {
        m->pod_uid = std::move(uid);
        break;
      }
    }
    // Colon form carries the pod in the same segment.
    if (m->pod_uid.empty() && segs[i].find(':') != absl::string_view::npos) {
      m->pod_uid = PodUidOf(segs[i].substr(0, segs[i].find(':')));
    }
    return m;
  }
  return std::nullopt;
}

std::optional<CgroupMatch> MatchCgroupFile(absl::string_view text) {
  for (const CgroupLine& line : ParseCgroupFile(text)) {
    if (auto m = MatchCgroupPath(line.path)) return m;
  }
  return std::nullopt;
}

bool SameContainerId(absl::string_view wanted, absl::string_view full_id) {
  return !wanted.empty() && absl::StartsWith(full_id, wanted);
}

bool CgroupIsNamespaceRoot(absl::string_view text) {
  std::vector<CgroupLine> lines = ParseCgroupFile(text);
  if (lines.empty()) return false;
  for (const CgroupLine& l : lines) {
    if (l.path != "/") return false;
  }
  return true;
}

std::string NodePodCgroupRoot(absl::string_view self_cgroup) {
  for (const CgroupLine& l : ParseCgroupFile(self_cgroup)) {
    std::string root;
    for (absl::string_view seg : absl::StrSplit(l.path, '/', absl::SkipEmpty())) {
      absl::StrAppend(&root, "/", seg);
      if (absl::StartsWith(seg, "kubepods")) return root;
    }
  }
  return "";
}

bool CgroupFileUnder(absl::string_view cgroup_file, absl::string_view root) {
  for (const CgroupLine& l : ParseCgroupFile(cgroup_file)) {
    absl::string_view path = l.path;
    if (absl::ConsumePrefix(&path, root) && (path.empty() || path[0] == '/')) return true;
  }
  return false;
}

}  // namespace kdbg::agent
