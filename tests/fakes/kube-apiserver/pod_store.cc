#include "tests/fakes/kube-apiserver/pod_store.h"

#include <dirent.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "kube/objects_json.h"

namespace kdbg::kube::stub {
namespace {

constexpr size_t kMaxChanges = 10000;

std::vector<std::string> JsonFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (absl::EndsWith(name, ".json") && name[0] != '.')
      out.push_back(absl::StrCat(dir, "/", name));
  }
  closedir(d);
  return out;
}

}  // namespace

PodStore::PodStore(std::string dir) : dir_(std::move(dir)) {}

void PodStore::Rescan() {
  std::map<std::pair<std::string, std::string>, StoredPod> seen;
  for (const std::string& path : JsonFiles(dir_)) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    auto j = ParseJson(text, path);
    if (!j.ok()) {
      std::fprintf(stderr, "kube-apiserver-stub: skipping %s: %s\n", path.c_str(),
                   std::string(j.status().message()).c_str());
      continue;
    }
    std::vector<nlohmann::json> objects;
    if (j->is_object() && j->contains("items") && (*j)["items"].is_array()) {
      for (const auto& item : (*j)["items"]) objects.push_back(item);
    } else {
      objects.push_back(*j);
    }
    for (nlohmann::json& obj : objects) {
      auto pod = PodFromJson(obj);
      if (!pod.ok()) {
        std::fprintf(stderr, "kube-apiserver-stub: skipping a pod in %s: %s\n", path.c_str(),
                     std::string(pod.status().message()).c_str());
        continue;
      }
      if (pod->namespace_.empty()) {
        pod->namespace_ = "default";
        obj["metadata"]["namespace"] = "default";
      }
      obj["kind"] = "Pod";
      obj["apiVersion"] = "v1";
      auto key = std::make_pair(pod->namespace_, pod->name);
      seen[key] = StoredPod{obj, *pod, obj.dump()};
    }
  }
  absl::MutexLock lock(&mu_);
  for (auto& [key, sp] : seen) {
    auto it = pods_.find(key);
    if (it == pods_.end()) {
      Record("ADDED", std::move(sp));
    } else if (it->second.source != sp.source) {
      Record("MODIFIED", std::move(sp));
    }
  }
  std::vector<std::pair<std::string, std::string>> gone;
  for (const auto& [key, sp] : pods_) {
    if (seen.count(key) == 0) gone.push_back(key);
  }
  for (const auto& key : gone) {
    StoredPod sp = pods_[key];
    Record("DELETED", std::move(sp));
  }
}

void PodStore::Record(const std::string& type, StoredPod sp) {
  ++version_;
  std::string rv = absl::StrCat(version_);
  sp.object["metadata"]["resourceVersion"] = rv;
  sp.pod.resource_version = rv;
  auto key = std::make_pair(sp.pod.namespace_, sp.pod.name);
  if (type == "DELETED") {
    pods_.erase(key);
  } else {
    pods_[key] = sp;
  }
  changes_.push_back(PodChange{version_, type, std::move(sp)});
  while (changes_.size() > kMaxChanges) {
    oldest_ = changes_.front().version;
    changes_.pop_front();
  }
}

long PodStore::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

std::vector<StoredPod> PodStore::List(const std::string& ns) const {
  absl::MutexLock lock(&mu_);
  std::vector<StoredPod> out;
  for (const auto& [key, sp] : pods_) {
    if (ns.empty() || key.first == ns) out.push_back(sp);
  }
  return out;
}

std::optional<StoredPod> PodStore::Get(const std::string& ns, const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = pods_.find({ns, name});
  if (it == pods_.end()) return std::nullopt;
  return it->second;
}

absl::Status PodStore::ChangesSince(long after, std::vector<PodChange>* out) const {
  absl::MutexLock lock(&mu_);
  if (after < oldest_) {
    return absl::OutOfRangeError(
        absl::StrCat("too old resource version: ", after, " (", oldest_, ")"));
  }
  for (const PodChange& c : changes_) {
    if (c.version > after) out->push_back(c);
  }
  return absl::OkStatus();
}

bool PodStore::WaitForChange(long after, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto newer = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return version_ > after; };
  return mu_.AwaitWithTimeout(absl::Condition(&newer), timeout);
}

}  // namespace kdbg::kube::stub
