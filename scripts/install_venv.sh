#!/usr/bin/env bash
# Install segmint's pinned environment into the virtual environment of $1 (its python).
# torch==2.13.0 (CPU) first, then requirements/lock.txt with --no-deps, then the project in editable
# mode. uv does the work; pip's own settings on this machine (local wheel folder, CA bundle) are
# passed on to it. Should uv be unavailable or fail, pip does the same steps.
# Bytecode is compiled at install time, as pip does by default and uv only when asked: where
# PYTHONDONTWRITEBYTECODE is set, a venv without it compiled torch, MLflow, Prefect and Evidently
# from source in every `segmint` process (26 s to import them against 14 s with bytecode).
set -euo pipefail
PY="$1"
UV_VERSION="$2"
UV="$(dirname "$PY")/uv"

pip_setting() { "$PY" -m pip config get "global.$1" 2>/dev/null || true; }
FIND_LINKS="$(pip_setting find-links)"
CERT="$(pip_setting cert)"
if [ -n "$CERT" ]; then export SSL_CERT_FILE="$CERT"; fi
export UV_NATIVE_TLS=1

with_uv() {
    "$PY" -m pip install -q "uv==$UV_VERSION" 2>&1 | grep -v "is ignored" || true
    [ -x "$UV" ] || return 1
    # `set -e` does not apply inside a function called as a condition: each step returns on failure
    if [ -n "$FIND_LINKS" ]; then
        "$UV" pip install -q --python "$PY" --no-deps --compile-bytecode --find-links "$FIND_LINKS" torch==2.13.0 || return 1
    else
        "$UV" pip install -q --python "$PY" --compile-bytecode torch==2.13.0 || return 1
    fi
    "$UV" pip install -q --python "$PY" --no-deps --compile-bytecode -r requirements/lock.txt || return 1
    "$UV" pip install -q --python "$PY" --no-deps -e . || return 1
}

with_pip() {
    "$PY" -m pip install -q torch==2.13.0 2>&1 | grep -v "is ignored" || true
    "$PY" -m pip install -q --no-deps -r requirements/lock.txt 2>&1 | grep -v "is ignored" || true
    "$PY" -m pip install -q --no-deps -e . 2>&1 | grep -v "is ignored" || true
}

if ! with_uv; then
    echo "uv could not install the environment; installing with pip instead (slower)…"
    with_pip
fi
"$PY" -c "import torch, segmint, prefect, mlflow, evidently, great_expectations, dvc" \
    || { echo "installation failed"; exit 1; }
