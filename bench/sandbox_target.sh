# Sourced by bench/run and bench/experiments/*: the sandbox's default/hello-world pod (Go 1.26,
# optimized), the target of every benchmark. After `. "$KDBG_SANDBOX_DIR/env"` (HELLO_URL), call
# sandbox_target DIR; it sets
#   TARGET_CID      the container's ID (status.containerStatuses[0].containerID of the pod file the
#                   sandbox wrote, "containerd://ID")
#   TARGET_PID      its host PID, from `ctr task ls` ("TASK PID STATUS" rows) of the sandbox's
#                   containerd
#   TARGET_PORT     the port its HELLO_URL names (http://127.0.0.1:PORT/)
#   TARGET_NODE     spec.nodeName
#   AGENT_PID       the PID of that node's agent, CONTROLLER_PID the controller's
# and returns 1 (with a message) when the container has no running task.
sandbox_target() {
  local dir=$1
  local pod=$dir/pods/default.hello-world.json
  read -r TARGET_CID TARGET_NODE < <(python3 -c 'import json,sys
p=json.load(open(sys.argv[1]))
print(p["status"]["containerStatuses"][0]["containerID"].split("://",1)[1], p["spec"]["nodeName"])' "$pod")
  TARGET_PID=$(ctr --address "$dir/containerd/containerd.sock" -n k8s.io task ls |
    awk -v id="$TARGET_CID" '$1 == id {print $2}')
  if [[ -z $TARGET_PID ]]; then
    echo "no running task for container $TARGET_CID of default/hello-world" >&2
    return 1
  fi
  TARGET_PORT=${HELLO_URL#http://127.0.0.1:}
  TARGET_PORT=${TARGET_PORT%/}
  AGENT_PID=$(cat "$dir/pids/agent-$TARGET_NODE.pid")
  CONTROLLER_PID=$(cat "$dir/pids/controller.pid")
}
