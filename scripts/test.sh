#!/usr/bin/env bash
# Runs every check of the project on a fresh machine: installs what the tests need when it
# is missing (idempotent, and fast when everything is there), then formatting, lints, every
# test, and the end-to-end scripts under scripts/e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

section "prerequisites"
ensure_apt_packages promtool:prometheus chromium:chromium chromedriver:chromium-driver curl:curl
ensure_rust_components rustfmt clippy

section "cargo fmt"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

section "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  # nextest does not run doctests.
  cargo test --workspace --locked --doc
else
  cargo test --workspace --locked --no-fail-fast
fi

shopt -s nullglob
for script in scripts/e2e/*.sh; do
  section "end to end: ${script}"
  bash "${script}"
done
section "all checks passed"
