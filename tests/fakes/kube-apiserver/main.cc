// kube-apiserver-stub: a small HTTPS stand-in for the Kubernetes API (see README.md).
//   kube-apiserver-stub --config stub.yaml --tls-cert server.crt --tls-key server.key
//                       [--listen 127.0.0.1:0] [--port-file FILE]
// Prints "kube-apiserver-stub listening on https://HOST:PORT" once it accepts connections; with
// port 0 the chosen port is also written to --port-file (atomically). Stops on SIGTERM/SIGINT.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "tests/fakes/kube-apiserver/api_stub.h"

namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "kube-apiserver-stub: %s\n", msg.c_str());
  return 1;
}

int Main(int argc, char** argv) {
  CLI::App app{"Kubernetes API stub for kdbg tests and the sandbox"};
  std::string config_path, cert, key, listen = "127.0.0.1:0", port_file;
  app.add_option("--config", config_path, "YAML or JSON config (README.md)")->required();
  app.add_option("--tls-cert", cert, "server certificate (PEM)")->required();
  app.add_option("--tls-key", key, "server private key (PEM)")->required();
  app.add_option("--listen", listen, "HOST:PORT; port 0 picks a free port");
  app.add_option("--port-file", port_file, "write the chosen port here");
  CLI11_PARSE(app, argc, argv);

  auto config = kdbg::kube::stub::LoadStubConfig(config_path);
  if (!config.ok()) return Fail(std::string(config.status().message()));
  size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port)) {
    return Fail("--listen must be HOST:PORT");
  }
  std::string host = listen.substr(0, colon);

  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  kdbg::kube::stub::PodStore store(config->pods_dir);
  store.Rescan();
  kdbg::kube::stub::ApiStub stub(*config, &store);
  httplib::SSLServer server(cert.c_str(), key.c_str());
  server.set_tcp_nodelay(true);  // as a real API server answers: no 40 ms delayed-ACK stalls
  if (!server.is_valid()) return Fail("cannot load --tls-cert/--tls-key");
  // Watches hold a thread each for their whole life.
  server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  stub.Register(server);

  int bound =
      port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return Fail(absl::StrCat("cannot listen on ", listen));
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << bound << "\n";
    if (std::rename(tmp.c_str(), port_file.c_str()) != 0) return Fail("cannot write --port-file");
  }
  std::printf("kube-apiserver-stub listening on https://%s:%d\n", host.c_str(), bound);
  std::fflush(stdout);

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    stub.Shutdown();
    server.stop();
  });
  waiter.detach();
  bool ok = server.listen_after_bind();
  return ok ? 0 : Fail("server stopped with an error");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {  // CLI11, std::thread: nothing else throws here
    return Fail(e.what());
  }
}
