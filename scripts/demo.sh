#!/usr/bin/env bash
# `make demo`: set up, then run the main job on the bundled samples. Extra arguments go to `nianbao run`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
echo "[demo] nianbao run $*"
exec "${NIANBAO_VENV:-$ROOT/.venv}/bin/nianbao" run "$@"
