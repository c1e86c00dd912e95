// client-go credential plugins (users[].user.exec in a kubeconfig): runs the plugin, parses its
// ExecCredential and caches it until status.expirationTimestamp.
//
// The plugin gets KUBERNETES_EXEC_INFO, e.g.
//   {"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
//    "spec":{"interactive":false,"cluster":{"server":"https://...","certificate-authority-data":"..."}}}
// (cluster only with provideClusterInfo) and prints on stdout, e.g.
//   {"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
//    "status":{"token":"my-bearer-token","expirationTimestamp":"2018-03-05T17:30:20-08:00"}}
// or status.clientCertificateData / clientKeyData (PEM). v1 and v1beta1 are accepted; the output's
// apiVersion must equal the configured one, as client-go requires.
// Thread-safe: concurrent Get() calls run the plugin at most once per expiry.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "kube/rest_config.h"

namespace kdbg::kube {

struct ExecCredential {
  std::string token = {};
  std::string client_cert_pem = {};
  std::string client_key_pem = {};
  std::optional<absl::Time> expiry = {};
};

// Parses a plugin's stdout. InvalidArgument for bad JSON, a wrong kind or apiVersion, or no
// credential in status.
absl::StatusOr<ExecCredential> ParseExecCredential(absl::string_view text,
                                                   absl::string_view expected_api_version);

class ExecCredentialProvider {
 public:
  // `server` / `ca_pem` go into KUBERNETES_EXEC_INFO when provideClusterInfo is set.
  ExecCredentialProvider(ExecConfig config, std::string server, std::string ca_pem, Clock* clock,
                         absl::Duration timeout = absl::Seconds(60));

  // The cached credential while unexpired, else runs the plugin. Errors name the plugin: NotFound
  // "exec plugin \"aws\" not found in $PATH: <installHint>", Unauthenticated for a plugin that
  // exits non-zero (with its last stderr line) or prints an unusable credential,
  // DeadlineExceeded when it runs longer than `timeout`, FailedPrecondition for
  // interactiveMode: Always (kdbg never gives plugins a terminal).
  absl::StatusOr<ExecCredential> Get();
  // Drops the cache (after a 401, as client-go does).
  void Invalidate();
  int runs() const;

 private:
  absl::StatusOr<ExecCredential> Run();

  const ExecConfig config_;
  const std::string server_;
  const std::string ca_pem_;
  Clock* const clock_;
  const absl::Duration timeout_;
  mutable absl::Mutex mu_;
  std::optional<ExecCredential> cached_ ABSL_GUARDED_BY(mu_);
  int runs_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kdbg::kube
