#include "common/tls.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_limits.h"
#include "common/status.h"
#include "grpc/grpc_security_constants.h"

namespace kdbg::tls {

absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& what) {
  if (path.empty())
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not set: give the path of a PEM file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    absl::Status s = ErrnoToStatus(err, absl::StrCat("open ", what, " file ", path));
    return absl::Status(s.code(), absl::StrCat(s.message(), "; check ", what));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (!absl::StrContains(text, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", path, " holds no PEM block (expected \"-----BEGIN ...\")"));
  }
  return text;
}

namespace {

absl::StatusOr<grpc::SslServerCredentialsOptions> ServerOptions(const ServerTlsFiles& files) {
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  KDBG_ASSIGN_OR_RETURN(pair.cert_chain,
                        ReadPemFile(files.cert_path, "server certificate (--tls-cert)"));
  KDBG_ASSIGN_OR_RETURN(pair.private_key, ReadPemFile(files.key_path, "server key (--tls-key)"));
  grpc::SslServerCredentialsOptions opts;
  opts.pem_key_cert_pairs.push_back(std::move(pair));
  return opts;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsFiles& files, const std::vector<std::string>& allowed_identities) {
  KDBG_ASSIGN_OR_RETURN(auto opts, ServerOptions(files));
  KDBG_ASSIGN_OR_RETURN(opts.pem_root_certs,
                        ReadPemFile(files.client_ca_path, "client CA (--tls-ca)"));
  opts.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(opts);
  if (creds == nullptr) return absl::InternalError("grpc::SslServerCredentials returned null");
  if (!allowed_identities.empty()) {
    creds->SetAuthMetadataProcessor(
        std::make_shared<IdentityCheckingProcessor>(allowed_identities));
  }
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentialsNoClientCert(
    const ServerTlsFiles& files) {
  KDBG_ASSIGN_OR_RETURN(auto opts, ServerOptions(files));
  opts.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(opts);
  if (creds == nullptr) return absl::InternalError("grpc::SslServerCredentials returned null");
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeClientCredentials(
    const ClientTlsFiles& files) {
  grpc::SslCredentialsOptions opts;
  if (!files.ca_path.empty()) {
    KDBG_ASSIGN_OR_RETURN(opts.pem_root_certs,
                          ReadPemFile(files.ca_path, "CA certificate (--tls-ca)"));
  }
  if (files.cert_path.empty() != files.key_path.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both its certificate and its key file (--tls-cert and "
        "--tls-key)");
  }
  if (!files.cert_path.empty()) {
    KDBG_ASSIGN_OR_RETURN(opts.pem_cert_chain,
                          ReadPemFile(files.cert_path, "client certificate (--tls-cert)"));
    KDBG_ASSIGN_OR_RETURN(opts.pem_private_key,
                          ReadPemFile(files.key_path, "client key (--tls-key)"));
  }
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::SslCredentials(opts);
  if (creds == nullptr) return absl::InternalError("grpc::SslCredentials returned null");
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeSecureChannel(const std::string& target,
                                                                 const ClientTlsFiles& files,
                                                                 const std::string& server_name) {
  KDBG_ASSIGN_OR_RETURN(auto creds, MakeClientCredentials(files));
  grpc::ChannelArguments args;
  if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
  ApplyGrpcLimits(&args);
  return grpc::CreateCustomChannel(target, creds, args);
}

std::string PeerIdentity::ToString() const {
  if (!authenticated) return "unauthenticated";
  std::string out = absl::StrCat("CN=", common_name);
  if (!sans.empty()) absl::StrAppend(&out, " SAN=", absl::StrJoin(sans, ","));
  return out;
}

bool PeerIdentity::Names(const std::string& name) const {
  if (!authenticated || name.empty()) return false;
  if (common_name == name) return true;
  for (const auto& s : sans) {
    if (s == name) return true;
  }
  return false;
}

PeerIdentity PeerIdentityFromAuthContext(const grpc::AuthContext& context) {
  PeerIdentity id;
  bool tls = false;
  for (const auto& v : context.FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME)) {
    if (std::string(v.data(), v.size()) == GRPC_SSL_TRANSPORT_SECURITY_TYPE) tls = true;
  }
  for (const auto& v : context.FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
    id.common_name.assign(v.data(), v.size());
  }
  for (const auto& v : context.FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
    id.sans.emplace_back(v.data(), v.size());
  }
  // A verified client certificate is what makes the peer "authenticated" in gRPC's terms; the
  // peer identity property is only set when one was presented.
  id.authenticated = tls && context.IsPeerAuthenticated() &&
                     !context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME).empty();
  return id;
}

grpc::Status IdentityCheckingProcessor::Check(const PeerIdentity& peer,
                                              const std::vector<std::string>& allowed) {
  if (!peer.authenticated) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "a client certificate signed by the agent's CA is required");
  }
  for (const auto& name : allowed) {
    if (peer.Names(name)) return grpc::Status::OK;
  }
  return grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      absl::StrCat("client certificate ", peer.ToString(), " does not name an allowed identity (",
                   absl::StrJoin(allowed, ", "), ")"));
}

grpc::Status IdentityCheckingProcessor::Process(const InputMetadata&, grpc::AuthContext* context,
                                                OutputMetadata*, OutputMetadata*) {
  if (context == nullptr) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no auth context");
  return Check(PeerIdentityFromAuthContext(*context), allowed_);
}

}  // namespace kdbg::tls
