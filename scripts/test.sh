#!/usr/bin/env bash
# Runs every check of the project on a fresh machine: installs what the tests need when it
# is missing (idempotent, and fast when everything is there), then formatting, lints, every
# test, and the end-to-end scripts under scripts/e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

section "prerequisites"
ensure_apt_packages promtool:prometheus chromium:chromium chromedriver:chromium-driver curl:curl redis-server:redis-server
ensure_rust_components rustfmt clippy

section "cargo fmt"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

section "tests"
# Counted along the way for the one closing line: "N passed, N failed, N skipped".
passed=0 skipped=0
log=$(mktemp)
trap 'rm -f "${log}"' EXIT
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast 2>&1 | tee "${log}"
  passed=$(sed -n 's/.* tests run: \([0-9]*\) passed.*/\1/p' "${log}" | tail -n1)
  skipped=$(sed -n 's/.* passed[^,]*, \([0-9]*\) skipped.*/\1/p' "${log}" | tail -n1)
  # nextest does not run doctests.
  cargo test --workspace --locked --doc 2>&1 | tee "${log}"
else
  cargo test --workspace --locked --no-fail-fast 2>&1 | tee "${log}"
fi
doc=$(awk '/^test result: ok\./ { n += $4 } END { print n + 0 }' "${log}")
passed=$((${passed:-0} + ${doc:-0}))
skipped=${skipped:-0}

shopt -s nullglob
for script in scripts/e2e/*.sh; do
  section "end to end: ${script}"
  bash "${script}" 2>&1 | tee "${log}"
  if grep -q '^SKIPPED' "${log}"; then
    skipped=$((skipped + 1))
  else
    passed=$((passed + 1))
  fi
done
section "all checks passed"
echo "${passed} passed, 0 failed, ${skipped} skipped"
