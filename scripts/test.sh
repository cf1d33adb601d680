#!/usr/bin/env bash
# Install everything the test suite needs, then run lint, types and all tests.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# 1. labrun and its test dependencies, in .venv
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# 2. the reference implementation, dvc==3.67.1, in its own venv (compat tests and benchmarks)
if ! .venv-dvc/bin/dvc --version 2>/dev/null | grep -qx '3.67.1'; then
    "$PY" -m venv .venv-dvc
    .venv-dvc/bin/python -m pip install -q --disable-pip-version-check 'dvc==3.67.1'
fi

# 3. services and tools some tests start themselves
bash scripts/install-system.sh

# 4. lint, types, tests (parallel)
.venv/bin/ruff check labrun tests bench
.venv/bin/ruff format --check labrun tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -n auto -p xdist "$@"
