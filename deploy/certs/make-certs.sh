#!/usr/bin/env bash
# Makes kdbg's TLS material with openssl, the same Secrets cert-manager would issue
# (charts/kdbg/templates/certificates.yaml):
#   kdbg-controller-tls  tls.crt/tls.key: CN kdbg-controller, server+client auth, SANs of the Service
#   kdbg-agent-tls       tls.crt/tls.key: CN kdbg-agent, server auth (shared by every agent)
#   both                 ca.crt: the kdbg CA that both sides trust
#
#   deploy/certs/make-certs.sh [-n NAMESPACE] [-d DAYS] OUTDIR
#
# Writes OUTDIR/{ca,controller,agent}.{crt,key} and OUTDIR/secrets.yaml (two Secrets of type
# kubernetes.io/tls, made with `kubectl create secret --dry-run=client`, which needs no cluster).
# Apply with `kubectl apply -f OUTDIR/secrets.yaml`. Keep ca.key offline (or delete it): it signs
# certificates that agents trust. Re-run with a new OUTDIR to rotate, then restart the pods.
set -euo pipefail

NS=kdbg-system
DAYS=365
usage() { echo "usage: $0 [-n NAMESPACE] [-d DAYS] OUTDIR" >&2; exit 2; }
while getopts "n:d:h" o; do
  case $o in
    n) NS=$OPTARG ;;
    d) DAYS=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -eq 1 ]] || usage
OUT=$1
for tool in openssl kubectl; do
  command -v "$tool" >/dev/null || { echo "make-certs: $tool is needed; install it" >&2; exit 1; }
done
mkdir -p "$OUT"
if [[ -e $OUT/ca.key ]]; then
  echo "make-certs: $OUT already holds a CA; use a new directory (refusing to overwrite keys)" >&2
  exit 1
fi
umask 077

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
  -keyout "$OUT/ca.key" -out "$OUT/ca.crt" -days "$((DAYS * 3))" -subj "/CN=kdbg-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null

issue() {  # name cn extendedKeyUsage subjectAltName
  local name=$1 cn=$2 eku=$3 san=$4
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -keyout "$OUT/$name.key" -out "$OUT/$name.csr" -subj "/CN=$cn" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=$eku" "subjectAltName=$san" >"$OUT/$name.ext"
  openssl x509 -req -in "$OUT/$name.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" -CAcreateserial \
    -sha256 -days "$DAYS" -extfile "$OUT/$name.ext" -out "$OUT/$name.crt" 2>/dev/null
  rm -f "$OUT/$name.csr" "$OUT/$name.ext"
}

issue controller kdbg-controller serverAuth,clientAuth \
  "DNS:kdbg-controller,DNS:kdbg-controller.$NS,DNS:kdbg-controller.$NS.svc,DNS:kdbg-controller.$NS.svc.cluster.local"
issue agent kdbg-agent serverAuth "DNS:kdbg-agent,DNS:kdbg-agent.$NS.svc"
rm -f "$OUT/ca.srl"

secret() {  # secret-name file-prefix
  KUBECONFIG=/dev/null kubectl create secret generic "$1" --namespace "$NS" --type kubernetes.io/tls \
    --from-file "tls.crt=$OUT/$2.crt" --from-file "tls.key=$OUT/$2.key" \
    --from-file "ca.crt=$OUT/ca.crt" --dry-run=client -o yaml
}
{
  secret kdbg-controller-tls controller
  echo "---"
  secret kdbg-agent-tls agent
} >"$OUT/secrets.yaml"

cat <<MSG
make-certs: wrote $OUT (ca, controller, agent) and $OUT/secrets.yaml for namespace $NS.
Install:   kubectl apply -f $OUT/secrets.yaml
Or:        kubectl -n $NS create secret generic kdbg-controller-tls --type kubernetes.io/tls \\
             --from-file tls.crt=$OUT/controller.crt --from-file tls.key=$OUT/controller.key --from-file ca.crt=$OUT/ca.crt
           kubectl -n $NS create secret generic kdbg-agent-tls --type kubernetes.io/tls \\
             --from-file tls.crt=$OUT/agent.crt --from-file tls.key=$OUT/agent.key --from-file ca.crt=$OUT/ca.crt
Keep $OUT/ca.key offline.
MSG
