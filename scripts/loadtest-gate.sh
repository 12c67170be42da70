#!/usr/bin/env bash
# The pull-request load-test gate, as the workflow runs it, and runnable anywhere:
#   1. the baseline: $BASELINE, or (in GitHub Actions) runs/ of the last successful run of
#      this workflow on main, downloaded as its `loadtest-report` artifact;
#   2. the run: `orchestrator run` with --baseline and --junit (extra arguments after `--`
#      go to it), its exit code kept: 0 ok, 99 a threshold, regression or alert failed;
#   3. the comment: runs/<uuid>/comment.md (report.md with the gate and the comparison),
#      posted on pull request $PR as ONE comment, found again by a marker and edited in
#      place on every push;
#   4. exits with the run's exit code, so the job fails on 99.
#
#   scripts/loadtest-gate.sh [--post-only] [-- ORCHESTRATOR_RUN_ARGS...]
#
# Environment (defaults): RUNTIME (kube), SCENARIO (scenarios/ci.toml), UUID
# (ci-$GITHUB_RUN_ID, or local-<time>), RUNS_DIR (runs), BASELINE (none: fetched in CI),
# PR (none: no comment), GITHUB_REPOSITORY (owner/name, for the comment), WORKFLOW
# (loadtest.yml), BASELINE_BRANCH (main), ORCHESTRATOR (the orchestrator command: `cargo run
# --release --locked -p orchestrator --`). --post-only posts runs/<uuid>/comment.md again
# without running anything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

MARKER='<!-- load-demo:loadtest-gate -->'
RUNTIME=${RUNTIME:-kube}
SCENARIO=${SCENARIO:-scenarios/ci.toml}
UUID=${UUID:-ci-${GITHUB_RUN_ID:-local-$(date +%s)}}
RUNS_DIR=${RUNS_DIR:-runs}
WORKFLOW=${WORKFLOW:-loadtest.yml}
BASELINE_BRANCH=${BASELINE_BRANCH:-main}
read -r -a ORCH <<<"${ORCHESTRATOR:-cargo run --release --locked -p orchestrator --}"
RUN_DIR="${RUNS_DIR}/${UUID}"
COMMENT="${RUN_DIR}/comment.md"

post_only=false
if [ "${1:-}" = "--post-only" ]; then
  post_only=true
  shift
fi
[ "${1:-}" = "--" ] && shift

# fetch_baseline: prints the path of the last successful main run's report.json, if any.
fetch_baseline() {
  command -v gh >/dev/null 2>&1 || { echo "no baseline: gh is not installed" >&2; return 0; }
  local id dir
  id=$(gh run list --workflow "${WORKFLOW}" --branch "${BASELINE_BRANCH}" --status success \
    --limit 1 --json databaseId --jq '.[0].databaseId // empty' 2>/dev/null || true)
  if [ -z "${id}" ]; then
    echo "no baseline: no successful ${WORKFLOW} run on ${BASELINE_BRANCH} yet" >&2
    return 0
  fi
  dir=$(mktemp -d)
  if ! gh run download "${id}" --name loadtest-report --dir "${dir}" >&2; then
    echo "no baseline: run ${id} has no loadtest-report artifact" >&2
    return 0
  fi
  find "${dir}" -name report.json -print | head -n 1
}

# post_comment: creates the pull request's gate comment, or edits the one already there.
post_comment() {
  if [ -z "${PR:-}" ]; then
    echo "no pull request (PR unset): the comment is ${COMMENT}"
    return 0
  fi
  command -v gh >/dev/null 2>&1 || die "PR=${PR} but gh is not installed: cannot post ${COMMENT}"
  [ -n "${GITHUB_REPOSITORY:-}" ] || die "PR=${PR} but GITHUB_REPOSITORY (owner/name) is unset"
  local id
  id=$(gh api "repos/${GITHUB_REPOSITORY}/issues/${PR}/comments" --paginate \
    --jq ".[] | select(.body | startswith(\"${MARKER}\")) | .id" | head -n 1)
  if [ -n "${id}" ]; then
    gh api -X PATCH "repos/${GITHUB_REPOSITORY}/issues/comments/${id}" -F "body=@${COMMENT}" >/dev/null
    echo "updated comment ${id} on pull request ${PR}"
  else
    gh api -X POST "repos/${GITHUB_REPOSITORY}/issues/${PR}/comments" -F "body=@${COMMENT}" >/dev/null
    echo "posted the comment on pull request ${PR}"
  fi
}

if ${post_only}; then
  [ -f "${COMMENT}" ] || die "no ${COMMENT}: run the gate first"
  post_comment
  exit 0
fi

section "baseline"
if [ -z "${BASELINE:-}" ] && [ "${GITHUB_ACTIONS:-}" = "true" ]; then
  BASELINE=$(fetch_baseline)
fi
baseline_args=()
if [ -n "${BASELINE:-}" ]; then
  echo "comparing with ${BASELINE}"
  baseline_args=(--baseline "${BASELINE}")
else
  echo "no baseline: the run is judged by its thresholds and alerts only"
fi

section "load test ${UUID} on the ${RUNTIME} runtime"
set +e
"${ORCH[@]}" run --runtime "${RUNTIME}" --scenario "${SCENARIO}" --uuid "${UUID}" \
  --runs-dir "${RUNS_DIR}" --junit "${RUN_DIR}/junit.xml" "${baseline_args[@]}" "$@"
code=$?
set -e

section "pull request comment"
mkdir -p "${RUN_DIR}"
case ${code} in
  0) verdict="passed" ;;
  99) verdict="FAILED: a threshold, regression rule or alert failed" ;;
  2) verdict="FAILED: bad configuration (exit 2)" ;;
  130) verdict="interrupted (exit 130)" ;;
  *) verdict="FAILED: the run did not complete (exit ${code})" ;;
esac
{
  echo "${MARKER}"
  echo "**Load test \`${UUID}\`: ${verdict}**"
  [ -n "${BASELINE:-}" ] || echo "(no baseline from ${BASELINE_BRANCH} yet: no comparison)"
  echo
  if [ -f "${RUN_DIR}/report.md" ]; then
    cat "${RUN_DIR}/report.md"
  else
    echo "No report was written; see the job's log."
  fi
} >"${COMMENT}"
post_comment
exit "${code}"
