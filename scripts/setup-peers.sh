#!/usr/bin/env bash
# Installs the real third-party peers the integration and interop tests run against:
# Synapse from PyPI into a venv (scripts/synapse/install.sh) and the pinned npm reference
# implementations into interop/node_modules. Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ -x scripts/synapse/install.sh ]]; then
  bash scripts/synapse/install.sh "$root/.venv-synapse"
fi

if [[ ! -d interop/node_modules ]] || [[ interop/package-lock.json -nt interop/node_modules/.package-lock.json ]]; then
  echo "setup-peers: npm ci (interop/)"
  npm ci --prefix interop --no-audit --no-fund --loglevel=error
else
  echo "setup-peers: interop/node_modules up to date"
fi
