#!/usr/bin/env bash
# Install labrun into .venv and run it on the bundled example project.
# The example is copied to a scratch Git repository (default: $TMPDIR/labrun-example),
# so the checkout stays clean. Usage: bash scripts/example.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --disable-pip-version-check --config-settings editable_mode=compat -e . >/dev/null 2>&1
.venv/bin/python -m compileall -q labrun  # byte-code even where PYTHONDONTWRITEBYTECODE is set
LABRUN="$PWD/.venv/bin/labrun"

work=${1:-${TMPDIR:-/tmp}/labrun-example}
rm -rf "$work"
mkdir -p "$work"
cp -R examples/churn/. "$work/"
cd "$work"
git init -q
git config user.name >/dev/null || git config user.name "labrun example"
git config user.email >/dev/null || git config user.email "example@labrun.invalid"
"$LABRUN" init -q
git add -A && git commit -q -m "churn example"

echo "== labrun stage list   (in $work)"
"$LABRUN" stage list
echo
echo "== labrun dag"
"$LABRUN" dag
echo
echo "== labrun dag --md"
"$LABRUN" dag --md
echo
echo "== labrun repro"
"$LABRUN" repro
echo
echo "== metrics.json"
cat metrics.json
echo
echo "== labrun status   (after changing train.lr in params.yaml)"
sed -i.bak 's/  lr: 0.1/  lr: 0.3/' params.yaml && rm -f params.yaml.bak
"$LABRUN" status
git checkout -q -- params.yaml
git add -A && git commit -q -m "baseline results"
echo
echo "== labrun exp run -n more-epochs -S train.epochs=40   (an experiment in the workspace)"
"$LABRUN" exp run -n more-epochs -S train.epochs=40
git checkout -q -- . && "$LABRUN" checkout -q
echo
echo "== labrun exp run --queue -S 'train.lr=0.03,0.3,1' -S 'train.l2=0,0.01' -n sweep"
"$LABRUN" exp run --queue -S 'train.lr=0.03,0.3,1' -S 'train.l2=0,0.01' -n sweep
echo
echo "== labrun exp run --run-all -j 2   (the sweep, two experiments at a time)"
"$LABRUN" exp run --run-all -j 2
echo
echo "== labrun exp show --drop 'data|src/|model.json'   (metrics and the train params)"
"$LABRUN" exp show --no-pager --drop 'data|src/|model.json'
