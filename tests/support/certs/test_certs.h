// A throwaway PKI for tests: a CA plus server and client certificates, made with the `openssl`
// command-line tool in a fresh temporary directory that the TestPki object removes when destroyed.
//
//     auto pki = kdbg::testing::TestPki::Create("kdbg-test-ca");          // CA: CN=kdbg-test-ca
//     auto agent = (*pki)->Issue({"kdbg-agent", {"localhost", "node-a"}, {"127.0.0.1",
//     "127.0.0.2"}}); auto ctl = (*pki)->Issue({"kdbg-controller"}); agent->cert_path,
//     agent->key_path, (*pki)->ca().cert_path  -> files for grpc / httplib
//
// Every leaf certificate carries extendedKeyUsage serverAuth + clientAuth, so one certificate can
// serve either side; a second TestPki gives an unrelated CA ("another CA's certificate" tests).
// Keys are EC P-256, unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"); certificates are PEM
// ("-----BEGIN CERTIFICATE-----"), valid from one hour ago for `valid_days`.
//
// Thread safety: Issue() may be called from one thread at a time per TestPki.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kdbg::testing {

// One certificate and its key, as files and as PEM text.
struct CertFiles {
  std::string cert_path;
  std::string key_path;
  std::string cert_pem;
  std::string key_pem;
};

struct CertSpec {
  CertSpec() = default;
  // Brace-friendly without designated initializers (which trip -Wmissing-field-initializers):
  //   pki->Issue({"kdbg-agent", {"localhost"}, {"127.0.0.1"}})
  CertSpec(std::string cn, std::vector<std::string> dns = {}, std::vector<std::string> ip = {})
      : common_name(std::move(cn)), dns_names(std::move(dns)), ips(std::move(ip)) {}

  // Subject CN. Also used (sanitised) to name the files, so keep it unique within one TestPki.
  std::string common_name;
  // subjectAltName entries: DNS:<name> and IP:<address>. Empty lists mean no SAN extension at all.
  std::vector<std::string> dns_names;
  std::vector<std::string> ips;
  // URI SANs (e.g. "spiffe://kdbg/controller").
  std::vector<std::string> uris;
  int valid_days = 2;
};

class TestPki {
 public:
  // Makes a temporary directory and a self-signed CA (CN = `ca_common_name`) in it.
  // Errors: Internal when openssl fails (its output quoted), NotFound when openssl is missing.
  static absl::StatusOr<std::unique_ptr<TestPki>> Create(
      const std::string& ca_common_name = "kdbg-test-ca");

  // Removes the directory and everything in it.
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& dir() const { return dir_; }
  // The CA's certificate (what peers verify against) and key.
  const CertFiles& ca() const { return ca_; }

  // Issues a certificate signed by this CA. Errors: InvalidArgument for an empty common_name,
  // Internal when openssl fails.
  absl::StatusOr<CertFiles> Issue(const CertSpec& spec);

 private:
  TestPki(std::string dir, CertFiles ca) : dir_(std::move(dir)), ca_(std::move(ca)) {}
  std::string dir_;
  CertFiles ca_;
  int serial_ = 1;
};

}  // namespace kdbg::testing
