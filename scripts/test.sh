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
export PREFECT_HOME
unset PREFECT_API_URL PREFECT_API_KEY PREFECT_PROFILE
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export DO_NOT_TRACK=1
export PREFECT_UI_ENABLED=false
# The ephemeral API server can be slow to start on 2 busy cores.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="${PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS:-120}"

export NIANBAO_DUCK1_PYTHON="${NIANBAO_DUCK1_PYTHON:-$ROOT/.venv-duck1/bin/python}"

# Bytecode caches on (__pycache__, git-ignored), whatever the shell says: with PYTHONDONTWRITEBYTECODE set, every
# test worker and every subprocess (the `nianbao` command, lint-imports, the docs tools) compiles the project
# again, and pytest rewrites the asserts of the test modules and its plugins' packages again (~130 modules).
unset PYTHONDONTWRITEBYTECODE

# One Prefect API server for the whole run (flow tests and every `nianbao` subprocess use it through
# PREFECT_API_URL), instead of one embedded server per test worker and per CLI call.
# `make test-fast` sets NIANBAO_TEST_PREFECT_SERVER=0: its tests need no Prefect.
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$PREFECT_HOME"
}
trap cleanup EXIT
if [[ "${NIANBAO_TEST_PREFECT_SERVER:-1}" == "1" ]]; then
    VPY="${NIANBAO_VENV:-$ROOT/.venv}/bin/python"
    port="$("$VPY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "${NIANBAO_VENV:-$ROOT/.venv}/bin/prefect" server start --host 127.0.0.1 --port "$port" \
        >"$PREFECT_HOME/server.log" 2>&1 &
    server_pid=$!
    export PREFECT_API_URL="http://127.0.0.1:$port/api"
    for _ in $(seq 1 240); do
        if "$VPY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
            "$PREFECT_API_URL/health" >/dev/null 2>&1; then break; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "[test] the Prefect test server did not start:" >&2; tail -20 "$PREFECT_HOME/server.log" >&2; exit 1
        fi
        sleep 0.5
    done
    echo "[test] Prefect test server at $PREFECT_API_URL (log: $PREFECT_HOME/server.log)"
fi

workers="${NIANBAO_TEST_WORKERS:-2}"
echo "[test] pytest -q -n $workers $* (PREFECT_HOME=$PREFECT_HOME)"
set +e
"${NIANBAO_VENV:-$ROOT/.venv}/bin/python" -m pytest -q -n "$workers" "$@"
rc=$?
set -e
exit "$rc"
