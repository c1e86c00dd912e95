// Stand-in for kube_cluster.cc while the kube library's kubeconfig loader (kube/rest_config.h) is
// not in the tree: every command that needs the cluster says so.
#include "cli/cluster.h"

namespace kdbg::cli {

absl::StatusOr<std::unique_ptr<Cluster>> OpenCluster(const ClusterOptions&) {
  return absl::UnimplementedError(
      "this kdbg was built without the kubeconfig loader (kube/rest_config.h); rebuild it");
}

}  // namespace kdbg::cli
