#include "tests/support/certs/test_certs.h"

#include <stdlib.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/child_process.h"
#include "common/status.h"

namespace kdbg::testing {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string FileStem(const std::string& cn) {
  std::string out;
  for (char c : cn)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return out;
}

// A minimal config so the host's openssl.cnf defaults (extensions, prompts) play no part.
constexpr char kReqConfig[] =
    "[req]\n"
    "distinguished_name = dn\n"
    "prompt = no\n"
    "[dn]\n"
    "[ca_ext]\n"
    "basicConstraints = critical, CA:TRUE\n"
    "keyUsage = critical, keyCertSign, cRLSign\n"
    "subjectKeyIdentifier = hash\n";

absl::Status Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  absl::StatusOr<std::string> out = RunCommand(args, absl::Seconds(30));
  if (!out.ok()) return Annotate(out.status(), absl::StrCat("openssl ", args[1]));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestPki>> TestPki::Create(const std::string& ca_common_name) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/kdbg-pki-XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoToStatus(errno, "mkdtemp for the test PKI");
  std::string dir = tmpl;
  // Owns the directory from here on, so a failure below still removes it.
  std::unique_ptr<TestPki> pki(new TestPki(dir, CertFiles{}));
  KDBG_RETURN_IF_ERROR(WriteFile(dir + "/openssl.cnf", kReqConfig));
  CertFiles ca{dir + "/ca.crt", dir + "/ca.key", "", ""};
  KDBG_RETURN_IF_ERROR(Openssl({"req", "-config", dir + "/openssl.cnf", "-x509", "-newkey", "ec",
                                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                                ca.key_path, "-out", ca.cert_path, "-days", "3", "-subj",
                                "/CN=" + ca_common_name, "-extensions", "ca_ext"}));
  KDBG_ASSIGN_OR_RETURN(ca.cert_pem, ReadFile(ca.cert_path));
  KDBG_ASSIGN_OR_RETURN(ca.key_pem, ReadFile(ca.key_path));
  pki->ca_ = std::move(ca);
  return pki;
}

TestPki::~TestPki() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

absl::StatusOr<CertFiles> TestPki::Issue(const CertSpec& spec) {
  if (spec.common_name.empty()) return absl::InvalidArgumentError("CertSpec.common_name is empty");
  std::string base = absl::StrCat(dir_, "/", FileStem(spec.common_name), "-", serial_);
  CertFiles out{base + ".crt", base + ".key", "", ""};
  std::string csr = base + ".csr";
  std::string ext = base + ".ext";

  std::vector<std::string> sans;
  for (const auto& d : spec.dns_names) sans.push_back("DNS:" + d);
  for (const auto& i : spec.ips) sans.push_back("IP:" + i);
  for (const auto& u : spec.uris) sans.push_back("URI:" + u);
  std::string ext_text =
      "basicConstraints = critical, CA:FALSE\n"
      "keyUsage = critical, digitalSignature, keyEncipherment\n"
      "extendedKeyUsage = serverAuth, clientAuth\n"
      "authorityKeyIdentifier = keyid\n";
  if (!sans.empty())
    absl::StrAppend(&ext_text, "subjectAltName = ", absl::StrJoin(sans, ","), "\n");
  KDBG_RETURN_IF_ERROR(WriteFile(ext, ext_text));

  KDBG_RETURN_IF_ERROR(Openssl({"req", "-config", dir_ + "/openssl.cnf", "-new", "-newkey", "ec",
                                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                                out.key_path, "-out", csr, "-subj", "/CN=" + spec.common_name}));
  KDBG_RETURN_IF_ERROR(
      Openssl({"x509", "-req", "-in", csr, "-CA", ca_.cert_path, "-CAkey", ca_.key_path,
               "-set_serial", absl::StrCat(1000 + serial_), "-days", absl::StrCat(spec.valid_days),
               "-extfile", ext, "-out", out.cert_path}));
  ++serial_;
  KDBG_ASSIGN_OR_RETURN(out.cert_pem, ReadFile(out.cert_path));
  KDBG_ASSIGN_OR_RETURN(out.key_pem, ReadFile(out.key_path));
  return out;
}

}  // namespace kdbg::testing
