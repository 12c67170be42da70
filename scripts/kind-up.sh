#!/usr/bin/env bash
# Creates the kind cluster from kind/cluster.yaml (one control plane, two workers, the
# frontend, Prometheus and Grafana NodePorts on localhost:30080, :30090 and :30030), builds the images and
# loads each into the cluster's nodes, with the two public images a run needs (Prometheus
# and the pre-pull's pause image), pulled once on the host: a cold cluster would otherwise
# pull them on every node inside the run's ready_timeout. Idempotent: an existing cluster
# is reused.
# Options (for scale_mode = hpa/keda): --metrics-server installs metrics-server, with the
# --kubelet-insecure-tls flag kind's self-signed kubelet certificates need (an HPA on cpu
# reads the metrics API); --keda installs KEDA (its ScaledObject CRD). Both apply the
# projects' release manifests from their URLs, so they need network access to GitHub;
# --print-only prints those commands instead of running them.
# Environment: KIND_CLUSTER_NAME (default load-demo), KEDA_VERSION (default 2.16.1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

metrics_server=false keda=false print_only=false
for arg in "$@"; do
  case "${arg}" in
    --metrics-server) metrics_server=true ;;
    --keda) keda=true ;;
    --print-only) print_only=true ;;
    *) die "unknown option ${arg}: use --metrics-server, --keda, --print-only" ;;
  esac
done
readonly KEDA_VERSION=${KEDA_VERSION:-2.16.1}
readonly METRICS_SERVER_URL=https://github.com/kubernetes-sigs/metrics-server/releases/latest/download/components.yaml
readonly KEDA_URL="https://github.com/kedacore/keda/releases/download/v${KEDA_VERSION}/keda-${KEDA_VERSION}.yaml"
addon_commands() {
  if ${metrics_server}; then
    echo "kubectl apply -f ${METRICS_SERVER_URL}"
    echo "kubectl -n kube-system patch deployment metrics-server --type=json -p '[{\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/args/-\",\"value\":\"--kubelet-insecure-tls\"}]'"
    echo "kubectl -n kube-system rollout status deployment/metrics-server --timeout=120s"
  fi
  if ${keda}; then
    echo "kubectl apply --server-side -f ${KEDA_URL}"
    echo "kubectl -n keda rollout status deployment/keda-operator --timeout=180s"
  fi
}
if ${print_only}; then
  addon_commands
  exit 0
fi

readonly CLUSTER=${KIND_CLUSTER_NAME:-load-demo}
readonly IMAGES=(
  kind.local/demo-app-backend:latest
  kind.local/demo-app-frontend:latest
  kind.local/demo-app-load:latest
  kind.local/demo-app-orchestrator:latest
)
# Keep equal to the prometheus_image and pause_image defaults (crates/scenario/src/keys.rs)
# and redis_image's (crates/scenario/src/pipeline.rs, the pipeline workload).
readonly PUBLIC_IMAGES=(
  prom/prometheus:v2.54.0
  registry.k8s.io/pause:3.10
  redis:7.2-alpine
)

section "prerequisites"
missing=()
command -v docker >/dev/null 2>&1 ||
  missing+=("docker: install Docker Engine (Debian: apt-get install docker.io)")
command -v kind >/dev/null 2>&1 ||
  missing+=("kind: not packaged by Debian; install a release binary from the kind project's GitHub releases page, or 'go install sigs.k8s.io/kind@latest'")
command -v kubectl >/dev/null 2>&1 ||
  missing+=("kubectl: install it from the Kubernetes documentation's 'Install kubectl' page (or your package manager)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'missing: %s\n' "${missing[@]}" >&2
  exit 1
fi
docker_available || die "no Docker engine answers: start it (systemctl start docker)"

section "cluster ${CLUSTER}"
if kind get clusters 2>/dev/null | grep -qx "${CLUSTER}"; then
  echo "reusing existing cluster ${CLUSTER}"
else
  kind create cluster --name "${CLUSTER}" --config kind/cluster.yaml --wait 120s
fi
kubectl config use-context "kind-${CLUSTER}" >/dev/null

scripts/build-images.sh

section "loading images into ${CLUSTER}"
for image in "${IMAGES[@]}"; do
  kind load docker-image --name "${CLUSTER}" "${image}"
done
for image in "${PUBLIC_IMAGES[@]}"; do
  docker image inspect "${image}" >/dev/null 2>&1 || docker pull --quiet "${image}"
  kind load docker-image --name "${CLUSTER}" "${image}"
done
if ${metrics_server} || ${keda}; then
  section "add-ons"
  while IFS= read -r command; do
    echo "+ ${command}"
    eval "${command}"
  done < <(addon_commands)
fi
echo "cluster ${CLUSTER} is ready; kubectl context kind-${CLUSTER}"
