// kdbg_ebpf_test_tracer PID SCRIPT_FILE SECONDS: runs one eBPF trace session on PID and prints
// every event as one JSON line on stdout for SECONDS (or until killed). The SIGKILL test kills it
// while probes are armed, as the kernel would see an agent killed outright.
// kdbg_ebpf_test_tracer --self-test: prints "ok" or the error of kdbg::ebpf::SelfTest() (what the
// agent reports as eBPF availability), exit 0 / 1; the capability tests run it under setpriv.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/ebpf/bpf_probes.h"
#include "agent/ebpf/ebpf_session.h"
#include "google/protobuf/util/json_util.h"

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--self-test") {
    absl::Status s = kdbg::ebpf::SelfTest();
    std::printf("%s\n", s.ok() ? "ok" : s.ToString().c_str());
    return s.ok() ? 0 : 1;
  }
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s PID SCRIPT_FILE SECONDS\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[2]);
  std::stringstream text;
  text << in.rdbuf();
  kdbg::agent::TraceSpec spec;
  spec.session_id = "tracer";
  spec.pid = std::atoi(argv[1]);
  spec.script = text.str();
  spec.script_name = argv[2];
  auto factory = kdbg::ebpf::NewEbpfSessionFactory({});
  auto session = factory->StartTrace(spec, [](const kdbg::v1::Event& e) {
    std::string line;
    (void)google::protobuf::util::MessageToJsonString(e, &line);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  if (!session.ok()) {
    std::fprintf(stderr, "%s\n", std::string(session.status().message()).c_str());
    return 1;
  }
  ::sleep(static_cast<unsigned>(std::atoi(argv[3])));
  (*session)->RequestEnd(kdbg::v1::END_REASON_CLIENT_STOP);
  (void)(*session)->Wait(absl::Seconds(10));
  return 0;
}
