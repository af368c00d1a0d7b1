#!/usr/bin/env bash
# Idempotent setup of a nianbao checkout: Debian packages, .venv from requirements.lock, editable install.
# Fast (well under a second) when everything is already in place. Called by `make demo`, `make test`,
# scripts/test.sh and .ci/run, so the README commands always set up first.
#
# Environment knobs:
#   NIANBAO_PYTHON=/path/to/python   interpreter for .venv (default: python3, else python3.11/3.12/3.13)
#   NIANBAO_SKIP_APT=1                skip the Debian packages
#   NIANBAO_VENV=/path                venv location (default: <repo>/.venv)
#
# Install method: uv (pinned in the lock, bootstrapped with pip) runs `uv pip sync` on requirements.lock, which
# carries exact versions and hashes; no resolution happens at install time, so the certifi override is only needed
# when compiling the lock (`make lock`). Then the project is installed editable with --no-deps --no-build-isolation
# (hatchling and editables are in the lock), so nothing is fetched for the build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${NIANBAO_VENV:-$ROOT/.venv}"
LOCK="$ROOT/requirements.lock"
OVERRIDES="$ROOT/constraints/overrides.txt"
APT_PACKAGES=(fonts-wqy-zenhei fonts-noto-cjk libreoffice-writer-nogui poppler-utils chromium tesseract-ocr tesseract-ocr-chi-sim)

# The package index goes through a TLS proxy whose CA is in the system store: make uv use that store.
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '[setup] %s\n' "$*"; }
warn() { printf '[setup] WARNING: %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

start_s=$(date +%s.%N)
did=()

# Serialise concurrent runs (e.g. `make -j demo test`) on the same checkout.
if command -v flock >/dev/null 2>&1; then
    lockfile="${TMPDIR:-/tmp}/nianbao-setup-$(printf '%s' "$VENV" | sha256sum | cut -c1-16).lock"
    exec 9>"$lockfile"
    flock 9
fi

# ---------------------------------------------------------------- 1. Debian packages
if [[ "${NIANBAO_SKIP_APT:-0}" == "1" ]]; then
    log "Debian packages: skipped (NIANBAO_SKIP_APT=1)"
elif ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    warn "apt-get/dpkg not available: cannot install ${APT_PACKAGES[*]}."
    warn "Tests and fixture generation that need CJK fonts, LibreOffice (soffice) or poppler (pdftoppm) may fail or skip."
else
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        log "Debian packages: all present (${APT_PACKAGES[*]})"
    else
        SUDO=()
        if [[ "$(id -u)" != "0" ]]; then
            if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else SUDO=(false); fi
        fi
        log "Debian packages: installing ${missing[*]} (apt-get update first)"
        if "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
            did+=("installed Debian packages: ${missing[*]}")
        else
            warn "could not install ${missing[*]} (not root and no passwordless sudo, or apt failed)."
            warn "Run as root: DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${APT_PACKAGES[*]}"
            warn "Continuing; tests needing CJK fonts, soffice or pdftoppm may fail or skip."
        fi
    fi
fi

# ---------------------------------------------------------------- 2. Python >= 3.11 and the venv
py_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; }

venv_ok=0
if [[ -x "$VENV/bin/python" ]] && py_ok "$VENV/bin/python" \
    && [[ "$(cat "$VENV/.nianbao-root" 2>/dev/null)" == "$ROOT" ]]; then
    venv_ok=1
fi

if ((venv_ok == 0)); then
    PY=""
    if [[ -n "${NIANBAO_PYTHON:-}" ]]; then
        py_ok "$NIANBAO_PYTHON" || die "NIANBAO_PYTHON=$NIANBAO_PYTHON is not a Python >= 3.11."
        PY="$NIANBAO_PYTHON"
    else
        for cand in python3 python3.11 python3.12 python3.13; do
            if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then PY="$cand"; break; fi
        done
    fi
    if [[ -z "$PY" ]]; then
        found="$(command -v python3 >/dev/null 2>&1 && python3 -V 2>&1 || echo 'no python3 on PATH')"
        die "nianbao needs Python >= 3.11 (found: $found). Install one, or point NIANBAO_PYTHON at it."
    fi
    pyver="$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
    [[ "$pyver" == 3.11.* ]] || warn "requirements.lock is compiled for Python 3.11; using $pyver may not install."
    if [[ -e "$VENV" ]]; then
        log "venv: $VENV is stale or from another checkout, recreating"
        rm -rf "$VENV"
    fi
    "$PY" -m venv "$VENV" || die "'$PY -m venv' failed (on Debian's own python3: apt-get install python3-venv)."
    printf '%s\n' "$ROOT" >"$VENV/.nianbao-root"
    did+=("created $VENV with $PY ($pyver)")
fi
VPY="$VENV/bin/python"

# ---------------------------------------------------------------- 3. dependencies from the lock
# "-pyc": the stamp of a venv whose site-packages were compiled to bytecode (older venvs are synced once more).
lock_hash="$(cat "$LOCK" "$OVERRIDES" | sha256sum | cut -d' ' -f1)-$("$VPY" -c 'import sys; print(sys.version)' | sha256sum | cut -c1-12)-pyc"
stamp="$VENV/.nianbao-lock.sha256"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_hash" ]]; then
    log "dependencies: up to date with requirements.lock"
else
    uv_version="$(sed -n 's/^uv==\([^ ]*\).*/\1/p' "$LOCK")"
    [[ -n "$uv_version" ]] || die "requirements.lock has no uv==<version> line."
    if [[ "$("$VENV/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$uv_version" ]]; then
        log "bootstrapping uv==$uv_version with pip"
        "$VPY" -m pip install -q "uv==$uv_version" 2>&1 | grep -v "^WARNING: Location 'file:" || true
        [[ -x "$VENV/bin/uv" ]] || die "could not install uv==$uv_version into $VENV."
    fi
    log "dependencies: uv pip sync requirements.lock"
    # sync = exactly the lock (hash-checked), extraneous packages removed; the lock is fully resolved, so no
    # resolution and no certifi override is needed here. --compile-bytecode: every package compiled to .pyc once
    # here, or each process (every test worker, every `nianbao` subprocess) compiles what it imports again
    # wherever bytecode is not written (PYTHONDONTWRITEBYTECODE, read-only installs): Prefect alone is seconds.
    "$VENV/bin/uv" pip sync --python "$VPY" --quiet --compile-bytecode "$LOCK"
    rm -f "$VENV/.nianbao-editable.sha256" # sync removed the editable install
    printf '%s\n' "$lock_hash" >"$stamp"
    did+=("installed $(grep -c '^[A-Za-z0-9]' "$LOCK") pinned packages from requirements.lock")
fi

# ---------------------------------------------------------------- 4. the project itself, editable
edit_hash="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
edit_stamp="$VENV/.nianbao-editable.sha256"
if [[ -f "$edit_stamp" && "$(cat "$edit_stamp")" == "$edit_hash" && -x "$VENV/bin/nianbao" ]]; then
    log "project: editable install up to date"
else
    log "project: uv pip install --no-deps --no-build-isolation -e ."
    "$VENV/bin/uv" pip install --python "$VPY" --quiet --no-deps --no-build-isolation -e "$ROOT"
    printf '%s\n' "$edit_hash" >"$edit_stamp"
    did+=("installed nianbao editable (console script $VENV/bin/nianbao)")
fi

# ---------------------------------------------------------------- 5. an old DuckDB engine for the BI tests
# BI drivers bundle their own DuckDB (1.x); the catalog test opens our catalog with such an engine.
DUCK1_VENV="${NIANBAO_DUCK1_VENV:-$ROOT/.venv-duck1}"
DUCK1_PIN="duckdb==1.4.4"
if [[ -x "$DUCK1_VENV/bin/python" ]] && [[ "$(cat "$DUCK1_VENV/.pin" 2>/dev/null)" == "$DUCK1_PIN" ]]; then
    log "duckdb 1.x engine: present ($DUCK1_VENV)"
else
    rm -rf "$DUCK1_VENV"
    "$VPY" -m venv --without-pip "$DUCK1_VENV"
    "$VENV/bin/uv" pip install --python "$DUCK1_VENV/bin/python" --quiet "$DUCK1_PIN"
    printf '%s\n' "$DUCK1_PIN" >"$DUCK1_VENV/.pin"
    did+=("created $DUCK1_VENV with $DUCK1_PIN")
fi

elapsed="$(awk -v s="$start_s" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
if ((${#did[@]} == 0)); then
    log "nothing to do (${elapsed}s)"
else
    for d in "${did[@]}"; do log "done: $d"; done
    log "setup finished in ${elapsed}s"
fi
