#!/usr/bin/env bash
# Benchmarks loadgen beside oha and wrk against the same target: Debian's nginx on loopback
# returning a fixed 200. Prints (a) the highest rate each sustains with >= 99 % of it
# achieved, (b) at 5k and 20k rps: achieved/target, CPU seconds per 100k requests and peak
# RSS, (c) RSS after 1M requests vs after 100k, (d) the same as (b) over HTTPS (nginx with a
# self-signed certificate made here; both tools with --insecure), HTTP/1.1 and HTTP/2, and
# loadgen/oha ratios.
# Not part of the tests: it takes a few minutes and wants an otherwise idle machine.
#
#   scripts/bench-loadgen.sh            # everything (about 11 minutes)
#   ONLY=https scripts/bench-loadgen.sh # only (d), the HTTPS section (about 3 minutes)
#   QUICK=1 scripts/bench-loadgen.sh    # shorter runs, for trying the script out
#   CARGO_TARGET_DIR=/elsewhere scripts/bench-loadgen.sh   # build and run from there
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_apt_packages nginx:nginx-light wrk:wrk jq:jq /usr/bin/time:time openssl:openssl

section "build"
cargo build --release --locked -p loadgen
# Where cargo put it: CARGO_TARGET_DIR (absolute or relative to the workspace) or target/.
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR="$PWD/$TARGET_DIR" ;; esac
LOADGEN="$TARGET_DIR/release/loadgen"

if ! command -v oha >/dev/null 2>&1; then
  section "installing oha (cargo install oha --locked)"
  if ! cargo install oha --locked; then
    echo "NOTE: oha could not be installed; comparing with wrk only"
  fi
fi
HAVE_OHA=0
command -v oha >/dev/null 2>&1 && HAVE_OHA=1

QUICK=${QUICK:-0}
STEP_SECONDS=5        # each rate step of (a)
FIXED_SECONDS=5       # each fixed-rate run of (b)
REPEATS=3             # runs of (b), the best counts
BIG=1000000           # requests of the long run of (c)
if [ "$QUICK" = 1 ]; then STEP_SECONDS=2; FIXED_SECONDS=2; REPEATS=1; BIG=200000; fi
CONNS=64              # connections for every tool
H2_CONNS=8            # HTTP/2 in (d): connections for both tools,
H2_STREAMS=8          # and requests at once on each
ONLY=${ONLY:-}

WORK=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000))
TLS_PORT=$((PORT + 1))
URL="http://127.0.0.1:${PORT}/"
# What loadgen and oha are pointed at, and the extra flags oha gets ((d) changes them).
LG_TARGET="http://127.0.0.1:${PORT}"
OHA_URL=$URL
OHA_EXTRA=()

cleanup() {
  if [ -f "$WORK/nginx.pid" ]; then kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A self-signed certificate for (d), made here and removed with $WORK.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null ||
  die "openssl could not make a self-signed certificate"

section "target: nginx on ${URL} and https://127.0.0.1:${TLS_PORT}/ (1 worker, fixed 200)"
# One nginx worker, so the target takes at most one of the machine's cores.
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid ${WORK}/nginx.pid;
error_log ${WORK}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path ${WORK}/body;
  proxy_temp_path ${WORK}/proxy;
  fastcgi_temp_path ${WORK}/fastcgi;
  uwsgi_temp_path ${WORK}/uwsgi;
  scgi_temp_path ${WORK}/scgi;
  server {
    listen 127.0.0.1:${PORT} backlog=4096;
    location / { return 200 "ok"; }
  }
  server {
    # HTTP/1.1 and h2 by ALPN. (nginx 1.25+ spells h2 as \`http2 on;\`; 1.22 as below.)
    listen 127.0.0.1:${TLS_PORT} ssl http2 backlog=4096;
    ssl_certificate ${WORK}/cert.pem;
    ssl_certificate_key ${WORK}/key.pem;
    http2_max_concurrent_streams 1000;
    http2_max_requests 100000000;
    location / { return 200 "ok"; }
  }
}
EOF
nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/error.log"
for _ in $(seq 50); do
  curl_ok=$( (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null && echo yes || echo no)
  [ "$curl_ok" = yes ] && break
  sleep 0.1
done
[ "$curl_ok" = yes ] || die "nginx did not start on ${PORT}: $(cat "$WORK/error.log")"

# measure NAME CMD...: runs CMD under /usr/bin/time; leaves "elapsed user sys maxrss_kb"
# in $WORK/NAME.time and stdout in $WORK/NAME.out.
measure() {
  local name=$1
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || true
}

# loadgen_args RPS SECONDS: a constant-rate run.
loadgen_args() {
  echo --target "$LG_TARGET" --url / --base-rps "$1" --ramp-factor 1 \
    --duration "${2}s" --connections "$CONNS" --timeout 5s --metrics-addr 127.0.0.1:0 \
    --progress off
}

# loadgen_run NAME RPS SECONDS [FLAG...]: its JSON report goes to $WORK/NAME.json.
loadgen_run() {
  local name=$1 rps=$2 secs=$3
  shift 3
  # shellcheck disable=SC2046 # the arguments are words without spaces
  measure "$name" "$LOADGEN" $(loadgen_args "$rps" "$secs") --report "$WORK/$name.json" "$@"
}

# oha_args RPS SECONDS: rate-limited oha with latency correction (its open-loop mode).
oha_args() {
  echo -z "${2}s" -q "$1" --latency-correction -c "$CONNS" --no-tui --output-format json "$OHA_URL"
}

oha_run() { # NAME RPS SECONDS
  # shellcheck disable=SC2046
  measure "$1" oha $(oha_args "$2" "$3") "${OHA_EXTRA[@]}"
}

# Achieved rate (successful responses per second of wall time) of a finished run.
loadgen_achieved() { jq -r '.total.ok / .duration_s' "$WORK/$1.json"; }
oha_achieved() { jq -r '(.statusCodeDistribution["200"] // 0) / .summary.total' "$WORK/$1.out"; }
requests_of() { # NAME TOOL: successful requests of a run
  case $2 in
    loadgen) jq -r '.total.ok' "$WORK/$1.json" ;;
    oha) jq -r '.statusCodeDistribution["200"] // 0' "$WORK/$1.out" ;;
  esac
}
cpu_of() { awk '{ printf "%.3f", $2 + $3 }' "$WORK/$1.time"; }
rss_mib() { awk '{ printf "%.1f", $4 / 1024 }' "$WORK/$1.time"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ge99() { awk -v a="$1" -v t="$2" 'BEGIN { exit !(a >= 0.99 * t) }'; }

RATES=(5000 10000 20000 30000 40000 50000 60000 80000)
declare -A CPU100K RSS ACH
# fixed KEY TOOL RPS [FLAG...]: fills ACH, CPU100K and RSS for KEY-RPS.
fixed() {
  local key=$1 tool=$2 rps=$3 rep name ach cpu rss
  shift 3
  for rep in $(seq "$REPEATS"); do
    name="b-$key-$rps-$rep"
    if [ "$tool" = loadgen ]; then
      loadgen_run "$name" "$rps" "$FIXED_SECONDS" "$@"
    else
      oha_run "$name" "$rps" "$FIXED_SECONDS"
    fi
    ach=$(ratio "$("${tool}_achieved" "$name")" "$rps")
    cpu=$(awk -v c="$(cpu_of "$name")" -v n="$(requests_of "$name" "$tool")" 'BEGIN { printf "%.3f", c * 100000 / n }')
    rss=$(rss_mib "$name")
    ACH[$key-$rps]=$(awk -v a="$ach" -v b="${ACH[$key-$rps]:-0}" 'BEGIN { print (a > b ? a : b) }')
    CPU100K[$key-$rps]=$(awk -v a="$cpu" -v b="${CPU100K[$key-$rps]:-1e9}" 'BEGIN { print (a < b ? a : b) }')
    RSS[$key-$rps]=$(awk -v a="$rss" -v b="${RSS[$key-$rps]:-1e9}" 'BEGIN { print (a < b ? a : b) }')
  done
  printf '  %-9s %7d %15s %18s %13s\n' "$key" "$rps" "${ACH[$key-$rps]}" "${CPU100K[$key-$rps]}" "${RSS[$key-$rps]}"
}

# (d): the fixed rates over HTTPS, HTTP/1.1 then HTTP/2, loadgen and oha side by side.
https_section() {
  section "(d) https (nginx, self-signed, --insecure): best of ${REPEATS} runs of ${FIXED_SECONDS}s"
  printf '  %-9s %7s %15s %18s %13s\n' tool rps achieved/target "CPU s/100k req" "peak RSS MiB"
  LG_TARGET="https://127.0.0.1:${TLS_PORT}"
  OHA_URL="https://127.0.0.1:${TLS_PORT}/"
  local rps
  OHA_EXTRA=(--insecure)
  for rps in 5000 20000; do
    fixed lg-h1 loadgen "$rps" --insecure
    [ "$HAVE_OHA" = 1 ] && fixed oha-h1 oha "$rps"
  done
  CONNS=$H2_CONNS
  OHA_EXTRA=(--insecure --http2 -p "$H2_STREAMS")
  for rps in 5000 20000; do
    fixed lg-h2 loadgen "$rps" --insecure --http2 --h2-streams "$H2_STREAMS"
    [ "$HAVE_OHA" = 1 ] && fixed oha-h2 oha "$rps"
  done
  echo "  (HTTP/1.1: ${CONNS_H1} connections each; HTTP/2: ${H2_CONNS} connections x ${H2_STREAMS} streams each)"
  if [ "$HAVE_OHA" = 1 ]; then
    section "ratios over https (loadgen / oha)"
    local p
    for p in h1 h2; do
      for rps in 5000 20000; do
        echo "  ${p} ${rps} rps: achieved loadgen ${ACH[lg-$p-$rps]}, oha ${ACH[oha-$p-$rps]}; CPU per request $(ratio "${CPU100K[lg-$p-$rps]}" "${CPU100K[oha-$p-$rps]}"); peak RSS $(ratio "${RSS[lg-$p-$rps]}" "${RSS[oha-$p-$rps]}")"
      done
    done
  fi
}
CONNS_H1=$CONNS
if [ "$ONLY" = https ]; then
  https_section
  exit 0
fi

section "(a) highest rate sustained with >= 99% achieved (${STEP_SECONDS}s per step)"
# step TOOL RPS: one attempt, and a second one when the first misses (a busy machine
# can steal a second from any tool); true when >= 99 % was achieved.
step() {
  local tool=$1 rps=$2 try got
  for try in 1 2; do
    "${tool}_run" "a-$tool-$rps-$try" "$rps" "$STEP_SECONDS"
    got=$("${tool}_achieved" "a-$tool-$rps-$try")
    printf '  %-8s %6d rps: achieved %8.0f/s (attempt %d)\n' "$tool" "$rps" "$got" "$try"
    ge99 "$got" "$rps" && return 0
  done
  return 1
}
best_lg=0
best_oha=0
for rps in "${RATES[@]}"; do
  if step loadgen "$rps"; then best_lg=$rps; else break; fi
done
if [ "$HAVE_OHA" = 1 ]; then
  for rps in "${RATES[@]}"; do
    if step oha "$rps"; then best_oha=$rps; else break; fi
  done
fi
measure a-wrk wrk -t1 -c"$CONNS" -d"${STEP_SECONDS}s" "$URL"
wrk_max=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$WORK/a-wrk.out")
wrk_cpu=$(cpu_of a-wrk)
wrk_reqs=$(awk '/requests in/ { print $1 }' "$WORK/a-wrk.out")
echo "  wrk (closed loop, no rate control): ${wrk_max} rps maximum throughput"

section "(b) fixed rates: best of ${REPEATS} runs of ${FIXED_SECONDS}s at 5k and 20k rps"
# Other work on a shared machine only ever makes a run worse, so each figure is the best of
# a few runs: most achieved, least CPU, least peak RSS.
printf '  %-9s %7s %15s %18s %13s\n' tool rps achieved/target "CPU s/100k req" "peak RSS MiB"
for rps in 5000 20000; do
  fixed lg loadgen "$rps"
  fixed lg2 loadgen "$rps" --threads 2
  [ "$HAVE_OHA" = 1 ] && fixed oha oha "$rps"
done
wrk_cpu100k=$(awk -v c="$wrk_cpu" -v n="$wrk_reqs" 'BEGIN { printf "%.3f", c * 100000 / n }')
printf '  %-9s %7s %15s %18s %13s\n' wrk max "n/a" "$wrk_cpu100k" "$(rss_mib a-wrk)"
echo "  (lg = loadgen with default threads: one per 20k rps of the plan; lg2 = --threads 2)"

section "(c) RSS after 100k and after ${BIG} requests (one run at 20k rps each)"
# rss_during NAME CMD...: runs CMD, samples its VmRSS (KiB) when 100k requests have gone
# out (5 s) and last before it ends; leaves "rss_100k rss_end" in $WORK/NAME.rss.
rss_during() {
  local name=$1 pid at100k="" last="" start now
  shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  pid=$!
  start=$(date +%s.%N)
  while kill -0 "$pid" 2>/dev/null; do
    now=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$now" ] && last=$now
    if [ -z "$at100k" ] && awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { exit !(n - s >= 5) }'; then
      at100k=$last
    fi
    sleep 0.5
  done
  wait "$pid" || true
  echo "${at100k:-0} ${last:-0}" >"$WORK/$name.rss"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
big_s=$((BIG / 20000))
# shellcheck disable=SC2046
rss_during c-lg "$LOADGEN" $(loadgen_args 20000 "$big_s")
read -r lg_small lg_big <"$WORK/c-lg.rss"
printf '  loadgen: %s MiB after 100k, %s MiB after %s (x%s)\n' "$(mib "$lg_small")" "$(mib "$lg_big")" "$BIG" "$(ratio "$lg_big" "$lg_small")"
if [ "$HAVE_OHA" = 1 ]; then
  # shellcheck disable=SC2046
  rss_during c-oha oha $(oha_args 20000 "$big_s")
  read -r oha_small oha_big <"$WORK/c-oha.rss"
  printf '  oha:     %s MiB after 100k, %s MiB after %s (x%s)\n' "$(mib "$oha_small")" "$(mib "$oha_big")" "$BIG" "$(ratio "$oha_big" "$oha_small")"
fi

section "ratios (loadgen / oha)"
if [ "$HAVE_OHA" = 1 ]; then
  echo "  (a) highest sustained rate:        $(ratio "$best_lg" "$best_oha")  (loadgen ${best_lg}, oha ${best_oha}, wrk max ${wrk_max})"
  for rps in 5000 20000; do
    echo "  (b) ${rps} rps achieved/target:      loadgen ${ACH[lg-$rps]}, oha ${ACH[oha-$rps]}"
    echo "  (b) ${rps} rps CPU per request:      $(ratio "${CPU100K[lg-$rps]}" "${CPU100K[oha-$rps]}") (--threads 2: $(ratio "${CPU100K[lg2-$rps]}" "${CPU100K[oha-$rps]}"))"
    echo "  (b) ${rps} rps peak RSS:             $(ratio "${RSS[lg-$rps]}" "${RSS[oha-$rps]}")"
  done
  echo "  (c) RSS growth 100k -> ${BIG}:       loadgen x$(ratio "$lg_big" "$lg_small"), oha x$(ratio "$oha_big" "$oha_small")"
else
  echo "  oha missing: loadgen highest sustained ${best_lg} rps; wrk max ${wrk_max} rps"
fi
echo "  wrk max throughput vs loadgen highest sustained: $(ratio "$best_lg" "$wrk_max")"

https_section
