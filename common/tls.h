// TLS credentials for kdbg's gRPC links, shared by the agent, the controller and the CLI.
//
// Files are PEM, as kubernetes.io/tls Secrets and cert-manager write them:
//   tls.crt  "-----BEGIN CERTIFICATE-----" (leaf first, then intermediates)
//   tls.key  "-----BEGIN PRIVATE KEY-----" / "BEGIN EC PRIVATE KEY" / "BEGIN RSA PRIVATE KEY"
//   ca.crt   "-----BEGIN CERTIFICATE-----" (one or more roots)
//
// The agent serves mutual TLS: the handshake itself refuses clients without a certificate, or with
// one that does not chain to the configured CA, so no handler ever runs for them. On top of that,
// IdentityCheckingProcessor (installed on the server credentials) refuses every call whose client
// certificate does not name an allowed identity (CN or any SAN), again before any handler runs.
//
// Errors from the loaders: NotFound (missing file), PermissionDenied (unreadable), InvalidArgument
// (empty or not PEM); the message names the file and which flag sets it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/auth_metadata_processor.h"

namespace kdbg::tls {

// Reads a PEM file; `what` names it in errors ("--tls-cert").
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& what);

struct ServerTlsFiles {
  std::string cert_path;       // this server's certificate chain
  std::string key_path;        // its private key
  std::string client_ca_path;  // CA that client certificates must chain to
};

// Server credentials that present cert/key and require and verify a client certificate against
// client_ca (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY). If `allowed_identities`
// is non-empty, an IdentityCheckingProcessor refusing every other peer is installed.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsFiles& files, const std::vector<std::string>& allowed_identities = {});

// Server credentials that present cert/key but do not ask for client certificates (the controller's
// user-facing port, where users authenticate with bearer tokens). client_ca_path is ignored.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentialsNoClientCert(
    const ServerTlsFiles& files);

struct ClientTlsFiles {
  std::string ca_path;    // roots the server's certificate must chain to; empty: system roots
  std::string cert_path;  // optional client certificate (mutual TLS) ...
  std::string key_path;   // ... and its key; both or neither
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeClientCredentials(
    const ClientTlsFiles& files);

// A channel to `target` ("127.0.0.2:7443") with those credentials. `server_name` (optional)
// overrides the name checked against the server certificate's SANs (GRPC_SSL_TARGET_NAME_OVERRIDE),
// for servers reached by IP whose certificate names them by DNS.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeSecureChannel(
    const std::string& target, const ClientTlsFiles& files, const std::string& server_name = "");

// The identity a peer proved with its certificate.
struct PeerIdentity {
  std::string common_name;        // subject CN ("kdbg-controller"), empty if none
  std::vector<std::string> sans;  // every SAN gRPC reports (DNS, URI, IP, email)
  bool authenticated = false;     // the transport is TLS and a client certificate was verified

  // "CN=kdbg-controller" or "CN=x SAN=a,b"; "unauthenticated" when not authenticated.
  std::string ToString() const;
  // True when authenticated and the CN or any SAN equals `name` exactly.
  bool Names(const std::string& name) const;
};

PeerIdentity PeerIdentityFromAuthContext(const grpc::AuthContext& context);

// Refuses (UNAUTHENTICATED without a verified certificate, PERMISSION_DENIED for a certificate that
// names none of `allowed`) before the call reaches a handler. Non-blocking, thread-safe.
class IdentityCheckingProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit IdentityCheckingProcessor(std::vector<std::string> allowed)
      : allowed_(std::move(allowed)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // The same check, for handlers that want to re-check defensively.
  static grpc::Status Check(const PeerIdentity& peer, const std::vector<std::string>& allowed);

 private:
  std::vector<std::string> allowed_;
};

}  // namespace kdbg::tls
