// Authentication (TokenReview) and authorization (SubjectAccessReview) of controller callers.
//
// Every RPC carries the user's Kubernetes bearer token in the "authorization: Bearer <token>"
// metadata. The controller never decides identity or rights itself: it asks the API server.
// Rights are expressed on the virtual resource `debugsessions` in group `kdbg.io`:
//   Trace, Attach (and the Tunnel of an attach session): verb "create", the pod's namespace + name
//   Resolve: verb "create" too (the dry run of a session: whoever may debug the pod may ask what
//   kdbg would attach to; the kdbg-user role grants create, list and delete only)
//   ListSessions: verb "list" per namespace; StopSession: verb "delete" on the session's pod.
//
// Answers are cached briefly (AuthCacheOptions): an on-call engineer's consecutive commands
// (`kdbg resolve`, then `kdbg trace`, then `kdbg sessions`) and every pod of a fan-out session ask
// the same questions, and each answer is an API server round trip on the path to "armed". The
// cost: a token revoked, or an RBAC right removed, still works for at most the TTL (sessions
// already running were never re-checked anyway). Only positive answers are cached: a rejected
// token and a denial are asked again every time, so a right just granted works at once. The API
// server's own webhook caches make the same trade (kube-apiserver
// --authentication-token-webhook-cache-ttl, default 2m;
// --authorization-webhook-cache-authorized-ttl, default 5m). Tokens are kept only as their SHA-256.
//
// Thread-safe (the kube::Client is). Calls block on the API server: never call from a reaction.
#pragma once

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "kube/client.h"

namespace kdbg::controller {

inline constexpr char kGroup[] = "kdbg.io";
inline constexpr char kResource[] = "debugsessions";
// The subresource `kdbg attach` also needs when the policy says `attach: rbac`
// (`create debugsessions/attach`, like kubectl's `pods/exec` beside `pods`).
inline constexpr char kAttachSubresource[] = "attach";

// Extracts the token from an "authorization" header value "Bearer <token>" (scheme
// case-insensitive). Unauthenticated when empty or of another scheme.
absl::StatusOr<std::string> ParseBearer(absl::string_view header);

// How long positive answers are reused (zero: ask the API server every time), and how many are
// kept (when full, expired answers are dropped, then all of them).
struct AuthCacheOptions {
  absl::Duration ttl = absl::Seconds(10);
  size_t max_entries = 4096;
};

class Authorizer {
 public:
  explicit Authorizer(kube::Client* kube, const Clock* clock = RealClock::Get(),
                      AuthCacheOptions cache = {})
      : kube_(kube), clock_(clock), cache_options_(cache) {}

  // TokenReview. Unauthenticated: no token, or the API server rejected it (its error quoted).
  // Unavailable: the API server could not be asked.
  absl::StatusOr<kube::UserInfo> Authenticate(absl::string_view authorization_header);

  // SubjectAccessReview for `verb` on debugsessions.kdbg.io `name` in `ns` (name may be empty),
  // or on its `subresource` when one is given. PermissionDenied carries the reviewer's reason;
  // Unavailable when the review failed.
  absl::Status Authorize(const kube::UserInfo& user, const std::string& verb, const std::string& ns,
                         const std::string& name, const std::string& subresource = "");

 private:
  template <typename T>
  struct Cached {
    T value;
    absl::Time expires;  // on clock_->MonotonicNow()'s timeline
  };
  template <typename T>
  bool Lookup(const absl::flat_hash_map<std::string, Cached<T>>& map, const std::string& key,
              T* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  template <typename T>
  void Store(absl::flat_hash_map<std::string, Cached<T>>* map, const std::string& key, T value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  kube::Client* kube_;
  const Clock* clock_;
  const AuthCacheOptions cache_options_;
  absl::Mutex mu_;
  // SHA-256 of the token -> who the API server said it is.
  absl::flat_hash_map<std::string, Cached<kube::UserInfo>> users_ ABSL_GUARDED_BY(mu_);
  // The whole SubjectAccessReview (user, groups, extra, verb, namespace, name) -> allowed.
  absl::flat_hash_map<std::string, Cached<bool>> allowed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kdbg::controller
