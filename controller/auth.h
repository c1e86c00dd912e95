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
// Thread-safe (the kube::Client is). Calls block on the API server: never call from a reaction.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/client.h"

namespace kdbg::controller {

inline constexpr char kGroup[] = "kdbg.io";
inline constexpr char kResource[] = "debugsessions";

// Extracts the token from an "authorization" header value "Bearer <token>" (scheme
// case-insensitive). Unauthenticated when empty or of another scheme.
absl::StatusOr<std::string> ParseBearer(absl::string_view header);

class Authorizer {
 public:
  explicit Authorizer(kube::Client* kube) : kube_(kube) {}

  // TokenReview. Unauthenticated: no token, or the API server rejected it (its error quoted).
  // Unavailable: the API server could not be asked.
  absl::StatusOr<kube::UserInfo> Authenticate(absl::string_view authorization_header);

  // SubjectAccessReview for `verb` on debugsessions.kdbg.io `name` in `ns` (name may be empty).
  // PermissionDenied carries the reviewer's reason; Unavailable when the review failed.
  absl::Status Authorize(const kube::UserInfo& user, const std::string& verb, const std::string& ns,
                         const std::string& name);

 private:
  kube::Client* kube_;
};

}  // namespace kdbg::controller
