#!/usr/bin/env bash
# Install everything the test suite needs, then run lint, types and all tests.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
log=$(mktemp)
quiet() {  # run an install step, showing its output only if it fails
    if ! "$@" >"$log" 2>&1; then cat "$log"; echo "failed: $*" >&2; exit 1; fi
}

# 1. labrun (editable, plain .pth: no import hook at start-up) and its test tools, in .venv
[ -x .venv/bin/python ] || "$PY" -m venv .venv
quiet .venv/bin/python -m pip install --disable-pip-version-check \
    --config-settings editable_mode=compat -e '.[test]'
# byte-code now, also where PYTHONDONTWRITEBYTECODE is set: start-up is part of what we test
.venv/bin/python -m compileall -q labrun

# 2. the reference implementation, dvc==3.67.1, in its own venv (compat tests, benchmarks)
if ! .venv-dvc/bin/dvc --version 2>/dev/null | grep -qx '3.67.1'; then
    "$PY" -m venv .venv-dvc
    quiet .venv-dvc/bin/python -m pip install --disable-pip-version-check 'dvc==3.67.1'
fi

# 3. system tools the tests start themselves
quiet bash scripts/install-system.sh

# 4. lint, types, tests (parallel; compat and slow tests included)
.venv/bin/ruff check labrun tests bench
.venv/bin/ruff format --check labrun tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -n auto -p xdist "$@"
