#!/usr/bin/env bash
# The image's smoke test, with podman: builds deploy/Dockerfile (on the base of base-image.sh when
# no NODE_IMAGE is given), then checks that the image refuses to serve without auth, starts with
# a JWT secret, becomes ready against a real Postgres, refuses a request without a token, holds
# stock for one with a token, and stops cleanly on SIGTERM. Exit 0 when all of it holds.
#
# Needs root, podman (with buildah), runc, debootstrap, psql, curl, node and the repository's
# node_modules (jose signs the token). SMOKE_DATABASE_ADMIN_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) is where a throw-away database is created.
#
# This machine's quirks, and why the flags below: no container registry is reachable (hence the
# local base image); builds run with --isolation chroot because crun refuses this host's hybrid
# cgroups; containers run on runc with ulimits at or below the host's hard limits, because the
# sandbox may not raise them (no CAP_SYS_RESOURCE); the network is the host's, and the ledger
# binds 127.0.0.1 only. On an ordinary Docker or podman host: docker build -f deploy/Dockerfile .
set -euo pipefail
cd "$(dirname "$0")/../.."

base="${NODE_IMAGE:-localhost/ledger-node:20}"
image="localhost/inventory-ledger:smoke"
admin="${SMOKE_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
name="ledger-smoke-$$"
database="ledger_smoke_$$"
log() { printf '== smoke: %s\n' "$*"; }
fail() { printf 'smoke test FAILED: %s\n' "$*" >&2; exit 1; }

if ! podman image exists "$base"; then
  log "building the base image $base"
  bash deploy/podman/base-image.sh "$base"
fi

build_ca=()
if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -f "$NODE_EXTRA_CA_CERTS" ]]; then
  build_ca=(-v "$NODE_EXTRA_CA_CERTS:/run/ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/ca.crt)
fi
log "building $image"
podman build --quiet --format docker --isolation chroot --network host "${build_ca[@]}" \
  --ignorefile deploy/Dockerfile.dockerignore -f deploy/Dockerfile \
  --build-arg NODE_IMAGE="$base" -t "$image" . >/dev/null

run=(podman --runtime runc run --no-healthcheck --network host --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)"
  --ulimit nproc=4096:4096)

log "without a JWT key the image refuses to serve (it would listen on 0.0.0.0 without auth)"
set +e
refusal=$("${run[@]}" --rm -e DATABASE_URL=postgres://nobody@127.0.0.1:1/none "$image" 2>&1)
code=$?
set -e
[[ $code -eq 2 ]] || fail "expected exit code 2 without auth, got $code: $refusal"
grep -q 'HOST must be a loopback address while auth is off' <<<"$refusal" ||
  fail "the refusal does not say why: $refusal"

psql -q "$admin" -c "CREATE DATABASE $database" >/dev/null
database_url="${admin%/*}/$database"
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  # The build stages' images, untagged by the next build: without this each run leaves ~1.5 GB.
  podman image prune -f >/dev/null 2>&1 || true
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
base_url="http://127.0.0.1:$port"
log "starting the image on $base_url with auth on"
"${run[@]}" -d --name "$name" -e DATABASE_URL="$database_url" -e HOST=127.0.0.1 -e PORT="$port" \
  -e LEDGER_JWT_SECRET="$secret" "$image" >/dev/null

for _ in $(seq 1 120); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base_url/health/ready")" == 200 ]] && break
  sleep 0.5
done
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$base_url/health/ready")" == 200 ]] ||
  fail "not ready within 60 s: $(podman logs "$name" 2>&1 | tail -5)"

token=$(LEDGER_SMOKE_SECRET="$secret" node --input-type=module -e "
  import { SignJWT } from 'jose';
  const key = new TextEncoder().encode(process.env.LEDGER_SMOKE_SECRET);
  const jwt = await new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'HS256' })
    .setSubject('smoke').setExpirationTime('5m').sign(key);
  console.log(jwt);")

post() { # path, body, [token]
  local auth=()
  [[ -n "${3:-}" ]] && auth=(-H "authorization: Bearer $3")
  curl -s -w '\n%{http_code}' -X POST "$base_url$1" -H 'content-type: application/json' \
    "${auth[@]}" -d "$2"
}
key='"product_id":"smoke-sku","warehouse_id":"wh-1"'
answer=$(post /v1/reserve "{$key,\"quantity\":1,\"idempotency_key\":\"smoke-no-token-0001\"}")
[[ "${answer##*$'\n'}" == 401 ]] || fail "a reserve without a token answered ${answer##*$'\n'}"
answer=$(post /v1/stock/adjust "{$key,\"delta\":10}" "$token")
[[ "${answer##*$'\n'}" == 200 ]] || fail "the adjust answered: $answer"
answer=$(post /v1/reserve "{$key,\"quantity\":3,\"idempotency_key\":\"smoke-reserve-0001\"}" "$token")
[[ "${answer##*$'\n'}" == 200 && "$answer" == *'"status":"PENDING"'* ]] ||
  fail "the reserve answered: $answer"
log "a reserve holds stock: ${answer%%$'\n'*}"

podman stop -t 15 "$name" >/dev/null
exit_code=$(podman inspect -f '{{.State.ExitCode}}' "$name")
[[ "$exit_code" == 0 ]] || fail "SIGTERM ended the ledger with exit code $exit_code"
podman logs "$name" 2>&1 | grep -q '"msg":"stopped"' || fail "no clean stop in the log"
log "ok: refuses without auth, ready, 401 without a token, reserve held, clean stop"
