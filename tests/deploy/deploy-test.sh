#!/usr/bin/env bash
# Deploy tests: image files, plain manifests, Helm chart, certificates. ctest runs one case per call:
#   tests/deploy/deploy-test.sh CASE        (env KDBG_SOURCE_DIR, KDBG_BINARY_DIR; defaults: this repo, build-deploy)
# Cases: setup, manifests, in-sync, chart-default, chart-custom, chart-required, rejects, certs,
#        kubectl-dry-run, dockerfiles, defaults; `regenerate` rewrites deploy/manifests/*.yaml from the chart.
# Tools are cached under $KDBG_BINARY_DIR/deploy-test: node_modules (npm, pinned by package-lock.json;
# reinstalled only when the lock changes) and the chart renderer (Go, from Debian's /usr/share/gocode).
set -euo pipefail

SRC=${KDBG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${KDBG_BINARY_DIR:-$SRC/build-deploy}
T=$BIN/deploy-test
HERE=$SRC/tests/deploy
RENDER=$T/kdbg-chart-render
CHART=$SRC/charts/kdbg
fail() { echo "FAIL: $*" >&2; exit 1; }

setup() {
  mkdir -p "$T/npm" "$T/gopath/src/kdbg-chart-render"
  # npm: install once per lock file; later runs need no network.
  if ! cmp -s "$HERE/package-lock.json" "$T/npm/package-lock.json.installed" || [[ ! -d $T/npm/node_modules/kubernetes-models ]]; then
    cp "$HERE/package.json" "$HERE/package-lock.json" "$T/npm/"
    (cd "$T/npm" && npm ci --no-audit --no-fund --loglevel=error --cache "$T/npm-cache") \
      || fail "npm ci of tests/deploy/package.json failed (needs the npm registry once)"
    cp "$HERE/package-lock.json" "$T/npm/package-lock.json.installed"
  fi
  # Go, GOPATH mode over Debian's packages (golang-github-masterminds-sprig-dev,
  # golang-k8s-sigs-yaml-dev); the go.mod next to the source lets GOPATH mode resolve sprig/v3.
  rm -f "$T/gopath/src/kdbg-chart-render/"*.go
  cp "$HERE/render/"*.go "$HERE/render/go.mod" "$T/gopath/src/kdbg-chart-render/"
  (cd "$T/gopath/src/kdbg-chart-render" && GO111MODULE=off GOFLAGS= GOPATH="$T/gopath:/usr/share/gocode" \
    GOCACHE="$T/gocache" go build -o "$RENDER" .) \
    || fail "building the chart renderer failed: scripts/deps installs golang-github-masterminds-sprig-dev and golang-k8s-sigs-yaml-dev"
  echo "setup: renderer and validator ready in $T"
}

need_tools() { [[ -x $RENDER && -d $T/npm/node_modules/kubernetes-models ]] || fail "run the setup case first (ctest fixture deploy.setup)"; }

# validate OUT-NAME [validate.mjs options] -- YAML FILES...
validate() {
  local name=$1; shift
  local opts=()
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  "$RENDER" tojson "$@" >"$T/$name.json" || fail "YAML of $* does not parse"
  node "$HERE/validate.mjs" --modules "$T/npm/node_modules" --objects "$T/$name.json" "${opts[@]}"
}

render() { "$RENDER" template --chart "$CHART" --name kdbg --namespace kdbg-system "$@"; }

# The plain manifests are the chart rendered with deploy/manifests/values.yaml (namespace included,
# labels managed-by kubectl); cert-manager.yaml is the certificate template with cert-manager on.
regenerate_to() {
  local dir=$1 hdr="# Generated from charts/kdbg by tests/deploy/deploy-test.sh regenerate; do not edit."
  { echo "$hdr"; render --release-service kubectl -f "$SRC/deploy/manifests/values.yaml"; } >"$dir/kdbg.yaml"
  { echo "$hdr"; render --release-service kubectl -f "$SRC/deploy/manifests/values.yaml" \
      --set certificates.certManager.enabled=true --show-only templates/certificates.yaml; } >"$dir/cert-manager.yaml"
}

case ${1:-} in
  setup) setup ;;
  regenerate) need_tools; regenerate_to "$SRC/deploy/manifests"; echo "regenerated deploy/manifests" ;;
  in-sync)
    need_tools
    mkdir -p "$T/regen"; regenerate_to "$T/regen"
    for f in kdbg.yaml cert-manager.yaml; do
      diff -u "$SRC/deploy/manifests/$f" "$T/regen/$f" \
        || fail "deploy/manifests/$f differs from the chart: run tests/deploy/deploy-test.sh regenerate"
    done
    echo "OK deploy/manifests match the chart" ;;
  manifests)
    need_tools
    mapfile -t files < <(find "$SRC/deploy" -name '*.yaml' -not -name values.yaml -not -path '*/krew/*' | sort)  # krew/: a plugin manifest, tests/unit/krew
    ((${#files[@]} >= 3)) || fail "expected YAML files under deploy/, found ${#files[@]}"
    validate all-deploy -- "${files[@]}"                     # every object of every file: schema
    validate plain --checks kdbg --expect "$HERE/testdata/expect-plain.json" -- \
      "$SRC/deploy/manifests/kdbg.yaml" "$SRC/deploy/manifests/cert-manager.yaml"
    # The policy keys shipped are ones the controller knows (its parser refuses unknown keys).
    known=$(sed -n '/kKnown\[\] *=/,/};/p' "$SRC/controller/policy.cc" | grep -oE '"[A-Za-z_]+"' | tr -d '"')
    [[ -n $known ]] || fail "cannot find the known policy keys (kKnown) in controller/policy.cc"
    for k in $(node -e 'const e = JSON.parse(require("fs").readFileSync(process.argv[1])).find((e) => e.object.metadata.name === "kdbg-policy");
                       console.log(Object.keys(e.embedded["policy.yaml"]).join(" "))' "$T/plain.json"); do
      grep -qx -- "$k" <<<"$known" || fail "policy key $k is not one controller/policy.cc knows: $(echo $known)"
    done
    echo "OK policy keys are the controller's" ;;
  chart-default)
    need_tools
    render >"$T/chart-default.yaml"
    validate chart-default --checks kdbg -- "$T/chart-default.yaml" ;;
  defaults)
    # The chart as installed with its default values, checked against the binaries' defaults
    # (common/defaults.h through each binary's own parsers; tests/unit/defaults).
    need_tools
    check=$BIN/tests/unit/defaults/kdbg_check_defaults
    [[ -x $check ]] || fail "$check is not built (cmake --build build --target kdbg_check_defaults)"
    render --set certificates.certManager.enabled=true >"$T/chart-defaults.yaml"
    "$check" "$T/chart-defaults.yaml" ;;
  chart-custom)
    need_tools
    render -f "$HERE/testdata/values-custom.yaml" --set images.agent.tag=1.2.3-debug \
      --set 'agent.nodeSelector.node-role\.example\.com/debug=true' >"$T/chart-custom.yaml"
    validate chart-custom --checks kdbg --expect "$HERE/testdata/expect-custom.json" -- "$T/chart-custom.yaml" ;;
  chart-required)
    need_tools
    if out=$(render --set images.agent.repository= 2>&1); then fail "rendering without an agent image succeeded"; fi
    grep -q "images.\*.repository is required" <<<"$out" || fail "unexpected error: $out"
    echo "OK an empty image repository is refused: $out" ;;
  rejects)
    # Every broken object must be refused, each for the reason its first line names.
    need_tools
    n=0
    for f in "$HERE"/testdata/broken/*.yaml; do
      want=$(sed -n '1s/^# expect: //p' "$f"); checks=$(sed -n '2s/^# checks: //p' "$f")
      [[ -n $want ]] || fail "$f: first line must be '# expect: <message part>'"
      if [[ -n $checks ]]; then
        # A whole default install with one object replaced by the broken one.
        render >"$T/base.yaml"
        "$RENDER" tojson "$T/base.yaml" >"$T/base.json"
        "$RENDER" tojson "$f" >"$T/broken-one.json"
        node -e '
          const fs = require("fs"); const [base, one, out] = process.argv.slice(1);
          const b = JSON.parse(fs.readFileSync(base)); const o = JSON.parse(fs.readFileSync(one))[0];
          const i = b.findIndex((e) => e.object.kind === o.object.kind && e.object.metadata.name === o.object.metadata.name);
          if (i >= 0) b[i] = o; else b.push(o);
          fs.writeFileSync(out, JSON.stringify(b));' "$T/base.json" "$T/broken-one.json" "$T/broken.json"
        out=$(node "$HERE/validate.mjs" --modules "$T/npm/node_modules" --objects "$T/broken.json" --checks kdbg) \
          && fail "$f was accepted: $out"
      else
        out=$( { "$RENDER" tojson "$f" >"$T/broken.json" && node "$HERE/validate.mjs" --modules "$T/npm/node_modules" --objects "$T/broken.json"; } 2>&1) \
          && fail "$f was accepted: $out"
      fi
      grep -qF -- "$want" <<<"$out" || fail "$f refused, but not for \"$want\": $out"
      echo "OK refused $(basename "$f"): $(grep -F -- "$want" <<<"$out" | head -1)"
      n=$((n + 1))
    done
    ((n >= 5)) || fail "only $n broken cases" ;;
  certs)
    need_tools
    rm -rf "$T/certs"
    "$SRC/deploy/certs/make-certs.sh" -n kdbg-system -d 30 "$T/certs" >/dev/null
    c=$T/certs
    openssl verify -CAfile "$c/ca.crt" -purpose sslserver "$c/controller.crt" "$c/agent.crt" >/dev/null || fail "server certs do not verify"
    openssl verify -CAfile "$c/ca.crt" -purpose sslclient "$c/controller.crt" >/dev/null || fail "controller cert is not a client cert"
    if openssl verify -CAfile "$c/ca.crt" -purpose sslclient "$c/agent.crt" >/dev/null 2>&1; then fail "agent cert must not be a client cert"; fi
    subj() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253; }
    [[ $(subj "$c/controller.crt") == "subject=CN=kdbg-controller" ]] || fail "controller CN: $(subj "$c/controller.crt")"
    [[ $(subj "$c/agent.crt") == "subject=CN=kdbg-agent" ]] || fail "agent CN: $(subj "$c/agent.crt")"
    openssl x509 -in "$c/controller.crt" -noout -ext subjectAltName | grep -q "DNS:kdbg-controller.kdbg-system.svc" || fail "controller SANs"
    for k in controller agent; do
      [[ $(openssl pkey -in "$c/$k.key" -pubout) == $(openssl x509 -in "$c/$k.crt" -noout -pubkey) ]] || fail "$k key does not match its cert"
    done
    [[ $(stat -c %a "$c/ca.key") == 600 ]] || fail "ca.key is not private"
    validate certs -- "$c/secrets.yaml"
    node -e '
      const s = JSON.parse(require("fs").readFileSync(process.argv[1])).map((e) => e.object);
      const want = ["kdbg-controller-tls", "kdbg-agent-tls"];
      for (const n of want) { const x = s.find((o) => o.metadata.name === n);
        if (!x || x.type !== "kubernetes.io/tls" || x.metadata.namespace !== "kdbg-system" ||
            JSON.stringify(Object.keys(x.data).sort()) !== JSON.stringify(["ca.crt", "tls.crt", "tls.key"])) {
          console.error("FAIL secret " + n + ": " + JSON.stringify(x && {type: x.type, keys: Object.keys(x.data)})); process.exit(1); } }
      console.log("OK secrets " + want.join(", "));' "$T/certs.json"
    if "$SRC/deploy/certs/make-certs.sh" "$T/certs" >/dev/null 2>&1; then fail "make-certs overwrote an existing CA"; fi ;;
  kubectl-dry-run)
    # kubectl's client dry-run needs an API server for discovery even with --validate=false
    # ("unable to recognize ...: connection refused" without one): give it the discovery-only stub.
    need_tools
    command -v kubectl >/dev/null || fail "kubectl is not installed"
    rm -f "$T/stub.url"
    "$RENDER" discovery-stub "$T/stub.url" &
    stub=$!
    trap 'kill "$stub" 2>/dev/null; wait "$stub" 2>/dev/null || true' EXIT
    for _ in $(seq 100); do [[ -s $T/stub.url ]] && break; sleep 0.05; done
    [[ -s $T/stub.url ]] || fail "the discovery stub did not start"
    url=$(cat "$T/stub.url")
    kc() { KUBECONFIG=/dev/null kubectl --server "$url" apply --dry-run=client --validate=false "$@" 2>&1; }
    render --set namespace.create=true --set certificates.certManager.enabled=true >"$T/chart-all.yaml"
    rm -rf "$T/certs-k"; "$SRC/deploy/certs/make-certs.sh" "$T/certs-k" >/dev/null
    mapfile -t files < <(find "$SRC/deploy" -name '*.yaml' -not -name values.yaml -not -path '*/krew/*' | sort)  # krew/: a plugin manifest, tests/unit/krew
    for f in "${files[@]}" "$T/chart-all.yaml" "$T/certs-k/secrets.yaml"; do
      want=$("$RENDER" tojson "$f" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).length)')
      out=$(kc -f "$f") || fail "kubectl apply --dry-run=client -f $f: $out"
      got=$(grep -c ' (dry run)$' <<<"$out" || true)
      [[ $got == "$want" ]] || fail "$f: kubectl accepted $got of $want objects: $out"
      echo "OK kubectl dry-run ${f#"$SRC/"}: $got objects"
    done
    # The stub must not make kubectl accept anything: a removed API version is refused.
    printf 'apiVersion: apps/v1beta2\nkind: DaemonSet\nmetadata: {name: x, namespace: kdbg-system}\n' >"$T/old-api.yaml"
    if out=$(kc -f "$T/old-api.yaml"); then fail "kubectl accepted apps/v1beta2: $out"; fi
    grep -q 'no matches for kind "DaemonSet" in version "apps/v1beta2"' <<<"$out" || fail "unexpected refusal: $out"
    echo "OK kubectl refuses apps/v1beta2" ;;
  dockerfiles) "$HERE/check-dockerfiles.sh" "$SRC" ;;
  *) echo "usage: $0 setup|manifests|in-sync|chart-default|chart-custom|chart-required|rejects|certs|kubectl-dry-run|dockerfiles|defaults|regenerate" >&2; exit 2 ;;
esac
