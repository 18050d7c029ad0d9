#!/usr/bin/env bash
# Runs every benchmark in bench/ and prints their figures. Leaves nothing running.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py=.local/venv/bin/python
export PYTHONPATH="$root/layers/chronos_core:$root${PYTHONPATH:+:$PYTHONPATH}"
trap '"$py" local/stack.py down || true' EXIT
status=0
bash local/bench_venv.sh || status=1  # statsforecast (AutoETS, AutoTheta) for bench_quality.py, in .local/bench-venv
"$py" bench/bench_api.py || status=1
for script in bench/bench_*.py; do
  [ "$script" = bench/bench_api.py ] && continue
  echo "== $script"
  "$py" "$script" || status=1
done
exit $status
