// Fuzz target: what the Kubernetes API server answers, as kube/ parses it (kube/objects.h,
// kube/http_client.h): Pod, PodList, one watch event line, a Status error body, TokenReview and
// SubjectAccessReview responses. Every parser sees every input.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "kube/containers.h"
#include "kube/http_client.h"
#include "kube/objects.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kdbg::kube;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto pod = ParsePod(text); pod.ok()) {
    (void)pod->Ready();
    (void)SelectContainer(*pod, "");
    if (!pod->containers.empty()) (void)SelectContainer(*pod, pod->containers[0].name);
  }
  std::string rv;
  (void)ParsePodList(text, &rv);
  (void)ParseWatchEvent(text);
  (void)ParseTokenReview(text);
  (void)ParseSubjectAccessReview(text);
  std::string body(text);
  for (int code : {403, 410}) {  // each parses the body: two codes keep large inputs fast
    if (StatusFromResponse(code, body).ok()) std::abort();  // an error code is never OK
  }
  return 0;
}
