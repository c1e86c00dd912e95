#include "common/thread_name.h"

#include <pthread.h>

#include <string>

namespace kdbg {

void SetCurrentThreadName(absl::string_view name) {
  std::string cut(name.substr(0, 15));  // TASK_COMM_LEN (16) with its NUL
  (void)::pthread_setname_np(::pthread_self(), cut.c_str());
}

}  // namespace kdbg
