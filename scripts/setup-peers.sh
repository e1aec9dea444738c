#!/usr/bin/env bash
# Installs the real third-party peers the integration and interop tests run against:
# Synapse from PyPI into a venv (scripts/synapse/install.sh), the pinned npm reference
# implementations into interop/node_modules, livekit-server and the LiveKit Python SDK.
# Idempotent. Exits non-zero when a peer cannot be installed.
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

# LiveKit: livekit-server (Go module proxy, ~2 min the first time; install.sh does nothing when the
# pinned version is already there) and the LiveKit Python SDK as the reference participant
# (tests/livekit/lk_peer.py, mxrtc-auth's delegation test). A missing peer is an error here, not a
# skipped test later: a test that skips itself in CI because a peer is missing hides a failure.
# MXRTC_PEERS_WITHOUT_LIVEKIT=1 turns that into a warning (a machine that never runs the `livekit`
# tests); the LiveKit tests then fail, they do not skip.
lk_missing() {
  if [[ "${MXRTC_PEERS_WITHOUT_LIVEKIT:-0}" == 1 ]]; then
    echo "setup-peers: WARNING: $1 (MXRTC_PEERS_WITHOUT_LIVEKIT=1: continuing; the livekit tests will fail)" >&2
  else
    echo "setup-peers: ERROR: $1" >&2
    exit 1
  fi
}

if ! bash scripts/livekit/install.sh; then
  lk_missing "livekit-server could not be installed (needs Go >= 1.24 and the Go module proxy)"
fi

lkvenv="${HOME}/.cache/mxrtc/livekit/venv"
lk_pins=(livekit==1.2.0 numpy==2.4.6)  # numpy: lk_peer.py's FFT (also a dependency of the wheel)
lk_ok() {
  "$lkvenv/bin/python" - "${lk_pins[@]}" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
import livekit.rtc, numpy  # noqa: F401  (the native FFI library loads on import)
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    if version(name) != want:
        sys.exit(1)
PY
}
if [[ -x "$lkvenv/bin/python" ]] && lk_ok; then
  echo "setup-peers: LiveKit Python SDK up to date in $lkvenv"
else
  echo "setup-peers: LiveKit Python SDK (PyPI: ${lk_pins[*]}) into $lkvenv"
  if ! { python3 -m venv "$lkvenv" &&
         "$lkvenv/bin/pip" install --quiet --disable-pip-version-check "${lk_pins[@]}" && lk_ok; }; then
    lk_missing "the LiveKit Python SDK (${lk_pins[*]}) could not be installed into $lkvenv"
  fi
fi
