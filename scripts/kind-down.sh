#!/usr/bin/env bash
# Deletes the kind cluster made by scripts/kind-up.sh (KIND_CLUSTER_NAME, default load-demo).
# Succeeds when the cluster is already gone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

readonly CLUSTER=${KIND_CLUSTER_NAME:-load-demo}
command -v kind >/dev/null 2>&1 ||
  die "kind is not installed (it is not packaged by Debian): install a release binary from the kind project's GitHub releases page"
if kind get clusters 2>/dev/null | grep -qx "${CLUSTER}"; then
  kind delete cluster --name "${CLUSTER}"
else
  echo "no kind cluster named ${CLUSTER}: nothing to delete"
fi
