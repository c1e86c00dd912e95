#include "tests/support/go_target.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "tests/support/http_probe.h"
#include "tests/support/test_env.h"

namespace kdbg::testing {

absl::StatusOr<std::unique_ptr<GoTarget>> GoTarget::Start(const std::string& name) {
  int port = FreePort();
  SpawnOptions o;
  o.argv = {TargetPath(name)};
  o.extra_env = {absl::StrCat("HELLO_ADDR=127.0.0.1:", port)};
  o.destroy_grace = absl::Seconds(2);
  KDBG_ASSIGN_OR_RETURN(auto child, ChildProcess::Spawn(o));
  KDBG_RETURN_IF_ERROR(WaitForHttp("127.0.0.1", port, absl::Seconds(10)));
  return std::unique_ptr<GoTarget>(new GoTarget(std::move(child), port));
}

}  // namespace kdbg::testing
