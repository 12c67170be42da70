#!/usr/bin/env bash
# Helpers shared by the scripts: section headers and idempotent installation of what a
# script needs. Source it; do not run it.

section() {
  printf '\n==> %s\n' "$*"
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run '$*': run as root or install sudo"
  fi
}

# ensure_apt_packages COMMAND:PACKAGE...: installs PACKAGE when COMMAND is not on PATH.
ensure_apt_packages() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${missing[*]} and no apt-get here: install them with your package manager"
  echo "installing ${missing[*]} with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_rust_components NAME...: rustup components such as rustfmt and clippy.
ensure_rust_components() {
  local installed
  installed=$(rustup component list --installed 2>/dev/null || true)
  for component in "$@"; do
    grep -q "^${component}" <<<"${installed}" || rustup component add "${component}"
  done
}

# ensure_rust_target TRIPLE: a rustup target such as x86_64-unknown-linux-musl.
ensure_rust_target() {
  rustup target list --installed | grep -qx "$1" || rustup target add "$1"
}

# docker_available: true when a Docker engine answers.
docker_available() {
  command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1
}
