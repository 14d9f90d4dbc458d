#!/usr/bin/env bash
# Register segmint's deployments (infra/prefect.yaml) with the Prefect server at $PREFECT_API_URL.
#
#   infra/deploy.sh                      # all deployments
#   infra/deploy.sh training-weekly      # only the named ones
#
# SEGMINT_CODE_DIR (code the runs execute) and SEGMINT_PROJECT_DIR (project folder the flows run on)
# default to this checkout. Creates the process work pool `segmint-process` when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFECT="${PREFECT:-.venv/bin/prefect}"
if [[ -z "${PREFECT_API_URL:-}" ]]; then
  echo "set PREFECT_API_URL to the Prefect server, e.g. http://127.0.0.1:4200/api" >&2
  exit 1
fi
export SEGMINT_CODE_DIR="${SEGMINT_CODE_DIR:-$PWD}"
export SEGMINT_PROJECT_DIR="${SEGMINT_PROJECT_DIR:-$PWD}"
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
if ! "$PREFECT" work-pool inspect segmint-process >/dev/null 2>&1; then
  "$PREFECT" work-pool create segmint-process --type process
fi
if [[ $# -eq 0 ]]; then
  selection=(--all)
else
  selection=()
  for name in "$@"; do selection+=(--name "$name"); done
fi
"$PREFECT" --no-prompt deploy --prefect-file infra/prefect.yaml "${selection[@]}"
echo "registered; start a worker: $PREFECT worker start --pool segmint-process --type process"
