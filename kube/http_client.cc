#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include "kube/http_client.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "httplib.h"
#include "kube/exec_credential.h"
#include "kube/objects_json.h"

namespace kdbg::kube {
namespace {

using nlohmann::json;

struct ServerUrl {
  bool tls = true;
  std::string host;
  int port = 443;
  std::string prefix;  // path prefix without trailing slash, e.g. "/k8s/clusters/c-1"
};

absl::StatusOr<ServerUrl> ParseServer(const std::string& server) {
  ServerUrl u;
  absl::string_view rest = server;
  if (absl::ConsumePrefix(&rest, "https://")) {
    u.tls = true;
    u.port = 443;
  } else if (absl::ConsumePrefix(&rest, "http://")) {
    u.tls = false;
    u.port = 80;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("Kubernetes API server \"", server, "\" must start with https://"));
  }
  size_t slash = rest.find('/');
  absl::string_view hostport = rest.substr(0, slash);
  if (slash != absl::string_view::npos) {
    u.prefix = std::string(rest.substr(slash));
    while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  }
  size_t colon = hostport.rfind(':');
  size_t bracket = hostport.rfind(']');
  if (colon != absl::string_view::npos && (bracket == absl::string_view::npos || colon > bracket)) {
    if (!absl::SimpleAtoi(hostport.substr(colon + 1), &u.port) || u.port <= 0 || u.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port in server \"", server, "\""));
    }
    hostport = hostport.substr(0, colon);
  }
  absl::ConsumePrefix(&hostport, "[");
  absl::ConsumeSuffix(&hostport, "]");
  u.host = std::string(hostport);
  if (u.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no host in server \"", server, "\""));
  }
  return u;
}

// RAII wrappers for the OpenSSL objects handed to httplib (it copies/ups references as needed).
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

absl::StatusOr<std::vector<X509Ptr>> ParseCerts(const std::string& pem, absl::string_view what) {
  std::vector<X509Ptr> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.emplace_back(x);
  BIO_free(bio);
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " holds no PEM certificate"));
  }
  return out;
}

absl::StatusOr<KeyPtr> ParseKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (k == nullptr) return absl::InvalidArgumentError("client key is not a PEM private key");
  return KeyPtr(k);
}

absl::StatusCode CodeForHttp(int http, const std::string& reason) {
  switch (http) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return reason == "AlreadyExists" ? absl::StatusCode::kAlreadyExists
                                       : absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      if (http >= 500) return absl::StatusCode::kUnavailable;
      return absl::StatusCode::kUnknown;
  }
}

bool Retryable(int http) { return http == 429 || http >= 500; }

// Holds one request of `cli` to a deadline for the whole call. httplib bounds each socket read and
// write (set_read_timeout: a server that sends one byte every few seconds resets it every time),
// never a whole response, so a trickling API server could hold a call for ever. Past `deadline`
// this stops the request with ClientImpl::stop(), httplib's thread-safe way to end a request in
// flight (it shuts the socket down; the request fails at its next read or write), repeated every
// 50 ms until the call returns: a stop() that lands between two of the client's requests only
// closes an idle socket. stop() waits on the client's socket mutex, which httplib holds while it
// connects and, over TLS, handshakes: those two steps stay bounded per step by the connection
// timeout only. One thread per call, idle until the deadline (a few tens of microseconds against
// a call's milliseconds). Wall time on purpose: sockets run on real time, whatever the Clock says.
class CallDeadline {
 public:
  CallDeadline(httplib::ClientImpl* cli, absl::Time deadline)
      : thread_([this, cli, deadline] { Watch(cli, deadline); }) {}
  ~CallDeadline() {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    thread_.join();
  }
  CallDeadline(const CallDeadline&) = delete;
  CallDeadline& operator=(const CallDeadline&) = delete;

  // Whether the deadline passed and the request was stopped.
  bool fired() const {
    absl::MutexLock lock(&mu_);
    return fired_;
  }

 private:
  void Watch(httplib::ClientImpl* cli, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    absl::Time next = deadline;
    while (!mu_.AwaitWithDeadline(absl::Condition(&done_), next)) {
      fired_ = true;
      mu_.Unlock();
      cli->stop();
      mu_.Lock();
      next = absl::Now() + absl::Milliseconds(50);
    }
  }

  mutable absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members it reads exist
};

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

struct Response {
  int status = 0;
  std::string body;
  std::string retry_after;
};

class HttpClient final : public Client {
 public:
  HttpClient(RestConfig config, ServerUrl url, Clock* clock)
      : config_(std::move(config)), url_(std::move(url)), clock_(clock) {
    if (config_.exec.has_value()) {
      exec_ = std::make_unique<ExecCredentialProvider>(*config_.exec, config_.server,
                                                       config_.ca_pem, clock_);
    }
  }

  absl::Status Init() {
    if (!config_.ca_pem.empty()) {
      KDBG_ASSIGN_OR_RETURN(auto cas, ParseCerts(config_.ca_pem, "certificate-authority"));
      (void)cas;
    }
    if (!config_.client_cert_pem.empty()) {
      KDBG_RETURN_IF_ERROR(ParseCerts(config_.client_cert_pem, "client certificate").status());
      KDBG_RETURN_IF_ERROR(ParseKey(config_.client_key_pem).status());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Pod> GetPod(const std::string& ns, const std::string& name) override {
    KDBG_ASSIGN_OR_RETURN(
        Response r,
        Call("GET", absl::StrCat("/api/v1/namespaces/", UrlEncode(ns), "/pods/", UrlEncode(name)),
             "", true));
    return ParsePod(r.body);
  }

  absl::StatusOr<Workload> GetWorkload(WorkloadKind kind, const std::string& ns,
                                       const std::string& name) override {
    KDBG_ASSIGN_OR_RETURN(
        Response r, Call("GET", WorkloadPath(kind, UrlEncode(ns), UrlEncode(name)), "", true));
    return ParseWorkload(kind, r.body);
  }

  absl::StatusOr<std::vector<Pod>> ListPods(const std::string& ns, const ListOptions& opts,
                                            std::string* resource_version) override {
    KDBG_ASSIGN_OR_RETURN(Response r, Call("GET", PodsPath(ns, opts, {}), "", true));
    return ParsePodList(r.body, resource_version);
  }

  absl::Status WatchPods(const std::string& ns, const ListOptions& opts,
                         const std::string& resource_version,
                         const std::function<bool(const WatchEvent&)>& on_event) override {
    std::vector<std::pair<std::string, std::string>> extra = {{"watch", "true"},
                                                              {"allowWatchBookmarks", "true"}};
    if (!resource_version.empty()) extra.emplace_back("resourceVersion", resource_version);
    if (opts.timeout_seconds > 0)
      extra.emplace_back("timeoutSeconds", absl::StrCat(opts.timeout_seconds));
    std::string path = PodsPath(ns, opts, extra);
    std::string buffer;
    absl::Status stream_status;
    bool stopped = false;
    auto receiver = [&](const char* data, size_t len) {
      buffer.append(data, len);
      size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        if (absl::StripAsciiWhitespace(line).empty()) continue;
        auto ev = ParseWatchEvent(line);
        if (!ev.ok()) {
          stream_status = Annotate(ev.status(), "watch stream");
          return false;
        }
        if (ev->type == "ERROR") {
          int code = ev->error_code == 0 ? 500 : ev->error_code;
          stream_status = absl::Status(CodeForHttp(code, ""), ev->error_message);
          return false;
        }
        if (ev->type == "BOOKMARK") continue;
        if (!on_event(*ev)) {
          stopped = true;
          return false;
        }
      }
      return true;
    };
    auto r = Stream(path, receiver);
    if (stopped) return absl::OkStatus();
    if (!stream_status.ok()) return stream_status;
    return r;
  }

  absl::StatusOr<UserInfo> ReviewToken(const std::string& token) override {
    json body = {{"apiVersion", "authentication.k8s.io/v1"},
                 {"kind", "TokenReview"},
                 {"spec", {{"token", token}}}};
    KDBG_ASSIGN_OR_RETURN(
        Response r, Call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body.dump(), true));
    return ParseTokenReview(r.body);
  }

  absl::StatusOr<AccessDecision> ReviewAccess(const UserInfo& user,
                                              const ResourceAttributes& a) override {
    json attrs = {{"namespace", a.namespace_}, {"verb", a.verb}, {"group", a.group},
                  {"resource", a.resource},    {"name", a.name}, {"subresource", a.subresource}};
    json spec = {{"resourceAttributes", attrs}, {"user", user.username}, {"groups", user.groups}};
    if (!user.uid.empty()) spec["uid"] = user.uid;
    if (!user.extra.empty()) spec["extra"] = user.extra;
    json body = {
        {"apiVersion", "authorization.k8s.io/v1"}, {"kind", "SubjectAccessReview"}, {"spec", spec}};
    KDBG_ASSIGN_OR_RETURN(
        Response r,
        Call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body.dump(), true));
    return ParseSubjectAccessReview(r.body);
  }

  absl::StatusOr<std::vector<std::string>> ListNamespaces() override {
    KDBG_ASSIGN_OR_RETURN(Response r, Call("GET", "/api/v1/namespaces", "", true));
    KDBG_ASSIGN_OR_RETURN(json list, ParseJson(r.body, "NamespaceList"));
    std::vector<std::string> names;
    if (list.contains("items") && list["items"].is_array()) {
      for (const json& item : list["items"]) {
        if (!item.contains("metadata") || !item["metadata"].is_object()) continue;
        auto name = item["metadata"].find("name");
        if (name != item["metadata"].end() && name->is_string()) names.push_back(*name);
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::Status CreateEvent(const EventSpec& e) override {
    std::string now = Rfc3339(clock_->Now());
    json body = {
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", {{"generateName", e.involved_name + "."}, {"namespace", e.namespace_}}},
        {"involvedObject",
         {{"apiVersion", "v1"},
          {"kind", e.involved_kind},
          {"namespace", e.namespace_},
          {"name", e.involved_name},
          {"uid", e.involved_uid}}},
        {"reason", e.reason},
        {"message", e.message},
        {"type", e.type},
        {"source", {{"component", e.component}}},
        {"reportingComponent", e.component},
        {"firstTimestamp", now},
        {"lastTimestamp", now},
        {"count", 1}};
    return Call("POST", absl::StrCat("/api/v1/namespaces/", UrlEncode(e.namespace_), "/events"),
                body.dump(), false)
        .status();
  }

 private:
  std::string PodsPath(const std::string& ns, const ListOptions& opts,
                       const std::vector<std::pair<std::string, std::string>>& extra) {
    std::string path =
        ns.empty() ? "/api/v1/pods" : absl::StrCat("/api/v1/namespaces/", UrlEncode(ns), "/pods");
    std::vector<std::pair<std::string, std::string>> q;
    if (!opts.label_selector.empty()) q.emplace_back("labelSelector", opts.label_selector);
    if (!opts.field_selector.empty()) q.emplace_back("fieldSelector", opts.field_selector);
    q.insert(q.end(), extra.begin(), extra.end());
    char sep = '?';
    for (const auto& [k, v] : q) {
      absl::StrAppend(&path, std::string(1, sep), k, "=", UrlEncode(v));
      sep = '&';
    }
    return path;
  }

  struct Credentials {
    std::string token;
    std::string cert_pem;
    std::string key_pem;
  };

  absl::StatusOr<Credentials> GetCredentials() {
    Credentials c{config_.bearer_token, config_.client_cert_pem, config_.client_key_pem};
    if (c.token.empty() && !config_.token_file.empty()) {
      std::ifstream in(config_.token_file);
      if (!in) {
        return absl::UnauthenticatedError(
            absl::StrCat("cannot read token file ", config_.token_file));
      }
      std::stringstream ss;
      ss << in.rdbuf();
      c.token = std::string(absl::StripAsciiWhitespace(ss.str()));
    }
    if (c.token.empty() && c.cert_pem.empty() && exec_ != nullptr) {
      KDBG_ASSIGN_OR_RETURN(ExecCredential e, exec_->Get());
      c.token = e.token;
      c.cert_pem = e.client_cert_pem;
      c.key_pem = e.client_key_pem;
    }
    return c;
  }

  // A connection configured for `creds`; pooled by client certificate.
  absl::StatusOr<std::unique_ptr<httplib::ClientImpl>> Acquire(const Credentials& creds,
                                                               absl::Duration read_timeout) {
    {
      absl::MutexLock lock(&pool_mu_);
      if (pool_cert_ != creds.cert_pem) {
        pool_.clear();
        pool_cert_ = creds.cert_pem;
      }
      if (!pool_.empty()) {
        auto c = std::move(pool_.back());
        pool_.pop_back();
        SetTimeouts(c.get(), read_timeout);
        return c;
      }
    }
    std::unique_ptr<httplib::ClientImpl> cli;
    if (url_.tls) {
      std::unique_ptr<httplib::SSLClient> ssl;
      if (!creds.cert_pem.empty()) {
        KDBG_ASSIGN_OR_RETURN(auto certs, ParseCerts(creds.cert_pem, "client certificate"));
        KDBG_ASSIGN_OR_RETURN(KeyPtr key, ParseKey(creds.key_pem));
        ssl = std::make_unique<httplib::SSLClient>(url_.host, url_.port, certs[0].get(), key.get());
      } else {
        ssl = std::make_unique<httplib::SSLClient>(url_.host, url_.port);
      }
      if (config_.insecure_skip_tls_verify) {
        ssl->enable_server_certificate_verification(false);
      } else {
        ssl->enable_server_certificate_verification(true);
        if (!config_.ca_pem.empty()) {
          KDBG_ASSIGN_OR_RETURN(auto cas, ParseCerts(config_.ca_pem, "certificate-authority"));
          X509_STORE* store = X509_STORE_new();
          for (const auto& ca : cas) X509_STORE_add_cert(store, ca.get());
          ssl->set_ca_cert_store(store);  // owned by the SSL context from here on
          // Trust the kubeconfig's CA only, as kubectl does. Without a CA path httplib's
          // load_certs() also adds the system bundle (SSL_CTX_set_default_verify_paths) to this
          // store: every public CA trusted for the API server, and ~25 ms of CPU per client
          // (OpenSSL 3 parsing ~140 PEM certificates; 60% of `kdbg trace`'s CPU before it calls
          // the controller). An issuer directory that does not exist adds nothing.
          ssl->set_ca_cert_path("", "/nonexistent/kdbg-kubeconfig-ca-only");
        }
      }
      cli = std::move(ssl);
    } else {
      cli = std::make_unique<httplib::ClientImpl>(url_.host, url_.port);
    }
    cli->set_keep_alive(true);
    // httplib writes a request's headers and body separately; with Nagle on, the body waits for
    // the server's delayed ACK (40 ms here) on every POST (TokenReview, SubjectAccessReview).
    cli->set_tcp_nodelay(true);
    SetTimeouts(cli.get(), read_timeout);
    return cli;
  }

  void SetTimeouts(httplib::ClientImpl* c, absl::Duration read_timeout) {
    auto split = [](absl::Duration d, time_t* sec, time_t* usec) {
      int64_t us = absl::ToInt64Microseconds(d);
      *sec = us / 1000000;
      *usec = us % 1000000;
    };
    time_t s, us;
    split(std::min(config_.timeout, absl::Seconds(10)), &s, &us);
    c->set_connection_timeout(s, us);
    split(read_timeout, &s, &us);
    c->set_read_timeout(s, us);
    split(config_.timeout, &s, &us);
    c->set_write_timeout(s, us);
  }

  void Release(std::unique_ptr<httplib::ClientImpl> c, const Credentials& creds) {
    absl::MutexLock lock(&pool_mu_);
    if (pool_cert_ == creds.cert_pem && pool_.size() < 4) pool_.push_back(std::move(c));
  }

  httplib::Headers HeadersFor(const Credentials& creds) {
    httplib::Headers h = {{"Accept", "application/json"}, {"User-Agent", "kdbg/" KDBG_VERSION}};
    if (!creds.token.empty()) h.emplace("Authorization", "Bearer " + creds.token);
    return h;
  }

  absl::Status DeadlineError() const {
    return absl::DeadlineExceededError(absl::StrCat("Kubernetes API at ", config_.server,
                                                    " did not answer within ",
                                                    absl::FormatDuration(config_.timeout)));
  }

  // `started` is wall time on purpose: socket timeouts run on real time, whatever clock_ says.
  absl::Status TransportError(httplib::Error err, absl::Time started) {
    if (absl::Now() - started >= config_.timeout) return DeadlineError();
    if (err == httplib::Error::SSLServerVerification) {
      return absl::UnavailableError(absl::StrCat(
          "TLS verification of the Kubernetes API at ", config_.server,
          " failed: its certificate is not signed by the cluster's certificate-authority or does "
          "not name host ",
          url_.host));
    }
    return absl::UnavailableError(absl::StrCat("cannot reach the Kubernetes API at ",
                                               config_.server, ": ", httplib::to_string(err)));
  }

  // One request with retries (when `retry`) and one credential refresh after a 401, all within
  // config_.timeout of wall time from the first attempt (CallDeadline), however the server paces
  // its bytes.
  absl::StatusOr<Response> Call(const std::string& method, const std::string& path,
                                const std::string& body, bool retry) {
    const int max_attempts = retry ? 3 : 1;
    const absl::Time deadline = absl::Now() + config_.timeout;
    bool refreshed = false;
    absl::Status last;
    for (int attempt = 0; attempt < max_attempts; ++attempt) {
      if (attempt > 0) {
        absl::Duration backoff = absl::Milliseconds(100) * (1 << (attempt - 1));
        clock_->SleepFor(backoff);
      }
      if (absl::Now() >= deadline) {
        absl::Status out = DeadlineError();
        if (!last.ok())
          out =
              absl::DeadlineExceededError(absl::StrCat(out.message(), "; last: ", last.message()));
        return out;
      }
      KDBG_ASSIGN_OR_RETURN(Credentials creds, GetCredentials());
      KDBG_ASSIGN_OR_RETURN(auto cli, Acquire(creds, config_.timeout));
      absl::Time started = absl::Now();
      httplib::Result res{nullptr, httplib::Error::Unknown};
      bool stopped = false;
      {
        CallDeadline watch(cli.get(), deadline);
        res = method == "GET"
                  ? cli->Get(url_.prefix + path, HeadersFor(creds))
                  : cli->Post(url_.prefix + path, HeadersFor(creds), body, "application/json");
        stopped = watch.fired();
      }
      if (!res) {
        if (stopped) return DeadlineError();
        last = TransportError(res.error(), started);
        if (last.code() == absl::StatusCode::kDeadlineExceeded) return last;
        continue;
      }
      Response r{res->status, res->body, res->get_header_value("Retry-After")};
      if (!stopped) Release(std::move(cli), creds);  // a stopped client's socket is shut
      if (r.status >= 200 && r.status < 300) return r;
      absl::Status s = StatusFromResponse(r.status, r.body);
      if (r.status == 401 && exec_ != nullptr && !refreshed) {
        exec_->Invalidate();
        refreshed = true;
        --attempt;  // a fresh credential does not count as a retry
        continue;
      }
      if (!Retryable(r.status)) return s;
      last = s;
      int retry_after = 0;
      if (r.status == 429 && absl::SimpleAtoi(r.retry_after, &retry_after) && retry_after > 0 &&
          attempt + 1 < max_attempts) {
        clock_->SleepFor(std::min(absl::Seconds(retry_after), absl::Seconds(2)));
      }
    }
    return last;
  }

  absl::Status Stream(const std::string& path,
                      const std::function<bool(const char*, size_t)>& receiver) {
    KDBG_ASSIGN_OR_RETURN(Credentials creds, GetCredentials());
    // A watch may stay quiet for long; the server closes it after its own timeout.
    KDBG_ASSIGN_OR_RETURN(auto cli, Acquire(creds, std::max(config_.timeout, absl::Minutes(10))));
    int http_status = 0;
    std::string error_body;
    absl::Time started = absl::Now();
    auto res = cli->Get(
        url_.prefix + path, HeadersFor(creds),
        [&](const httplib::Response& resp) {
          http_status = resp.status;
          return true;
        },
        [&](const char* data, size_t len) {
          if (http_status < 200 || http_status >= 300) {
            error_body.append(data, len);
            return true;
          }
          return receiver(data, len);
        });
    if (http_status != 0 && (http_status < 200 || http_status >= 300)) {
      return StatusFromResponse(http_status, error_body);
    }
    if (!res) {
      if (res.error() == httplib::Error::Canceled) return absl::OkStatus();  // receiver stopped
      return TransportError(res.error(), started);
    }
    return absl::OkStatus();  // the server ended the stream
  }

  const RestConfig config_;
  const ServerUrl url_;
  Clock* const clock_;
  std::unique_ptr<ExecCredentialProvider> exec_;
  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<httplib::ClientImpl>> pool_ ABSL_GUARDED_BY(pool_mu_);
  std::string pool_cert_ ABSL_GUARDED_BY(pool_mu_);
};

// Returned for a configuration that cannot work: every call reports why.
class BrokenClient final : public Client {
 public:
  explicit BrokenClient(absl::Status s) : s_(std::move(s)) {}
  absl::StatusOr<Pod> GetPod(const std::string&, const std::string&) override { return s_; }
  absl::StatusOr<Workload> GetWorkload(WorkloadKind, const std::string&,
                                       const std::string&) override {
    return s_;
  }
  absl::StatusOr<std::vector<Pod>> ListPods(const std::string&, const ListOptions&,
                                            std::string*) override {
    return s_;
  }
  absl::Status WatchPods(const std::string&, const ListOptions&, const std::string&,
                         const std::function<bool(const WatchEvent&)>&) override {
    return s_;
  }
  absl::StatusOr<UserInfo> ReviewToken(const std::string&) override { return s_; }
  absl::StatusOr<AccessDecision> ReviewAccess(const UserInfo&, const ResourceAttributes&) override {
    return s_;
  }
  absl::Status CreateEvent(const EventSpec&) override { return s_; }

 private:
  absl::Status s_;
};

}  // namespace

std::string UrlEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

absl::Status StatusFromResponse(int http_status, const std::string& body) {
  std::string message;
  std::string reason;
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    if (auto it = j.find("message"); it != j.end() && it->is_string()) message = *it;
    if (auto it = j.find("reason"); it != j.end() && it->is_string()) reason = *it;
  }
  if (message.empty()) {
    std::string snippet(absl::StripAsciiWhitespace(body).substr(0, 200));
    message = absl::StrCat("the Kubernetes API answered HTTP ", http_status,
                           snippet.empty() ? "" : ": ", snippet);
  }
  return absl::Status(CodeForHttp(http_status, reason), message);
}

absl::StatusOr<std::unique_ptr<Client>> NewHttpClientOrError(RestConfig config, Clock* clock) {
  KDBG_ASSIGN_OR_RETURN(ServerUrl url, ParseServer(config.server));
  auto client = std::make_unique<HttpClient>(std::move(config), std::move(url), clock);
  KDBG_RETURN_IF_ERROR(client->Init());
  return std::unique_ptr<Client>(std::move(client));
}

std::unique_ptr<Client> NewHttpClient(RestConfig config, Clock* clock) {
  auto c = NewHttpClientOrError(std::move(config), clock);
  if (!c.ok()) return std::make_unique<BrokenClient>(c.status());
  return std::move(*c);
}

}  // namespace kdbg::kube
