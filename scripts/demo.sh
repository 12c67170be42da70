#!/usr/bin/env bash
# The whole story on kind: create the cluster and load the images (scripts/kind-up.sh), then
# run the scenario on it. Extra arguments go to `orchestrator run`, e.g.
#   scripts/demo.sh --scenario scenarios/light.toml --cleanup
# Afterwards: the UI at http://localhost:30080, Prometheus at http://localhost:30090, the
# report under runs/<uuid>/. scripts/kind-down.sh removes the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

command -v cargo >/dev/null 2>&1 || die "cargo is not installed: install Rust with rustup (see rust-lang.org)"
scripts/kind-up.sh

section "running the scenario on kind"
exec cargo run --release -p orchestrator -- run --runtime kube "$@"
