#!/usr/bin/env bash
# Static checks of deploy/images/*.Dockerfile (no Docker engine here to build them):
# Debian 12 bases, only known instructions, the CMake targets they build exist, every apt package
# they install exists in Debian 12, the agent image bundles the Delve builds of scripts/delve (not
# Debian's delve 1.20, which cannot read Go >= 1.25 binaries) and notes the Go version caveat,
# entrypoints and users are what the manifests expect.
set -euo pipefail
SRC=${1:?usage: check-dockerfiles.sh SOURCE_DIR}
D=$SRC/deploy/images
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ -f $D/agent.Dockerfile && -f $D/controller.Dockerfile ]] || fail "agent.Dockerfile and controller.Dockerfile must exist"
known=$(mktemp); trap 'rm -f "$known"' EXIT
apt-cache pkgnames | sort -u >"$known"
grep -qx debianutils "$known" || fail "apt-cache knows no packages: run apt-get update (scripts/deps)"

for f in "$D"/*.Dockerfile; do
  name=$(basename "$f")
  # Join continuation lines, drop comments.
  text=$(sed -e '/^[[:space:]]*#/d' "$f" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta')
  while read -r instr _; do
    [[ -z $instr ]] && continue
    case ${instr^^} in
      FROM|RUN|COPY|WORKDIR|USER|EXPOSE|ENTRYPOINT|CMD|ENV|ARG|LABEL) ;;
      *) fail "$name: unknown instruction $instr" ;;
    esac
  done <<<"$text"
  grep -E '^FROM ' <<<"$text" | while read -r _ image _; do
    [[ $image == debian:12 || $image == debian:12-slim ]] || fail "$name: base $image is not Debian 12"
  done
  # Targets built must exist in the CMake tree.
  for t in $(grep -oE -- '--target [A-Za-z0-9_-]+' <<<"$text" | awk '{print $2}'); do
    grep -rqE "add_executable\($t[ )]" --include=CMakeLists.txt "$SRC" || fail "$name: CMake target $t does not exist"
  done
  # Every apt package named exists in Debian 12.
  pkgs=$(grep -oE 'apt-get install [^&]*' <<<"$text" | sed -E 's/apt-get install//; s/\$\([^)]*\)//g' \
    | tr ' ' '\n' | grep -vE '^(-|$)' || true)
  [[ -n $pkgs ]] || fail "$name: installs no apt packages"
  for p in $pkgs; do
    grep -qxF -- "$p" "$known" || fail "$name: apt package $p does not exist in Debian 12"
  done
  grep -qE '^ENTRYPOINT \["/usr/bin/kdbg-(agent|controller)"\]' <<<"$text" || fail "$name: ENTRYPOINT must be the kdbg binary"
  echo "OK $name: $(grep -c '^FROM' <<<"$text") stages, packages checked: $(wc -w <<<"$pkgs")"
done
text=$(sed -e '/^[[:space:]]*#/d' "$D/agent.Dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta')
grep -qE 'apt-get install .* delve( |$)' <<<"$text" && fail "agent.Dockerfile must not install Debian's delve (1.20: Go <= 1.20)"
grep -qE '^COPY \.kdbg-image/delve /usr/lib/kdbg/delve$' <<<"$text" ||
  fail "agent.Dockerfile must install the scripts/delve builds under /usr/lib/kdbg/delve"
grep -q 'KDBG_CACHE_DIR=$PWD/.kdbg-image scripts/delve' "$D/agent.Dockerfile" ||
  fail "agent.Dockerfile must say how the Delve builds get into the context"
grep -qi 'Delve new enough' "$D/agent.Dockerfile" || fail "agent.Dockerfile must note the Delve/Go version caveat"
grep -q '^USER 65532:65532' "$D/controller.Dockerfile" || fail "controller image must run as 65532 like its Deployment"
grep -q 'kdbg-agent' "$D/agent.Dockerfile" && grep -q '/usr/bin/kdbg-agent' "$D/agent.Dockerfile" || fail "agent binary path"
# The CMake build puts the binaries where the Dockerfiles copy them from.
grep -q 'add_executable(kdbg-agent' "$SRC/agent/CMakeLists.txt" || fail "kdbg-agent is not built in agent/"
grep -q 'add_executable(kdbg-controller' "$SRC/controller/CMakeLists.txt" || fail "kdbg-controller is not built in controller/"
echo "OK Dockerfiles"
