#!/usr/bin/env bash
# Counts user-space instructions per POST /api/feedback with callgrind: the figure that does
# not move with a busy machine, unlike requests/s (BENCHMARKS.md, "demo-backend"). Each
# server runs under valgrind with one tokio worker thread; wrk (-t1 -c8) warms it for 3 s,
# then instrumentation is switched on for an 8 s run and the instructions are divided by the
# requests wrk completed in it (run to run the figure moves by about ±1 %).
#
# Servers: demo-backend (--service-time 0, as bench-backend.sh runs it), and
# examples/bare.rs three ways: plain hyper, hyper doing the JSON work (--json), and the same
# JSON work in a one-route axum Router under axum::serve (--axum), the framework's floor.
#
# Usage: scripts/callgrind-backend.sh [backend|bare|bare-json|bare-axum ...]   (default: all)
#        env: CALLGRIND_PORT=18490, CALLGRIND_OUT=DIR (keeps the callgrind.out files for
#        callgrind_annotate; a temporary directory otherwise)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

command -v valgrind >/dev/null 2>&1 || die "valgrind is not installed: apt-get install valgrind"
command -v wrk >/dev/null 2>&1 || die "wrk is not installed: apt-get install wrk"
command -v curl >/dev/null 2>&1 || die "curl is not installed: apt-get install curl"

port=${CALLGRIND_PORT:-18490}
servers=("$@")
[ "${#servers[@]}" -gt 0 ] || servers=(backend bare bare-json bare-axum)
out=${CALLGRIND_OUT:-}
workdir=$(mktemp -d)
trap 'rm -rf "${workdir}"' EXIT
[ -n "${out}" ] || out=${workdir}
mkdir -p "${out}"

section "building (release, with line tables for callgrind_annotate)"
export CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_PROFILE_RELEASE_STRIP=none
cargo build --release -p demo-backend --bin demo-backend --example bare
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

cat >"${workdir}/feedback.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"rating":5,"comment":"benchmark"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Session-Id"] = "bench"
LUA

# count NAME COMMAND...: runs COMMAND under callgrind on ${port} and prints its figure.
count() {
  local name=$1 file="${out}/callgrind.$1.out" url="http://127.0.0.1:${port}/api/feedback"
  shift
  TOKIO_WORKER_THREADS=1 RUST_LOG=warn valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="${file}" "$@" >"${workdir}/${name}.log" 2>&1 &
  local pid=$! i
  for i in $(seq 1 300); do
    curl -fsS -o /dev/null -X POST -d '{"rating":5}' "${url}" 2>/dev/null && break
    [ "${i}" -lt 300 ] || die "${name} did not answer at ${url}: $(cat "${workdir}/${name}.log")"
    sleep 0.2
  done
  wrk -t1 -c8 -d3s -s "${workdir}/feedback.lua" "${url}" >/dev/null
  callgrind_control -i on "${pid}" >/dev/null
  local requests
  requests=$(wrk -t1 -c8 -d8s -s "${workdir}/feedback.lua" "${url}" | awk '/requests in/ {print $1}')
  callgrind_control -i off "${pid}" >/dev/null
  kill -INT "${pid}"
  wait "${pid}" || true
  local instructions
  instructions=$(callgrind_annotate "${file}" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  printf '%-10s %8d requests  %6d instructions per request\n' "${name}" "${requests}" \
    "$((instructions / requests))"
}

section "instructions per POST /api/feedback"
for server in "${servers[@]}"; do
  addr="127.0.0.1:${port}"
  case "${server}" in
    backend)
      count backend "${target_dir}/release/demo-backend" --listen "${addr}" --service-time 0 \
        --workers 1024 --queue 4096 --replica-name bench
      ;;
    bare) count bare "${target_dir}/release/examples/bare" "${addr}" ;;
    bare-json) count bare-json "${target_dir}/release/examples/bare" "${addr}" --json ;;
    bare-axum) count bare-axum "${target_dir}/release/examples/bare" "${addr}" --axum ;;
    *) die "unknown server '${server}': backend, bare, bare-json or bare-axum" ;;
  esac
done
