#!/usr/bin/env bash
# The one test command: `make test`, `bash scripts/test.sh` and .ci/run all end up here.
# Sets up first (idempotent, fast when done), then runs pytest on 2 workers in an isolated Prefect home.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k segment -n 0`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh

# Isolate Prefect from any user profile/server: a throwaway PREFECT_HOME (db, results, profiles), no telemetry.
PREFECT_HOME="$(mktemp -d "${TMPDIR:-/tmp}/nianbao-test-prefect.XXXXXX")"
trap 'rm -rf "$PREFECT_HOME"' EXIT
export PREFECT_HOME
unset PREFECT_API_URL PREFECT_API_KEY PREFECT_PROFILE
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export DO_NOT_TRACK=1
export PREFECT_UI_ENABLED=false
# The ephemeral API server can be slow to start on 2 busy cores.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="${PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS:-120}"

export NIANBAO_DUCK1_PYTHON="${NIANBAO_DUCK1_PYTHON:-$ROOT/.venv-duck1/bin/python}"

workers="${NIANBAO_TEST_WORKERS:-2}"
echo "[test] pytest -q -n $workers $* (PREFECT_HOME=$PREFECT_HOME)"
set +e
"${NIANBAO_VENV:-$ROOT/.venv}/bin/python" -m pytest -q -n "$workers" "$@"
rc=$?
set -e
exit "$rc"
