#!/usr/bin/env bash
# Checks a study written by `convrnn export --format optuna` against the
# current Optuna and optuna-dashboard from PyPI (a virtual environment; never
# a product dependency): upgrade the schema, load it, and ask the
# dashboard's API for its trials. Debian's Optuna 3.1 is checked by
# tests/e2e/export_e2e_test.cc.
#
# Usage: tools/optuna/current_optuna_check.sh STUDY.db STUDY_NAME [VENV]
set -euo pipefail
db=$(realpath "$1")
name=$2
venv=${3:-/tmp/convrnn-optuna-venv}
[[ -x $venv/bin/optuna-dashboard ]] || {
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q optuna optuna-dashboard
}
copy=$(mktemp /tmp/convrnn-study.XXXXXX.db)
trap 'rm -f "$copy"; [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null || true' EXIT
cp "$db" "$copy"
"$venv/bin/optuna" storage upgrade --storage "sqlite:///$copy"
"$venv/bin/python" - "$copy" "$name" <<'PY'
import sys, optuna
s = optuna.load_study(study_name=sys.argv[2], storage="sqlite:///" + sys.argv[1])
t = s.get_trials(deepcopy=False)
print(f"optuna {optuna.__version__}: {len(t)} trials, states {sorted({x.state.name for x in t})}")
PY
port=$((20000 + RANDOM % 20000))
"$venv/bin/optuna-dashboard" "sqlite:///$copy" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/api/studies" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/api/studies/1?after=0" | /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)
curves = sum(1 for t in d['trials'] if t['intermediate_values'])
print('optuna-dashboard: study', repr(d['name']), len(d['trials']), 'trials,', curves, 'with learning curves')"
