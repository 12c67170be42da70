#!/usr/bin/env bash
# Container end-to-end test (run by scripts/test.sh): builds the four images, checks their size
# and non-root user, starts the compose stack under a unique project name, drives it with the
# loadgen container by service name (which proves DNS works from a `scratch` image), scales the
# backend to two replicas, kills one mid-load and checks the load generator counts errors and
# then recovers. The stack is always torn down. Prints SKIPPED when no Docker engine answers.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

readonly MAX_IMAGE_BYTES=$((15 * 1024 * 1024))
readonly IMAGES=(
  kind.local/demo-app-backend:latest
  kind.local/demo-app-frontend:latest
  kind.local/demo-app-load:latest
  kind.local/demo-app-orchestrator:latest
)

if ! command -v docker >/dev/null 2>&1; then
  echo "SKIPPED: docker engine not available (docker is not installed)"
  exit 0
fi
if ! reason=$(timeout 20 docker info 2>&1 >/dev/null); then
  echo "SKIPPED: docker engine not available ($(tail -n1 <<<"${reason:-docker info timed out}"))"
  exit 0
fi
ensure_apt_packages curl:curl

fail() {
  printf 'FAILED: %s\n' "$*" >&2
  exit 1
}

# retry SECONDS COMMAND...: runs COMMAND every second until it succeeds or SECONDS pass.
retry() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "${SECONDS}" -lt "${deadline}" ] || return 1
    sleep 1
  done
}

section "images"
scripts/build-images.sh
for image in "${IMAGES[@]}"; do
  size=$(docker image inspect --format '{{.Size}}' "${image}")
  user=$(docker image inspect --format '{{.Config.User}}' "${image}")
  [ "${size}" -le "${MAX_IMAGE_BYTES}" ] || fail "${image} is ${size} bytes, over 15 MB"
  [ "${user}" = "65532:65532" ] || fail "${image} runs as '${user}', expected 65532:65532"
  out=$(timeout 30 docker run --rm "${image}" --version 2>&1) || fail "${image} --version failed: ${out}"
  echo "${image}: ${size} bytes, user ${user}, ${out}"
done

project="e2e-docker-$$-${RANDOM}"
compose() { timeout 120 scripts/compose.sh --project-name "${project}" "$@"; }
cleanup() {
  local rc=$?
  [ -z "${loadgen:-}" ] || docker rm -f "${loadgen}" >/dev/null 2>&1 || true
  section "teardown ${project}"
  [ "${rc}" -eq 0 ] || compose logs --no-color --tail 30 2>/dev/null || true
  compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true
  exit "${rc}"
}
trap cleanup EXIT
# Ephemeral host ports so parallel runs and other services do not collide.
export FRONTEND_PORT=""
# Requests that last 200 ms keep about ten in flight on each replica at 100 rps, so killing
# one mid-load always cuts requests off (with 20 ms there is often none in flight, and the
# load generator moves its idle connections to the survivor without a single error).
# 64 workers keep each replica far from shedding: every error counted is the kill's.
export BACKEND_SERVICE_TIME=200ms BACKEND_WORKERS=64

# host_port SERVICE PORT [INDEX]: the published 127.0.0.1:port of a replica.
host_port() { compose port --index "${3:-1}" "$1" "$2" 2>/dev/null | tail -n1; }
backend_container() {
  docker ps -q --filter "label=com.docker.compose.project=${project}" \
    --filter "label=com.docker.compose.service=backend" \
    --filter "label=com.docker.compose.container-number=$1"
}
# requests_total of a backend replica's /api/stats.
stats_requests() {
  curl -fsS --max-time 3 "http://$1/api/stats" | grep -o '"requests_total":[0-9]*' | cut -d: -f2
}
# sum_metric ADDR NAME: the sum of every series of NAME on a /metrics page (0 when absent).
sum_metric() {
  curl -fsS --max-time 3 "http://$1/metrics" |
    awk -v name="$2" '$1 == name || index($1, name "{") == 1 { s += $NF } END { printf "%d\n", s }'
}

section "compose up (${project})"
compose up -d backend frontend
backend=$(host_port backend 8080)
frontend=$(host_port frontend 8080)
[ -n "${backend}" ] && [ -n "${frontend}" ] || fail "compose published no ports"
retry 30 curl -fsS --max-time 2 "http://${backend}/healthz" || fail "backend not healthy in 30 s"
retry 30 curl -fsS --max-time 2 "http://${frontend}/" || fail "frontend not answering in 30 s"
echo "backend ${backend}, frontend ${frontend}"

section "loadgen 10 s against http://backend:8080 (service name through DNS)"
compose run --rm -T -e RUN_DURATION_SECONDS=10s -e BASE_RPS=20 -e RAMP_FACTOR=1 \
  loadgen --wait-for-target || fail "loadgen exited with $? against the backend service"
served=$(stats_requests "${backend}")
[ "${served:-0}" -ge 100 ] || fail "backend served ${served:-0} requests, expected >= 100"
echo "backend served ${served} requests"

section "scale the backend to 2"
compose up -d --no-recreate --scale backend=2 backend
second=$(host_port backend 8080 2)
[ -n "${second}" ] || fail "the second backend replica published no port"
retry 30 curl -fsS --max-time 2 "http://${second}/healthz" || fail "second replica not healthy"

section "load across both replicas, then kill one"
# A pooled connection keeps talking to the replica it resolved; Compose's DNS answers in
# rotating order, so the several connections a 100 rps load opens land on both replicas.
loadgen=$(compose run -d --service-ports -e RUN_DURATION_SECONDS=120s -e BASE_RPS=100 \
  -e RAMP_FACTOR=1 loadgen --wait-for-target --timeout 2s | tail -n1)
[ -n "${loadgen}" ] || fail "could not start the loadgen container"
lg=$(docker port "${loadgen}" 2112/tcp | grep 127.0.0.1 | head -n1)
[ -n "${lg}" ] || fail "loadgen published no metrics port"
retry 30 curl -fsS --max-time 2 "http://${lg}/metrics" || fail "loadgen metrics not answering"
first_before=$(stats_requests "${backend}")
second_before=$(stats_requests "${second}")
sleep 8
first_after=$(stats_requests "${backend}")
second_after=$(stats_requests "${second}")
echo "replica 1: ${first_before} -> ${first_after}; replica 2: ${second_before} -> ${second_after}"
# Each replica must have served real traffic, well beyond this script's own few probes.
[ $((first_after - first_before)) -ge 20 ] || fail "replica 1 served no load"
[ $((second_after - second_before)) -ge 20 ] || fail "replica 2 served no load"

errors_before=$(sum_metric "${lg}" lg_errors_total)
victim=$(backend_container 2)
[ -n "${victim}" ] || fail "cannot find backend replica 2"
docker kill "${victim}" >/dev/null
echo "killed backend replica 2 (${victim:0:12})"
errors_seen() { [ "$(sum_metric "${lg}" lg_errors_total)" -gt "${errors_before}" ]; }
# Requests on connections to the killed replica fail by the 2 s timeout at the latest.
retry 45 errors_seen || fail "loadgen counted no errors after a replica was killed"
echo "loadgen errors: ${errors_before} -> $(sum_metric "${lg}" lg_errors_total)"
# Recovered: over a 4 s window the load keeps flowing to the survivor and no error is added.
recovered() {
  local e0 s0
  e0=$(sum_metric "${lg}" lg_errors_total)
  s0=$(stats_requests "${backend}")
  sleep 4
  [ "$(sum_metric "${lg}" lg_errors_total)" -eq "${e0}" ] &&
    [ "$(stats_requests "${backend}")" -ge $((s0 + 40)) ]
}
retry 40 recovered || fail "loadgen kept failing after the survivor took over"
echo "recovered: errors steady at $(sum_metric "${lg}" lg_errors_total), survivor serving"
section "docker end to end passed"
