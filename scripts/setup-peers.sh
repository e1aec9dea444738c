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

# livekit-server (Go module proxy, ~2 min the first time) for the auth service's room-creation
# test; skipped where no Go toolchain is installed (the test then reports itself skipped).
if command -v go >/dev/null 2>&1 && [[ -x scripts/livekit/install.sh ]]; then
  bash scripts/livekit/install.sh || echo "setup-peers: livekit-server could not be built; its test will be skipped"
fi

# A real LiveKit participant for mxrtc-auth's delayed-leave delegation test: the `livekit` rtc SDK
# from PyPI (native WebRTC inside the wheel) in its own venv. Skipped if it cannot be installed
# (the test then reports itself skipped).
lkvenv="${HOME}/.cache/mxrtc/livekit/venv"
if [[ ! -x "$lkvenv/bin/python" ]] || ! "$lkvenv/bin/python" -c "import livekit.rtc" 2>/dev/null; then
  echo "setup-peers: livekit rtc SDK (PyPI) into $lkvenv"
  { python3 -m venv "$lkvenv" && "$lkvenv/bin/pip" install --quiet --disable-pip-version-check livekit==1.2.0; } ||
    echo "setup-peers: the livekit Python SDK could not be installed; the delegation test will be skipped"
fi
