#!/usr/bin/env bash
# Runs a command with the local stack up and the application deployed, then stops the stack
# whatever happened (no process is left running). Exits with the command's status.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py=.local/venv/bin/python
cleanup() { "$py" local/stack.py down || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
"$py" local/stack.py up || exit 1
"$py" local/stack.py deploy || exit 1
"$@"
