// kube::Client over HTTPS (cpp-httplib + OpenSSL).
//
// - TLS: the server is verified against RestConfig::ca_pem (or the system store when empty) unless
//   insecure_skip_tls_verify; the host name (DNS or IP SAN) is checked. Client certificates from
//   client_cert_pem/client_key_pem or an exec plugin's credential.
// - Credentials: bearer_token, else token_file (re-read on every request: projected
//   service-account tokens rotate), else the exec plugin (cached until expiry; after a 401 the
//   credential is dropped and the call retried once, as client-go does).
// - Errors: the API's Status (message kept verbatim) maps to absl codes as kube/client.h lists;
//   400/422 -> InvalidArgument, 409 -> AlreadyExists (reason AlreadyExists) else Aborted, other
//   5xx -> Unavailable. Unreachable server -> Unavailable naming the server; a call slower than
//   RestConfig::timeout -> DeadlineExceeded. That timeout bounds the whole call, retries included,
//   even against a server that trickles its headers or body a byte at a time (the request is
//   stopped at the deadline); only TCP connect and the TLS handshake are bounded per step instead
//   (min(timeout, 10 s) each). Watches are not held to it (a watch lasts as long as the server's
//   timeoutSeconds; each read is bounded by max(timeout, 10 min)).
// - Retries: GetPod, ListPods, ReviewToken and ReviewAccess (reviews create nothing) are retried
//   up to 3 attempts on 429, 5xx and connection errors, with backoff 100 ms, 200 ms (or the
//   server's Retry-After, capped at 2 s), slept on the injected Clock. CreateEvent and WatchPods
//   are not retried; watches are resumed by the caller (OutOfRange on 410 Gone / ERROR 410).
// Thread-safe: connections are pooled and each request uses one exclusively.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "kube/client.h"
#include "kube/rest_config.h"

namespace kdbg::kube {

// Never null. A config that cannot work (server URL not http(s)://host[:port][/prefix], PEM that
// does not parse) gives a client whose every call returns that InvalidArgument error; use
// NewHttpClientOrError to see it up front. `clock` must outlive the client.
std::unique_ptr<Client> NewHttpClient(RestConfig config, Clock* clock);
absl::StatusOr<std::unique_ptr<Client>> NewHttpClientOrError(RestConfig config, Clock* clock);

// Maps an HTTP status and the API's Status body to an absl::Status (exposed for tests).
absl::Status StatusFromResponse(int http_status, const std::string& body);

// "a=b,c in (x,y)" -> "a%3Db%2Cc%20in%20%28x%2Cy%29" (RFC 3986 unreserved characters kept).
std::string UrlEncode(const std::string& s);

}  // namespace kdbg::kube
