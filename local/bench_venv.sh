#!/usr/bin/env bash
# Installs, idempotently, the benchmark-only virtualenv .local/bench-venv: statsforecast for the
# statistical anchors of bench/bench_quality.py (requirements-bench-stats.txt). Kept apart from
# .local/venv because statsforecast needs pandas < 3; bench_quality.py runs it as a subprocess.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="$root/.local"
venv="$state/bench-venv"
reqs="$root/requirements-bench-stats.txt"
log() { printf '[bench-venv] %s\n' "$*" >&2; }

find_python() {
  if command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys' >/dev/null 2>&1; then
    command -v python3.13; return
  fi
  if command -v pyenv >/dev/null 2>&1; then
    local v
    v="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | tail -n1 || true)"
    if [ -n "$v" ]; then PYENV_VERSION="$v" pyenv which python3.13; return; fi
  fi
  log "python3.13 not found: install Python 3.13 and put python3.13 on PATH"; exit 1
}

if [ -f "$venv/.installed" ] && [ ! "$reqs" -nt "$venv/.installed" ] && [ ! "$0" -nt "$venv/.installed" ]; then
  exit 0
fi
log "installing statsforecast into .local/bench-venv"
mkdir -p "$state"
[ -x "$venv/bin/python" ] || "$(find_python)" -m venv "$venv"
"$venv/bin/pip" install -q -r "$reqs"
"$venv/bin/python" -c 'from statsforecast.models import AutoETS, AutoTheta'
touch "$venv/.installed"
