#!/usr/bin/env bash
# Installs a pinned Synapse into a Python venv (wheel-only, no Rust toolchain needed).
#   usage: scripts/synapse/install.sh VENV_DIR
# Idempotent: when VENV_DIR already has the pinned matrix-synapse, it only checks and exits.
# Needs python3 + python3-venv (scripts/install-deps.sh) and access to PyPI.
set -euo pipefail

SYNAPSE_VERSION="${MXRTC_SYNAPSE_VERSION:-1.163.2}"

if [[ $# -ne 1 ]]; then
  echo "usage: $0 VENV_DIR" >&2
  exit 2
fi
venv=$1
py="$venv/bin/python"

installed_version() {
  "$py" - <<'PY' 2>/dev/null || true
import importlib.metadata as m
try:
    print(m.version("matrix-synapse"))
except m.PackageNotFoundError:
    pass
PY
}

if [[ -x "$py" ]]; then
  have=$(installed_version)
  if [[ "$have" == "$SYNAPSE_VERSION" ]]; then
    echo "synapse-install: matrix-synapse $SYNAPSE_VERSION already installed in $venv"
    exit 0
  fi
  echo "synapse-install: venv $venv exists (matrix-synapse: ${have:-none})"
else
  echo "synapse-install: creating venv $venv"
  python3 -m venv "$venv"
  # keep the venv out of git without touching the repo .gitignore (Python >= 3.13 venv does this itself)
  printf "*\n" >"$venv/.gitignore"
fi

echo "synapse-install: upgrading pip"
"$py" -m pip install --quiet --disable-pip-version-check --upgrade pip

echo "synapse-install: pip install --only-binary=:all: matrix-synapse==$SYNAPSE_VERSION"
"$py" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
  "matrix-synapse==$SYNAPSE_VERSION"

have=$(installed_version)
if [[ "$have" != "$SYNAPSE_VERSION" ]]; then
  echo "synapse-install: FAILED: expected matrix-synapse $SYNAPSE_VERSION, found '${have:-none}'" >&2
  exit 1
fi
echo "synapse-install: checking import"
"$py" -c "import synapse.app.homeserver" >/dev/null
echo "synapse-install: matrix-synapse $SYNAPSE_VERSION ready in $venv"
