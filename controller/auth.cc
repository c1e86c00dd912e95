#include "controller/auth.h"

#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace kdbg::controller {

absl::StatusOr<std::string> ParseBearer(absl::string_view header) {
  header = absl::StripAsciiWhitespace(header);
  if (header.empty()) {
    return absl::UnauthenticatedError(
        "no bearer token: send \"authorization: Bearer <token>\" (kdbg uses your kubeconfig's "
        "credentials)");
  }
  constexpr absl::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size() || !absl::StartsWithIgnoreCase(header, kScheme)) {
    return absl::UnauthenticatedError(
        "the authorization metadata is not of the form \"Bearer <token>\"");
  }
  std::string token(absl::StripAsciiWhitespace(header.substr(kScheme.size())));
  if (token.empty()) return absl::UnauthenticatedError("empty bearer token");
  return token;
}

namespace {

std::string Sha256(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

// Each field length-prefixed, so that no two different reviews share a key.
void AppendField(std::string* key, absl::string_view field) {
  absl::StrAppend(key, field.size(), ":", field, ";");
}

std::string AccessKey(const kube::UserInfo& user, const std::string& verb, const std::string& ns,
                      const std::string& name, const std::string& subresource) {
  std::string key;
  AppendField(&key, user.username);
  AppendField(&key, user.uid);
  AppendField(&key, absl::StrCat(user.groups.size()));
  for (const std::string& g : user.groups) AppendField(&key, g);
  AppendField(&key, absl::StrCat(user.extra.size()));
  for (const auto& [k, values] : user.extra) {  // std::map: ordered
    AppendField(&key, k);
    AppendField(&key, absl::StrCat(values.size()));
    for (const std::string& v : values) AppendField(&key, v);
  }
  AppendField(&key, verb);
  AppendField(&key, ns);
  AppendField(&key, name);
  AppendField(&key, subresource);
  return key;
}

}  // namespace

template <typename T>
bool Authorizer::Lookup(const absl::flat_hash_map<std::string, Cached<T>>& map,
                        const std::string& key, T* out) {
  auto it = map.find(key);
  if (it == map.end() || clock_->MonotonicNow() >= it->second.expires) return false;
  *out = it->second.value;
  return true;
}

template <typename T>
void Authorizer::Store(absl::flat_hash_map<std::string, Cached<T>>* map, const std::string& key,
                       T value) {
  if (cache_options_.ttl <= absl::ZeroDuration() || cache_options_.max_entries == 0) return;
  const absl::Time now = clock_->MonotonicNow();
  if (map->size() >= cache_options_.max_entries) {
    absl::erase_if(*map, [now](const auto& entry) { return now >= entry.second.expires; });
    if (map->size() >= cache_options_.max_entries) map->clear();
  }
  (*map)[key] = Cached<T>{std::move(value), now + cache_options_.ttl};
}

absl::StatusOr<kube::UserInfo> Authorizer::Authenticate(absl::string_view authorization_header) {
  KDBG_ASSIGN_OR_RETURN(std::string token, ParseBearer(authorization_header));
  const std::string key = Sha256(token);
  {
    absl::MutexLock lock(&mu_);
    kube::UserInfo cached;
    if (Lookup(users_, key, &cached)) return cached;
  }
  absl::StatusOr<kube::UserInfo> user = kube_->ReviewToken(token);
  if (!user.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot authenticate: the TokenReview failed (", user.status().message(),
                     "); check that the controller reaches the Kubernetes API server"));
  }
  if (!user->authenticated) {
    return absl::UnauthenticatedError(
        absl::StrCat("the Kubernetes API server rejected the token",
                     user->error.empty() ? "" : absl::StrCat(": ", user->error),
                     "; refresh your kubeconfig credentials"));
  }
  absl::MutexLock lock(&mu_);
  Store(&users_, key, *user);
  return user;
}

absl::Status Authorizer::Authorize(const kube::UserInfo& user, const std::string& verb,
                                   const std::string& ns, const std::string& name,
                                   const std::string& subresource) {
  const std::string key = AccessKey(user, verb, ns, name, subresource);
  {
    absl::MutexLock lock(&mu_);
    bool allowed = false;
    if (Lookup(allowed_, key, &allowed) && allowed) return absl::OkStatus();
  }
  kube::ResourceAttributes attrs;
  attrs.namespace_ = ns;
  attrs.verb = verb;
  attrs.group = kGroup;
  attrs.resource = kResource;
  attrs.name = name;
  attrs.subresource = subresource;
  absl::StatusOr<kube::AccessDecision> decision = kube_->ReviewAccess(user, attrs);
  if (!decision.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot authorize: the SubjectAccessReview failed (",
                                               decision.status().message(), ")"));
  }
  if (decision->allowed) {
    absl::MutexLock lock(&mu_);
    Store(&allowed_, key, true);
    return absl::OkStatus();
  }
  // "user "bob" may not create debugsessions.kdbg.io/attach "web-1" in namespace "shop": ..."
  std::string what = absl::StrCat("user \"", user.username, "\" may not ", verb, " ", kResource,
                                  ".", kGroup, subresource.empty() ? "" : "/", subresource);
  if (!name.empty()) absl::StrAppend(&what, " \"", name, "\"");
  absl::StrAppend(&what,
                  ns.empty() ? " at cluster scope" : absl::StrCat(" in namespace \"", ns, "\""));
  std::string reason = decision->reason;
  if (reason.empty()) reason = decision->evaluation_error;
  if (reason.empty()) reason = "no RBAC rule allows it";
  return absl::PermissionDeniedError(absl::StrCat(what, ": ", reason));
}

}  // namespace kdbg::controller
