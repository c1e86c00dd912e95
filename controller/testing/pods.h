// Pods for controller tests: a running target pod and agent pods, built in code.
#pragma once

#include <string>

#include "kube/objects.h"

namespace kdbg::controller::testing {

inline kube::Pod RunningPod(const std::string& ns, const std::string& name, const std::string& node,
                            const std::string& container = "app") {
  kube::Pod p;
  p.namespace_ = ns;
  p.name = name;
  p.uid = "uid-" + name;
  p.node_name = node;
  p.phase = "Running";
  p.pod_ip = "10.0.0.9";
  p.host_ip = "192.168.0.1";
  p.containers.push_back({container, "example/" + container});
  kube::ContainerStatus s;
  s.name = container;
  s.container_id = "containerd://" + std::string(64, 'a');
  s.state = "running";
  s.ready = true;
  p.container_statuses.push_back(s);
  p.conditions.push_back({"Ready", "True"});
  return p;
}

inline kube::Pod AgentPod(const std::string& node, const std::string& ip,
                          const std::string& ns = "kdbg-system", bool ready = true) {
  kube::Pod p = RunningPod(ns, "kdbg-agent-" + node, node, "agent");
  p.labels["app.kubernetes.io/name"] = "kdbg-agent";
  p.pod_ip = ip;
  p.host_ip = ip;
  if (!ready) p.conditions = {{"Ready", "False"}};
  return p;
}

}  // namespace kdbg::controller::testing
