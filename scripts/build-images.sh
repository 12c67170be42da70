#!/usr/bin/env bash
# Builds the four container images offline: one cargo invocation makes the static (musl)
# binaries on the host, for the host's architecture (x86_64 or aarch64: kind's nodes run
# as the host does), they are staged into target/docker-context, and each image copies its
# binary onto `scratch`. Needs no base image and no registry.
#   kind.local/demo-app-backend:latest       demo-backend (and /demo-worker)
#   kind.local/demo-app-frontend:latest      demo-frontend
#   kind.local/demo-app-load:latest          loadgen
#   kind.local/demo-app-orchestrator:latest  orchestrator
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

case "$(uname -m)" in
  x86_64 | amd64) TARGET=x86_64-unknown-linux-musl ;;
  aarch64 | arm64) TARGET=aarch64-unknown-linux-musl ;;
  *) die "unsupported host architecture $(uname -m): the images are built for x86_64 or aarch64 hosts only (kind's nodes run the host's architecture)" ;;
esac
readonly TARGET
readonly CONTEXT=target/docker-context
declare -A IMAGES=(
  [demo-backend]=kind.local/demo-app-backend:latest
  [demo-frontend]=kind.local/demo-app-frontend:latest
  [loadgen]=kind.local/demo-app-load:latest
  [orchestrator]=kind.local/demo-app-orchestrator:latest
)
# Binaries an image carries beside its own (built by the same package): the backend's image
# runs the pipeline's workers too.
declare -A EXTRAS=(
  [demo-backend]=demo-worker
)

command -v docker >/dev/null 2>&1 ||
  die "docker is not installed: install Docker Engine (Debian: apt-get install docker.io)"
docker_available ||
  die "no Docker engine answers: start it (systemctl start docker) or check DOCKER_HOST"

section "static binaries (${TARGET})"
ensure_rust_target "${TARGET}"
# ring (TLS for the orchestrator) compiles C; musl-gcc makes it link statically.
ensure_apt_packages musl-gcc:musl-tools
packages=()
for binary in "${!IMAGES[@]}"; do packages+=(-p "${binary}"); done
cargo build --release --locked --target "${TARGET}" "${packages[@]}"

section "staging into ${CONTEXT}"
mkdir -p "${CONTEXT}"
for binary in "${!IMAGES[@]}"; do
  src="target/${TARGET}/release/${binary}"
  [ -x "${src}" ] || die "${src} was not built"
  # Stripped, the binaries keep each image well under the 15 MB budget.
  strip -o "${CONTEXT}/${binary}" "${src}" 2>/dev/null || cp "${src}" "${CONTEXT}/${binary}"
  # The image's other binaries (docker/Dockerfile copies the directory, empty or not).
  rm -rf "${CONTEXT}/${binary}.d" && mkdir -p "${CONTEXT}/${binary}.d"
  for extra in ${EXTRAS[${binary}]:-}; do
    src="target/${TARGET}/release/${extra}"
    [ -x "${src}" ] || die "${src} was not built"
    strip -o "${CONTEXT}/${binary}.d/${extra}" "${src}" 2>/dev/null || cp "${src}" "${CONTEXT}/${binary}.d/${extra}"
  done
done

section "images"
version=$(cargo metadata --no-deps --format-version 1 2>/dev/null |
  sed -n 's/.*"name":"common","version":"\([^"]*\)".*/\1/p' | head -n1)
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
for binary in "${!IMAGES[@]}"; do
  image=${IMAGES[${binary}]}
  echo "${image}"
  docker build --quiet -f docker/Dockerfile \
    --build-arg "BINARY=${binary}" --build-arg "VERSION=${version:-0.1.0}" \
    --build-arg "REVISION=${revision}" -t "${image}" "${CONTEXT}" >/dev/null \
    2> >(grep -v -e 'legacy builder is deprecated' -e 'buildx component' -e 'go/buildx' -e '^$' >&2)
done
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^kind.local/demo-app-' | sort
