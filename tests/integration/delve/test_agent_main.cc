// A stand-in for kdbg-agent in the recovery test: starts one trace session on --pid with
// --work-dir and the Delve at --dlv, prints "armed" and then waits to be killed (the test SIGKILLs
// it).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "agent/delve/delve_engine.h"
#include "tests/support/resolved_target.h"

int main(int argc, char** argv) {
  pid_t pid = 0;
  std::string work_dir;
  std::string dlv = "dlv";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--pid") == 0) pid = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--work-dir") == 0) work_dir = argv[i + 1];
    if (std::strcmp(argv[i], "--dlv") == 0) dlv = argv[i + 1];
  }
  kdbg::delve::DelveOptions o;
  o.dlv_path = dlv;
  o.work_dir = work_dir;
  auto factory = kdbg::delve::NewDelveSessionFactory(o);
  kdbg::agent::TraceSpec spec;
  spec.session_id = "orphan1";
  if (absl::Status s = kdbg::testing::ResolveInto(pid, &spec); !s.ok()) {
    std::printf("error %s\n", std::string(s.message()).c_str());
    return 1;
  }
  spec.script = "trace handleSlash main.go:10\non handleSlash print r.RemoteAddr\ncontinue\n";
  auto session = factory->StartTrace(spec, [](const kdbg::v1::Event&) {});
  if (!session.ok()) {
    std::printf("error %s\n", std::string(session.status().message()).c_str());
    return 1;
  }
  std::printf("armed\n");
  std::fflush(stdout);
  for (;;) ::pause();
}
