#!/usr/bin/env bash
# Lint, type-check and run every test tier against the running, deployed local stack.
# pytest's exit code 5 ("no tests collected") counts as a failure.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py=.local/venv/bin/python
# Tests use the servers the stack started (ports may be overridden through the environment).
if [ -z "${MONGODB_URI:-}" ] && [ -f .local/endpoints.json ]; then
  MONGODB_URI="$("$py" -c 'import json; print(json.load(open(".local/endpoints.json"))["mongodb_uri"])')"
  export MONGODB_URI
fi
status=0
"$py" -m ruff check layers functions local tests bench cli || status=1
"$py" -m mypy || status=1
# The layer rule (pyproject.toml [tool.importlinter]; docs/architecture.md).
PYTHONPATH=layers/chronos_core .local/venv/bin/lint-imports --no-cache --no-logo || status=1
# The dashboard's unit tests (API client rules, chart maths) with Vitest.
(cd web && npm test --silent) || status=1
"$py" -m pytest tests -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; rc=1; fi
[ "$rc" -ne 0 ] && status=$rc
exit $status
